/**
 * Intervals longer than Node's timers can hold (2^31 - 1 ms, about 24.8 days): session expiry at CONNECT and at
 * DISCONNECT, persistent_client_expiration, will delay and sys_interval. None of them may fire early.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../../broker/index.js';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { TestResources, sleep, uniqueName } from '../../helpers/raw-client.js';

const res = new TestResources();
let broker: TestBroker | undefined;
afterEach(async () => {
  await res.releaseAll();
  await broker?.stop();
  broker = undefined;
});

/** Seconds just past what a Node timer holds in milliseconds. */
const PAST_NODE_TIMERS = 2_147_484;

describe.each(testBrokerKinds())('%s broker: intervals beyond 2^31 ms', (kind) => {
  it.each([
    ['at CONNECT', PAST_NODE_TIMERS, undefined],
    ['at CONNECT', 4_294_967_294, undefined],
    ['at DISCONNECT', 60, PAST_NODE_TIMERS],
  ] as const)('[MQTT-3.1.2-23] a v5 Session Expiry Interval set %s to %i s keeps the session and its queued message', async (_when, atConnect, atDisconnect) => {
    broker = await startTestBroker(kind);
    const ep = { host: broker.host, port: broker.port };
    const id = uniqueName('long-expiry');
    const topic = uniqueName('long-expiry');
    const sub = await res.connect(ep, 5, { clientId: id, clean: true, properties: { sessionExpiryInterval: atConnect } });
    await sub.subscribe(topic, 1);
    if (atDisconnect === undefined) sub.destroy();
    else {
      sub.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: atDisconnect } });
      await sub.end();
    }
    await sleep(100);
    const pub = await res.connect(ep, 5, { clientId: uniqueName('pub') });
    await pub.publish(topic, 'kept', { qos: 1 });
    await sleep(300);
    const back = await res.open(ep, 5);
    const connack = await back.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 0 } });
    expect(connack.sessionPresent).toBe(true);
    expect((await back.receive()).payload.toString()).toBe('kept');
  });

  it.each(['4w', '1m', '1y'])('persistent_client_expiration %s keeps a 3.1.1 persistent session', async (duration) => {
    broker = await startTestBroker(kind, [`persistent_client_expiration ${duration}`]);
    const ep = { host: broker.host, port: broker.port };
    const id = uniqueName('pce');
    const topic = uniqueName('pce');
    const sub = await res.connect(ep, 4, { clientId: id, clean: false });
    await sub.subscribe(topic, 1);
    sub.destroy();
    await sleep(100);
    const pub = await res.connect(ep, 4, { clientId: uniqueName('pub') });
    await pub.publish(topic, 'kept', { qos: 1 });
    await sleep(300);
    const back = await res.open(ep, 4);
    const connack = await back.connect({ clientId: id, clean: false });
    expect(connack.sessionPresent).toBe(true);
    expect((await back.receive()).payload.toString()).toBe('kept');
  });

  it('[MQTT-3.1.3-9] a Will Delay Interval of 2,147,484 s does not publish the will at once', async () => {
    broker = await startTestBroker(kind);
    const ep = { host: broker.host, port: broker.port };
    const topic = uniqueName('long-will');
    const watcher = await res.connect(ep, 5, { clientId: uniqueName('watch') });
    await watcher.subscribe(topic, 0);
    const w = await res.connect(ep, 5, {
      clientId: uniqueName('will'),
      properties: { sessionExpiryInterval: 4_294_967_294 },
      will: { topic, payload: Buffer.from('too soon'), qos: 0, retain: false, properties: { willDelayInterval: PAST_NODE_TIMERS } },
    });
    w.destroy();
    await watcher.expectNothing(700, 'publish');
  });

  it('sys_interval 65535 (the most mosquitto.conf allows) publishes $SYS once at start; 65536 is refused', async () => {
    broker = await startTestBroker(kind, ['sys_interval 65535']);
    const c = await res.connect({ host: broker.host, port: broker.port }, 4, { clientId: uniqueName('sys') });
    await c.subscribe('$SYS/broker/uptime', 0);
    await sleep(1_000);
    // At most the value published at start (Mosquitto waits for the first interval).
    expect(c.received.filter((p) => p.cmd === 'publish').length).toBeLessThanOrEqual(1);
    await expect(startTestBroker(kind, ['sys_interval 65536'])).rejects.toThrow(/sys_interval/);
  });
});

describe('bundled broker in process: sysInterval beyond 2^31 ms', () => {
  it('publishes $SYS once at start, not every millisecond', async () => {
    const b = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], sysInterval: PAST_NODE_TIMERS, logTypes: new Set() });
    try {
      const c = await res.connect({ host: b.host, port: b.port }, 4, { clientId: uniqueName('sys') });
      await c.subscribe('$SYS/broker/uptime', 0);
      await c.receive();
      await c.expectNothing(1_000, 'publish');
    } finally {
      await b.close();
    }
  });
});
