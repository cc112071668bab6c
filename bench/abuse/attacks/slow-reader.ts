/**
 * A slow reader: a subscriber that never reads its socket while a publisher floods QoS 0 at it. Once the kernel's
 * buffers are full, whatever the broker keeps for that subscriber is its own memory: it should drop (QoS 0 may be
 * lost) or disconnect the reader, not queue without bound.
 */
import { generate } from 'mqtt-packet';
import type { Attack, AttackOutcome, AttackTarget } from '../attack.js';
import { ACK_TIMEOUT_MS, connected, sendConfirmed } from './tools.js';

const PAYLOAD_BYTES = 1_024;
const MESSAGES = 128 * 1024;
const BATCH_BYTES = 512 * 1024;
const TIME_LIMIT_MS = 20_000;
const MIB = 1024 * 1024;

async function slowReader(target: AttackTarget): Promise<AttackOutcome> {
  const topic = 'abuse/slow-reader';
  const reader = await connected(target, { clientId: 'abuse-slow-reader' });
  const publisher = await connected(target, { clientId: 'abuse-slow-publisher' }).catch((err: Error) => {
    reader.destroy();
    throw err;
  });
  try {
    reader.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    await reader.next((p) => p.cmd === 'suback', ACK_TIMEOUT_MS, 'SUBACK');
    reader.stopReading();
    const packet = generate({ cmd: 'publish', topic, payload: Buffer.alloc(PAYLOAD_BYTES, 0x61), qos: 0, dup: false, retain: false });
    const started = performance.now();
    const sent = await sendConfirmed(publisher, MESSAGES, () => packet, BATCH_BYTES, started + TIME_LIMIT_MS);
    const notes: string[] = [];
    if (sent.stalled) notes.push(`the publisher was held back: ${sent.stalled}`);
    if (!reader.open) notes.push('the broker disconnected the reader');
    return {
      inFlightBytes: sent.maxUnconfirmed,
      facts: [
        { label: 'published', value: sent.bytes / MIB, unit: 'MiB' },
        { label: 'took', value: (performance.now() - started) / 1000, unit: 's' },
        { label: 'reader disconnected', value: reader.open ? 0 : 1, unit: 'count' },
      ],
      notes,
    };
  } finally {
    await publisher.disconnect();
    reader.destroy();
  }
}

export const SLOW_READER: Attack = {
  name: 'slow-reader',
  title: `a subscriber that never reads while a publisher floods ${(MESSAGES * PAYLOAD_BYTES) / MIB} MiB of QoS 0 at it`,
  run: slowReader,
};
