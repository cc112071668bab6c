/**
 * SIGHUP, as Mosquitto handles it, for the bundled broker (`mqbench broker -c`) and Mosquitto on one config file:
 * the password file is read again (a connected client whose user is gone or whose password changed is
 * disconnected; a new user can connect), so is the ACL file (a connected subscriber stops receiving what it may no
 * longer read; with check_retain_source, a retained message whose publisher lost write access is no longer sent),
 * the log file is reopened (log rotation), and messages in flight are not lost. A password file that fails to parse
 * on reload leaves the previous one in force (the bundled broker; Mosquitto drops the bad entries).
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../broker/auth/password-file.js';
import { testBrokerKinds } from '../../helpers/brokers.js';
import { ConfigDir, startConfiguredBroker, type ConfiguredBroker } from '../../helpers/config-brokers.js';
import { RawClient, TestResources, connackCode, uniqueName } from '../../helpers/raw-client.js';

const dir = new ConfigDir();
afterAll(() => dir.remove());

async function users(entries: Record<string, string>): Promise<string> {
  const lines = [];
  for (const [u, pw] of Object.entries(entries)) lines.push(`${u}:${await hashPassword(pw)}`);
  return lines.join('\n') + '\n';
}

async function hangUp(b: ConfiguredBroker, times = 1): Promise<void> {
  const before = b.logs().split('Reloading config.').length;
  b.signal('SIGHUP');
  await expect.poll(() => b.logs().split('Reloading config.').length, { timeout: 5000 }).toBeGreaterThanOrEqual(before + times);
}

describe.each(testBrokerKinds())('%s broker: SIGHUP', (kind) => {
  const res = new TestResources();
  afterEach(() => res.releaseAll());
  const login = (b: ConfiguredBroker, user: string | undefined, password?: string, version: 4 | 5 = 4) =>
    res.connect({ host: '127.0.0.1', port: b.ports.mqtt }, version, { clientId: uniqueName('hup'), username: user, password: password === undefined ? undefined : Buffer.from(password) });
  const codeOf = async (b: ConfiguredBroker, user: string, password: string) => {
    const c = await res.open({ host: '127.0.0.1', port: b.ports.mqtt }, 4);
    return connackCode(await c.connect({ clientId: uniqueName('hup'), username: user, password: Buffer.from(password) }));
  };

  it('reads the password file again: removed users and changed passwords are disconnected, new users get in', async () => {
    const pw = dir.file(`${kind}-reload.pw`, await users({ alice: 'a1', bob: 'b1', carol: 'c1' }));
    const b = res.add(
      await startConfiguredBroker(kind, dir, ['mqtt'], (p) => [`listener ${p.mqtt} 127.0.0.1`, `password_file ${pw}`, 'log_dest stderr'].join('\n'), { process: true }),
    );
    const alice = await login(b, 'alice', 'a1', 5);
    const bob = await login(b, 'bob', 'b1');
    const carol = await login(b, 'carol', 'c1');
    dir.file(`${kind}-reload.pw`, await users({ bob: 'b2', carol: 'c1', dave: 'd1' }));
    await hangUp(b);
    await alice.closed(5000);
    await bob.closed(5000);
    expect(await carol.stillOpenAfter(300)).toBe(true);
    expect(await codeOf(b, 'dave', 'd1')).toBe(0);
    expect(await codeOf(b, 'alice', 'a1')).toBe(5);
    expect(await codeOf(b, 'bob', 'b2')).toBe(0);
  });

  it('reads the ACL file again: a connected subscriber stops receiving what it may no longer read', async () => {
    const pw = dir.file(`${kind}-acl-reload.pw`, await users({ alice: 'a', bob: 'b' }));
    const aclText = (readable: string) => ['user alice', `topic read ${readable}`, 'topic read mark/#', 'topic readwrite ret/#', 'user bob', 'topic readwrite #'].join('\n') + '\n';
    const acl = dir.file(`${kind}-reload.acl`, aclText('foo/#'));
    const b = res.add(
      await startConfiguredBroker(
        kind,
        dir,
        ['mqtt'],
        (p) => [`listener ${p.mqtt} 127.0.0.1`, `password_file ${pw}`, `acl_file ${acl}`, 'check_retain_source true', 'log_dest stderr'].join('\n'),
        { process: true },
      ),
    );
    const alice = await login(b, 'alice', 'a');
    await alice.subscribe('#', 1);
    const bob = await login(b, 'bob', 'b');
    // A retained message alice published while she could write ret/#.
    const alicePub = await login(b, 'alice', 'a');
    await alicePub.publish('ret/a', 'R', { qos: 1, retain: true });
    await bob.publish('foo/x', 'before', { qos: 1 });
    await bob.publish('mark/0', 'mark', { qos: 1 });
    expect((await alice.receive()).payload.toString()).toBe('R');
    expect((await alice.receive()).payload.toString()).toBe('before');
    expect((await alice.receive()).topic).toBe('mark/0');
    dir.file(`${kind}-reload.acl`, aclText('bar/#').replace('topic readwrite ret/#', 'topic read ret/#'));
    await hangUp(b);
    // Probe until the new rules are in force (the reload completes asynchronously), then they must hold.
    let applied = false;
    for (let i = 1; i <= 20 && !applied; i++) {
      await bob.publish('foo/x', `probe-${i}`, { qos: 1 });
      await bob.publish(`mark/${i}`, 'mark', { qos: 1 });
      const got = [];
      for (;;) {
        const p = await alice.receive();
        if (p.topic === `mark/${i}`) break;
        got.push(p.payload.toString());
      }
      applied = got.length === 0;
    }
    expect(applied).toBe(true);
    await bob.publish('bar/y', 'now readable', { qos: 1 });
    expect((await alice.receive()).topic).toBe('bar/y');
    // check_retain_source: alice may no longer write ret/a, so her retained message is not sent.
    const late = await login(b, 'alice', 'a');
    await late.subscribe('ret/#', 1);
    await late.expectNothing(500, 'publish');
  });

  it('keeps every message of a publisher while it is reloaded five times', async () => {
    const b = res.add(
      await startConfiguredBroker(kind, dir, ['mqtt'], (p) => [`listener ${p.mqtt} 127.0.0.1`, 'allow_anonymous true', 'log_dest stderr', 'max_queued_messages 0'].join('\n'), {
        process: true,
      }),
    );
    const sub = await login(b, undefined);
    const topic = uniqueName('traffic');
    await sub.subscribe(topic, 1);
    const pub = await login(b, undefined);
    const total = 1500;
    const publishing = (async () => {
      for (let i = 0; i < total; i++) {
        pub.send({ cmd: 'publish', topic, payload: Buffer.from(String(i)), qos: 1, messageId: (i % 60000) + 1, retain: false, dup: false });
        if (i % 100 === 99) await pub.nextN('puback', 100, 10_000);
      }
    })();
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 40));
      b.signal('SIGHUP');
    }
    const seen = new Set<string>();
    while (seen.size < total) seen.add((await sub.receive(10_000)).payload.toString());
    await publishing;
    expect(seen.size).toBe(total);
    await expect.poll(() => b.logs().split('Reloading config.').length - 1, { timeout: 5000 }).toBeGreaterThanOrEqual(1);
  });

  it('reopens its log file: after a rotation, lines go to the new file', async () => {
    const log = join(dir.path, `${kind}-broker.log`);
    const b = res.add(
      await startConfiguredBroker(
        kind,
        dir,
        ['mqtt'],
        (p) => [`listener ${p.mqtt} 127.0.0.1`, 'allow_anonymous true', `log_dest file ${log}`, 'log_dest stderr', 'log_type all'].join('\n'),
        { process: true },
      ),
    );
    await login(b, undefined);
    await expect.poll(() => existsSync(log) && readFileSync(log, 'utf8').includes('New client connected'), { timeout: 3000 }).toBe(true);
    renameSync(log, `${log}.1`);
    await hangUp(b);
    const id = uniqueName('after-rotation');
    await res.connect({ host: '127.0.0.1', port: b.ports.mqtt }, 4, { clientId: id });
    await expect.poll(() => existsSync(log) && readFileSync(log, 'utf8').includes(id), { timeout: 3000 }).toBe(true);
    expect(readFileSync(`${log}.1`, 'utf8')).not.toContain(id);
  });
});

describe('bundled broker: a reload that cannot be applied', () => {
  const res = new TestResources();
  afterEach(() => res.releaseAll());

  it('keeps the previous password file when the new one has problems, naming each with file:line', async () => {
    const file = dir.file('keep.pw', await users({ alice: 'a1' }));
    const b = res.add(await startConfiguredBroker('bundled', dir, ['mqtt'], (p) => [`listener ${p.mqtt} 127.0.0.1`, `password_file ${file}`].join('\n'), { process: true }));
    const alice = await res.connect({ host: '127.0.0.1', port: b.ports.mqtt }, 4, { clientId: uniqueName('keep'), username: 'alice', password: Buffer.from('a1') });
    dir.file('keep.pw', `alice:$7$101$broken\nnewbie:${await hashPassword('n1')}\n`);
    await hangUp(b);
    await expect.poll(() => b.logs(), { timeout: 5000 }).toMatch(/keep\.pw:1: user "alice": .*previous contents stay in force/);
    expect(await alice.stillOpenAfter(300)).toBe(true);
    const c = await RawClient.open({ host: '127.0.0.1', port: b.ports.mqtt }, 4);
    expect(connackCode(await c.connect({ clientId: uniqueName('keep'), username: 'newbie', password: Buffer.from('n1') }))).toBe(5);
    c.destroy();
    // A config file with a bad line changes nothing either.
    const conf = readFileSync(b.file, 'utf8');
    dir.file(b.file.slice(dir.path.length + 1), conf + '\nbogus_option 1\n');
    await hangUp(b);
    await expect.poll(() => b.logs(), { timeout: 5000 }).toMatch(/unknown option "bogus_option"[\s\S]*nothing was reloaded/);
    expect(await alice.stillOpenAfter(100)).toBe(true);
  });
});
