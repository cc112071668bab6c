/**
 * Retained messages: stored per topic, replaced, cleared by an empty payload, sent on subscribe with RETAIN 1,
 * and RETAIN 0 on normal delivery.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { TestResources, payloadsOf, uniqueName } from '../../helpers/raw-client.js';

describe.each(testBrokerKinds())('%s broker: retained messages', (kind) => {
  let broker: TestBroker;
  const res = new TestResources();
  beforeAll(async () => {
    broker = await startTestBroker(kind);
  });
  afterAll(async () => {
    await broker?.stop();
  });
  afterEach(() => res.releaseAll());

  const publisher = () => res.connect(broker, 4, { clientId: uniqueName('ret-pub') });

  it('[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] a retained message is stored with its QoS and sent to a new subscriber with RETAIN 1', async () => {
    const t = uniqueName('stored');
    const pub = await publisher();
    await pub.publish(t, 'kept', { qos: 1, retain: true });
    const sub = await res.connect(broker, 4, { clientId: uniqueName('stored-sub') });
    await sub.subscribe(t, 2);
    const got = await sub.receive();
    expect([got.topic, got.payload.toString(), got.retain, got.qos]).toEqual([t, 'kept', true, 1]);

    const low = await res.connect(broker, 5, { clientId: uniqueName('stored-sub0') });
    await low.subscribe(t, 0);
    const got0 = await low.next('publish');
    expect([got0.retain, got0.qos]).toEqual([true, 0]);
  });

  it('[MQTT-3.3.1-9] a retained PUBLISH reaches existing subscribers with RETAIN 0 (3.1.1)', async () => {
    const t = uniqueName('live');
    const sub = await res.connect(broker, 4, { clientId: uniqueName('live-sub') });
    await sub.subscribe(t, 1);
    const pub = await publisher();
    await pub.publish(t, 'r', { qos: 1, retain: true });
    expect((await sub.receive()).retain).toBe(false);
  });

  it('[MQTT-3.3.1-10] [MQTT-3.3.1-11] an empty retained payload is delivered as usual and clears the stored message', async () => {
    const t = uniqueName('clear');
    const pub = await publisher();
    await pub.publish(t, 'old', { qos: 1, retain: true });
    const current = await res.connect(broker, 4, { clientId: uniqueName('clear-sub') });
    await current.subscribe(t, 1);
    expect(payloadsOf([await current.receive()])).toEqual(['old']);

    await pub.publish(t, '', { qos: 1, retain: true });
    const cleared = await current.receive();
    expect([cleared.payload.length, cleared.retain]).toEqual([0, false]);

    const later = await res.connect(broker, 4, { clientId: uniqueName('clear-later') });
    await later.subscribe(t, 1);
    await later.expectNothing(200, 'publish');
  });

  it('[MQTT-3.3.1-12] a PUBLISH without RETAIN neither stores nor replaces the retained message', async () => {
    const t = uniqueName('noretain');
    const pub = await publisher();
    await pub.publish(t, 'kept', { qos: 1, retain: true });
    await pub.publish(t, 'passing', { qos: 1 });
    const sub = await res.connect(broker, 4, { clientId: uniqueName('noretain-sub') });
    await sub.subscribe(t, 1);
    expect(payloadsOf([await sub.receive()])).toEqual(['kept']);
    await sub.expectNothing(150, 'publish');

    const t2 = uniqueName('never');
    await pub.publish(t2, 'passing', { qos: 1 });
    await sub.subscribe(t2, 1);
    await sub.expectNothing(150, 'publish');
  });

  it('[MQTT-3.3.1-7] a newer retained message, at any QoS, replaces the previous one: one per topic', async () => {
    const t = uniqueName('replace');
    const pub = await publisher();
    await pub.publish(t, 'first', { qos: 1, retain: true });
    await pub.publish(t, 'second', { qos: 0, retain: true });
    const sub = await res.connect(broker, 4, { clientId: uniqueName('replace-sub') });
    await sub.subscribe(t, 1);
    const got = await sub.next('publish');
    expect([got.payload.toString(), got.qos]).toEqual(['second', 0]);
    await sub.expectNothing(150, 'publish');
  });

  it('[MQTT-3.3.1-6] a wildcard subscription gets the retained message of every matching topic', async () => {
    const t = uniqueName('many');
    const pub = await publisher();
    for (const leaf of ['a', 'b/c', 'd']) await pub.publish(`${t}/${leaf}`, leaf, { qos: 1, retain: true });
    await pub.publish(`${t}x/other`, 'no', { qos: 1, retain: true });
    const sub = await res.connect(broker, 4, { clientId: uniqueName('many-sub') });
    await sub.subscribe(`${t}/#`, 1);
    const got = [await sub.receive(), await sub.receive(), await sub.receive()];
    expect(got.map((p) => p.retain)).toEqual([true, true, true]);
    expect(payloadsOf(got).sort()).toEqual(['a', 'b/c', 'd']);
    await sub.expectNothing(150, 'publish');
  });

  it('[MQTT-3.1.2-7] retained messages are not part of the session: they outlive the publisher and its session', async () => {
    const t = uniqueName('outlive');
    const pub = await res.connect(broker, 4, { clientId: uniqueName('outlive-pub'), clean: true });
    await pub.publish(t, 'still here', { qos: 2, retain: true });
    await pub.disconnect();
    const sub = await res.connect(broker, 5, { clientId: uniqueName('outlive-sub') });
    await sub.subscribe(t, 2);
    const got = await sub.receive();
    expect([got.payload.toString(), got.retain, got.qos]).toEqual(['still here', true, 2]);
  });
});
