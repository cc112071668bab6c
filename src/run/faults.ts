/**
 * A run's broker faults, in the main thread: at each fault's time the broker mqbench started is stopped by the fault's
 * signal, every worker marks the moment (so that what was acknowledged before it can be told apart), and after the
 * down time the broker is started again with the same config, data directory and port. Every step is bounded: a
 * broker that cannot be stopped or does not come back ends the run with the reason.
 */
import { faultSignal, type Fault } from '../scenario/schema.js';
import { Timer, Timers } from '../util/timers.js';
import type { FaultRun } from './result.js';

/** What the faults need of the broker: the launcher's LocalBroker (launch/local-broker.ts) is one. */
export interface FaultBroker {
  readonly pid: number;
  kill(signal: 'SIGKILL' | 'SIGTERM', graceMs?: number): Promise<string>;
  restart(timeoutMs: number, signal?: AbortSignal): Promise<void>;
}

export interface FaultDriverOptions {
  /** Milliseconds since the run's start, on the clock the fault times are written in. */
  nowMs(): number;
  /** Tell every worker fault `index` (from 0) happened; resolves with the workers that did not confirm in time. */
  mark(index: number): Promise<number[]>;
  /**
   * How long a broker may take to come back, and to shut down on SIGTERM before it is killed. The run's reply
   * timeout, at least MIN_RESTART_TIMEOUT_MS.
   */
  timeoutMs: number;
  /** Each step as it happens: the broker has stopped (`down`), is back (`up`), or did not come back (`failed`). */
  onEvent?(phase: 'down' | 'up' | 'failed', fault: FaultRun): void;
}

/** A broker started again is given at least this long, however short the reply timeout. */
export const MIN_RESTART_TIMEOUT_MS = 2_000;

export class FaultDriver {
  private readonly records: FaultRun[];
  private readonly timers = new Timers((err) => this.lose(`an internal error while running the faults (${err instanceof Error ? err.message : String(err)})`));
  /** The faults run one after another: a fault due while the one before is still going waits for it. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly abandon = new AbortController();
  /** Wakes a down time early: the run is ending and the broker should be back for the drain. */
  private readonly hurry = new AbortController();
  private lost = false;
  private markLost: (why: string) => void = () => undefined;
  /** Resolves with the reason when the broker could not be stopped or did not come back: the run ends then. */
  readonly brokerLost: Promise<string> = new Promise((resolve) => (this.markLost = resolve));

  constructor(
    private readonly faults: readonly Fault[],
    private readonly broker: FaultBroker,
    private readonly opts: FaultDriverOptions,
  ) {
    this.records = faults.map((f, i) => ({
      index: i + 1,
      action: f.action,
      signal: faultSignal(f.action),
      atMs: f.atMs,
      downForMs: f.downMs,
      firedAtMs: null,
      brokerExit: null,
      stoppedAtMs: null,
      backAtMs: null,
      pidBefore: null,
      pidAfter: null,
      error: null,
      unconfirmedWorkers: 0,
    }));
  }

  /** Schedule every fault on the run's clock (the run has just started). */
  start(): void {
    const now = this.opts.nowMs();
    this.faults.forEach((f, i) => this.timers.schedule(new Timer(() => this.enqueue(i)), Math.max(0, f.atMs - now)));
  }

  /** The run is ending: no fault starts from now on; one in its down time skips the rest of it, to be back sooner. */
  close(): void {
    this.closed = true;
    this.timers.close();
    this.hurry.abort();
  }

  /** Stop at once (the run was interrupted): a down time or a start in progress is abandoned. */
  abort(): void {
    this.close();
    this.abandon.abort();
  }

  /** Resolves once no fault is in progress (after close() or abort(), for good). */
  settled(): Promise<void> {
    return this.chain;
  }

  /** What happened, fault by fault (a fault that never started has firedAtMs null). */
  results(): FaultRun[] {
    return this.records.map((r) => ({ ...r }));
  }

  private enqueue(i: number): void {
    this.chain = this.chain.then(() => this.run(i));
  }

  private async run(i: number): Promise<void> {
    if (this.closed || this.lost) return;
    const f = this.faults[i];
    const rec = this.records[i];
    const { opts } = this;
    rec.firedAtMs = opts.nowMs();
    rec.pidBefore = this.broker.pid;
    try {
      rec.brokerExit = await this.broker.kill(rec.signal, opts.timeoutMs);
      rec.stoppedAtMs = opts.nowMs();
    } catch (err) {
      this.fail(rec, `the broker could not be stopped for fault ${rec.index} (${f.action}): ${(err as Error).message}`);
      return;
    }
    // The broker starts again only once every worker has marked the fault: no acknowledgement of the new broker can
    // then be taken for one of the old.
    rec.unconfirmedWorkers = (await opts.mark(i)).length;
    opts.onEvent?.('down', { ...rec });
    if (f.downMs > 0) await sleep(f.downMs, this.hurry.signal);
    if (this.abandon.signal.aborted) {
      rec.error = 'the run was stopped before the broker was started again';
      return;
    }
    try {
      await this.broker.restart(opts.timeoutMs, this.abandon.signal);
    } catch (err) {
      if (this.abandon.signal.aborted) rec.error = 'the run was stopped while the broker was being started again';
      else this.fail(rec, `the broker did not come back within ${formatMs(opts.timeoutMs)} after fault ${rec.index} (${f.action}): ${(err as Error).message}`);
      return;
    }
    rec.backAtMs = opts.nowMs();
    rec.pidAfter = this.broker.pid;
    opts.onEvent?.('up', { ...rec });
  }

  private fail(rec: FaultRun, why: string): void {
    rec.error = why;
    this.opts.onEvent?.('failed', { ...rec });
    this.lose(why);
  }

  private lose(why: string): void {
    if (this.lost) return;
    this.lost = true;
    this.closed = true;
    this.timers.close();
    this.markLost(why);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
