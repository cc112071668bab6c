/**
 * Two clients that publish to each other at once: each subscribes at QoS 1 to the topic the other publishes to,
 * pipelines its QoS 1 messages without waiting for PUBACKs, and acknowledges what it receives while keeping the
 * last `lag` unacknowledged (a slow but steady consumer). Says which messages the broker acknowledged to their
 * publisher and which reached the other client.
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { TestBroker } from './brokers.js';
import { RawClient, connackCode, describePacket, sleep, type ProtocolVersion } from './raw-client.js';

export interface CrossfireOptions {
  version: ProtocolVersion;
  /** Messages each client publishes. */
  count: number;
  /** Received messages each client keeps unacknowledged while more arrive. */
  lag: number;
  /** Give up waiting for PUBACKs and deliveries after this long without progress, ms. */
  idleMs: number;
  prefix: string;
}

export interface CrossfireSide {
  clientId: string;
  /** Messages of this client the broker acknowledged (PUBACK). */
  acknowledged: number;
  /** Of those, the ones the other client never received (by sequence number). */
  lost: number[];
  /** Messages the other client received more than once without DUP. */
  duplicated: number;
}

export async function crossfire(broker: TestBroker, opts: CrossfireOptions): Promise<CrossfireSide[]> {
  const ids = [`${opts.prefix}-a`, `${opts.prefix}-b`];
  const clients: RawClient[] = [];
  try {
    for (const clientId of ids) {
      const c = await RawClient.open(broker, opts.version);
      const connack = await c.connect({ clientId, clean: true });
      if (connackCode(connack) !== 0) throw new Error(`${clientId} refused: ${describePacket(connack)}`);
      clients.push(c);
    }
    // Each listens on the other's topic.
    for (const [i, c] of clients.entries()) {
      const suback = await c.subscribe(`${opts.prefix}/to/${ids[i]}`, 1);
      if (suback.granted[0] !== 1) throw new Error(`SUBACK ${describePacket(suback)}`);
    }
    const state = clients.map(() => ({ read: 0, acked: new Set<number>(), got: new Map<number, number>(), unacked: [] as number[] }));
    for (const [i, c] of clients.entries()) {
      const topic = `${opts.prefix}/to/${ids[1 - i]}`;
      for (let seq = 1; seq <= opts.count; seq++) {
        c.send({ cmd: 'publish', topic, payload: Buffer.from(String(seq)), qos: 1, retain: false, dup: false, messageId: seq });
      }
    }
    let lastProgress = Date.now();
    const done = (): boolean => state.every((s, i) => s.acked.size === opts.count && state[1 - i].got.size === opts.count);
    while (!done() && Date.now() - lastProgress < opts.idleMs) {
      await sleep(5);
      for (const [i, c] of clients.entries()) {
        const s = state[i];
        while (s.read < c.received.length) {
          const p = c.received[s.read++];
          lastProgress = Date.now();
          if (p.cmd === 'puback') s.acked.add(p.messageId!);
          else if (p.cmd === 'publish') {
            const seq = Number((p as IPublishPacket).payload.toString());
            if (!p.dup) s.got.set(seq, (s.got.get(seq) ?? 0) + 1);
            s.unacked.push(p.messageId!);
          }
        }
        while (s.unacked.length > opts.lag) c.send({ cmd: 'puback', messageId: s.unacked.shift()! });
        // Nothing more coming: the last few are acknowledged too, so the broker can send what it still holds.
        if (s.acked.size === opts.count || Date.now() - lastProgress > 50) {
          while (s.unacked.length > 0) c.send({ cmd: 'puback', messageId: s.unacked.shift()! });
        }
      }
    }
    return state.map((s, i) => {
      const peer = state[1 - i];
      const lost = [...s.acked].filter((seq) => !peer.got.has(seq)).sort((a, b) => a - b);
      const duplicated = [...peer.got.values()].filter((n) => n > 1).length;
      return { clientId: ids[i], acknowledged: s.acked.size, lost, duplicated };
    });
  } finally {
    for (const c of clients) c.destroy();
  }
}
