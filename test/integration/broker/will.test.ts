/**
 * Will messages: published on every close that is not a normal DISCONNECT, with the will's QoS and retain flag;
 * v5 will delay and DISCONNECT 0x04. (Keepalive expiry is in keepalive.test.ts.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IConnectPacket } from 'mqtt-packet';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { TestResources, encodeRawPacket, payloadsOf, sleep, uniqueName } from '../../helpers/raw-client.js';
import { RC } from '../../../src/protocol/reason-codes.js';

type Will = NonNullable<IConnectPacket['will']>;

describe.each(testBrokerKinds())('%s broker: will messages', (kind) => {
  let broker: TestBroker;
  const res = new TestResources();
  beforeAll(async () => {
    broker = await startTestBroker(kind);
  });
  afterAll(async () => {
    await broker?.stop();
  });
  afterEach(() => res.releaseAll());

  /** A subscriber on the will topic and a connected client that has that will. */
  async function withWill(v: 4 | 5, will: Partial<Will> = {}, extra: Partial<IConnectPacket> = {}) {
    const topic = uniqueName('will');
    const watcher = await res.connect(broker, 5, { clientId: uniqueName('watcher') });
    await watcher.subscribe(topic, 2);
    const clientId = uniqueName('willer');
    const client = await res.connect(broker, v, {
      clientId,
      will: { topic, payload: 'gone', qos: 0, retain: false, ...will },
      ...extra,
    });
    return { topic, watcher, client, clientId };
  }

  it.each([4, 5] as const)('[MQTT-3.1.2-8] the will is published when the connection is dropped without DISCONNECT (v%i)', async (v) => {
    const { watcher, client } = await withWill(v);
    client.destroy();
    expect(payloadsOf([await watcher.receive()])).toEqual(['gone']);
  });

  it('[MQTT-3.1.2-8] the will is published after a socket error (TCP reset)', async () => {
    const { watcher, client } = await withWill(4);
    client.reset();
    expect(payloadsOf([await watcher.receive()])).toEqual(['gone']);
  });

  it.each([4, 5] as const)('[MQTT-3.1.2-8] [MQTT-4.8.0-1] the will is published when the broker closes the connection for a protocol error (v%i)', async (v) => {
    const { watcher, client } = await withWill(v);
    // SUBSCRIBE with reserved flags 0000 instead of 0010: malformed.
    client.sendRaw(encodeRawPacket(0x80, [0x00, 0x01, ...(v === 5 ? [0x00] : []), 0x00, 0x01, 0x74, 0x01]));
    await client.closed();
    expect(payloadsOf([await watcher.receive()])).toEqual(['gone']);
  });

  it('[MQTT-3.1.2-8] [MQTT-3.1.0-2] the will is published when a second CONNECT closes the connection (bundled)', async () => {
    const { watcher, client, clientId } = await withWill(4);
    client.send(client.connectPacket({ clientId }));
    await client.closed();
    if (kind === 'bundled') {
      expect(payloadsOf([await watcher.receive()])).toEqual(['gone']);
    } else {
      // Mosquitto 2.0.11 ("Bad client ... sending multiple CONNECT messages") frees the will before disconnecting.
      await watcher.expectNothing(300, 'publish');
    }
  });

  it.each([4, 5] as const)('[MQTT-3.1.2-8] the will of a clean session is published when a new connection takes the client id over (v%i)', async (v) => {
    const { watcher, client, clientId } = await withWill(v);
    await res.connect(broker, v, { clientId });
    await client.closed();
    expect(payloadsOf([await watcher.receive()])).toEqual(['gone']);
  });

  it.each([4, 5] as const)('[MQTT-3.1.2-10] [MQTT-3.14.4-3] no will after a normal DISCONNECT (v%i)', async (v) => {
    const { watcher, client } = await withWill(v);
    await client.disconnect();
    await watcher.expectNothing(300, 'publish');
  });

  it('[MQTT-3.1.2-16] [MQTT-3.1.2-17] the will retain flag is honoured: retained for later subscribers only when set', async () => {
    const kept = await withWill(4, { retain: true, payload: 'kept' });
    const notKept = await withWill(4, { retain: false, payload: 'not kept' });
    kept.client.destroy();
    notKept.client.destroy();
    // Existing subscribers get RETAIN 0 either way [MQTT-3.3.1-9].
    expect((await kept.watcher.receive()).retain).toBe(false);
    expect((await notKept.watcher.receive()).retain).toBe(false);

    const late = await res.connect(broker, 4, { clientId: uniqueName('late') });
    await late.subscribe(kept.topic, 1);
    const got = await late.receive();
    expect([got.payload.toString(), got.retain]).toEqual(['kept', true]);
    await late.subscribe(notKept.topic, 1);
    await late.expectNothing(200, 'publish');

    const cleaner = await res.connect(broker, 4, { clientId: uniqueName('cleaner') });
    await cleaner.publish(kept.topic, '', { qos: 1, retain: true });
  });

  it('[MQTT-3.1.2-14] the will QoS is honoured (and capped by the subscription QoS)', async () => {
    const q2 = await withWill(4, { qos: 2 });
    const q1 = await withWill(4, { qos: 1 });
    q2.client.destroy();
    q1.client.destroy();
    expect((await q2.watcher.receive()).qos).toBe(2);
    expect((await q1.watcher.receive()).qos).toBe(1);

    const capped = await withWill(4, { qos: 2 });
    const low = await res.connect(broker, 4, { clientId: uniqueName('low') });
    await low.subscribe(capped.topic, 0);
    capped.client.destroy();
    expect((await low.next('publish')).qos).toBe(0);
  });

  it('[MQTT-3.1.2-8] [MQTT-3.1.3-9] v5 Will Delay Interval: published after the delay; a reconnect within the delay cancels it', async () => {
    const delayed = await withWill(5, { properties: { willDelayInterval: 1 } }, { properties: { sessionExpiryInterval: 30 } });
    const back = await withWill(5, { properties: { willDelayInterval: 2 } }, { properties: { sessionExpiryInterval: 30 } });
    const dropped = Date.now();
    delayed.client.destroy();
    back.client.destroy();
    await sleep(300);
    await res.connect(broker, 5, { clientId: back.clientId, clean: false, properties: { sessionExpiryInterval: 30 } });

    await delayed.watcher.expectNothing(500, 'publish');
    const will = await delayed.watcher.receive(3_000);
    const waited = Date.now() - dropped;
    expect(will.payload.toString()).toBe('gone');
    expect(waited).toBeGreaterThanOrEqual(900);
    // Mosquitto runs its will-delay check on a whole-second clock: up to two seconds.
    expect(waited).toBeLessThan(kind === 'bundled' ? 1_800 : 2_600);
    await back.watcher.expectNothing(kind === 'bundled' ? 1_900 : 2_000, 'publish');
  });

  it('[MQTT-3.1.2-8] a v5 will is published when the session ends, if that comes before the Will Delay Interval', async () => {
    const expiring = await withWill(5, { properties: { willDelayInterval: 30 } }, { properties: { sessionExpiryInterval: 1 } });
    const noSession = await withWill(5, { properties: { willDelayInterval: 30 } });
    const dropped = Date.now();
    expiring.client.destroy();
    noSession.client.destroy();
    if (kind === 'bundled') {
      // Session Expiry Interval 0: the session ends with the connection, and the will goes at once.
      expect(payloadsOf([await noSession.watcher.receive(500)])).toEqual(['gone']);
    }
    // Mosquitto 2.0.11 waits for the full will delay when the session expiry is 0 (not checked here: 30 s), but
    // publishes at session expiry when that is shorter and non-zero; its expiry clock has whole seconds.
    expect(payloadsOf([await expiring.watcher.receive(3_000)])).toEqual(['gone']);
    const waited = Date.now() - dropped;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(kind === 'bundled' ? 1_800 : 2_600);
  });

  it('v5 DISCONNECT with 0x04 (Disconnect with Will Message) publishes the will', async () => {
    const { watcher, client } = await withWill(5);
    await client.disconnect(RC.DisconnectWithWill);
    expect(payloadsOf([await watcher.receive()])).toEqual(['gone']);
  });

  it('[MQTT-3.1.3-10] [MQTT-3.3.2-4] v5 will properties are passed on, user properties in order', async () => {
    const props = {
      contentType: 'text/plain',
      responseTopic: 'will/reply',
      correlationData: Buffer.from([1, 2, 3]),
      payloadFormatIndicator: true,
      userProperties: { zeta: '1', alpha: ['2', '3'], mid: '4' },
    };
    const { watcher, client } = await withWill(5, { properties: props });
    client.destroy();
    const got = (await watcher.receive()).properties ?? {};
    expect(got.contentType).toBe(props.contentType);
    expect(got.responseTopic).toBe(props.responseTopic);
    expect(Buffer.from(got.correlationData!)).toEqual(props.correlationData);
    expect(got.payloadFormatIndicator).toBe(true);
    expect(got.userProperties).toEqual(props.userProperties);
    expect(Object.keys(got.userProperties!)).toEqual(['zeta', 'alpha', 'mid']);
  });

  it('[MQTT-3.1.2-12] a client without a will publishes nothing when it drops', async () => {
    // A broker of its own: "#" would otherwise see the wills of other tests' clients.
    const b = res.add(await startTestBroker(kind));
    const w = await res.connect(b, 4, { clientId: uniqueName('w') });
    await w.subscribe('#', 1);
    const c = await res.connect(b, 4, { clientId: uniqueName('nowill-c') });
    c.destroy();
    await w.expectNothing(300, 'publish');
  });
});
