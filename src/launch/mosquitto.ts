/**
 * Start a local Mosquitto with a generated config on a free loopback port, and stop it.
 * Used by `compare`, the benchmarks and the tests that check behaviour against Mosquitto.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';

export interface MosquittoOptions {
  /** Extra mosquitto.conf lines appended after the generated listener section. */
  config?: string[];
  /** Log everything (`log_type all`) to the captured output. */
  verbose?: boolean;
  /** Binary to run; default: `MQBENCH_MOSQUITTO` or `mosquitto` found on PATH or in /usr/sbin. */
  binary?: string;
  /**
   * Run with this config file as it is (no generated lines; `config` and `verbose` are not used), and wait for this
   * port of it to accept connections.
   */
  configFile?: { path: string; port: number; host?: string };
}

export interface RunningMosquitto {
  host: string;
  port: number;
  pid: number;
  version: string;
  /** Everything Mosquitto printed so far. */
  output(): string;
  /** How the process ended ("killed by SIGSEGV", "exited with code 1"), or undefined while it runs. */
  exitStatus(): string | undefined;
  stop(): Promise<void>;
}

/** How a child process ended, in words. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
}

export class MosquittoNotFoundError extends Error {
  readonly code = 'MOSQUITTO_NOT_FOUND';
  constructor(searched: string[]) {
    super(
      `mosquitto binary not found (looked in: ${searched.join(', ')}). ` +
        `Install it (Debian/Ubuntu: apt-get install -y mosquitto) or set MQBENCH_MOSQUITTO to its path.`,
    );
  }
}

/** The path of the mosquitto binary, or undefined when there is none. */
export function findMosquitto(): string | undefined {
  return mosquittoCandidates().find((p) => existsSync(p));
}

/** Where the mosquitto binary is looked for, in order. */
export function mosquittoCandidates(): string[] {
  const fromEnv = process.env.MQBENCH_MOSQUITTO;
  if (fromEnv) return [fromEnv];
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const extra of ['/usr/sbin', '/usr/local/sbin', '/opt/homebrew/sbin']) if (!dirs.includes(extra)) dirs.push(extra);
  return dirs.map((d) => join(d, 'mosquitto'));
}

/** "2.0.11" from `mosquitto -h`, or "unknown". */
export function mosquittoVersion(binary: string): string {
  try {
    execFileSync(binary, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // `mosquitto -h` prints its usage and exits non-zero.
    const out = String((err as { stdout?: string }).stdout ?? '') + String((err as { stderr?: string }).stderr ?? '');
    const m = /mosquitto version (\S+)/.exec(out);
    if (m) return m[1];
  }
  return 'unknown';
}

/** A port that was free a moment ago on 127.0.0.1 (Mosquitto cannot bind port 0 and report it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<RunningMosquitto> {
  const binary = opts.binary ?? findMosquitto();
  if (!binary || !existsSync(binary)) throw new MosquittoNotFoundError(opts.binary ? [opts.binary] : mosquittoCandidates());
  const version = mosquittoVersion(binary);
  if (opts.configFile) return launch(binary, version, opts.configFile.port, opts);
  let lastError: Error | undefined;
  // The port is chosen before Mosquitto binds it; another process may take it in between, so try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      return await launch(binary, version, port, opts);
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('mosquitto did not start');
}

async function launch(binary: string, version: string, port: number, opts: MosquittoOptions): Promise<RunningMosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'mqbench-mosquitto-'));
  const conf = opts.configFile?.path ?? join(dir, 'mosquitto.conf');
  const host = opts.configFile?.host ?? '127.0.0.1';
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    `log_type ${opts.verbose ? 'all' : 'error'}`,
    // stderr: Mosquitto buffers its log when stdout is a pipe, so output() would lag until it exits.
    'log_dest stderr',
    'log_timestamp true',
    ...(opts.config ?? []),
  ];
  if (!opts.configFile) writeFileSync(conf, lines.join('\n') + '\n');
  const child = spawn(binary, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output = trimTail(output + s)));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output = trimTail(output + s)));
  let exitStatus: string | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      exitStatus = describeExit(code, signal);
      resolve(code);
    }),
  );
  try {
    await waitForPort(host, port, exited, () => output);
    // The port was free when chosen; if another process took it first, Mosquitto exits and the connection above
    // reached that other process. Make sure ours is still the one running.
    await new Promise((r) => setTimeout(r, 30));
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`mosquitto exited during start-up: ${output.trim().slice(-500)}`);
    }
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    host,
    port,
    pid: child.pid!,
    version,
    output: () => output,
    exitStatus: () => exitStatus,
    stop: () => (stopped ??= stop(child, exited, dir)),
  };
}

function trimTail(s: string): string {
  return s.length > 1_000_000 ? s.slice(-500_000) : s;
}

async function waitForPort(
  host: string,
  port: number,
  exited: Promise<number | null>,
  output: () => string,
): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`mosquitto exited during start-up: ${output().trim().slice(-500)}`);
    if (await canConnect(host, port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`mosquitto did not open ${host}:${port} within 10 s: ${output().trim().slice(-500)}`);
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function stop(child: ChildProcess, exited: Promise<number | null>, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
}
