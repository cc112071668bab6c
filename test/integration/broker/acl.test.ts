/**
 * acl_file, one file for the bundled broker and Mosquitto: what each client receives (read access, checked per
 * delivery, retained messages included), what it may publish (write access: 3.1.1 and QoS 0 dropped silently, v5
 * PUBACK / PUBREC 0x87), the anonymous section, `deny` rules, `%c` and `%u` patterns (a user name with `+` gets no
 * pattern, one with `/` is substituted as it is), wills checked when sent, and SUBSCRIBE — where the two brokers
 * differ: Mosquitto 2.0.11 grants every filter, the bundled broker refuses one that can match no readable topic.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { hashPassword } from '../../../broker/auth/password-file.js';
import { testBrokerKinds } from '../../helpers/brokers.js';
import { ConfigDir, startConfiguredBroker, type ConfiguredBroker } from '../../helpers/config-brokers.js';
import { RawClient, TestResources, sleep, uniqueName } from '../../helpers/raw-client.js';

const dir = new ConfigDir();
afterAll(() => dir.remove());

const USERS = ['alice', 'bob', 'a/b', 'p+q'];
const ACL = [
  '# anonymous clients',
  'topic read public/#',
  'topic write anon/#',
  'user alice',
  'topic read foo/#',
  'topic write out/#',
  'topic deny foo/secret',
  'topic readwrite both/#',
  'topic read $SYS/broker/uptime',
  'user bob',
  'topic readwrite #',
  'pattern readwrite users/%u/#',
  'pattern read clients/%c/#',
].join('\n');

async function passwordFile(): Promise<string> {
  const lines = [];
  for (const u of USERS) lines.push(`${u}:${await hashPassword(`${u}-pw`)}`);
  return dir.file('acl-users.pw', lines.join('\n') + '\n');
}

/** Publishes received until `last` arrives (the publisher sends it after everything else), `last` excluded. */
async function receivedUntil(c: RawClient, last: string): Promise<string[]> {
  const got: string[] = [];
  for (;;) {
    const p: IPublishPacket = await c.receive(3000);
    if (p.payload.toString() === last) return got.sort();
    got.push(p.topic);
  }
}

