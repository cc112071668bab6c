/**
 * Mosquitto 2.0's password file: `user:$7$<iterations>$<salt>$<hash>` (PBKDF2-HMAC-SHA512) or `user:$6$<salt>$<hash>`
 * (SHA-512 of password then salt), salt 12 bytes and hash 64 bytes, both base64. Read (every problem with
 * file:line), written (as mosquitto_passwd writes it), and checked against a password.
 */
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FileProblem } from './problems.js';

/** mosquitto_passwd 2.0's default PBKDF2 iteration count. */
export const DEFAULT_ITERATIONS = 101;
/**
 * More iterations than this would make one login cost seconds of a thread's time: refused rather than let a
 * password file turn every CONNECT into a denial of service.
 */
export const MAX_ITERATIONS = 10_000_000;
const SALT_BYTES = 12;
const HASH_BYTES = 64;
/** Mosquitto refuses user names and hashes longer than this. */
const MAX_FIELD = 65_535;

export interface PasswordEntry {
  username: string;
  /** `$7$...` / `$6$...` as written: two entries with the same text accept the same passwords. */
  text: string;
  /** 7: PBKDF2-SHA512; 6: salted SHA-512. */
  kind: 6 | 7;
  /** PBKDF2 iterations (0 for kind 6). */
  iterations: number;
  salt: Buffer;
  hash: Buffer;
  line: number;
}

export interface ParsedPasswordFile {
  users: Map<string, PasswordEntry>;
  problems: FileProblem[];
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(text: string): Buffer | undefined {
  return text.length > 0 && BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

/**
 * Parse a password file. Comment lines (`#`) and blank lines are skipped; any other line must be `user:hash` with a
 * hash Mosquitto 2.0 can check. Each bad line is a problem naming file:line (Mosquitto drops such entries with a
 * log line; a dropped entry here would silently lock a user out, so the caller decides).
 */
export function parsePasswordFile(text: string, file: string): ParsedPasswordFile {
  const users = new Map<string, PasswordEntry>();
  const problems: FileProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    const line = i + 1;
    if (raw.startsWith('#') || raw.trim() === '') continue;
    const colon = raw.indexOf(':');
    if (colon < 0) {
      problems.push({ file, line, message: 'expected "username:password-hash" (no ":" on this line)' });
      continue;
    }
    const username = raw.slice(0, colon).trim();
    const hashText = raw.slice(colon + 1).trim();
    if (username === '') {
      problems.push({ file, line, message: 'empty user name' });
      continue;
    }
    if (username.length > MAX_FIELD || hashText.length > MAX_FIELD) {
      problems.push({ file, line, message: 'user name or password hash longer than 65,535 characters' });
      continue;
    }
    const parsed = parseHash(hashText);
    if (typeof parsed === 'string') {
      problems.push({ file, line, message: `user "${username}": ${parsed}` });
      continue;
    }
    const earlier = users.get(username);
    if (earlier !== undefined) {
      problems.push({ file, line, message: `user "${username}" is already defined on line ${earlier.line}` });
      continue;
    }
    users.set(username, { username, line, ...parsed });
  }
  return { users, problems };
}

/** `$7$iter$salt$hash` / `$6$salt$hash` → its parts, or why it cannot be checked. */
export function parseHash(text: string): Omit<PasswordEntry, 'username' | 'line'> | string {
  if (text === '') return 'no password hash (Mosquitto 2.0 requires one for every user)';
  const parts = text.split('$');
  if (parts[0] !== '' || parts.length < 2) return 'the password hash must start with $7$ or $6$ (a plain-text file? mqbench passwd -U converts one)';
  const kind = parts[1];
  let iterations = 0;
  let rest: string[];
  if (kind === '7') {
    if (parts.length !== 5) return 'a $7$ hash has the form $7$<iterations>$<salt>$<hash>';
    if (!/^\d{1,9}$/.test(parts[2]) || Number(parts[2]) < 1) return `hash iterations must be a positive integer, got "${parts[2]}"`;
    iterations = Number(parts[2]);
    if (iterations > MAX_ITERATIONS) return `${iterations} hash iterations is more than ${MAX_ITERATIONS.toLocaleString('en-US')}`;
    rest = parts.slice(3);
  } else if (kind === '6') {
    if (parts.length !== 4) return 'a $6$ hash has the form $6$<salt>$<hash>';
    rest = parts.slice(2);
  } else {
    return `unknown password hash type $${kind}$ (Mosquitto 2.0 knows $6$ and $7$)`;
  }
  const salt = decodeBase64(rest[0]);
  if (salt === undefined || salt.length !== SALT_BYTES) return 'the salt is not 12 bytes of base64';
  const hash = decodeBase64(rest[1]);
  if (hash === undefined || hash.length !== HASH_BYTES) return 'the hash is not 64 bytes of base64';
  return { text, kind: kind === '7' ? 7 : 6, iterations, salt, hash };
}

/** The hash of `password` for a new entry, as mosquitto_passwd writes it. */
export function hashPassword(password: string, kind: 6 | 7 = 7, iterations = DEFAULT_ITERATIONS, salt = randomBytes(SALT_BYTES)): Promise<string> {
  const saltText = salt.toString('base64');
  if (kind === 6) {
    const digest = sha512(Buffer.from(password, 'utf8'), salt);
    return Promise.resolve(`$6$${saltText}$${digest.toString('base64')}`);
  }
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, HASH_BYTES, 'sha512', (err, key) => {
      if (err) reject(err);
      else resolve(`$7$${iterations}$${saltText}$${key.toString('base64')}`);
    });
  });
}

function sha512(password: Buffer, salt: Buffer): Buffer {
  return createHash('sha512').update(password).update(salt).digest();
}

/**
 * Does `password` match `entry`? PBKDF2 runs on libuv's thread pool (never on the event loop); `done` is called
 * once, asynchronously for $7$ and synchronously for $6$ (one SHA-512 costs microseconds).
 */
export function checkPassword(entry: PasswordEntry, password: Buffer, done: (ok: boolean) => void): void {
  if (entry.kind === 6) {
    done(timingSafeEqual(sha512(password, entry.salt), entry.hash));
    return;
  }
  pbkdf2(password, entry.salt, entry.iterations, HASH_BYTES, 'sha512', (err, key) => {
    done(err === null && timingSafeEqual(key, entry.hash));
  });
}
