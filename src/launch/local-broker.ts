/**
 * Brokers mqbench starts as processes of their own for comparisons and benchmarks, so that each is measured the same
 * way (its own process, its CPU time and memory from /proc): the bundled broker (through `mqbench broker -c`),
 * Mosquitto, and Aedes. All are configured by the same mosquitto.conf lines where they apply.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeExit, MosquittoNotFoundError, startMosquitto } from './mosquitto.js';

export type LocalBrokerKind = 'bundled' | 'mosquitto' | 'aedes';

export interface LocalBroker {
  kind: LocalBrokerKind;
  /** "bundled", "mosquitto 2.0.11", "aedes 1.2.0". */
  label: string;
  version: string;
  host: string;
  port: number;
  pid: number;
  /** What the broker printed (its log). */
  output(): string;
  /** How the process ended ("killed by SIGKILL", "exited with code 1"), or undefined while it runs. */
  exitStatus(): string | undefined;
  stop(): Promise<void>;
}

export class BrokerStartError extends Error {
  readonly code = 'BROKER_START_FAILED';
}

const START_TIMEOUT_MS = 15_000;

/** `conf`: mosquitto.conf lines for the bundled broker and Mosquitto (Aedes has no such options and ignores them). */
export async function startLocalBroker(kind: LocalBrokerKind, conf: readonly string[] = []): Promise<LocalBroker> {
  switch (kind) {
    case 'mosquitto':
      try {
        const m = await startMosquitto({ config: [...conf] });
        return { kind, label: `mosquitto ${m.version}`, version: m.version, host: m.host, port: m.port, pid: m.pid, output: m.output, exitStatus: m.exitStatus, stop: m.stop };
      } catch (err) {
        if (err instanceof MosquittoNotFoundError) throw err;
        throw new BrokerStartError(`mosquitto failed to start: ${(err as Error).message}`);
      }
    case 'bundled':
      return startBundled(conf);
    case 'aedes':
      return startAedes();
  }
}

/** The bundled broker as `mqbench broker -c <generated config>`, loopback only, anonymous, errors logged. */
async function startBundled(conf: readonly string[]): Promise<LocalBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'mqbench-bundled-'));
  const file = join(dir, 'broker.conf');
  writeFileSync(file, ['listener 0 127.0.0.1', 'allow_anonymous true', 'log_type error', ...conf].join('\n') + '\n');
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'broker', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const { port, version } = await readyLine(child, 'stderr', /Listening on [^\s]+:(\d+)/, /mqbench version (\S+) running/, 'bundled broker');
    return {
      kind: 'bundled',
      label: 'bundled',
      version,
      host: '127.0.0.1',
      port,
      pid: child.pid!,
      output: outputOf(child),
      exitStatus: exitStatusOf(child),
      stop: stopper(child, () => rmSync(dir, { recursive: true, force: true })),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startAedes(): Promise<LocalBroker> {
  const entry = fileURLToPath(new URL('./aedes-child.js', import.meta.url));
  const child = spawn(process.execPath, [entry], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { port, version } = await readyLine(child, 'stdout', /LISTENING (\d+)/, /LISTENING \d+ (\S+)/, 'aedes');
  return { kind: 'aedes', label: `aedes ${version}`, version, host: '127.0.0.1', port, pid: child.pid!, output: outputOf(child), exitStatus: exitStatusOf(child), stop: stopper(child) };
}

const outputs = new WeakMap<ChildProcess, { text: string }>();

function exitStatusOf(child: ChildProcess): () => string | undefined {
  return () => (child.exitCode === null && child.signalCode === null ? undefined : describeExit(child.exitCode, child.signalCode));
}

function outputOf(child: ChildProcess): () => string {
  return () => outputs.get(child)?.text ?? '';
}

/** Wait for the line announcing the port (and the version) on `stream`; keep collecting output afterwards. */
function readyLine(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  portPattern: RegExp,
  versionPattern: RegExp,
  name: string,
): Promise<{ port: number; version: string }> {
  const log = { text: '' };
  outputs.set(child, log);
  const collect = (s: string) => (log.text = (log.text + s).slice(-200_000));
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new BrokerStartError(`${name} failed to start: ${why}${log.text.trim() ? `\n${log.text.trim().split('\n').slice(-15).join('\n')}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not listening within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.once('error', (err) => fail(err.message));
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited with ${signal ?? `code ${code}`}`);
    child.once('exit', onExit);
    const watch = () => {
      const p = portPattern.exec(log.text);
      const v = versionPattern.exec(log.text);
      if (p && v) {
        clearTimeout(timer);
        child.off('exit', onExit);
        child[stream]!.off('data', watch);
        resolve({ port: Number(p[1]), version: v[1] });
      }
    };
    child[stream]!.on('data', watch);
  });
}

function stopper(child: ChildProcess, after?: () => void): () => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      after?.();
    })());
}
