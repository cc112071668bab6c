/**
 * The persistence file as a whole: after any sequence of publishes (retained or not), subscriptions, unsubscriptions,
 * clients leaving and acknowledging part of what they were sent — with a compaction every few changes running in
 * between — a copy of the file taken once everything acknowledged is on disk starts a second broker in the same
 * state as the first: the same sessions, the same messages queued and in flight (resent with the same packet ids),
 * the same PUBRELs owed, the same retained messages.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../../broker/index.js';
import { propertyParams } from '../../helpers/property.js';
import { RawClient, sleep, type ProtocolVersion } from '../../helpers/raw-client.js';

const CLIENTS = 3;
const TOPICS = ['a', 'b', 'c/d'] as const;
const FILTERS = ['a', 'b', 'c/+', '#'] as const;

type Op =
  | { kind: 'pub'; topic: string; qos: 0 | 1 | 2; retain: boolean; n: number }
  | { kind: 'sub'; c: number; filter: string; qos: 0 | 1 | 2 }
  | { kind: 'unsub'; c: number; filter: string }
  | { kind: 'leave'; c: number }
  | { kind: 'ack'; c: number; upTo: number };

const client = fc.nat(CLIENTS - 1);
const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);
/** Subscriptions mostly at QoS 1 and 2: QoS 0 keeps nothing for a session. */
const subQos = fc.constantFrom(0 as const, 1 as const, 2 as const, 1 as const, 2 as const);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('pub' as const), topic: fc.constantFrom(...TOPICS), qos, retain: fc.boolean(), n: fc.nat(99) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sub' as const), c: client, filter: fc.constantFrom(...FILTERS), qos: subQos }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unsub' as const), c: client, filter: fc.constantFrom(...FILTERS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), c: client }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('ack' as const), c: client, upTo: fc.integer({ min: 1, max: 4 }) }) },
);

const version = (c: number): ProtocolVersion => (c === 1 ? 5 : 4);
const connectOptions = (c: number) =>
  version(c) === 5 ? { clientId: `m${c}`, clean: false, properties: { sessionExpiryInterval: 3600 } } : { clientId: `m${c}`, clean: false };

async function start(dir: string): Promise<RunningBroker> {
  return startBroker({
    listeners: [{ host: '127.0.0.1', port: 0 }],
    persistence: { enabled: true, location: dir, autosaveOnChanges: true, autosaveInterval: 2 },
    logTypes: new Set(['error']),
    logSink: () => undefined,
  });
}

/** Run the operations against `broker`, then let every client go. */
async function drive(broker: RunningBroker, ops: Op[]): Promise<void> {
  const online: (RawClient | undefined)[] = new Array(CLIENTS).fill(undefined);
  const pub = await RawClient.open(broker, 4);
  await pub.connect({ clientId: 'm-pub' });
  const on = async (c: number): Promise<RawClient> => {
    let x = online[c];
    if (x === undefined) {
      x = await RawClient.open(broker, version(c));
      await x.connect(connectOptions(c));
      online[c] = x;
    }
    return x;
  };
  try {
    let subId = 1;
    for (const o of ops) {
      if (o.kind === 'pub') {
        await pub.publish(o.topic, `${o.topic}#${o.n}`, { qos: o.qos, retain: o.retain });
      } else if (o.kind === 'sub') {
        const x = await on(o.c);
        await x.subscribe({ topic: o.filter, qos: o.qos }, 0, x.protocolVersion === 5 ? { subscriptionIdentifier: subId++ } : undefined);
      } else if (o.kind === 'unsub') {
        await (await on(o.c)).unsubscribe(o.filter);
      } else if (o.kind === 'leave') {
        online[o.c]?.destroy();
        online[o.c] = undefined;
      } else {
        // Acknowledge part of what arrived: PUBACK, or PUBREC alone (the PUBREL that follows stays unanswered).
        const x = online[o.c];
        if (x === undefined) continue;
        for (const p of x.pending().slice(0, o.upTo)) {
          if (p.cmd !== 'publish' || p.qos === 0) continue;
          x.send({ cmd: p.qos === 1 ? 'puback' : 'pubrec', messageId: p.messageId! });
        }
      }
    }
    // A publish round trip: the broker has handled everything sent before it.
    await pub.publish('sync', 'sync', { qos: 1 });
  } finally {
    for (const x of online) x?.destroy();
    pub.destroy();
  }
  for (let i = 0; i < 200 && (broker.stats().clientsConnected > 0 || broker.stats().persistence!.waitingBytes > 0); i++) await sleep(10);
  expect(broker.stats().clientsConnected).toBe(0);
  expect(broker.stats().persistence!.waitingBytes).toBe(0);
}

/** What a broker holds, as clients see it: each session's resumption, and the retained messages. */
async function observe(broker: RunningBroker): Promise<unknown[]> {
  const seen: unknown[] = [];
  for (let c = 0; c < CLIENTS; c++) {
    const x = await RawClient.open(broker, version(c));
    const connack = await x.connect(connectOptions(c));
    const got: unknown[] = [];
    for (;;) {
      let p;
      try {
        p = await x.next(undefined, 150);
      } catch {
        break;
      }
      if (p.cmd === 'publish') {
        // Resent deliveries keep their packet ids; new ones get whatever id is free.
        got.push([p.topic, String(p.payload), p.qos, p.dup, p.retain, p.dup ? p.messageId : 0, p.properties?.subscriptionIdentifier ?? null]);
        if (p.qos === 1) x.send({ cmd: 'puback', messageId: p.messageId! });
        if (p.qos === 2) x.send({ cmd: 'pubrec', messageId: p.messageId! });
      } else if (p.cmd === 'pubrel') {
        got.push(['pubrel', p.messageId]);
        x.send({ cmd: 'pubcomp', messageId: p.messageId! });
      }
    }
    x.destroy();
    seen.push({ client: c, present: connack.sessionPresent, got });
  }
  const r = await RawClient.open(broker, 4);
  await r.connect({ clientId: 'm-look' });
  await r.subscribe('#', 0);
  const retained: string[] = [];
  for (;;) {
    try {
      const p = await r.next('publish', 150);
      retained.push(`${p.topic}=${String(p.payload)}`);
    } catch {
      break;
    }
  }
  r.destroy();
  seen.push({ retained: retained.sort() });
  return seen;
}

describe('bundled broker: a copy of the persistence file restores the state it was taken from', () => {
  it('after random operations with compactions in between', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 50 }), async (ops) => {
        const a = mkdtempSync(join(tmpdir(), 'mqbench-model-a-'));
        const b = mkdtempSync(join(tmpdir(), 'mqbench-model-b-'));
        const first = await start(a);
        let second: RunningBroker | undefined;
        try {
          await drive(first, ops);
          copyFileSync(join(a, 'mosquitto.db'), join(b, 'mosquitto.db'));
          second = await start(b);
          expect(await observe(second)).toEqual(await observe(first));
        } finally {
          await first.close();
          await second?.close();
          rmSync(a, { recursive: true, force: true });
          rmSync(b, { recursive: true, force: true });
        }
      }),
      propertyParams({ numRuns: 8, timeLimitMs: 40_000 }, 'MQBENCH_PERSIST_MODEL'),
    );
  }, 60_000);
});
