/**
 * Keep alive counted by bytes: a client with keep alive 2 s sends a PUBLISH one byte per second. No control packet
 * arrives after the CONNECT, so the broker must close it 1.5 × 2 s later [MQTT-3.1.2-24]; a broker that resets its
 * timer on every byte keeps it open for as long as the bytes keep coming.
 */
import { generate } from 'mqtt-packet';
import type { Attack, AttackOutcome, AttackTarget } from '../attack.js';
import { connected } from './tools.js';

const KEEP_ALIVE_S = 2;
/** 1.5 × keep alive, and a second for a broker that checks keep alive once a second. */
const CLOSE_GOAL_MS = 1.5 * KEEP_ALIVE_S * 1000 + 1_000;
const WAIT_MS = 12_000;

async function keepaliveBytes(target: AttackTarget): Promise<AttackOutcome> {
  const client = await connected(target, { clientId: 'abuse-keepalive-bytes', keepalive: KEEP_ALIVE_S });
  const connackAt = performance.now();
  const publish = generate({ cmd: 'publish', topic: 'abuse/keepalive', payload: Buffer.alloc(64, 0x61), qos: 0, dup: false, retain: false });
  try {
    for (let i = 0; i < publish.length && client.open && performance.now() - connackAt < WAIT_MS; i++) {
      client.write(publish.subarray(i, i + 1));
      await client.closedWithin(1_000);
    }
    const closedAfter = client.closedAt === undefined ? null : client.closedAt - connackAt;
    return {
      inFlightBytes: client.bytesWritten,
      facts: [
        {
          label: 'closed after',
          value: closedAfter,
          unit: 'ms',
          atMost: CLOSE_GOAL_MS,
          missing: `still open after ${Math.round((performance.now() - connackAt) / 1000)} s`,
        },
      ],
      notes: [],
    };
  } finally {
    client.destroy();
  }
}

export const KEEPALIVE_BYTES: Attack = {
  name: 'keepalive-bytes',
  title: `keep alive ${KEEP_ALIVE_S} s, a PUBLISH sent one byte per second: closed within 1.5 × keep alive?`,
  run: keepaliveBytes,
};
