/**
 * Clients that publish to each other at once: each subscribes at QoS 1 to its own inbox topic, pipelines its QoS 1
 * messages to the inboxes of others without waiting for PUBACKs, and acknowledges what it receives while keeping
 * the last `lag` unacknowledged (a slow but steady consumer). Says which messages the broker acknowledged to their
 * publisher and which reached their receiver.
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { TestBroker } from './brokers.js';
import { RawClient, connackCode, describePacket, sleep, type ProtocolVersion } from './raw-client.js';

/** `count` messages from client `from` to client `to` (indexes). */
export interface Flow {
  from: number;
  to: number;
  count: number;
}

export interface CrossfireOptions {
  version: ProtocolVersion;
  clients: number;
  flows: readonly Flow[];
  /** Received messages each client keeps unacknowledged while more arrive. */
  lag: number;
  /** Give up waiting for PUBACKs and deliveries after this long without progress, ms. */
  idleMs: number;
  prefix: string;
}

export interface Inbox {
  clientId: string;
  /** Messages to this client that the broker acknowledged to their publishers. */
  acknowledged: number;
  /** Of those, the ones this client never received ("f<flow>:<seq>"). */
  lost: string[];
  /** Messages it received more than once without DUP. */
  duplicated: number;
}

export interface CrossfireResult {
  inboxes: Inbox[];
  /** PUBACKs each client was still waiting for when the run gave up. */
  unacknowledged: number[];
}

/** Two clients publishing `count` messages each to the other. */
export function bothWays(count: number): Flow[] {
  return [
    { from: 0, to: 1, count },
    { from: 1, to: 0, count },
  ];
}

export async function crossfire(broker: TestBroker, opts: CrossfireOptions): Promise<CrossfireResult> {
  const ids = Array.from({ length: opts.clients }, (_, i) => `${opts.prefix}-${i}`);
  const inbox = (i: number): string => `${opts.prefix}/to/${ids[i]}`;
  const clients: RawClient[] = [];
  try {
    for (const [i, clientId] of ids.entries()) {
      const c = await RawClient.open(broker, opts.version);
      const connack = await c.connect({ clientId, clean: true });
      if (connackCode(connack) !== 0) throw new Error(`${clientId} refused: ${describePacket(connack)}`);
      const suback = await c.subscribe(inbox(i), 1);
      if (suback.granted[0] !== 1) throw new Error(`${clientId}: ${describePacket(suback)}`);
      clients.push(c);
    }
    const state = clients.map(() => ({
      read: 0,
      /** packet id → "f<flow>:<seq>" of what this client published and has not had acknowledged. */
      sent: new Map<number, string>(),
      nextId: 1,
      got: new Map<string, number>(),
      unacked: [] as number[],
    }));
    const acknowledged: string[][] = clients.map(() => []);
    for (const [f, flow] of opts.flows.entries()) {
      const s = state[flow.from];
      for (let seq = 1; seq <= flow.count; seq++) {
        const messageId = s.nextId++;
        const key = `f${f}:${seq}`;
        s.sent.set(messageId, key);
        clients[flow.from].send({ cmd: 'publish', topic: inbox(flow.to), payload: Buffer.from(key), qos: 1, retain: false, dup: false, messageId });
      }
    }
    const expected = opts.flows.reduce((n, f) => n + f.count, 0);
    let received = 0;
    let lastProgress = Date.now();
    const done = (): boolean => state.every((s) => s.sent.size === 0) && received === expected;
    while (!done() && Date.now() - lastProgress < opts.idleMs) {
      await sleep(5);
      for (const [i, c] of clients.entries()) {
        const s = state[i];
        while (s.read < c.received.length) {
          const p = c.received[s.read++];
          lastProgress = Date.now();
          if (p.cmd === 'puback') {
            const key = s.sent.get(p.messageId!);
            if (key === undefined) continue;
            s.sent.delete(p.messageId!);
            acknowledged[opts.flows[Number(key.slice(1, key.indexOf(':')))].to].push(key);
          } else if (p.cmd === 'publish') {
            const key = (p as IPublishPacket).payload.toString();
            if (!p.dup) {
              if (!s.got.has(key)) received++;
              s.got.set(key, (s.got.get(key) ?? 0) + 1);
            }
            s.unacked.push(p.messageId!);
          }
        }
        while (s.unacked.length > opts.lag) c.send({ cmd: 'puback', messageId: s.unacked.shift()! });
        // Nothing more coming for now: the last few are acknowledged too, so the broker can send what it still holds.
        if (Date.now() - lastProgress > 15) while (s.unacked.length > 0) c.send({ cmd: 'puback', messageId: s.unacked.shift()! });
      }
    }
    return {
      inboxes: state.map((s, i) => ({
        clientId: ids[i],
        acknowledged: acknowledged[i].length,
        lost: acknowledged[i].filter((key) => !s.got.has(key)),
        duplicated: [...s.got.values()].filter((n) => n > 1).length,
      })),
      unacknowledged: state.map((s) => s.sent.size),
    };
  } finally {
    for (const c of clients) c.destroy();
  }
}
