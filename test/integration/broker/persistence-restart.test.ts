/**
 * `persistence true`: what survives a clean restart (stop, then start again with the same mosquitto.conf lines) —
 * retained messages, persistent sessions with their subscriptions, queued messages, messages in flight both ways and
 * incoming QoS 2 packet ids — for the bundled broker in process and as `mqbench broker -c`, and for Mosquitto.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  persistenceConf,
  persistenceDir,
  restartKinds,
  startRestartable,
  type RestartableBroker,
  type RestartKind,
} from '../../helpers/persistent-broker.js';
import { TestResources, payloadsOf, sleep, uniqueName, type ProtocolVersion } from '../../helpers/raw-client.js';

function persistent(v: ProtocolVersion, clientId: string) {
  return v === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 3600 } } : { clientId, clean: false };
}

/** A broker on a fresh directory, and a way to restart it on the same one (down for `downMs` in between). */
async function freshBroker(
  kind: RestartKind,
  res: TestResources,
  cleanups: (() => void)[],
  extra: string[],
): Promise<{ broker: RestartableBroker; restart(downMs?: number): Promise<RestartableBroker> }> {
  const dir = persistenceDir();
  cleanups.push(dir.remove);
  const conf = persistenceConf(dir.dir, extra);
  let broker = await startRestartable(kind, conf);
  res.add({ stop: () => broker.stop() });
  return {
    broker,
    async restart(downMs = 0) {
      await broker.stop();
      if (downMs > 0) await sleep(downMs);
      broker = await startRestartable(kind, conf);
      return broker;
    },
  };
}

describe.each(restartKinds())('%s broker: persistence across a restart', (kind: RestartKind) => {
  const res = new TestResources();
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    await res.releaseAll();
    for (const c of cleanups.splice(0)) c();
  });

  const fresh = (extra: string[] = []) => freshBroker(kind, res, cleanups, extra);

  it('keeps retained messages, and forgets a cleared one', async () => {
    const { broker, restart } = await fresh();
    const pub = await res.connect(broker, 4, { clientId: uniqueName('ret-pub') });
    await pub.publish('keep/a', 'kept a', { qos: 1, retain: true });
    await pub.publish('keep/b', 'kept b', { qos: 0, retain: true });
    await pub.publish('keep/c', 'to be cleared', { qos: 1, retain: true });
    await pub.publish('keep/c', '', { qos: 1, retain: true });
    await pub.disconnect();

    const again = await restart();
    const sub = await res.connect(again, 4, { clientId: uniqueName('ret-sub') });
    await sub.subscribe('keep/#', 1);
    const got = [await sub.receive(), await sub.receive()];
    expect(got.every((p) => p.retain)).toBe(true);
    expect(payloadsOf(got).sort()).toEqual(['kept a', 'kept b']);
    await sub.expectNothing(300, 'publish');
  });

  it.each([4, 5] as const)('keeps a persistent session and its subscriptions (v%i)', async (v) => {
    const { broker, restart } = await fresh();
    const clientId = uniqueName('sess');
    const sub = await res.connect(broker, v, persistent(v, clientId));
    await sub.subscribe([
      { topic: 'sess/one', qos: 1 },
      { topic: 'sess/two/+', qos: 2 },
    ]);
    await sub.disconnect();

    const again = await restart();
    const back = await res.open(again, v);
    expect((await back.connect(persistent(v, clientId))).sessionPresent).toBe(true);
    const pub = await res.connect(again, 4, { clientId: uniqueName('sess-pub') });
    await pub.publish('sess/one', 'first', { qos: 1 });
    await pub.publish('sess/two/x', 'second', { qos: 2 });
    const got = [await back.receive(), await back.receive()];
    expect(payloadsOf(got)).toEqual(['first', 'second']);
    expect(got.map((p) => p.qos)).toEqual([1, 2]);
  });

  it('keeps the QoS 1 and 2 messages queued for an offline session, in order', async () => {
    const { broker, restart } = await fresh();
    const clientId = uniqueName('queue');
    const sub = await res.connect(broker, 4, persistent(4, clientId));
    await sub.subscribe('queue/t', 2);
    await sub.disconnect();
    const pub = await res.connect(broker, 4, { clientId: uniqueName('queue-pub') });
    for (let i = 0; i < 6; i++) await pub.publish('queue/t', `m${i}`, { qos: (1 + (i % 2)) as 1 | 2 });
    await pub.disconnect();

    const again = await restart();
    const back = await res.open(again, 4);
    expect((await back.connect(persistent(4, clientId))).sessionPresent).toBe(true);
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await back.receive());
    expect(payloadsOf(got)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(got.map((p) => p.qos)).toEqual([1, 2, 1, 2, 1, 2]);
    await back.expectNothing(300, 'publish');
  });

  it('resends what was in flight to the client with the same packet ids: PUBLISH with DUP, PUBREL', async () => {
    const { broker, restart } = await fresh();
    const clientId = uniqueName('inflight');
    const sub = await res.connect(broker, 4, persistent(4, clientId));
    await sub.subscribe('inflight/t', 2);
    const pub = await res.connect(broker, 4, { clientId: uniqueName('inflight-pub') });
    await pub.publish('inflight/t', 'q1 unacknowledged', { qos: 1 });
    await pub.publish('inflight/t', 'q2 unacknowledged', { qos: 2 });
    await pub.publish('inflight/t', 'q2 received', { qos: 2 });
    const [a, b, c] = await sub.nextN('publish', 3);
    // The third is received (PUBREC); its PUBREL is not answered.
    sub.send({ cmd: 'pubrec', messageId: c.messageId! });
    const rel = await sub.next('pubrel');
    expect(rel.messageId).toBe(c.messageId);
    sub.destroy();

    const again = await restart();
    const back = await res.open(again, 4);
    expect((await back.connect(persistent(4, clientId))).sessionPresent).toBe(true);
    const resent = await back.nextN('publish', 2);
    expect(resent.map((p) => [p.messageId, p.dup, String(p.payload)])).toEqual([
      [a.messageId, true, 'q1 unacknowledged'],
      [b.messageId, true, 'q2 unacknowledged'],
    ]);
    const rel2 = await back.next('pubrel');
    expect(rel2.messageId).toBe(c.messageId);
    back.send({ cmd: 'puback', messageId: a.messageId! });
    back.send({ cmd: 'pubrec', messageId: b.messageId! });
    expect((await back.next('pubrel')).messageId).toBe(b.messageId);
    back.send({ cmd: 'pubcomp', messageId: b.messageId! });
    back.send({ cmd: 'pubcomp', messageId: c.messageId! });
    await back.expectNothing(300, 'publish');
  });

  it('remembers an incoming QoS 2 packet id awaiting PUBREL: the publisher\'s resend is not delivered twice', async () => {
    const { broker, restart } = await fresh();
    const subId = uniqueName('in2-sub');
    const sub = await res.connect(broker, 4, persistent(4, subId));
    await sub.subscribe('in2/t', 2);
    await sub.disconnect();
    const pubId = uniqueName('in2-pub');
    const pub = await res.connect(broker, 4, persistent(4, pubId));
    pub.send({ cmd: 'publish', topic: 'in2/t', payload: 'once', qos: 2, messageId: 77, retain: false, dup: false });
    expect((await pub.next('pubrec')).messageId).toBe(77);
    pub.destroy();

    const again = await restart();
    const pub2 = await res.open(again, 4);
    expect((await pub2.connect(persistent(4, pubId))).sessionPresent).toBe(true);
    // The publisher does not know whether its PUBLISH arrived: it sends it again, then releases it.
    pub2.send({ cmd: 'publish', topic: 'in2/t', payload: 'once', qos: 2, messageId: 77, retain: false, dup: true });
    expect((await pub2.next('pubrec')).messageId).toBe(77);
    pub2.send({ cmd: 'pubrel', messageId: 77 });
    expect((await pub2.next('pubcomp')).messageId).toBe(77);

    const back = await res.open(again, 4);
    await back.connect(persistent(4, subId));
    expect(payloadsOf([await back.receive()])).toEqual(['once']);
    await back.expectNothing(500, 'publish');
  });
});

