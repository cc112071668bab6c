/**
 * The password file: entries written by mosquitto_passwd ($7$ PBKDF2-SHA512 at its default and other iteration
 * counts, $6$ salted SHA-512) are read and check the right passwords only; hashes this project writes check too;
 * every malformed line is named at file:line.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPassword, hashPassword, parseHash, parsePasswordFile, type PasswordEntry } from '../../../broker/auth/password-file.js';
import { mosquittoTools } from '../../helpers/mosquitto-tools.js';

function check(entry: PasswordEntry, password: string): Promise<boolean> {
  return new Promise((resolve) => checkPassword(entry, Buffer.from(password, 'utf8'), resolve));
}

const dir = mkdtempSync(join(tmpdir(), 'mqbench-pw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(mosquittoTools('mosquitto_passwd'))('password file written by %s', (passwd) => {
  it('checks $7$ (default and 1,000 iterations) and $6$ entries', async () => {
    const file = join(dir, 'mosq.pw');
    execFileSync(passwd, ['-c', '-b', file, 'alice', 'secret']);
    execFileSync(passwd, ['-b', '-I', '1000', file, 'bob', 'pässwörd']);
    execFileSync(passwd, ['-b', '-H', 'sha512', file, 'carol', 'six']);
    const { users, problems } = parsePasswordFile(readFileSync(file, 'utf8'), file);
    expect(problems).toEqual([]);
    expect([...users.keys()]).toEqual(['alice', 'bob', 'carol']);
    expect(users.get('alice')).toMatchObject({ kind: 7, iterations: 101 });
    expect(users.get('bob')).toMatchObject({ kind: 7, iterations: 1000 });
    expect(users.get('carol')).toMatchObject({ kind: 6 });
    expect(await check(users.get('alice')!, 'secret')).toBe(true);
    expect(await check(users.get('alice')!, 'Secret')).toBe(false);
    expect(await check(users.get('bob')!, 'pässwörd')).toBe(true);
    expect(await check(users.get('bob')!, 'passwort')).toBe(false);
    expect(await check(users.get('carol')!, 'six')).toBe(true);
    expect(await check(users.get('carol')!, '')).toBe(false);
  });
});

describe('password hashes', () => {
  it('writes $7$ and $6$ hashes that check', async () => {
    for (const kind of [6, 7] as const) {
      const text = await hashPassword('pw', kind, 50);
      const entry = parseHash(text);
      expect(typeof entry).toBe('object');
      const e = { ...(entry as Exclude<typeof entry, string>), username: 'u', line: 1 };
      expect(await check(e, 'pw')).toBe(true);
      expect(await check(e, 'pw ')).toBe(false);
    }
    expect(await hashPassword('pw')).toMatch(/^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
  });

  it('names every malformed line with file:line and keeps the good ones', () => {
    const good = '$7$101$z9xcOLrzsMiDLBO8$JrqN9MaT1Ap4dS1eku5FAoc+xmBr0C5K3gLXhlmDdZ5i9Is4Ebys8xVk2eq+DJKDxUtQL7K245uBUNjxgo+LPg==';
    const text = [
      '# comment',
      `alice:${good}`,
      'no colon here',
      ':$7$101$x$y',
      'bad:$7$abc$zz$yy',
      'bad2:$8$x$y',
      'empty:',
      'short:$6$c2FsdA==$aGFzaA==',
      `alice:${good}`,
      'plain:secret',
      'huge:$7$99999999$z9xcOLrzsMiDLBO8$JrqN9MaT1Ap4dS1eku5FAoc+xmBr0C5K3gLXhlmDdZ5i9Is4Ebys8xVk2eq+DJKDxUtQL7K245uBUNjxgo+LPg==',
      '',
      `crlf:${good}\r`,
    ].join('\n');
    const { users, problems } = parsePasswordFile(text, 'pw');
    expect([...users.keys()]).toEqual(['alice', 'crlf']);
    expect(problems.map((p) => `${p.file}:${p.line}`)).toEqual(['pw:3', 'pw:4', 'pw:5', 'pw:6', 'pw:7', 'pw:8', 'pw:9', 'pw:10', 'pw:11']);
    expect(problems[0].message).toMatch(/no ":"/);
    expect(problems[1].message).toMatch(/empty user name/);
    expect(problems[2].message).toMatch(/iterations must be a positive integer/);
    expect(problems[3].message).toMatch(/unknown password hash type \$8\$/);
    expect(problems[4].message).toMatch(/no password hash/);
    expect(problems[5].message).toMatch(/salt is not 12 bytes/);
    expect(problems[6].message).toMatch(/already defined on line 2/);
    expect(problems[7].message).toMatch(/must start with \$7\$ or \$6\$/);
    expect(problems[8].message).toMatch(/more than 10,000,000/);
  });
});
