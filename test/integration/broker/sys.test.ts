/**
 * `$SYS/broker/...` statistics: which topics, their formats, retained, refreshed every `sys_interval` seconds,
 * none at all with `sys_interval 0`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPubackPacket, IPublishPacket, IPubrecPacket } from 'mqtt-packet';
import { startTestBroker, testBrokerKinds } from '../../helpers/brokers.js';
import { TestResources, uniqueName, type RawClient } from '../../helpers/raw-client.js';

const REQUIRED = [
  '$SYS/broker/version',
  '$SYS/broker/uptime',
  '$SYS/broker/clients/connected',
  '$SYS/broker/clients/total',
  '$SYS/broker/messages/received',
  '$SYS/broker/messages/sent',
  '$SYS/broker/bytes/received',
  '$SYS/broker/bytes/sent',
];
const COUNTERS = REQUIRED.filter((t) => /clients|messages|bytes/.test(t));

/** Collects PUBLISH packets on `c` until `done` says so or `ms` pass. */
async function collect(c: RawClient, ms: number, done: (all: IPublishPacket[]) => boolean = () => false) {
  const all: IPublishPacket[] = [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !done(all)) {
    try {
      all.push(await c.next('publish', Math.max(1, deadline - Date.now())));
    } catch {
      break;
    }
  }
  return all;
}

function latest(all: IPublishPacket[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of all) m.set(p.topic, p.payload.toString());
  return m;
}

