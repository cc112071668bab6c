/**
 * `mqbench passwd`: create and change Mosquitto 2.0 password files, as mosquitto_passwd does (same options, same
 * file format: Mosquitto reads what this writes, and the bundled broker reads what mosquitto_passwd writes).
 */
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DEFAULT_ITERATIONS, MAX_ITERATIONS, hashPassword } from '../../../broker/auth/password-file.js';
import { parseCommandArgs } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';

export const usage = `Usage: mqbench passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c | -D] <passwordfile> <username>
       mqbench passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c] -b <passwordfile> <username> <password>
       mqbench passwd -U <passwordfile>

Creates and changes password files for the bundled broker and Mosquitto 2.0 (password_file), like mosquitto_passwd.

Options:
  -b            batch mode: the password is the last argument (otherwise it is asked for, twice)
  -c            create a new password file, replacing any file of that name
  -D            delete the user instead of adding or changing it
  -H <hash>     sha512-pbkdf2 (default, "$7$") or sha512 ("$6$", Mosquitto 1.6's)
  -I <n>        PBKDF2 iterations (default ${DEFAULT_ITERATIONS}, as mosquitto_passwd)
  -U            hash the plain-text passwords of an old file in place (lines already hashed are kept)
  -h, --help    show this help

A new file is created readable by its owner only; an existing file keeps its permissions.`;

interface Request {
  file: string;
  username: string | undefined;
  password: string | undefined;
  create: boolean;
  remove: boolean;
  upgrade: boolean;
  kind: 6 | 7;
  iterations: number;
}

export async function passwdCommand(argv: string[]): Promise<number> {
  const req = parseRequest(argv);
  if (req === undefined) {
    process.stdout.write(usage + '\n');
    return EXIT.ok;
  }
  if (req.upgrade) return upgradeFile(req);
  const username = req.username!;
  if (!req.create && !existsSync(req.file)) throw new CliError(`Unable to open password file ${req.file}: no such file (-c creates one)`, EXIT.usage);
  const lines = req.create ? [] : readLines(req.file);
  const at = lines.findIndex((l) => userOf(l) === username);
  if (req.remove) {
    if (at < 0) {
      process.stderr.write(`Warning: User ${username} not found in password file.\n`);
      return EXIT.failed;
    }
    lines.splice(at, 1);
    writeFileAtomically(req.file, lines, req.create);
    return EXIT.ok;
  }
  const password = req.password ?? (await askPassword());
  const line = `${username}:${await hashPassword(password, req.kind, req.iterations)}`;
  if (at >= 0) lines[at] = line;
  else lines.push(line);
  writeFileAtomically(req.file, lines, req.create);
  return EXIT.ok;
}

function parseRequest(argv: string[]): Request | undefined {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      b: { type: 'boolean', short: 'b' },
      c: { type: 'boolean', short: 'c' },
      D: { type: 'boolean', short: 'D' },
      U: { type: 'boolean', short: 'U' },
      H: { type: 'string', short: 'H' },
      I: { type: 'string', short: 'I' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
    usage,
  );
  if (values.help) return undefined;
  const fail = (message: string): never => {
    throw new CliError(`${message}\n\n${usage}`, EXIT.usage);
  };
  if (values.c && values.D) fail('-c and -D cannot be used together');
  if (values.U && (values.b || values.c || values.D)) fail('-U takes only the password file');
  const hash = values.H ?? 'sha512-pbkdf2';
  if (hash !== 'sha512-pbkdf2' && hash !== 'sha512') fail(`-H must be sha512 or sha512-pbkdf2, got "${hash}"`);
  let iterations = DEFAULT_ITERATIONS;
  if (values.I !== undefined) {
    iterations = /^\d+$/.test(values.I) ? Number(values.I) : NaN;
    if (!(iterations >= 1 && iterations <= MAX_ITERATIONS)) fail(`-I must be an integer from 1 to ${MAX_ITERATIONS}, got "${values.I}"`);
  }
  const wanted = values.U ? 1 : values.b ? 3 : 2;
  if (positionals.length !== wanted) {
    fail(values.U ? '-U needs the password file' : values.b ? '-b needs the password file, a user name and a password' : 'needs the password file and a user name');
  }
  const [file, username, password] = positionals;
  if (username !== undefined) {
    if (username.includes(':')) fail('Username must not contain the \':\' character.');
    if (username === '' || username.trim() !== username) fail('the user name must not be empty or begin or end with white space');
    if (/[\r\n]/.test(username)) fail('the user name must be on one line');
  }
  if (password !== undefined && /[\r\n]/.test(password)) fail('the password must be on one line');
  if (values.D && password !== undefined) fail('-D takes no password');
  return {
    file,
    username,
    password,
    create: values.c === true,
    remove: values.D === true,
    upgrade: values.U === true,
    kind: hash === 'sha512' ? 6 : 7,
    iterations,
  };
}

