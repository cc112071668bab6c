/**
 * A broker as a child process that can be stopped by a signal and started again with the same command line, config
 * file, data directory and port: what a scenario's broker faults need. Every wait is bounded, and a broker still
 * running when mqbench exits is killed with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { describeExit } from './mosquitto.js';

export class BrokerStartError extends Error {
  readonly code = 'BROKER_START_FAILED';
}

/** How to start one broker process and tell that it is ready. */
export interface ChildSpec {
  /** "mosquitto", "bundled broker", "aedes": for messages. */
  name: string;
  command: string;
  args: string[];
  host: string;
  port: number;
  /**
   * Ready when the port accepts a connection while the process runs (`port`), or when the process has printed a line
   * matching `pattern` on its standard error or output since it started (`line`).
   */
  ready: { kind: 'port' } | { kind: 'line'; pattern: RegExp };
  /** Removed once the broker is stopped for good (config file, data directory). */
  dir: string | undefined;
}

/** Output kept per broker (its log), across restarts. */
const OUTPUT_LIMIT = 200_000;
/** A broker asked to stop with SIGTERM that has not exited after this long is killed. */
const STOP_GRACE_MS = 5_000;
/** How long a SIGKILLed process may take to be reaped before that counts as a failure. */
const KILL_REAP_MS = 5_000;
/** Between two attempts to start a broker that failed at once (its port still taken, say). */
const RETRY_PAUSE_MS = 100;
/** Between two looks at a port that is not accepting connections yet. */
const PORT_POLL_MS = 25;

/** Every broker process running, killed if mqbench exits without stopping them (a second Ctrl-C, an exception). */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
}

export class ChildBroker {
  /** The current process (the latest start); undefined before the first. */
  private child: ChildProcess | undefined;
  private log = '';
  private stopping: Promise<void> | undefined;

  private constructor(readonly spec: ChildSpec) {}

  /** Start the broker once: a start that fails (its port taken, a config it refuses) is not tried again. */
  static async start(spec: ChildSpec, timeoutMs: number): Promise<ChildBroker> {
    const broker = new ChildBroker(spec);
    await broker.launch(Date.now() + timeoutMs, undefined, false);
    return broker;
  }

  /** Process id of the current process. */
  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** Everything the broker printed, over all its starts (the last OUTPUT_LIMIT characters). */
  output(): string {
    return this.log;
  }

  /** How the current process ended ("killed by SIGKILL", "exited with code 1"), or undefined while it runs. */
  exitStatus(): string | undefined {
    return exitStatusOf(this.child);
  }

  /**
   * Send `signal` to the broker and wait for it to end: SIGKILL at once; SIGTERM lets it shut down (Mosquitto saves
   * its database then) for up to `graceMs`, after which it is killed. Resolves with how it ended.
   */
  async kill(signal: 'SIGKILL' | 'SIGTERM', graceMs = STOP_GRACE_MS): Promise<string> {
    const child = this.child;
    if (child === undefined) throw new Error(`${this.spec.name} was never started`);
    if (!alive(child)) return exitStatusOf(child)!;
    const exited = exitOf(child);
    child.kill(signal);
    const grace = signal === 'SIGKILL' ? 0 : graceMs;
    const escalate = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), grace);
    const reaped = await withTimeout(exited, grace + KILL_REAP_MS);
    clearTimeout(escalate);
    if (!reaped) throw new BrokerStartError(`${this.spec.name} (pid ${child.pid}) did not exit within ${(grace + KILL_REAP_MS) / 1000} s of ${signal}`);
    return exitStatusOf(child)!;
  }

  /**
   * Start the broker again after it ended: the same command line, config file, data directory and port. A start that
   * fails at once (the port still held, a crash on start-up) is tried again until `timeoutMs` has passed; aborting
   * kills a process being started. Rejects with BrokerStartError naming the last reason and the broker's last lines.
   */
  async restart(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (alive(this.child)) throw new Error(`${this.spec.name} is still running (pid ${this.pid}): stop it before starting it again`);
    if (this.stopping !== undefined) throw new Error(`${this.spec.name} was stopped for good`);
    await this.launch(Date.now() + timeoutMs, signal, true);
  }

  /** Stop for good: SIGTERM (SIGKILL after a grace period), then remove its files. Safe to call more than once. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      const child = this.child;
      if (alive(child)) await this.kill('SIGTERM').catch(() => undefined);
      if (this.spec.dir !== undefined) rmSync(this.spec.dir, { recursive: true, force: true });
    })());
  }

  private async launch(deadline: number, signal: AbortSignal | undefined, retry: boolean): Promise<void> {
    let why = '';
    for (;;) {
      if (signal?.aborted) throw new BrokerStartError(`${this.spec.name}: start abandoned (the run was stopped)`);
      if (this.stopping !== undefined) throw new BrokerStartError(`${this.spec.name}: start abandoned (stopped)`);
      const outcome = await this.spawnOnce(deadline, signal);
      if (outcome === null) return;
      why = outcome;
      if (!retry || signal?.aborted || Date.now() + RETRY_PAUSE_MS >= deadline) break;
      await sleep(RETRY_PAUSE_MS, signal);
    }
    const tail = lastLines(this.log, 15);
    throw new BrokerStartError(`${this.spec.name} failed to start on ${this.spec.host}:${this.spec.port}: ${why}${tail === '' ? '' : `\n${tail}`}`);
  }

  /** One start: null when it is ready, else why not (the process is then gone). */
  private async spawnOnce(deadline: number, signal: AbortSignal | undefined): Promise<string | null> {
    const { spec } = this;
    const child = spawn(spec.command, spec.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    track(child);
    let since = '';
    const collect = (s: string): void => {
      since += s;
      if (since.length > OUTPUT_LIMIT) since = since.slice(-OUTPUT_LIMIT);
      this.log = (this.log + s).slice(-OUTPUT_LIMIT);
    };
    child.stdout!.setEncoding('utf8').on('data', collect);
    child.stderr!.setEncoding('utf8').on('data', collect);
    let spawnError: string | undefined;
    child.once('error', (err) => (spawnError = err.message));
    const exited = exitOf(child);
    let dead = false;
    void exited.then(() => (dead = true));
    const ready = spec.ready;
    for (;;) {
      if (spawnError !== undefined) return `cannot run ${spec.command}: ${spawnError}`;
      if (dead) return `${exitStatusOf(child)} during start-up`;
      if (signal?.aborted || this.stopping !== undefined || Date.now() >= deadline) {
        child.kill('SIGKILL');
        await withTimeout(exited, KILL_REAP_MS);
        if (signal?.aborted || this.stopping !== undefined) return 'start abandoned';
        return `not ready within the time allowed`;
      }
      if (ready.kind === 'line' ? ready.pattern.test(since) : await canConnect(spec.host, spec.port)) {
        // The port was free when chosen; another process may have taken it first, and a connection above may have
        // reached that one: ours must still be running.
        if (ready.kind === 'port') await sleep(30);
        if (!alive(child)) continue;
        return null;
      }
      await Promise.race([sleep(PORT_POLL_MS), exited]);
    }
  }
}

function alive(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

function exitStatusOf(child: ChildProcess | undefined): string | undefined {
  return child === undefined || alive(child) ? undefined : describeExit(child.exitCode, child.signalCode);
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (!alive(child)) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Whether `p` settled within `ms`. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 1_000);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}
