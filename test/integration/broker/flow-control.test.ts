/**
 * The bundled broker when a connected subscriber's queue is full (max_inflight_messages + max_queued_messages):
 * - the message goes to nobody else: its PUBACK waits until it enters the queue, so the publisher is held back and
 *   nothing is lost (fan-in to a busy subscriber);
 * - other subscribers took it: the full one drops it, as Mosquitto does, and the others are not slowed down;
 * - the subscriber acknowledges nothing for a second: it drops, as Mosquitto does.
 * Mosquitto drops in every case, so these tests are for the bundled broker only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { startBroker, type RunningBroker } from '../../../broker/index.js';
import { TestResources, uniqueName, type RawClient } from '../../helpers/raw-client.js';

const res = new TestResources();
let broker: RunningBroker | undefined;
afterEach(async () => {
  await res.releaseAll();
  await broker?.close();
  broker = undefined;
});

async function start(): Promise<RunningBroker> {
  broker = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], maxInflightMessages: 2, maxQueuedMessages: 3, logTypes: new Set() });
  return broker;
}

/** Sends `n` QoS 1 messages without waiting; resolves with the time each PUBACK arrived (ms since the call). */
function publishMany(pub: RawClient, topic: string, n: number): Promise<number[]> {
  const started = Date.now();
  for (let i = 1; i <= n; i++) pub.send({ cmd: 'publish', topic, payload: Buffer.from(`m${i}`), qos: 1, dup: false, retain: false, messageId: i });
  return pub.nextN('puback', n, 10_000).then((acks) => acks.map(() => Date.now() - started));
}

/** Receives until `n` messages arrived, acknowledging each after `delayMs`; returns the payloads in order. */
async function consume(sub: RawClient, n: number, delayMs: number): Promise<string[]> {
  const got: string[] = [];
  while (got.length < n) {
    const p = (await sub.next('publish', 5_000)) as IPublishPacket;
    got.push(p.payload.toString());
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    sub.send({ cmd: 'puback', messageId: p.messageId! });
  }
  return got;
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => `m${i + 1}`);

describe('bundled broker: a subscriber whose queue is full', () => {
  it('holds the publisher back when nobody else takes the message: all 30 arrive, in order, none dropped', async () => {
    const b = await start();
    const topic = uniqueName('fanin');
    const endpoint = { host: b.host, port: b.port };
    const sub = await res.connect(endpoint, 4, { clientId: uniqueName('busy') });
    await sub.subscribe(topic, 1);
    const pub = await res.connect(endpoint, 4, { clientId: uniqueName('pub') });
    const acks = publishMany(pub, topic, 30);
    // 20 ms per message: 30 messages take about 600 ms, far more than the 5 the queue and window hold.
    expect(await consume(sub, 30, 20)).toEqual(expected(30));
    const ackTimes = await acks;
    // The publisher was held: its last PUBACK came only as the subscriber caught up.
    expect(ackTimes[29]).toBeGreaterThan(300);
    expect(b.stats().publishDropped).toBe(0);
  });

  it('drops for the slow subscriber when another took the message, without slowing the fast one or the publisher', async () => {
    const b = await start();
    const topic = uniqueName('fanout');
    const endpoint = { host: b.host, port: b.port };
    const slow = await res.connect(endpoint, 4, { clientId: uniqueName('slow') });
    await slow.subscribe(topic, 1);
    const fast = await res.connect(endpoint, 4, { clientId: uniqueName('fast') });
    await fast.subscribe(topic, 1);
    const pub = await res.connect(endpoint, 4, { clientId: uniqueName('pub') });
    // One message at a time: when each arrives the fast subscriber has room, so the message is taken.
    const fastGot = consume(fast, 30, 0);
    const started = Date.now();
    for (let i = 1; i <= 30; i++) {
      pub.send({ cmd: 'publish', topic, payload: Buffer.from(`m${i}`), qos: 1, dup: false, retain: false, messageId: i });
      await pub.next('puback', 2_000);
    }
    expect(Date.now() - started).toBeLessThan(300);
    expect(await fastGot).toEqual(expected(30));
    // The slow one keeps acknowledging (it is not stalled) but gets only what its window and queue held.
    const slowGot: string[] = [];
    for (;;) {
      const p = (await slow.next('publish', 300).catch(() => undefined)) as IPublishPacket | undefined;
      if (p === undefined) break;
      slowGot.push(p.payload.toString());
      await new Promise((r) => setTimeout(r, 20));
      slow.send({ cmd: 'puback', messageId: p.messageId! });
    }
    expect(slowGot.length).toBeGreaterThanOrEqual(5);
    expect(slowGot.length).toBeLessThan(30);
    expect(slowGot.slice(0, 5)).toEqual(expected(5));
    expect(b.stats().publishDropped).toBe(30 - slowGot.length);
  });

  it('drops once the subscriber has acknowledged nothing for a second', async () => {
    const b = await start();
    const topic = uniqueName('stalled');
    const endpoint = { host: b.host, port: b.port };
    const sub = await res.connect(endpoint, 4, { clientId: uniqueName('stalled') });
    await sub.subscribe(topic, 1);
    const pub = await res.connect(endpoint, 4, { clientId: uniqueName('pub') });
    const ackTimes = await publishMany(pub, topic, 10);
    // Held at first, then released with the excess dropped once the subscriber counts as stalled.
    expect(ackTimes[9]).toBeGreaterThan(900);
    const got: string[] = [];
    for (;;) {
      const p = (await sub.next('publish', 300).catch(() => undefined)) as IPublishPacket | undefined;
      if (p === undefined) break;
      got.push(p.payload.toString());
      sub.send({ cmd: 'puback', messageId: p.messageId! });
    }
    expect(got.slice(0, 5)).toEqual(expected(5));
    expect(b.stats().publishDropped).toBe(10 - got.length);
    expect(b.stats().publishDropped).toBeGreaterThan(0);
  }, 15_000);

  it('a subscriber that leaves part way through its parked messages keeps what its queue allows; every PUBACK comes, nothing faults', async () => {
    const b = await start();
    const topic = uniqueName('leaving');
    const endpoint = { host: b.host, port: b.port };
    const clientId = uniqueName('leaving');
    const sub = await res.connect(endpoint, 4, { clientId, clean: false });
    await sub.subscribe(topic, 1);
    const pub = await res.connect(endpoint, 4, { clientId: uniqueName('pub') });
    const acks = publishMany(pub, topic, 30);
    // Taking some moves the head of the parked messages on; leaving then settles the rest from there.
    const first = await consume(sub, 8, 0);
    expect(first).toEqual(expected(8));
    sub.destroy();
    expect(await acks).toHaveLength(30);
    expect(b.stats().faults).toBe(0);
    const back = await res.connect(endpoint, 4, { clientId, clean: false });
    const rest: string[] = [];
    for (;;) {
      const p = (await back.next('publish', 300).catch(() => undefined)) as IPublishPacket | undefined;
      if (p === undefined) break;
      rest.push(p.payload.toString());
      back.send({ cmd: 'puback', messageId: p.messageId! });
    }
    // In order after what was taken; what the queue could not hold was dropped and counted, nothing else.
    const distinct = [...new Set([...first, ...rest])];
    expect(distinct).toEqual(expected(distinct.length));
    expect(rest.length).toBeGreaterThan(0);
    expect(b.stats().publishDropped).toBe(30 - distinct.length);
    expect(b.stats().faults).toBe(0);
  });
});