/** The user name a password-file line is about (undefined for comments and blank lines). */
function userOf(line: string): string | undefined {
  if (line.startsWith('#')) return undefined;
  const colon = line.indexOf(':');
  return colon < 0 ? undefined : line.slice(0, colon).trim();
}

function readLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`Unable to open password file ${file}: ${(err as Error).message}`, EXIT.usage);
  }
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

async function upgradeFile(req: Request): Promise<number> {
  const lines = readLines(req.file);
  for (let i = 0; i < lines.length; i++) {
    const user = userOf(lines[i]);
    if (user === undefined) continue;
    const value = lines[i].slice(lines[i].indexOf(':') + 1);
    if (value.startsWith('$6$') || value.startsWith('$7$')) continue;
    lines[i] = `${user}:${await hashPassword(value, req.kind, req.iterations)}`;
  }
  writeFileAtomically(req.file, lines, false);
  return EXIT.ok;
}

/** Write the new file beside the old one and rename it over: a reader never sees half a file. */
function writeFileAtomically(file: string, lines: string[], create: boolean): void {
  const mode = !create && existsSync(file) ? statSync(file).mode & 0o777 : 0o600;
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, lines.length > 0 ? lines.join('\n') + '\n' : '', { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new CliError(`Unable to write password file ${file}: ${(err as Error).message}`, EXIT.failed);
  }
}

/** The password, asked twice: without echo on a terminal, else as the first two lines of standard input. */
async function askPassword(): Promise<string> {
  const stdin = process.stdin;
  const first = await readSecret('Password: ', stdin.isTTY === true);
  const second = await readSecret('Reenter password: ', stdin.isTTY === true);
  if (first !== second) throw new CliError('Error: Passwords do not match.', EXIT.failed);
  if (first === '') throw new CliError('Error: Empty password.', EXIT.failed);
  return first;
}

let pendingInput = '';
let inputEnded = false;

function readSecret(prompt: string, tty: boolean): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    const take = (): boolean => {
      const nl = pendingInput.search(/[\r\n]/);
      if (nl < 0 && !inputEnded) return false;
      const end = nl < 0 ? pendingInput.length : nl;
      const line = pendingInput.slice(0, end);
      pendingInput = pendingInput.slice(end + (pendingInput[end] === '\r' && pendingInput[end + 1] === '\n' ? 2 : 1));
      cleanup();
      if (tty) process.stderr.write('\n');
      if (nl < 0 && line === '') reject(new CliError('Error: no password given (standard input ended)', EXIT.usage));
      else resolve(line);
      return true;
    };
    const onData = (chunk: Buffer | string): void => {
      const text = chunk.toString();
      if (tty && text.includes('\u0003')) {
        cleanup();
        reject(new CliError('interrupted', EXIT.interrupted));
        return;
      }
      if (tty) {
        // Raw mode: the terminal does no line editing, so erase here.
        for (const ch of text) pendingInput = ch === '\u007f' || ch === '\b' ? pendingInput.slice(0, -1) : pendingInput + ch;
      } else {
        pendingInput += text;
      }
      take();
    };
    const onEnd = (): void => {
      inputEnded = true;
      take();
    };
    const cleanup = (): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
      if (tty) stdin.setRawMode(false);
    };
    if (take()) return;
    if (tty) stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}