describe.each(testBrokerKinds())('%s broker: $SYS topics', (kind) => {
  const res = new TestResources();
  afterEach(() => res.releaseAll());

  it('with sys_interval 1: version, uptime, clients, messages, bytes and load averages, retained and refreshed every second', async () => {
    const b = res.add(await startTestBroker(kind, ['sys_interval 1']));
    const live = await res.connect(b, 4, { clientId: uniqueName('sys-live') });
    await live.subscribe('$SYS/#', 0);
    const uptimes = (all: IPublishPacket[]) => all.filter((p) => p.topic === '$SYS/broker/uptime');
    // Two uptime values: the one present at subscription and at least one refresh.
    const seen = await collect(live, 4_000, (all) => uptimes(all).length >= 2);
    const ups = uptimes(seen).map((p) => Number(/^(\d+) seconds$/.exec(p.payload.toString())?.[1]));
    expect(ups.length).toBeGreaterThanOrEqual(2);
    expect(ups[ups.length - 1]).toBeGreaterThan(ups[0]);

    // A later subscriber gets the current values straight away, as retained messages.
    const late = await res.connect(b, 5, { clientId: uniqueName('sys-late') });
    await late.subscribe('$SYS/#', 0);
    const retained = await collect(late, 1_500, (all) => REQUIRED.every((t) => all.some((p) => p.topic === t)));
    const values = latest(retained);
    for (const t of REQUIRED) expect(values.has(t), t).toBe(true);
    for (const p of retained) expect(p.retain, p.topic).toBe(true);

    expect(values.get('$SYS/broker/version')!.length).toBeGreaterThan(0);
    expect(values.get('$SYS/broker/uptime')).toMatch(/^\d+ seconds$/);
    for (const t of COUNTERS) expect(values.get(t), t).toMatch(/^\d+$/);
    expect(Number(values.get('$SYS/broker/clients/connected'))).toBeGreaterThanOrEqual(1);

    const load = [...latest([...seen, ...retained]).entries()].filter(([t]) => t.startsWith('$SYS/broker/load/'));
    for (const [t, v] of load) {
      expect(t).toMatch(/^\$SYS\/broker\/load\/.+\/(1min|5min|15min)$/);
      expect(v, t).toMatch(/^\d+(\.\d+)?$/);
    }
    const series = new Set(load.map(([t]) => t.replace(/\/(1min|5min|15min)$/, '')));
    expect(series.size).toBeGreaterThan(0);
    for (const s of series) {
      for (const w of ['1min', '5min', '15min']) expect(load.some(([t]) => t === `${s}/${w}`), `${s}/${w}`).toBe(true);
    }
  });

  it('with sys_interval 1: message counters follow the traffic', async () => {
    const b = res.add(await startTestBroker(kind, ['sys_interval 1']));
    const watcher = await res.connect(b, 4, { clientId: uniqueName('sys-watch') });
    await watcher.subscribe('$SYS/broker/messages/received', 0);
    const before = Number((await watcher.next('publish', 2_500)).payload.toString());
    const pub = await res.connect(b, 4, { clientId: uniqueName('sys-pub') });
    for (let i = 0; i < 5; i++) await pub.publish(uniqueName('sys-traffic'), 'x', { qos: 1 });
    const updates = await collect(watcher, 3_000, (all) =>
      all.some((p) => Number(p.payload.toString()) >= before + 5),
    );
    expect(updates.map((p) => Number(p.payload.toString())).some((n) => n >= before + 5)).toBe(true);
  });

  it('with sys_interval 1: store/messages/count is the retained messages plus those held for a durable session, and falls back once they are delivered', async () => {
    const b = res.add(await startTestBroker(kind, ['sys_interval 1']));
    const watcher = await res.connect(b, 4, { clientId: uniqueName('sys-store') });
    await watcher.subscribe(
      [
        { topic: '$SYS/broker/store/messages/count', qos: 0 },
        { topic: '$SYS/broker/messages/stored', qos: 0 },
        { topic: '$SYS/broker/retained messages/count', qos: 0 },
      ],
      0,
    );
    const values = new Map<string, number>();
    // Messages held beyond the retained ones ($SYS values are retained too, and counted in the store).
    const held = () => (values.get('$SYS/broker/store/messages/count') ?? NaN) - (values.get('$SYS/broker/retained messages/count') ?? NaN);
    const heldReaches = async (want: number, ms: number) => {
      await collect(watcher, ms, (all) => {
        for (const p of all.splice(0)) values.set(p.topic, Number(p.payload.toString()));
        return held() === want;
      });
      return held();
    };
    expect(await heldReaches(0, 4_000)).toBe(0);

    const id = uniqueName('sys-durable');
    const topic = uniqueName('sys-backlog');
    const durable = await res.connect(b, 4, { clientId: id, clean: false });
    await durable.subscribe(`${topic}/#`, 1);
    await durable.disconnect();
    const pub = await res.connect(b, 4, { clientId: uniqueName('sys-pub') });
    for (let i = 0; i < 10; i++) await pub.publish(`${topic}/a`, `m${i}`, { qos: 1 });
    // Ten messages queued for the session that went away.
    expect(await heldReaches(10, 4_000)).toBe(10);
    expect(values.get('$SYS/broker/messages/stored')).toBe(values.get('$SYS/broker/store/messages/count'));

    const back = await res.connect(b, 4, { clientId: id, clean: false });
    for (let i = 0; i < 10; i++) expect((await back.receive()).payload.toString()).toBe(`m${i}`);
    expect(await heldReaches(0, 4_000)).toBe(0);
  }, 20_000);

  it('clients cannot publish to $SYS: acknowledged (0x87 for MQTT 5), neither delivered nor retained', async () => {
    const b = res.add(await startTestBroker(kind, ['sys_interval 0']));
    const topic = `$SYS/${uniqueName('forged')}`;
    const watcher = await res.connect(b, 5, { clientId: uniqueName('sys-watch') });
    await watcher.subscribe(topic, 0);
    const v5 = await res.connect(b, 5, { clientId: uniqueName('sys-forge5') });
    expect(((await v5.publish(topic, 'q1', { qos: 1, retain: true })) as IPubackPacket).reasonCode).toBe(0x87);
    expect(((await v5.publish(topic, 'q2', { qos: 2 })) as IPubrecPacket).reasonCode).toBe(0x87);
    await v5.publish(topic, 'q0', { qos: 0 });
    const v4 = await res.connect(b, 4, { clientId: uniqueName('sys-forge4') });
    expect((await v4.publish(topic, 'q1', { qos: 1, retain: true }))?.cmd).toBe('puback');
    expect((await v4.publish(topic, 'q2', { qos: 2 }))?.cmd).toBe('pubcomp');
    await watcher.expectNothing(500, 'publish');
    const late = await res.connect(b, 4, { clientId: uniqueName('sys-late') });
    await late.subscribe(topic, 0);
    await late.expectNothing(500, 'publish');
  });

  it('with sys_interval 0: no $SYS messages at all', async () => {
    const b = res.add(await startTestBroker(kind, ['sys_interval 0']));
    const c = await res.connect(b, 4, { clientId: uniqueName('sys-off') });
    await c.subscribe('$SYS/#', 0);
    await c.expectNothing(1_500, 'publish');
  });
});