// Mosquitto 2.0.11 still has the session after being down for longer than its expiry; the bundled broker keeps the
// deadline the session had.
describe.each(restartKinds().filter((k) => k !== 'mosquitto'))('%s broker: session expiry across a restart', (kind: RestartKind) => {
  const res = new TestResources();
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    await res.releaseAll();
    for (const c of cleanups.splice(0)) c();
  });
  const fresh = (extra: string[] = []) => freshBroker(kind, res, cleanups, extra);

  it("counts an offline session's expiry through the restart", async () => {
    const { broker, restart } = await fresh();
    const shortId = uniqueName('exp-short');
    const longId = uniqueName('exp-long');
    const short = await res.connect(broker, 5, { clientId: shortId, clean: false, properties: { sessionExpiryInterval: 1 } });
    await short.subscribe('exp/t', 1);
    await short.disconnect();
    const long = await res.connect(broker, 5, { clientId: longId, clean: false, properties: { sessionExpiryInterval: 3600 } });
    await long.subscribe('exp/t', 1);
    await long.disconnect();

    // Down for longer than the short session's expiry.
    const again = await restart(1_200);
    const s2 = await res.open(again, 5);
    expect((await s2.connect({ clientId: shortId, clean: false, properties: { sessionExpiryInterval: 1 } })).sessionPresent).toBe(false);
    const l2 = await res.open(again, 5);
    expect((await l2.connect({ clientId: longId, clean: false, properties: { sessionExpiryInterval: 3600 } })).sessionPresent).toBe(true);
  });

  it.each(['batch', 'write', 'never'])('keeps what it acknowledged under persistence_fsync %s', async (policy) => {
    const { broker, restart } = await fresh([`persistence_fsync ${policy}`]);
    const clientId = uniqueName(`fsync-${policy}`);
    const sub = await res.connect(broker, 4, persistent(4, clientId));
    await sub.subscribe('fsync/t', 2);
    await sub.disconnect();
    const pub = await res.connect(broker, 4, { clientId: uniqueName('fsync-pub') });
    for (let i = 0; i < 20; i++) await pub.publish('fsync/t', `m${i}`, { qos: (1 + (i % 2)) as 1 | 2, retain: i === 19 });
    await pub.disconnect();

    const again = await restart();
    const back = await res.open(again, 4);
    expect((await back.connect(persistent(4, clientId))).sessionPresent).toBe(true);
    const got = [];
    for (let i = 0; i < 20; i++) got.push(await back.receive());
    expect(payloadsOf(got)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });
});
