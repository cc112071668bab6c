/**
 * Two MQTT 3.1.1 clients, each subscribed at QoS 1 to the topic the other publishes to: each acknowledges what it
 * receives at once and keeps 30 of its own QoS 1 messages unacknowledged, 30,000 messages each. Every message was
 * acknowledged to its publisher, so none may be lost.
 */
import { generate, type Packet } from 'mqtt-packet';
import type { MqttClient } from '../../harness/mqtt-client.js';
import type { Attack, AttackOutcome, AttackTarget } from '../attack.js';
import { ACK_TIMEOUT_MS, connected, sleep } from './tools.js';

const MESSAGES_EACH = 30_000;
const WINDOW = 30;
/** After the last PUBACK, deliveries still on their way get this long. */
const DRAIN_MS = 10_000;
/** Mosquitto needs a few seconds; a broker still busy after this long has stalled the exchange. */
const TIME_LIMIT_MS = 30_000;

interface Side {
  client: MqttClient;
  /** Sequence numbers received from the other side (distinct), and how many arrived twice. */
  received: Set<number>;
  duplicates: number;
  acknowledged: number;
  maxUnacknowledgedBytes: number;
}

async function exchange(target: AttackTarget): Promise<AttackOutcome> {
  const sides: Side[] = [];
  const onPacket = (side: () => Side) => (client: MqttClient, p: Packet) => {
    if (p.cmd !== 'publish') return;
    // The decoder always hands over payloads as Buffers.
    const seq = (p.payload as Buffer).readUInt32BE(0);
    const s = side();
    if (s.received.has(seq)) s.duplicates++;
    else s.received.add(seq);
    if (p.qos > 0) client.write(Buffer.from([0x40, 0x02, p.messageId! >> 8, p.messageId! & 0xff]));
  };
  for (const name of ['a', 'b']) {
    const side = { received: new Set<number>(), duplicates: 0, acknowledged: 0, maxUnacknowledgedBytes: 0 } as Side;
    side.client = await connected(target, { clientId: `abuse-exchange-${name}` }, onPacket(() => side));
    sides.push(side);
  }
  try {
    for (const [i, side] of sides.entries()) {
      side.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `abuse/exchange/${1 - i}`, qos: 1 }] });
      await side.client.next((p) => p.cmd === 'suback', ACK_TIMEOUT_MS, 'SUBACK');
    }
    const started = performance.now();
    const notes: string[] = [];
    await Promise.all(
      sides.map((side, i) =>
        publishAll(side, `abuse/exchange/${i}`, started + TIME_LIMIT_MS).catch((err: Error) => notes.push(err.message)),
      ),
    );
    const expected = (side: Side): number => sides[1 - sides.indexOf(side)].acknowledged;
    const drainDeadline = performance.now() + DRAIN_MS;
    while (sides.some((s) => s.received.size < expected(s)) && performance.now() < drainDeadline) await sleep(20);
    const tookSeconds = (performance.now() - started) / 1000;
    const lost = sides.reduce((sum, s) => sum + Math.max(0, expected(s) - s.received.size), 0);
    const acknowledged = sides.reduce((sum, s) => sum + s.acknowledged, 0);
    if (acknowledged < 2 * MESSAGES_EACH) notes.push(`only ${acknowledged} of ${2 * MESSAGES_EACH} messages were acknowledged`);
    return {
      inFlightBytes: sides.reduce((sum, s) => sum + s.maxUnacknowledgedBytes, 0),
      facts: [
        { label: 'unacknowledged', value: 2 * MESSAGES_EACH - acknowledged, unit: 'count', atMost: 0 },
        { label: 'lost', value: lost, unit: 'count', atMost: 0 },
        { label: 'duplicated', value: sides.reduce((sum, s) => sum + s.duplicates, 0), unit: 'count' },
        { label: 'took', value: tookSeconds, unit: 's' },
      ],
      notes,
    };
  } finally {
    for (const s of sides) s.client.destroy();
  }
}

/** MESSAGES_EACH QoS 1 PUBLISHes, at most WINDOW unacknowledged; packet ids are 1..WINDOW, reused once acknowledged. */
async function publishAll(side: Side, topic: string, deadline: number): Promise<void> {
  const free: number[] = Array.from({ length: WINDOW }, (_, i) => i + 1);
  const inFlight = new Set<number>();
  let size = 0;
  let wake: (() => void) | undefined;
  const previous = side.client.onPacket;
  side.client.onPacket = (p) => {
    previous?.(p);
    if (p.cmd === 'puback' && p.messageId !== undefined && inFlight.delete(p.messageId)) {
      free.push(p.messageId);
      side.acknowledged++;
      wake?.();
    }
  };
  const payload = Buffer.alloc(32, 0x61);
  for (let seq = 0; seq < MESSAGES_EACH; seq++) {
    while (free.length === 0) {
      if (!side.client.open) throw new Error(`${side.client.name}: ${side.client.closedReason}`);
      if (performance.now() > deadline) throw new Error(`${side.client.name}: stopped at ${seq} messages (time limit)`);
      const acked = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), ACK_TIMEOUT_MS);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      wake = undefined;
      if (!acked) throw new Error(`${side.client.name}: no PUBACK within ${ACK_TIMEOUT_MS / 1000} s with ${WINDOW} messages in flight`);
    }
    const messageId = free.shift()!;
    inFlight.add(messageId);
    payload.writeUInt32BE(seq, 0);
    const bytes = generate({ cmd: 'publish', topic, payload, qos: 1, messageId, dup: false, retain: false });
    size = bytes.length;
    side.client.write(bytes);
    side.maxUnacknowledgedBytes = Math.max(side.maxUnacknowledgedBytes, inFlight.size * size);
  }
  const end = performance.now() + ACK_TIMEOUT_MS;
  while (inFlight.size > 0 && side.client.open && performance.now() < end) await sleep(10);
}

export const QOS1_EXCHANGE: Attack = {
  name: 'qos1-exchange',
  title: `two 3.1.1 clients exchange ${MESSAGES_EACH.toLocaleString('en-US')} QoS 1 messages each, ${WINDOW} unacknowledged at a time`,
  run: exchange,
};