describe.each(testBrokerKinds())('%s broker: acl_file', (kind) => {
  const res = new TestResources();
  let b: ConfiguredBroker;
  const ep = () => ({ host: '127.0.0.1', port: b.ports.mqtt });
  const login = (user: string | undefined, version: 4 | 5 = 4, clientId = uniqueName('acl')) =>
    res.connect(ep(), version, { clientId, username: user, password: user === undefined ? undefined : Buffer.from(`${user}-pw`) });

  beforeAll(async () => {
    const pw = await passwordFile();
    const acl = dir.file('acl.acl', ACL + '\n');
    b = await startConfiguredBroker(kind, dir, ['mqtt'], (p) =>
      [`listener ${p.mqtt} 127.0.0.1`, 'allow_anonymous true', `password_file ${pw}`, `acl_file ${acl}`, 'sys_interval 1', 'log_dest stderr', 'log_type error', 'log_type notice'].join('\n'),
    );
  });
  afterAll(() => b?.stop());
  afterEach(() => res.releaseAll());

  it('delivers to each subscriber only the topics it may read', async () => {
    const run = uniqueName('r');
    const aliceId = uniqueName('alice-sub');
    const alice = await login('alice', 4, aliceId);
    await alice.subscribe('#', 1);
    const anon = await login(undefined);
    await anon.subscribe('#', 1);
    const bob = await login('bob');
    const topics = ['public/1', 'foo/1', 'foo/secret', 'out/1', 'both/x', 'users/alice/x', 'users/bob/x', `clients/${aliceId}/x`, 'elsewhere'];
    for (const t of topics) await bob.publish(t, run, { qos: 1 });
    await bob.publish('both/end', 'END', { qos: 1 });
    await bob.publish('public/end', 'END', { qos: 1 });
    expect(await receivedUntil(alice, 'END')).toEqual(['both/x', `clients/${aliceId}/x`, 'foo/1', 'users/alice/x']);
    // The anonymous section: public/# only (both/end is not its to read).
    expect(await receivedUntil(anon, 'END')).toEqual(['public/1']);
  });

  it('drops a PUBLISH to a topic the client may not write: silently for 3.1.1 and QoS 0, 0x87 in v5 acknowledgements', async () => {
    const watcher = await login('bob');
    await watcher.subscribe('foo/#', 2);
    const v5 = await login('alice', 5);
    const ack1 = await v5.publish('foo/denied', 'x', { qos: 1 });
    expect(ack1?.cmd === 'puback' && ack1.reasonCode).toBe(0x87);
    const rec = await v5.publish('foo/denied', 'x', { qos: 2 });
    expect(rec?.cmd === 'pubrec' && rec.reasonCode).toBe(0x87);
    await v5.publish('foo/denied', 'x', { qos: 0 });
    const v3 = await login('alice', 4);
    const ack3 = await v3.publish('foo/denied', 'x', { qos: 1 });
    expect(ack3?.cmd).toBe('puback');
    expect(ack3?.cmd === 'puback' && (ack3.reasonCode ?? 0)).toBe(0);
    // QoS 2 completes its flow (PUBREC, PUBREL, PUBCOMP) and delivers nothing.
    expect((await v3.publish('foo/denied', 'x', { qos: 2 }))?.cmd).toBe('pubcomp');
    await v3.publish('foo/denied', 'x', { qos: 0 });
    // Allowed writes go through; the denied ones never arrived.
    await v3.publish('out/ok', 'fine', { qos: 1 });
    const bob = await login('bob');
    await bob.publish('foo/end', 'END', { qos: 1 });
    expect(await receivedUntil(watcher, 'END')).toEqual([]);
    expect(await v5.stillOpenAfter(50)).toBe(true);
    expect(await v3.stillOpenAfter(50)).toBe(true);
  });

  it('lets anonymous clients publish what their section allows, nothing else', async () => {
    const watcher = await login('bob');
    await watcher.subscribe('#', 1);
    const anon5 = await login(undefined, 5);
    const ok = await anon5.publish('anon/1', 'a', { qos: 1 });
    expect(ok?.cmd === 'puback' && (ok.reasonCode ?? 0)).toBe(0);
    const denied = await anon5.publish('public/1', 'a', { qos: 1 });
    expect(denied?.cmd === 'puback' && denied.reasonCode).toBe(0x87);
    const bob = await login('bob');
    await bob.publish('zz/end', 'END', { qos: 1 });
    expect(await receivedUntil(watcher, 'END')).toEqual(['anon/1']);
  });

  it('substitutes a user name with "/" as it is, and gives a user name with "+" no pattern at all', async () => {
    const slash = await login('a/b');
    await slash.subscribe('users/#', 1);
    const plusId = uniqueName('plus');
    const plus = await login('p+q', 4, plusId);
    await plus.subscribe('#', 1);
    await slash.publish('users/a/b/x', 'own', { qos: 1 });
    const bob = await login('bob');
    // clients/%c/# would let it read this, were its patterns not dropped for its user name.
    await bob.publish(`clients/${plusId}/x`, 'not for p+q', { qos: 1 });
    await bob.publish('users/a/b/end', 'END', { qos: 1 });
    expect(await receivedUntil(slash, 'END')).toEqual(['users/a/b/x']);
    await plus.expectNothing(300, 'publish');
    await expect.poll(() => b.logs(), { timeout: 3000 }).toContain('ACL denying access to client with dangerous username "p+q"');
  });

  it('sends only retained messages the subscriber may read', async () => {
    const bob = await login('bob');
    const t = uniqueName('ret');
    for (const topic of [`foo/${t}`, `bar/${t}`, `foo/secret`]) await bob.publish(topic, 'R', { qos: 1, retain: true });
    const alice = await login('alice');
    await alice.subscribe(`+/${t}`, 1);
    const first = await alice.receive();
    expect([first.topic, first.retain]).toEqual([`foo/${t}`, true]);
    await alice.expectNothing(300, 'publish');
    // Clean up the retained messages for the next run of this file.
    for (const topic of [`foo/${t}`, `bar/${t}`]) await bob.publish(topic, '', { qos: 1, retain: true });
  });

  it('checks a will when it is sent: one on a writable topic is published, one on a read-only topic is not', async () => {
    const bob = await login('bob');
    const t = uniqueName('will');
    await bob.subscribe(['out', 'foo'].map((p) => ({ topic: `${p}/${t}`, qos: 1 as const })));
    for (const p of ['foo', 'out']) {
      const c = await res.open(ep(), 4);
      await c.connect({ clientId: uniqueName('w'), username: 'alice', password: Buffer.from('alice-pw'), will: { topic: `${p}/${t}`, payload: Buffer.from(p), qos: 1, retain: false } });
      c.destroy();
    }
    const will = await bob.receive();
    expect(will.topic).toBe(`out/${t}`);
    await bob.expectNothing(300, 'publish');
  });

  it('answers SUBSCRIBE: Mosquitto 2.0.11 grants every filter; the bundled broker refuses one with nothing to read', async () => {
    const alice5 = await login('alice', 5);
    const sub5 = await alice5.subscribe([
      { topic: 'bar/#', qos: 1 },
      { topic: 'foo/#', qos: 1 },
      { topic: 'foo/secret', qos: 1 },
      { topic: '$share/g/foo/+', qos: 1 },
    ]);
    const alice3 = await login('alice', 4);
    const sub3 = await alice3.subscribe([
      { topic: 'bar/#', qos: 1 },
      { topic: '#', qos: 1 },
    ]);
    if (kind === 'bundled') {
      expect(sub5.granted).toEqual([0x87, 1, 0x87, 1]);
      expect(sub3.granted).toEqual([0x80, 1]);
    } else {
      expect(sub5.granted).toEqual([1, 1, 1, 1]);
      expect(sub3.granted).toEqual([1, 1]);
    }
  });

  it('reads $SYS only where a rule names it', async () => {
    const alice = await login('alice');
    await alice.subscribe('$SYS/broker/uptime', 0);
    const up = await alice.next('publish', 3000);
    expect(up.cmd === 'publish' && up.topic).toBe('$SYS/broker/uptime');
    const bobView = await login('alice');
    await bobView.subscribe('$SYS/broker/version', 0);
    await bobView.expectNothing(1000, 'publish');
  });

  it('keeps serving after a storm of denied publishes', async () => {
    const c = await login('alice', 5);
    for (let i = 0; i < 200; i++) c.send({ cmd: 'publish', topic: `foo/storm/${i}`, payload: Buffer.from('x'), qos: 1, messageId: i + 1, retain: false, dup: false });
    const acks = await c.nextN('puback', 200, 5000);
    expect(new Set(acks.map((a) => a.reasonCode))).toEqual(new Set([0x87]));
    await sleep(10);
    expect(await c.stillOpenAfter(20)).toBe(true);
  });
});
