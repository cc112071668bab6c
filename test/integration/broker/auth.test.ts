/**
 * Who may connect, from one mosquitto.conf for the bundled broker and Mosquitto: a password file made by
 * mosquitto_passwd ($7$ at two iteration counts, $6$), allow_zero_length_clientid, auto_id_prefix,
 * clientid_prefixes. Then the bundled broker alone (Mosquitto checks passwords on its one thread): a flood of
 * CONNECTs with costly hashes does not stall other clients, and clients that leave before their password is checked
 * cost no check.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../broker/auth/password-file.js';
import { testBrokerKinds } from '../../helpers/brokers.js';
import { ConfigDir, startConfiguredBroker } from '../../helpers/config-brokers.js';
import { mosquittoTools } from '../../helpers/mosquitto-tools.js';
import { TestResources, connackCode, uniqueName } from '../../helpers/raw-client.js';

const dir = new ConfigDir();
afterAll(() => dir.remove());

describe.each(testBrokerKinds())('%s broker: authentication', (kind) => {
  const res = new TestResources();
  afterEach(() => res.releaseAll());
  const codeOf = async (port: number, version: 4 | 5, clientId: string, username?: string, password?: string) => {
    const c = await res.open({ host: '127.0.0.1', port }, version);
    const ack = await c.connect({ clientId, username, password: password === undefined ? undefined : Buffer.from(password) });
    return { code: connackCode(ack), assigned: ack.properties?.assignedClientIdentifier };
  };

  it.each(mosquittoTools('mosquitto_passwd'))('accepts the passwords of a file mosquitto_passwd wrote (%s)', async (passwd) => {
    const file = join(dir.path, `${kind}-mosq.pw`);
    execFileSync(passwd, ['-c', '-b', file, 'alice', 'secret']);
    execFileSync(passwd, ['-b', '-I', '1000', file, 'bob', 'pässwörd']);
    execFileSync(passwd, ['-b', '-H', 'sha512', file, 'carol', 'six']);
    const b = res.add(await startConfiguredBroker(kind, dir, ['mqtt'], (p) => [`listener ${p.mqtt} 127.0.0.1`, `password_file ${file}`].join('\n')));
    const port = b.ports.mqtt;
    expect((await codeOf(port, 4, uniqueName('a'), 'alice', 'secret')).code).toBe(0);
    expect((await codeOf(port, 5, uniqueName('b'), 'bob', 'pässwörd')).code).toBe(0);
    expect((await codeOf(port, 4, uniqueName('c'), 'carol', 'six')).code).toBe(0);
    expect((await codeOf(port, 5, uniqueName('c'), 'carol', 'seven')).code).toBe(0x87);
    expect((await codeOf(port, 4, uniqueName('b'), 'bob', 'passwort')).code).toBe(5);
  });

  it('answers packets sent right behind a CONNECT whose password is being checked, after its CONNACK and in order', async () => {
    const file = dir.file(`${kind}-pipelined.pw`, `pipe:${await hashPassword('pipe-pw', 7, 20_000)}\n`);
    const b = res.add(await startConfiguredBroker(kind, dir, ['mqtt'], (p) => [`listener ${p.mqtt} 127.0.0.1`, `password_file ${file}`].join('\n')));
    const c = await res.open({ host: '127.0.0.1', port: b.ports.mqtt }, 4);
    const t = uniqueName('pipe');
    c.sendRaw(
      Buffer.concat([
        c.encode(c.connectPacket({ clientId: uniqueName('pipe'), username: 'pipe', password: Buffer.from('pipe-pw') })),
        c.encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: t, qos: 1 }] }),
        c.encode({ cmd: 'publish', topic: t, payload: Buffer.from('behind'), qos: 1, messageId: 2, retain: false, dup: false }),
      ]),
    );
    expect((await c.next(undefined, 5000)).cmd).toBe('connack');
    expect((await c.next(undefined, 5000)).cmd).toBe('suback');
    const rest = [(await c.next(undefined, 5000)).cmd, (await c.next(undefined, 5000)).cmd].sort();
    expect(rest).toEqual(['puback', 'publish']);
  });

  it('allow_zero_length_clientid false refuses an empty client id (2 / Mosquitto\'s 0x80); auto_id_prefix names the ids given', async () => {
    const b = res.add(
      await startConfiguredBroker(kind, dir, ['strict', 'open'], (p) =>
        [
          'per_listener_settings true',
          `listener ${p.strict} 127.0.0.1`,
          'allow_anonymous true',
          'allow_zero_length_clientid false',
          `listener ${p.open} 127.0.0.1`,
          'allow_anonymous true',
          'auto_id_prefix given-',
        ].join('\n'),
      ),
    );
    expect((await codeOf(b.ports.strict, 4, '')).code).toBe(2);
    expect((await codeOf(b.ports.strict, 5, '')).code).toBe(0x80);
    expect((await codeOf(b.ports.strict, 4, uniqueName('named'))).code).toBe(0);
    const given = await codeOf(b.ports.open, 5, '');
    expect(given.code).toBe(0);
    expect(given.assigned).toMatch(/^given-[0-9A-F-]{36}$/);
  });

  it('clientid_prefixes: other client ids are not authorised (5 / 0x87)', async () => {
    const b = res.add(await startConfiguredBroker(kind, dir, ['mqtt'], (p) => [`listener ${p.mqtt} 127.0.0.1`, 'allow_anonymous true', 'clientid_prefixes good-'].join('\n')));
    expect((await codeOf(b.ports.mqtt, 4, uniqueName('good-'))).code).toBe(0);
    expect((await codeOf(b.ports.mqtt, 4, uniqueName('bad-'))).code).toBe(5);
    expect((await codeOf(b.ports.mqtt, 5, uniqueName('bad-'))).code).toBe(0x87);
    // An id the broker gives ("auto-...") is held to the prefix too.
    expect((await codeOf(b.ports.mqtt, 5, '')).code).toBe(0x87);
  });
});

describe('bundled broker: password checks off the event loop', () => {
  const res = new TestResources();
  afterEach(() => res.releaseAll());

  it('a flood of CONNECTs with costly hashes leaves other clients served; clients that leave cost no check', async () => {
    // 100,000 PBKDF2 iterations: tens of milliseconds a check. Checked on the event loop, 40 of them would hold
    // every other client for seconds.
    const file = dir.file('costly.pw', `heavy:${await hashPassword('heavy-pw', 7, 100_000)}\n`);
    const b = res.add(await startConfiguredBroker('bundled', dir, ['mqtt'], (p) => [`listener ${p.mqtt} 127.0.0.1`, 'allow_anonymous true', `password_file ${file}`].join('\n')));
    const ep = { host: '127.0.0.1', port: b.ports.mqtt };
    const probe = await res.connect(ep, 4, { clientId: uniqueName('probe') });
    const flood = [];
    for (let i = 0; i < 40; i++) {
      const c = await res.open(ep, 4);
      c.send(c.connectPacket({ clientId: uniqueName('heavy'), username: 'heavy', password: Buffer.from(i % 2 === 0 ? 'heavy-pw' : 'wrong') }));
      flood.push(c);
    }
    // Ten more leave before their turn comes.
    for (let i = 0; i < 10; i++) {
      const c = await res.open(ep, 4);
      c.send(c.connectPacket({ clientId: uniqueName('leaver'), username: 'heavy', password: Buffer.from('heavy-pw') }));
      c.destroy();
    }
    let worst = 0;
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      probe.send({ cmd: 'pingreq' });
      await probe.next('pingresp', 5000);
      worst = Math.max(worst, performance.now() - t0);
    }
    expect(worst).toBeLessThan(250);
    const codes = await Promise.all(flood.map(async (c) => connackCode(await c.next('connack', 20_000))));
    expect(codes.filter((c) => c === 0).length).toBe(20);
    expect(codes.filter((c) => c === 5).length).toBe(20);
    const stats = b.running!.stats();
    expect(stats.passwordChecksWaiting).toBe(0);
    expect(stats.passwordChecks + stats.passwordChecksSkipped).toBe(50);
    expect(stats.passwordChecksSkipped).toBeGreaterThan(0);
  });
});
