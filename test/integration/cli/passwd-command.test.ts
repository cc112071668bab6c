/**
 * `mqbench passwd`: creating, changing and deleting users like mosquitto_passwd, its errors (the command called in
 * this process), passwords asked on standard input (the built CLI in a child process); and the file it writes, read
 * by Mosquitto and by the bundled broker from one config file: the right password connects, a wrong one is refused.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { passwdCommand } from '../../../src/cli/commands/passwd.js';
import { CliError } from '../../../src/cli/exit-codes.js';
import { testBrokerKinds } from '../../helpers/brokers.js';
import { ConfigDir, startConfiguredBroker } from '../../helpers/config-brokers.js';
import { TestResources, connackCode, uniqueName } from '../../helpers/raw-client.js';

const bin = join(resolve(import.meta.dirname, '../../..'), 'bin/mqbench.js');
const dir = new ConfigDir();
afterAll(() => dir.remove());

/** The built CLI in a child process, for what reads standard input. */
function spawnPasswd(args: string[], input: string) {
  const r = spawnSync(process.execPath, [bin, 'passwd', ...args], { encoding: 'utf8', input, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The command in this process: its exit code, or the error it reports (message and exit code). */
async function passwd(args: string[]): Promise<{ code: number; stderr: string }> {
  const writes: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    writes.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await passwdCommand(args), stderr: writes.join('') };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    return { code: err.exitCode, stderr: writes.join('') + err.message };
  } finally {
    process.stderr.write = write;
  }
}

function usersOf(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.slice(0, l.indexOf(':')));
}

describe('mqbench passwd', () => {
  it('creates, adds, changes in place and deletes users as mosquitto_passwd does', async () => {
    const file = join(dir.path, 'users.pw');
    expect((await passwd(['-c', '-b', file, 'alice', 'secret'])).code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Asked twice on standard input when -b is not given.
    const asked = spawnPasswd([file, 'bob'], 'hunter2\nhunter2\n');
    expect(asked.code, asked.stderr).toBe(0);
    expect(asked.stderr).toContain('Password: ');
    expect((await passwd(['-b', '-H', 'sha512', file, 'carol', 'six'])).code).toBe(0);
    expect((await passwd(['-b', '-I', '1000', file, 'dave', 'many'])).code).toBe(0);
    const before = readFileSync(file, 'utf8');
    expect((await passwd(['-b', file, 'alice', 'changed'])).code).toBe(0);
    const after = readFileSync(file, 'utf8');
    expect(usersOf(file)).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(after.split('\n')[0]).not.toBe(before.split('\n')[0]);
    expect(after.split('\n').slice(1)).toEqual(before.split('\n').slice(1));
    const lines = after.trim().split('\n');
    expect(lines[0]).toMatch(/^alice:\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    expect(lines[2]).toMatch(/^carol:\$6\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    expect(lines[3]).toMatch(/^dave:\$7\$1000\$/);
    expect((await passwd(['-D', file, 'bob'])).code).toBe(0);
    expect(usersOf(file)).toEqual(['alice', 'carol', 'dave']);
    const missing = await passwd(['-D', file, 'nobody']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Warning: User nobody not found in password file.');
  });

  it('hashes a plain-text file with -U, keeping lines already hashed', async () => {
    const file = dir.file('plain.pw', 'a:one\n# comment\nb:two\n');
    expect((await passwd(['-b', file, 'c', 'three'])).code).toBe(0);
    const hashedC = readFileSync(file, 'utf8').split('\n')[3];
    expect((await passwd(['-U', file])).code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^a:\$7\$101\$/);
    expect(lines[1]).toBe('# comment');
    expect(lines[2]).toMatch(/^b:\$7\$101\$/);
    expect(lines[3]).toBe(hashedC);
  });

  it('refuses what mosquitto_passwd refuses, saying why', async () => {
    const file = join(dir.path, 'errors.pw');
    const colon = await passwd(['-c', '-b', file, 'bad:name', 'x']);
    expect(colon.code).toBe(2);
    expect(colon.stderr).toContain("Username must not contain the ':' character.");
    const noFile = await passwd(['-b', join(dir.path, 'nope.pw'), 'u', 'p']);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/Unable to open password file .*nope\.pw: no such file/);
    expect((await passwd(['-c', '-D', file, 'u'])).stderr).toContain('-c and -D cannot be used together');
    expect((await passwd(['-c', '-b', '-H', 'md5', file, 'u', 'p'])).stderr).toContain('-H must be sha512 or sha512-pbkdf2');
    expect((await passwd(['-c', '-b', '-I', '0', file, 'u', 'p'])).stderr).toContain('-I must be an integer from 1');
    expect((await passwd(['-c', '-b', file, 'u'])).stderr).toContain('-b needs the password file, a user name and a password');
    const mismatch = spawnPasswd(['-c', file, 'u'], 'one\ntwo\n');
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain('Error: Passwords do not match.');
    const ended = spawnPasswd(['-c', file, 'u'], '');
    expect(ended.code).toBe(2);
    expect(ended.stderr).toContain('no password given');
  });
});

describe.each(testBrokerKinds())('%s broker reads a password file written by mqbench passwd', (kind) => {
  const res = new TestResources();
  afterEach(() => res.releaseAll());

  it('the right password connects; a wrong one, none, or an unknown user is refused', async () => {
    const file = join(dir.path, `${kind}.pw`);
    expect((await passwd(['-c', '-b', file, 'alice', 'secret'])).code).toBe(0);
    expect((await passwd(['-b', '-H', 'sha512', file, 'carol', 'six'])).code).toBe(0);
    const b = res.add(
      await startConfiguredBroker(kind, dir, ['mqtt'], (p) => [`listener ${p.mqtt} 127.0.0.1`, `password_file ${file}`, 'allow_anonymous false'].join('\n')),
    );
    const endpoint = { host: '127.0.0.1', port: b.ports.mqtt };
    const code = async (version: 4 | 5, username?: string, password?: string) => {
      const c = await res.open(endpoint, version);
      return connackCode(await c.connect({ clientId: uniqueName('pw'), username, password: password === undefined ? undefined : Buffer.from(password) }));
    };
    expect(await code(4, 'alice', 'secret')).toBe(0);
    expect(await code(5, 'carol', 'six')).toBe(0);
    expect(await code(4, 'alice', 'wrong')).toBe(5);
    expect(await code(5, 'alice', 'wrong')).toBe(0x87);
    expect(await code(4, 'alice')).toBe(5);
    expect(await code(4, 'mallory', 'secret')).toBe(5);
    expect(await code(4)).toBe(5);
  });
});
