/**
 * PUBLISH at QoS 0, 1 and 2 in both directions, exactly-once inbound, delivery QoS, ordering, and the limits on
 * unacknowledged messages (max_inflight_messages, v5 Receive Maximum both ways).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IPublishPacket, QoS } from 'mqtt-packet';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { TestResources, payloadsOf, sleep, uniqueName, type RawClient } from '../../helpers/raw-client.js';

describe.each(testBrokerKinds())('%s broker: PUBLISH flows', (kind) => {
  let broker: TestBroker;
  const res = new TestResources();
  beforeAll(async () => {
    broker = await startTestBroker(kind);
  });
  afterAll(async () => {
    await broker?.stop();
  });
  afterEach(() => res.releaseAll());

  async function pair(v: 4 | 5, subQos: QoS) {
    const topic = uniqueName('flow');
    const sub = await res.connect(broker, v, { clientId: uniqueName('sub') });
    await sub.subscribe(topic, subQos);
    const pub = await res.connect(broker, v, { clientId: uniqueName('pub') });
    return { topic, sub, pub };
  }

  it.each([4, 5] as const)('[MQTT-4.3.1-1] [MQTT-3.3.1-2] [MQTT-2.3.1-5] QoS 0 both ways: no packet id, DUP 0, no acknowledgement (v%i)', async (v) => {
    const { topic, sub, pub } = await pair(v, 2);
    pub.send({ cmd: 'publish', topic, payload: 'q0', qos: 0, dup: false, retain: false });
    const got = await sub.next('publish');
    expect([got.qos, got.dup, got.messageId, got.payload.toString()]).toEqual([0, false, undefined, 'q0']);
    await pub.expectNothing(150);
  });

  it.each([4, 5] as const)('[MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-2.3.1-6] QoS 1 both ways: PUBACK with the packet id, fresh non-zero id outbound (v%i)', async (v) => {
    const { topic, sub, pub } = await pair(v, 2);
    pub.send({ cmd: 'publish', topic, payload: 'q1', qos: 1, messageId: 4242, dup: false, retain: false });
    const puback = await pub.next('puback');
    expect(puback.messageId).toBe(4242);
    expect(puback.reasonCode ?? 0).toBe(0);

    const got = await sub.next('publish');
    expect([got.qos, got.dup, got.payload.toString()]).toEqual([1, false, 'q1']);
    expect(got.messageId).toBeGreaterThan(0);
    sub.send({ cmd: 'puback', messageId: got.messageId! });
    await sub.expectNothing(150);
    await pub.expectNothing(0);
  });

  it.each([4, 5] as const)('[MQTT-4.3.3-1] [MQTT-4.3.3-2] [MQTT-2.3.1-6] QoS 2 both ways: PUBREC, PUBREL, PUBCOMP with matching ids (v%i)', async (v) => {
    const { topic, sub, pub } = await pair(v, 2);
    pub.send({ cmd: 'publish', topic, payload: 'q2', qos: 2, messageId: 77, dup: false, retain: false });
    expect((await pub.next('pubrec')).messageId).toBe(77);
    pub.send({ cmd: 'pubrel', messageId: 77 });
    expect((await pub.next('pubcomp')).messageId).toBe(77);

    const got = await sub.next('publish');
    expect([got.qos, got.dup, got.payload.toString()]).toEqual([2, false, 'q2']);
    expect(got.messageId).toBeGreaterThan(0);
    sub.send({ cmd: 'pubrec', messageId: got.messageId! });
    expect((await sub.next('pubrel')).messageId).toBe(got.messageId);
    sub.send({ cmd: 'pubcomp', messageId: got.messageId! });
    await sub.expectNothing(150);
  });

  it('[MQTT-4.3.3-2] [MQTT-4.3.3-10] a QoS 2 PUBLISH repeated before PUBREL gets PUBREC again and is delivered once', async () => {
    const { topic, sub, pub } = await pair(4, 2);
    pub.send({ cmd: 'publish', topic, payload: 'once', qos: 2, messageId: 9, dup: false, retain: false });
    expect((await pub.next('pubrec')).messageId).toBe(9);
    pub.send({ cmd: 'publish', topic, payload: 'once', qos: 2, messageId: 9, dup: true, retain: false });
    expect((await pub.next('pubrec')).messageId).toBe(9);
    pub.send({ cmd: 'pubrel', messageId: 9 });
    expect((await pub.next('pubcomp')).messageId).toBe(9);

    expect(payloadsOf([await sub.receive()])).toEqual(['once']);
    await sub.expectNothing(200, 'publish');
  });

  it('[MQTT-4.3.2-2] after PUBACK, a QoS 1 PUBLISH reusing the packet id is a new message', async () => {
    const { topic, sub, pub } = await pair(4, 1);
    for (const payload of ['first', 'second']) {
      await pub.publish(topic, payload, { qos: 1, messageId: 5 });
    }
    expect(payloadsOf([await sub.receive(), await sub.receive()])).toEqual(['first', 'second']);
  });

  it('[MQTT-4.3.3-12] after PUBCOMP, a QoS 2 PUBLISH reusing the packet id is a new message', async () => {
    const { topic, sub, pub } = await pair(5, 2);
    for (const payload of ['first', 'second']) {
      await pub.publish(topic, payload, { qos: 2, messageId: 5 });
    }
    expect(payloadsOf([await sub.receive(), await sub.receive()])).toEqual(['first', 'second']);
  });

  it('[MQTT-3.3.1-3] the DUP flag of an incoming PUBLISH is not passed on', async () => {
    const { topic, sub, pub } = await pair(4, 1);
    await pub.publish(topic, 'dup-in', { qos: 1, dup: true });
    const got = await sub.receive();
    expect(got.dup).toBe(false);
  });

  it('[MQTT-3.8.4-6] [MQTT-4.3.1-1] delivery QoS is the minimum of the PUBLISH QoS and the subscription QoS', async () => {
    const topic = uniqueName('minqos');
    const subs: RawClient[] = [];
    for (const q of [0, 1, 2] as const) {
      const s = await res.connect(broker, 4, { clientId: uniqueName(`min${q}`) });
      expect((await s.subscribe(topic, q)).granted).toEqual([q]);
      subs.push(s);
    }
    const pub = await res.connect(broker, 4, { clientId: uniqueName('minpub') });
    const seen: number[][] = [];
    for (const pq of [0, 1, 2] as const) {
      await pub.publish(topic, `p${pq}`, { qos: pq });
      const row: number[] = [];
      for (const s of subs) row.push((await s.receive()).qos);
      seen.push(row);
    }
    // rows: publish QoS 0/1/2; columns: subscription QoS 0/1/2
    expect(seen).toEqual([
      [0, 0, 0],
      [0, 1, 1],
      [0, 1, 2],
    ]);
  });

  it('[MQTT-4.6.0-5] [MQTT-4.6.0-6] messages on one topic keep their order per QoS', async () => {
    const { topic, sub, pub } = await pair(4, 2);
    const n = 30;
    // Pipelined, as a real publisher would: all PUBLISHes first, acknowledgements after.
    for (let i = 0; i < n; i++) pub.send({ cmd: 'publish', topic, payload: `0-${i}`, qos: 0, dup: false, retain: false });
    for (let i = 0; i < n; i++) {
      pub.send({ cmd: 'publish', topic, payload: `1-${i}`, qos: 1, messageId: 100 + i, dup: false, retain: false });
    }
    for (let i = 0; i < 10; i++) await pub.publish(topic, `2-${i}`, { qos: 2 });
    await pub.nextN('puback', n);

    const got: IPublishPacket[] = [];
    while (got.length < 2 * n + 10) got.push(await sub.receive());
    for (const q of ['0', '1', '2']) {
      const seq = payloadsOf(got).filter((p) => p.startsWith(`${q}-`));
      expect(seq).toEqual(Array.from({ length: q === '2' ? 10 : n }, (_, i) => `${q}-${i}`));
    }
  });

  /**
   * Starting with `initial` unacknowledged, acknowledges the oldest message one at a time until `total` were acked,
   * pausing after each ack for whatever the broker sends in response. Returns the payloads in arrival order and the
   * largest number of unacknowledged messages seen at once.
   */
  async function drainOneAckAtATime(
    sub: RawClient,
    initial: IPublishPacket[],
    total: number,
  ): Promise<{ order: string[]; maxInFlight: number }> {
    const unacked = [...initial];
    const order = payloadsOf(initial);
    let maxInFlight = unacked.length;
    for (let acked = 0; acked < total; acked++) {
      const oldest = unacked.shift();
      if (oldest === undefined) throw new Error(`nothing left to acknowledge after ${acked} acks; got ${order.join(',')}`);
      sub.send({ cmd: 'puback', messageId: oldest.messageId! });
      await sleep(60);
      const arrived = sub.pending().filter((p) => p.cmd === 'publish').length;
      for (let i = 0; i < arrived; i++) {
        const p = await sub.next('publish');
        unacked.push(p);
        order.push(p.payload.toString());
      }
      maxInFlight = Math.max(maxInFlight, unacked.length);
    }
    return { order, maxInFlight };
  }

  it('max_inflight_messages: only that many unacknowledged QoS 1 messages are sent at once; the rest follow as acks arrive', async () => {
    const b = res.add(await startTestBroker(kind, ['max_inflight_messages 2']));
    const topic = uniqueName('inflight');
    const sub = await res.connect(b, 4, { clientId: uniqueName('inflight-sub') });
    await sub.subscribe(topic, 1);
    const pub = await res.connect(b, 4, { clientId: uniqueName('inflight-pub') });
    for (let i = 0; i < 6; i++) await pub.publish(topic, `m${i}`, { qos: 1 });

    const first = await sub.nextN('publish', 2);
    await sub.expectNothing(200, 'publish');
    const { order, maxInFlight } = await drainOneAckAtATime(sub, first, 6);
    expect(order).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    // Mosquitto 2.0.11 holds the limit for the first burst only: every later PUBACK releases two messages, so up to
    // four end up unacknowledged. The requirement is the limit at all times.
    if (kind === 'bundled') expect(maxInFlight).toBe(2);
  });

  it('[MQTT-3.3.4-9] [MQTT-4.9.0-2] [MQTT-4.9.0-3] the client\'s Receive Maximum limits unacknowledged QoS 1 messages; other packets still flow', async () => {
    const topic = uniqueName('rcvmax');
    const sub = await res.connect(broker, 5, { clientId: uniqueName('rcvmax-sub'), properties: { receiveMaximum: 2 } });
    await sub.subscribe(topic, 1);
    const pub = await res.connect(broker, 4, { clientId: uniqueName('rcvmax-pub') });
    for (let i = 0; i < 5; i++) await pub.publish(topic, `m${i}`, { qos: 1 });

    const first = await sub.nextN('publish', 2);
    await sub.expectNothing(200, 'publish');
    // With the quota used up, PINGREQ and SUBSCRIBE are still answered.
    sub.send({ cmd: 'pingreq' });
    await sub.next('pingresp');
    expect((await sub.subscribe(uniqueName('rcvmax-other'), 0)).granted).toEqual([0]);

    const { order, maxInFlight } = await drainOneAckAtATime(sub, first, 5);
    expect(order).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    // Mosquitto 2.0.11: as with max_inflight_messages, later PUBACKs release two messages each.
    if (kind === 'bundled') expect(maxInFlight).toBe(2);
  });

  it('[MQTT-3.3.4-7] the CONNACK Receive Maximum is max_inflight_messages, and a client may have that many QoS 2 messages open', async () => {
    const dflt = await res.open(broker, 5);
    expect((await dflt.connect({ clientId: uniqueName('rm-default') })).properties?.receiveMaximum).toBe(20);

    const b = res.add(await startTestBroker(kind, ['max_inflight_messages 3']));
    const topic = uniqueName('rm-in');
    const sub = await res.connect(b, 4, { clientId: uniqueName('rm-in-sub') });
    await sub.subscribe(topic, 2);
    const pub = await res.open(b, 5);
    const connack = await pub.connect({ clientId: uniqueName('rm-in-pub') });
    expect(connack.properties?.receiveMaximum).toBe(3);
    for (let id = 1; id <= 3; id++) {
      pub.send({ cmd: 'publish', topic, payload: `m${id}`, qos: 2, messageId: id, dup: false, retain: false });
    }
    const pubrecs = await pub.nextN('pubrec', 3);
    expect(pubrecs.map((p) => [p.messageId, p.reasonCode ?? 0])).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
    ]);
    for (let id = 1; id <= 3; id++) pub.send({ cmd: 'pubrel', messageId: id });
    expect((await pub.nextN('pubcomp', 3)).map((p) => p.messageId)).toEqual([1, 2, 3]);
    const got = [await sub.receive(), await sub.receive(), await sub.receive()];
    expect(payloadsOf(got)).toEqual(['m1', 'm2', 'm3']);
  });
});
