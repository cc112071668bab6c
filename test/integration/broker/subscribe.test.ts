/**
 * SUBSCRIBE / UNSUBSCRIBE: SUBACK contents, wildcard matching, `$` topics, invalid filters, overlapping
 * subscriptions, v5 subscription options and subscription identifiers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { TestResources, payloadsOf, uniqueName, type RawClient } from '../../helpers/raw-client.js';
import { RC, SUBACK_FAILURE_V3 } from '../../../src/protocol/reason-codes.js';

describe.each(testBrokerKinds())('%s broker: SUBSCRIBE and UNSUBSCRIBE', (kind) => {
  let broker: TestBroker;
  const res = new TestResources();
  beforeAll(async () => {
    broker = await startTestBroker(kind);
  });
  afterAll(async () => {
    await broker?.stop();
  });
  afterEach(() => res.releaseAll());

  /** Publishes each topic at QoS 1 and returns the topics `sub` received, in order. */
  async function topicsReceived(sub: RawClient, topics: string[]): Promise<string[]> {
    const pub = await res.connect(broker, 4, { clientId: uniqueName('tr-pub') });
    const marker = `${uniqueName('marker')}`;
    await sub.subscribe(marker, 1);
    for (const t of topics) await pub.publish(t, t, { qos: 1 });
    // The marker goes last; everything before it has been routed by then.
    await pub.publish(marker, 'end', { qos: 1 });
    const got: string[] = [];
    for (;;) {
      const p = await sub.receive();
      if (p.topic === marker) return got;
      got.push(p.topic);
    }
  }

  it('[MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.9.3-1] [MQTT-3.8.4-5] SUBACK carries the packet id and one code per filter, in order', async () => {
    const t = uniqueName('suback');
    const c = await res.connect(broker, 4, { clientId: uniqueName('suback-c') });
    c.send({
      cmd: 'subscribe',
      messageId: 321,
      subscriptions: [
        { topic: `${t}/a`, qos: 2 },
        { topic: `${t}/b`, qos: 0 },
        { topic: `${t}/c`, qos: 1 },
      ],
    });
    const suback = await c.next('suback');
    expect(suback.messageId).toBe(321);
    expect(suback.granted).toEqual([2, 0, 1]);
  });

  it('[MQTT-4.7.1-3] "+" matches exactly one level, including an empty one', async () => {
    const t = uniqueName('plus');
    const c = await res.connect(broker, 4, { clientId: uniqueName('plus-c') });
    await c.subscribe(`${t}/+/x`, 1);
    expect(await topicsReceived(c, [`${t}/a/x`, `${t}/a/b/x`, `${t}//x`, `${t}/x`, `${t}/a/x/y`])).toEqual([
      `${t}/a/x`,
      `${t}//x`,
    ]);
  });

  it('[MQTT-4.7.1-2] "#" matches the parent level and any number of child levels', async () => {
    const t = uniqueName('hash');
    const c = await res.connect(broker, 4, { clientId: uniqueName('hash-c') });
    await c.subscribe(`${t}/#`, 1);
    expect(await topicsReceived(c, [t, `${t}/a`, `${t}/a/b/c`, `${t}x`, `x/${t}`])).toEqual([t, `${t}/a`, `${t}/a/b/c`]);
  });

  it('[MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with "$"; an explicit "$" filter does', async () => {
    // A broker of its own: "#" would otherwise see other tests' traffic.
    const b = res.add(await startTestBroker(kind, ['sys_interval 0']));
    const dollar = `$${uniqueName('dollar')}`;
    const wild = await res.connect(b, 4, { clientId: uniqueName('wild') });
    await wild.subscribe([
      { topic: '#', qos: 1 },
      { topic: '+/x', qos: 1 },
    ]);
    const exact = await res.connect(b, 4, { clientId: uniqueName('exact') });
    await exact.subscribe(`${dollar}/#`, 1);
    const pub = await res.connect(b, 4, { clientId: uniqueName('dollar-pub') });
    await pub.publish(`${dollar}/x`, 'dollar', { qos: 1 });
    await pub.publish('plain/x', 'plain', { qos: 1 });

    expect((await exact.receive()).topic).toBe(`${dollar}/x`);
    const first = await wild.receive();
    expect(first.topic).toBe('plain/x');
    await wild.expectNothing(200, 'publish');
  });

  it('[MQTT-4.7.3-4] matching is exact: case-sensitive, no Unicode normalisation', async () => {
    const t = uniqueName('Case');
    const c = await res.connect(broker, 4, { clientId: uniqueName('case-c') });
    await c.subscribe(`${t}/\u00e9`, 1);
    expect(await topicsReceived(c, [`${t.toLowerCase()}/\u00e9`, `${t}/e\u0301`, `${t}/\u00e9`])).toEqual([`${t}/\u00e9`]);
  });

  const invalidFilters = ['a/b#', 'a/+b', '#/a', 'a/#/b', 'a+'];

  it('[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-3.8.4-5] an invalid filter is refused with 0x80 in its SUBACK slot; the valid ones are granted (3.1.1)', async () => {
    const t = uniqueName('bad311');
    for (const bad of invalidFilters) {
      const c = await res.connect(broker, 4, { clientId: uniqueName('bad311-c') });
      c.send({
        cmd: 'subscribe',
        messageId: 2,
        subscriptions: [
          { topic: `${t}/ok1`, qos: 1 },
          { topic: bad, qos: 1 },
          { topic: `${t}/ok2`, qos: 2 },
        ],
      });
      if (kind === 'bundled') {
        expect((await c.next('suback')).granted, bad).toEqual([1, SUBACK_FAILURE_V3, 2]);
        expect(await c.stillOpenAfter(50)).toBe(true);
      } else {
        // Mosquitto 2.0.11 logs "Invalid subscription string" and closes the connection instead of answering.
        await c.closed();
        expect(c.received.map((p) => p.cmd)).toEqual(['connack']);
      }
    }
  });

  it('[MQTT-4.7.1-1] [MQTT-3.9.3-2] an invalid filter is refused with 0x8F Topic Filter invalid in its SUBACK slot (v5)', async () => {
    const t = uniqueName('bad5');
    for (const bad of [...invalidFilters, '$share/g+/x']) {
      const c = await res.connect(broker, 5, { clientId: uniqueName('bad5-c') });
      c.send({
        cmd: 'subscribe',
        messageId: 2,
        subscriptions: [
          { topic: `${t}/ok`, qos: 1 },
          { topic: bad, qos: 1 },
        ],
      });
      if (kind === 'bundled') {
        expect((await c.next('suback')).granted, bad).toEqual([1, RC.TopicFilterInvalid]);
        expect(await c.stillOpenAfter(50)).toBe(true);
      } else {
        // Mosquitto 2.0.11 sends DISCONNECT 0x81 (Malformed Packet) and closes instead of answering.
        const d = await c.next('disconnect');
        expect(d.reasonCode).toBe(RC.MalformedPacket);
        await c.closed();
      }
    }
  });

  it('[MQTT-3.8.4-3] subscribing again to an identical filter replaces the subscription (its QoS changes, one copy)', async () => {
    const t = uniqueName('replace');
    const c = await res.connect(broker, 4, { clientId: uniqueName('replace-c') });
    expect((await c.subscribe(t, 0)).granted).toEqual([0]);
    expect((await c.subscribe(t, 2)).granted).toEqual([2]);
    const pub = await res.connect(broker, 4, { clientId: uniqueName('replace-pub') });
    await pub.publish(t, 'x', { qos: 2 });
    expect((await c.receive()).qos).toBe(2);
    await c.expectNothing(200, 'publish');
  });

  it('[MQTT-3.3.5-1] overlapping subscriptions get one copy, at the highest QoS of the matches (3.1.1)', async () => {
    const t = uniqueName('overlap');
    const c = await res.connect(broker, 4, { clientId: uniqueName('overlap-c') });
    await c.subscribe([
      { topic: `${t}/#`, qos: 2 },
      { topic: `${t}/x`, qos: 0 },
      { topic: `${t}/+`, qos: 1 },
    ]);
    const pub = await res.connect(broker, 4, { clientId: uniqueName('overlap-pub') });
    await pub.publish(`${t}/x`, 'x', { qos: 2 });
    const got = await c.receive();
    await c.expectNothing(200, 'publish');
    // Mosquitto 2.0.11 also sends a single copy, but at the QoS of whichever subscription its topic tree walk meets
    // first (here the exact "x" one, QoS 0), not the highest.
    if (kind === 'bundled') expect(got.qos).toBe(2);
    else expect(got.qos).toBe(0);
  });

  it('[MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4] [MQTT-3.3.4-5] overlapping v5 subscriptions: every matching subscription identifier is delivered', async () => {
    const t = uniqueName('subid-overlap');
    const c = await res.connect(broker, 5, { clientId: uniqueName('subid-c') });
    await c.subscribe(`${t}/#`, 2, { subscriptionIdentifier: 11 });
    await c.subscribe(`${t}/+`, 1, { subscriptionIdentifier: 22 });
    const pub = await res.connect(broker, 4, { clientId: uniqueName('subid-pub') });
    await pub.publish(`${t}/x`, 'x', { qos: 2 });

    const copies: IPublishPacket[] = [await c.receive()];
    await sleepUntilQuiet(c, copies);
    const ids = copies.map((p) => p.properties?.subscriptionIdentifier);
    if (copies.length === 1) {
      // One copy: it carries both identifiers and the higher QoS.
      expect([...(ids[0] as number[])].sort((a, b) => a - b)).toEqual([11, 22]);
      expect(copies[0].qos).toBe(2);
    } else {
      // One copy per subscription (what Mosquitto does): each with its own identifier and QoS.
      expect(copies).toHaveLength(2);
      const byId = new Map(copies.map((p) => [p.properties?.subscriptionIdentifier, p.qos]));
      expect(Object.fromEntries(byId)).toEqual({ 11: 2, 22: 1 });
    }
  });

  /** Takes any further PUBLISH that arrives within 200 ms into `into`. */
  async function sleepUntilQuiet(c: RawClient, into: IPublishPacket[]): Promise<void> {
    for (;;) {
      try {
        into.push(await c.next('publish', 200));
        await c.acknowledge(into[into.length - 1]);
      } catch {
        return;
      }
    }
  }

  it('[MQTT-3.3.4-3] a v5 subscription identifier comes with live and retained messages; re-subscribing without one drops it', async () => {
    const t = uniqueName('subid');
    const pub = await res.connect(broker, 4, { clientId: uniqueName('subid1-pub') });
    await pub.publish(t, 'kept', { qos: 1, retain: true });
    const c = await res.connect(broker, 5, { clientId: uniqueName('subid1-c') });
    await c.subscribe(t, 1, { subscriptionIdentifier: 7 });
    const retained = await c.receive();
    expect([retained.retain, retained.properties?.subscriptionIdentifier]).toEqual([true, 7]);
    await pub.publish(t, 'live', { qos: 1 });
    expect((await c.receive()).properties?.subscriptionIdentifier).toBe(7);

    await c.subscribe({ topic: t, qos: 1, rh: 2 });
    await pub.publish(t, 'plain', { qos: 1 });
    expect((await c.receive()).properties?.subscriptionIdentifier).toBeUndefined();
    await pub.publish(t, '', { qos: 1, retain: true });
  });

  it('[MQTT-3.8.3-3] No Local: a v5 client does not get its own messages back, but gets everyone else\'s', async () => {
    const t = uniqueName('nolocal');
    const c = await res.connect(broker, 5, { clientId: uniqueName('nl-c') });
    await c.subscribe({ topic: t, qos: 1, nl: true });
    await c.publish(t, 'own', { qos: 1 });
    const other = await res.connect(broker, 5, { clientId: uniqueName('nl-other') });
    await other.publish(t, 'theirs', { qos: 1 });
    expect(payloadsOf([await c.receive()])).toEqual(['theirs']);
    await c.expectNothing(150, 'publish');
  });

  it('[MQTT-3.3.1-12] [MQTT-3.3.1-13] Retain As Published: live retained messages keep RETAIN 1 only for subscriptions that ask', async () => {
    const t = uniqueName('rap');
    const keep = await res.connect(broker, 5, { clientId: uniqueName('rap1') });
    await keep.subscribe({ topic: t, qos: 1, rap: true });
    const clear = await res.connect(broker, 5, { clientId: uniqueName('rap0') });
    await clear.subscribe({ topic: t, qos: 1, rap: false });
    const pub = await res.connect(broker, 5, { clientId: uniqueName('rap-pub') });
    await pub.publish(t, 'r', { qos: 1, retain: true });
    expect((await keep.receive()).retain).toBe(true);
    expect((await clear.receive()).retain).toBe(false);
    await pub.publish(t, 'not retained', { qos: 1 });
    expect((await keep.receive()).retain).toBe(false);
    await pub.publish(t, '', { qos: 1, retain: true });
  });

  it('[MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.8.4-4] Retain Handling 0 / 1 / 2 on first and repeated SUBSCRIBE', async () => {
    const t = uniqueName('rh');
    const pub = await res.connect(broker, 4, { clientId: uniqueName('rh-pub') });
    await pub.publish(t, 'kept', { qos: 1, retain: true });
    const retainedOnEach = async (rh: number): Promise<boolean[]> => {
      const c = await res.connect(broker, 5, { clientId: uniqueName(`rh${rh}`) });
      const seen: boolean[] = [];
      for (let i = 0; i < 2; i++) {
        await c.subscribe({ topic: t, qos: 1, rh });
        try {
          await c.receive(200);
          seen.push(true);
        } catch {
          seen.push(false);
        }
      }
      return seen;
    };
    expect(await retainedOnEach(0)).toEqual([true, true]);
    expect(await retainedOnEach(1)).toEqual([true, false]);
    expect(await retainedOnEach(2)).toEqual([false, false]);
    await pub.publish(t, '', { qos: 1, retain: true });
  });

  it('[MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-4] UNSUBSCRIBE is acknowledged with its packet id and stops delivery', async () => {
    const t = uniqueName('unsub');
    const c = await res.connect(broker, 4, { clientId: uniqueName('unsub-c') });
    await c.subscribe(t, 1);
    c.send({ cmd: 'unsubscribe', messageId: 999, unsubscriptions: [t] });
    expect((await c.next('unsuback')).messageId).toBe(999);
    const pub = await res.connect(broker, 4, { clientId: uniqueName('unsub-pub') });
    await pub.publish(t, 'late', { qos: 1 });
    await c.expectNothing(200, 'publish');
  });

  it('[MQTT-3.10.4-5] [MQTT-3.10.4-6] [MQTT-3.11.3-1] [MQTT-3.11.3-2] v5 UNSUBACK: one reason per filter, in order, 0x11 where nothing was subscribed', async () => {
    const t = uniqueName('unsub5');
    const c = await res.connect(broker, 5, { clientId: uniqueName('unsub5-c') });
    await c.subscribe([
      { topic: `${t}/a`, qos: 1 },
      { topic: `${t}/b`, qos: 1 },
    ]);
    const unsuback = await c.unsubscribe([`${t}/a`, `${t}/none`, `${t}/b`]);
    expect(unsuback.granted).toEqual([RC.Success, RC.NoSubscriptionExisted, RC.Success]);
    expect(await topicsReceived(c, [`${t}/a`, `${t}/b`])).toEqual([]);
  });

  it('[MQTT-3.10.4-1] [MQTT-3.10.4-5] unsubscribing compares filters character by character, and is acknowledged even when nothing matches', async () => {
    const t = uniqueName('unsub-exact');
    const c = await res.connect(broker, 4, { clientId: uniqueName('unsub-exact-c') });
    await c.subscribe(`${t}/+`, 1);
    expect((await c.unsubscribe(`${t}/x`)).messageId).toBeGreaterThan(0);
    expect(await topicsReceived(c, [`${t}/x`])).toEqual([`${t}/x`]);
  });
});
