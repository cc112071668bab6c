/**
 * A broker under attack, as a process of its own so that its crash is observed rather than suffered: the bundled
 * broker (bench/harness/broker-child.ts, which also reports its event-loop delay) or Mosquitto. Both get the same
 * mosquitto.conf lines.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { describeExit, startMosquitto } from '../../src/launch/mosquitto.js';
import { forget, remember } from './children.js';
import { compiledEntry } from './compiled.js';
import type { FromBrokerChild, ToBrokerChild } from './broker-messages.js';

export type WatchedBrokerKind = 'bundled' | 'mosquitto';
export const WATCHED_BROKER_KINDS: readonly WatchedBrokerKind[] = ['bundled', 'mosquitto'];

export interface WatchedBroker {
  kind: WatchedBrokerKind;
  /** "bundled 0.1.0", "mosquitto 2.0.11". */
  label: string;
  host: string;
  port: number;
  pid: number;
  /** The process's log (stderr and stdout), the last 200,000 characters. */
  output(): string;
  /** How the process ended when it ended on its own ("exited with code 1"); undefined while it runs or once stop() ended it. */
  crash(): string | undefined;
  /** Settles when the process ends on its own, with how it ended; never settles when stop() ends it. */
  readonly crashed: Promise<string>;
  /** The broker's own event-loop delay, where the broker reports it (the bundled broker does; Mosquitto cannot). */
  readonly loopDelay: LoopDelayLog | undefined;
  stop(): Promise<void>;
}

export class BrokerStartError extends Error {
  readonly code = 'BROKER_START_FAILED';
}

const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;
const LOOP_REPORT_MS = 100;
const OUTPUT_KEPT_CHARS = 200_000;
/** Mosquitto is not our child process object, so its end is noticed by polling. */
const MOSQUITTO_POLL_MS = 50;

/** The longest event-loop delays a broker reports; windows see the reports that arrive while they are open. */
export class LoopDelayLog {
  private readonly open = new Set<LoopDelayWindow>();
  /** Longest delay since the broker started, ms. */
  maxMs = 0;

  report(maxMs: number): void {
    if (maxMs > this.maxMs) this.maxMs = maxMs;
    for (const w of this.open) if (maxMs > w.maxMs) w.maxMs = maxMs;
  }

  /** A window that records the longest delay reported until it is closed. */
  window(): LoopDelayWindow {
    const w = new LoopDelayWindow(this.open);
    this.open.add(w);
    return w;
  }
}

export class LoopDelayWindow {
  maxMs = 0;
  constructor(private readonly owner: Set<LoopDelayWindow>) {}
  close(): number {
    this.owner.delete(this);
    return this.maxMs;
  }
}

export function startWatchedBroker(kind: WatchedBrokerKind, conf: readonly string[]): Promise<WatchedBroker> {
  return kind === 'bundled' ? startBundled(conf) : startWatchedMosquitto(conf);
}

async function startWatchedMosquitto(conf: readonly string[]): Promise<WatchedBroker> {
  let m: Awaited<ReturnType<typeof startMosquitto>>;
  try {
    m = await startMosquitto({ config: [...conf] });
  } catch (err) {
    throw new BrokerStartError(`mosquitto failed to start: ${(err as Error).message}`);
  }
  remember(m.pid);
  let stopping = false;
  let crashStatus: string | undefined;
  const crashed = new Promise<string>((resolve) => {
    const timer = setInterval(() => {
      const status = m.exitStatus();
      if (status === undefined) return;
      clearInterval(timer);
      forget(m.pid);
      if (stopping) return;
      crashStatus = status;
      resolve(status);
    }, MOSQUITTO_POLL_MS);
    timer.unref();
  });
  return {
    kind: 'mosquitto',
    label: `mosquitto ${m.version}`,
    host: m.host,
    port: m.port,
    pid: m.pid,
    output: m.output,
    crash: () => crashStatus,
    crashed,
    loopDelay: undefined,
    stop: async () => {
      if (crashStatus === undefined) stopping = true;
      await m.stop();
      forget(m.pid);
    },
  };
}

async function startBundled(conf: readonly string[]): Promise<WatchedBroker> {
  const entry = compiledEntry('./broker-child.js', import.meta.url);
  const child: ChildProcess = fork(entry, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const pid = child.pid;
  if (pid === undefined) throw new BrokerStartError('the bundled broker process did not start');
  remember(pid);
  let output = '';
  const collect = (s: string): void => {
    output = (output + s).slice(-OUTPUT_KEPT_CHARS);
  };
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  const loopDelay = new LoopDelayLog();
  let stopping = false;
  let crashStatus: string | undefined;
  let exitStatus: string | undefined;
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      forget(pid);
      exitStatus = describeExit(code, signal);
      resolve(exitStatus);
    }),
  );
  const crashed = new Promise<string>((resolve) => {
    void exited.then((status) => {
      if (stopping) return;
      crashStatus = status;
      resolve(status);
    });
  });
  const ready = new Promise<{ host: string; port: number; version: string }>((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      const said = output.trim().split('\n').slice(-15).join('\n');
      reject(new BrokerStartError(`the bundled broker failed to start: ${why}${said ? `\n${said}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not listening within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    void exited.then((status) => fail(status));
    child.once('error', (err) => fail(err.message));
    child.on('message', (message: FromBrokerChild) => {
      if (message.type === 'loop-delay') loopDelay.report(message.maxMs);
      else if (message.type === 'start-failed') fail(message.message);
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(message);
      }
    });
  });
  child.send({ type: 'start', conf: [...conf], reportEveryMs: LOOP_REPORT_MS } satisfies ToBrokerChild);
  const { host, port, version } = await ready;
  let stopped: Promise<void> | undefined;
  return {
    kind: 'bundled',
    label: `bundled ${version}`,
    host,
    port,
    pid,
    output: () => output,
    crash: () => crashStatus,
    crashed,
    loopDelay,
    stop: () =>
      (stopped ??= (async () => {
        if (exitStatus !== undefined) return;
        stopping = true;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      })()),
  };
}

/** The last `n` lines of a broker's log, for a crash report. */
export function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/**
 * What a dead broker said about its death: from the source line Node points at to a few stack frames below the
 * error, or the log's last lines when no error is named.
 */
export function crashExcerpt(log: string, frames = 6): string {
  const lines = log.trimEnd().split('\n');
  let at = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (ERROR_LINE.test(lines[i])) {
      at = i;
      break;
    }
  }
  if (at < 0) return lastLines(log, 15);
  // Node prints "file:line", the source line and a caret, then a blank line, before the error.
  const from = Math.max(0, at - 4);
  const shown = lines.slice(from, at + 1 + frames);
  const hidden = lines.slice(at + 1 + frames).filter((l) => l.trim().startsWith('at ')).length;
  if (hidden > 0) shown.push(`    … ${hidden} more stack frames`);
  return shown.join('\n');
}

const ERROR_LINE = /^\s*[A-Za-z]*Error\b.*:/;

/** The first line naming an error in a log, e.g. "RangeError: Maximum call stack size exceeded". */
export function firstErrorLine(log: string): string | undefined {
  return log.split('\n').find((l) => ERROR_LINE.test(l))?.trim();
}
