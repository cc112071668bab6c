/**
 * Sessions: clean session / clean start, session expiry, what a persistent session keeps and queues, and what is
 * resent when the client comes back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { TestResources, payloadsOf, sleep, uniqueName, type ProtocolVersion } from '../../helpers/raw-client.js';

/** CONNECT options for a session that outlives the connection, at either version. */
function persistent(v: ProtocolVersion, clientId: string) {
  return v === 5
    ? { clientId, clean: false, properties: { sessionExpiryInterval: 60 } }
    : { clientId, clean: false };
}

describe.each(testBrokerKinds())('%s broker: sessions', (kind) => {
  let broker: TestBroker;
  const res = new TestResources();
  beforeAll(async () => {
    broker = await startTestBroker(kind);
  });
  afterAll(async () => {
    await broker?.stop();
  });
  afterEach(() => res.releaseAll());

  it.each([4, 5] as const)('[MQTT-3.2.2-3] a persistent session that did not exist gets session present 0 (v%i)', async (v) => {
    const c = await res.open(broker, v);
    const connack = await c.connect(persistent(v, uniqueName('fresh')));
    expect(connack.sessionPresent).toBe(false);
  });

  it.each([4, 5] as const)(
    '[MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-2] a persistent session keeps its subscriptions and queues QoS 1 and 2 messages while away (v%i)',
    async (v) => {
      const clientId = uniqueName('keep');
      const topic = uniqueName('keep-t');
      const sub = await res.connect(broker, v, persistent(v, clientId));
      await sub.subscribe(topic, 2);
      await sub.disconnect();

      const pub = await res.connect(broker, 4, { clientId: uniqueName('keep-pub') });
      await pub.publish(topic, 'q1', { qos: 1 });
      await pub.publish(topic, 'q2', { qos: 2 });

      const back = await res.open(broker, v);
      const connack = await back.connect(persistent(v, clientId));
      expect(connack.sessionPresent).toBe(true);
      const first = await back.receive();
      const second = await back.receive();
      expect([first.qos, second.qos]).toEqual([1, 2]);
      expect(payloadsOf([first, second])).toEqual(['q1', 'q2']);

      // The subscription itself survived: live messages arrive without subscribing again.
      await pub.publish(topic, 'live', { qos: 1 });
      expect(payloadsOf([await back.receive()])).toEqual(['live']);
    },
  );

  it('[MQTT-3.1.2-6] [MQTT-3.2.2-1] a clean session discards the stored session and does not outlive its connection (3.1.1)', async () => {
    const clientId = uniqueName('clean');
    const topic = uniqueName('clean-t');
    const first = await res.connect(broker, 4, { clientId, clean: false });
    await first.subscribe(topic, 1);
    await first.disconnect();

    const cleanConn = await res.open(broker, 4);
    expect((await cleanConn.connect({ clientId, clean: true })).sessionPresent).toBe(false);
    const pub = await res.connect(broker, 4, { clientId: uniqueName('clean-pub') });
    await pub.publish(topic, 'nobody', { qos: 1 });
    await cleanConn.expectNothing(200, 'publish');
    await cleanConn.disconnect();

    const again = await res.open(broker, 4);
    expect((await again.connect({ clientId, clean: false })).sessionPresent).toBe(false);
  });

  it('[MQTT-3.1.2-4] [MQTT-3.2.2-2] clean start 1 discards an existing v5 session', async () => {
    const clientId = uniqueName('cs5');
    const topic = uniqueName('cs5-t');
    const first = await res.connect(broker, 5, persistent(5, clientId));
    await first.subscribe(topic, 1);
    await first.disconnect();

    const next = await res.open(broker, 5);
    const connack = await next.connect({ clientId, clean: true, properties: { sessionExpiryInterval: 60 } });
    expect(connack.sessionPresent).toBe(false);
    const pub = await res.connect(broker, 4, { clientId: uniqueName('cs5-pub') });
    await pub.publish(topic, 'gone', { qos: 1 });
    await next.expectNothing(200, 'publish');
  });

  it('[MQTT-3.1.2-23] without a Session Expiry Interval a v5 session ends with its connection, even with clean start 0', async () => {
    const clientId = uniqueName('se0');
    const first = await res.connect(broker, 5, { clientId, clean: false });
    await first.subscribe(uniqueName('se0-t'), 1);
    await first.disconnect();
    const again = await res.open(broker, 5);
    expect((await again.connect({ clientId, clean: false })).sessionPresent).toBe(false);
  });

  it('[MQTT-3.1.2-23] [MQTT-4.1.0-2] a v5 session is kept for its Session Expiry Interval and discarded after it', async () => {
    const clientId = uniqueName('se1');
    const opts = { clientId, clean: false, properties: { sessionExpiryInterval: 1 } };
    const first = await res.connect(broker, 5, opts);
    await first.subscribe(uniqueName('se1-t'), 1);
    await first.disconnect();

    const soon = await res.open(broker, 5);
    expect((await soon.connect(opts)).sessionPresent).toBe(true);
    await soon.disconnect();

    // Mosquitto checks expiry against a whole-second clock, so allow it up to two seconds.
    await sleep(2_300);
    const late = await res.open(broker, 5);
    expect((await late.connect({ clientId, clean: false })).sessionPresent).toBe(false);
  });

  it('[MQTT-4.4.0-1] [MQTT-3.3.1-1] [MQTT-4.6.0-1] unacknowledged PUBLISH (with DUP, same ids, same order) and PUBREL are resent on reconnect (3.1.1)', async () => {
    await checkResend(4);
  });

  it('[MQTT-4.4.0-1] [MQTT-3.3.1-1] unacknowledged PUBLISH and PUBREL are resent on reconnect with clean start 0 (v5)', async () => {
    await checkResend(5);
  });

  async function checkResend(v: ProtocolVersion): Promise<void> {
    const clientId = uniqueName('resend');
    const topic = uniqueName('resend-t');
    const sub = await res.connect(broker, v, persistent(v, clientId));
    await sub.subscribe(`${topic}/#`, 2);
    const pub = await res.connect(broker, 4, { clientId: uniqueName('resend-pub') });
    await pub.publish(`${topic}/a`, 'one', { qos: 1 });
    await pub.publish(`${topic}/b`, 'two', { qos: 2 });
    await pub.publish(`${topic}/c`, 'three', { qos: 2 });

    const sent = await sub.nextN('publish', 3);
    expect(sent.map((p) => p.dup)).toEqual([false, false, false]);
    // Third message: receive PUBREL but never complete it.
    sub.send({ cmd: 'pubrec', messageId: sent[2].messageId! });
    expect((await sub.next('pubrel')).messageId).toBe(sent[2].messageId);
    sub.destroy();

    const back = await res.open(broker, v);
    expect((await back.connect(persistent(v, clientId))).sessionPresent).toBe(true);
    const resent = await back.nextN('publish', 2);
    expect(resent.map((p) => [p.topic, p.qos, p.dup, p.messageId])).toEqual([
      [`${topic}/a`, 1, true, sent[0].messageId],
      [`${topic}/b`, 2, true, sent[1].messageId],
    ]);
    const pubrel = await back.next('pubrel');
    expect(pubrel.messageId).toBe(sent[2].messageId);

    back.send({ cmd: 'puback', messageId: resent[0].messageId! });
    back.send({ cmd: 'pubrec', messageId: resent[1].messageId! });
    expect((await back.next('pubrel')).messageId).toBe(resent[1].messageId);
    back.send({ cmd: 'pubcomp', messageId: resent[1].messageId! });
    back.send({ cmd: 'pubcomp', messageId: pubrel.messageId! });
    await back.expectNothing(200);
  }

  it('[MQTT-4.3.3-2] [MQTT-4.4.0-1] an inbound QoS 2 message whose PUBREL comes on the next connection is delivered once', async () => {
    const topic = uniqueName('inq2');
    const sub = await res.connect(broker, 4, { clientId: uniqueName('inq2-sub') });
    await sub.subscribe(topic, 2);

    const clientId = uniqueName('inq2-pub');
    const pub = await res.connect(broker, 4, { clientId, clean: false });
    pub.send({ cmd: 'publish', topic, payload: 'once', qos: 2, messageId: 7, dup: false, retain: false });
    expect((await pub.next('pubrec')).messageId).toBe(7);
    pub.destroy();

    const back = await res.open(broker, 4);
    expect((await back.connect({ clientId, clean: false })).sessionPresent).toBe(true);
    back.send({ cmd: 'pubrel', messageId: 7 });
    expect((await back.next('pubcomp')).messageId).toBe(7);

    expect(payloadsOf([await sub.receive()])).toEqual(['once']);
    await sub.expectNothing(200, 'publish');
  });

  it('max_queued_messages bounds what is queued for an absent client; the excess is dropped', async () => {
    const b = res.add(await startTestBroker(kind, ['max_queued_messages 3']));
    const clientId = uniqueName('mq');
    const topic = uniqueName('mq-t');
    const sub = await res.connect(b, 4, { clientId, clean: false });
    await sub.subscribe(topic, 1);
    await sub.disconnect();

    const pub = await res.connect(b, 4, { clientId: uniqueName('mq-pub') });
    for (let i = 0; i < 6; i++) await pub.publish(topic, `m${i}`, { qos: 1 });

    const back = await res.open(b, 4);
    expect((await back.connect({ clientId, clean: false })).sessionPresent).toBe(true);
    const got = [await back.receive(), await back.receive(), await back.receive()];
    expect(payloadsOf(got)).toEqual(['m0', 'm1', 'm2']);
    await back.expectNothing(300, 'publish');
  });
});
