/**
 * One shard's side of a run split over several processes, over the broker under test:
 *
 * - **Clock.** Shard 0 is the reference: it answers time requests on the run's topic. Every other shard measures
 *   its clock against shard 0's before the run (clock-offset.ts) and again after it.
 * - **Start.** Every shard starts its timeline at the same instant of shard 0's clock: the start time given, read on
 *   shard 0's clock (this shard's clock reads start + offset then). So payload send times, subscription times and
 *   per-second series of all shards share one timeline, as in a single run, and a wrong clock on one host does not
 *   make its shard start early or late. Shard 0's start time is the run's: a shard given another (a relative
 *   `+30s` read at another moment) takes shard 0's, if it is still ahead.
 * - **End.** A run without a duration ends when every client has run its steps; in a split run that is when every
 *   shard's clients have, so a shard whose clients are done waits for the others (their subscribers may still be
 *   receiving from its publishers, and its subscribers from theirs). Each shard keeps its state on a retained
 *   topic, with a will that marks it gone if its process or connection dies; a shard never heard from by
 *   start + ABSENT_GRACE_MS is not waited for.
 *
 * None of this traffic is in the run's counters: it goes over a connection of its own (control-link.ts). Every wait
 * is bounded: the clock exchange by the start time (before) or POST_SYNC_MS (after), each request by
 * REQUEST_TIMEOUT_MS, shard 0's wait for the others' last exchanges by DONE_WAIT_MS.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { RunCoordinator } from '../run/run.js';
import type { Endpoint } from '../engine/transport.js';
import type { PlanOptions, ShardSpec } from '../scenario/plan.js';
import { estimateOffset, type OffsetEstimate, type TimeSample } from './clock-offset.js';
import { ControlLink } from './control-link.js';
import { runRandom } from './identity.js';
import type { WallClock } from './wall-clock.js';

/** Exchanges in one round of clock measurement. */
export const SYNC_SAMPLES = 16;
/** How long one time request may go unanswered. */
export const REQUEST_TIMEOUT_MS = 500;
/** Pause between two exchanges of a round. */
const SAMPLE_GAP_MS = 15;
/** The clock measurement before the run ends this long before the start, answered or not. */
const SYNC_MARGIN_MS = 300;
/** The second round of measurement before the run begins this long before the start. */
const FINAL_ROUND_MS = 1_500;
/** The first round's exchanges count with the second's when they are at most this old. */
const RECENT_MS = 10_000;
/** The measurement after the run may take this long. */
export const POST_SYNC_MS = 5_000;
/** Shard 0 keeps answering after its run for at most this long, until every other shard says it is done. */
export const DONE_WAIT_MS = 15_000;
/** A shard not heard from by this long after the start is taken to be absent, and not waited for. */
export const ABSENT_GRACE_MS = 10_000;
/** The last stretch before the start is waited out by spinning, for a start to the microsecond. */
const SPIN_MS = 2;

export type ShardState = 'ready' | 'idle' | 'done' | 'gone';

export interface ShardCoordinatorOptions {
  shard: ShardSpec;
  /** The run's coordination key (identity.ts). */
  runKey: string;
  /** When the run starts, ms since 1970 on shard 0's clock (as given to this shard; shard 0's own wins). */
  startAtMs: number;
  endpoint: Endpoint;
  protocolVersion: 3 | 4 | 5;
  username?: string;
  password?: string;
  /** How long the broker may take to answer (CONNACK, SUBACK). */
  replyTimeoutMs: number;
  clock: WallClock;
  /** A line for the user (stderr). */
  log(line: string): void;
}

/** How this shard's clock compared with shard 0's, and how its start went: what shard.json keeps. */
export interface ShardClock {
  /** The shard whose clock is the reference. */
  reference: 0;
  before: OffsetEstimate | null;
  after: OffsetEstimate | null;
  /** The offset the start was placed with (µs; `before`'s, or 0 without it). */
  startOffsetUs: number;
  /** This shard's clock at its time zero, µs since 1970 (start + startOffsetUs). */
  epochWallUs: number;
  /** The monotonic clock at time zero, ns (process.hrtime; comparable between processes of one host only). */
  epochMonotonicNs: string;
  /** How late this shard was ready for its start, µs (0: on time): its first clients started that late. */
  lateStartUs: number;
  /** The clock skew injected for testing (MQBENCH_CLOCK_SKEW_MS), ms; 0 normally. */
  injectedSkewMs: number;
  /** The host: its name, and its boot id (Linux), which tells whose monotonic clocks compare. */
  host: { name: string; bootId: string | null };
}

export class ShardStartError extends Error {}

export class ShardCoordinator implements RunCoordinator {
  readonly plan: PlanOptions;
  /** Start time, ms since 1970 on shard 0's clock; shard 0's once it has answered. */
  startAtMs: number;
  private link!: ControlLink;
  private readonly prefix: string;
  private readonly states = new Map<number, ShardState>();
  private state: ShardState = 'ready';
  private before: OffsetEstimate | null = null;
  private after: OffsetEstimate | null = null;
  private beforeRound: Promise<void> = Promise.resolve();
  private pendingAnswer: { id: number; t1: number; resolve(s: TimeSample | null): void } | null = null;
  private nextRequest = 1;
  private stateWaiters: (() => void)[] = [];
  private closed = false;
  private finishing = false;
  /** Ends every wait still open (the link is closing). */
  private readonly cancels = new Set<() => void>();
  private epoch: { hrNs: bigint; wallUs: number; lateUs: number; offsetUs: number } | null = null;
  private startConflict: string | null = null;

  private constructor(private readonly o: ShardCoordinatorOptions) {
    this.prefix = `mqbench-shards/${o.runKey}`;
    this.startAtMs = o.startAtMs;
    this.plan = { shard: o.shard, random: runRandom(o.runKey) };
  }

  get isReference(): boolean {
    return this.o.shard.index === 0;
  }

  /** Connects, subscribes, says this shard is ready, and (shard 0) answers time requests or (others) starts measuring. */
  static async open(o: ShardCoordinatorOptions): Promise<ShardCoordinator> {
    const c = new ShardCoordinator(o);
    const stateTopic = `${c.prefix}/state/${o.shard.index}`;
    c.link = await ControlLink.open({
      endpoint: o.endpoint,
      protocolVersion: o.protocolVersion,
      clientId: `mqbench-${o.runKey.slice(0, 8)}-${o.shard.index}-${Math.floor(Math.random() * 0xffffff).toString(36)}`,
      username: o.username,
      password: o.password,
      will: { topic: stateTopic, payload: c.statePayload('gone'), qos: 1, retain: true },
      keepaliveSec: 10,
      replyTimeoutMs: o.replyTimeoutMs,
      onMessage: (topic, payload) => c.onMessage(topic, payload),
      onReconnect: () => c.publishState(),
      onProblem: (text) => o.log(text),
    });
    const filters = [`${c.prefix}/state/+`];
    filters.push(c.isReference ? `${c.prefix}/time` : `${c.prefix}/time/${o.shard.index}`);
    await c.link.subscribe(filters);
    c.publishState();
    if (!c.isReference) c.beforeRound = c.measureBefore();
    return c;
  }

  // ---- RunCoordinator ---------------------------------------------------------------------------------------------

  async start(signal?: AbortSignal): Promise<{ epochNs: bigint; epochWallMs: number }> {
    await this.beforeRound;
    if (this.startConflict !== null) throw new ShardStartError(this.startConflict);
    const clock = this.o.clock;
    const offsetUs = this.before?.offsetUs ?? 0;
    clock.anchor();
    const wallUs = this.startAtMs * 1000 + offsetUs;
    const hrNs = clock.hrAt(wallUs);
    const lateNs = process.hrtime.bigint() - hrNs;
    const lateUs = lateNs > 0n ? Number(lateNs) / 1000 : 0;
    if (lateUs > 1000) {
      this.o.log(
        `shard ${this.label()}: ready ${(lateUs / 1000).toFixed(1)} ms after the start time: its clients that were due by now start at once ` +
          '(give the shards more time before --start-at)',
      );
    }
    await waitUntil(hrNs, signal);
    this.epoch = { hrNs, wallUs, lateUs, offsetUs };
    // The engine keeps its results.jtl times on the system clock (Date.now()), which the injected skew leaves alone.
    return { epochNs: hrNs, epochWallMs: wallUs / 1000 - clock.skewMs };
  }

  idle(): Promise<void> {
    this.state = 'idle';
    this.publishState();
    return this.until(() => this.everyShardIn(['idle', 'done', 'gone'])).then(() => undefined);
  }

  // ---- after the run ----------------------------------------------------------------------------------------------

  /** Measures the clock again (not shard 0), says this shard is done, and (shard 0) waits for the others; closes. */
  async finish(): Promise<ShardClock> {
    // A run stopped before its start: the measurement before it ends now.
    this.finishing = true;
    await this.beforeRound;
    if (!this.isReference && this.link.isConnected && this.epoch !== null) {
      this.after = await this.measureRound(Date.now() + POST_SYNC_MS, SYNC_SAMPLES);
      if (this.after === null) this.o.log(`shard ${this.label()}: no answer from shard 0 to the clock exchange after the run`);
    }
    this.state = 'done';
    this.publishState();
    if (this.isReference && this.o.shard.count > 1) {
      const waited = await this.until(() => this.everyShardIn(['done', 'gone'], true), DONE_WAIT_MS);
      if (!waited) {
        const missing = this.shardsNotIn(['done', 'gone']);
        this.o.log(`shard ${this.label()}: shard${missing.length === 1 ? '' : 's'} ${missing.join(', ')} did not finish within ${DONE_WAIT_MS / 1000} s of this one; not waiting longer`);
      }
    }
    // The retained state is of no use once the run is over; an empty retained message removes it.
    this.link.publish(`${this.prefix}/state/${this.o.shard.index}`, Buffer.alloc(0), 1, true);
    this.cancelWaits();
    await this.link.close();
    const e = this.epoch;
    return {
      reference: 0,
      before: this.before,
      after: this.after,
      startOffsetUs: e?.offsetUs ?? 0,
      epochWallUs: e?.wallUs ?? this.startAtMs * 1000,
      epochMonotonicNs: (e?.hrNs ?? 0n).toString(),
      lateStartUs: e?.lateUs ?? 0,
      injectedSkewMs: this.o.clock.skewMs,
      host: { name: hostname(), bootId: bootId() },
    };
  }

  /** Closes without the end-of-run steps (the run failed before it started). */
  async abandon(): Promise<void> {
    this.finishing = true;
    this.state = 'gone';
    this.publishState();
    this.cancelWaits();
    await this.link.close();
  }

  private cancelWaits(): void {
    this.closed = true;
    for (const c of [...this.cancels]) c();
  }

  /** The offset the start will use, once the measurement before the run is over (null: none). */
  async offsetBeforeRun(): Promise<OffsetEstimate | null> {
    await this.beforeRound;
    return this.before;
  }

  // ---- clock exchange ---------------------------------------------------------------------------------------------

  /**
   * Two rounds before the start: one at once (it also learns shard 0's start time), and one just before the start,
   * when every shard's workers are up and the hosts are quiet; the exchange with the shortest round trip of both
   * counts, the first round's only if it is recent.
   */
  private async measureBefore(): Promise<void> {
    const deadline = () => this.startAtMs - SYNC_MARGIN_MS;
    const stop = () => this.finishing;
    const early = await this.measureSamples(deadline, SYNC_SAMPLES, stop);
    const earlyEndMs = Date.now();
    let samples = early;
    const lateStart = this.startAtMs - FINAL_ROUND_MS;
    if (this.startConflict === null && lateStart - Date.now() > SAMPLE_GAP_MS * 2) {
      await sleepUntil(() => this.startAtMs - FINAL_ROUND_MS, stop);
      const late = await this.measureSamples(deadline, SYNC_SAMPLES, stop);
      if (late.length > 0) samples = Date.now() - earlyEndMs < RECENT_MS ? [...early, ...late] : late;
    }
    this.before = estimateOffset(samples) ?? null;
    if (this.startConflict !== null) return;
    if (this.before === null) {
      const why = Date.now() >= deadline() ? 'before the start time' : 'in time';
      this.o.log(
        `shard ${this.label()}: no answer from shard 0 on ${this.prefix}/time ${why}: this shard starts by its own clock, and cross-shard ` +
          'latencies get a bound only from the measurement after the run (are all shards given the same scenario, --shards and broker?)',
      );
    } else {
      const b = this.before;
      this.o.log(
        `shard ${this.label()}: clock ${formatOffset(b.offsetUs)} against shard 0 (± ${(b.errorUs / 1000).toFixed(3)} ms, best round trip ` +
          `${(b.rttUs / 1000).toFixed(3)} ms of ${b.samples} exchanges)`,
      );
    }
  }

  private async measureRound(deadline: number, samples: number): Promise<OffsetEstimate | null> {
    return estimateOffset(await this.measureSamples(() => deadline, samples, () => this.closed)) ?? null;
  }

  /** Exchanges until `samples` are answered or the deadline (ms since 1970, this host; re-read each time) passes. */
  private async measureSamples(until: () => number, samples: number, stop: () => boolean): Promise<TimeSample[]> {
    const got: TimeSample[] = [];
    while (got.length < samples && Date.now() < until() && this.startConflict === null && !stop()) {
      const left = until() - Date.now();
      const s = await this.exchange(Math.min(REQUEST_TIMEOUT_MS, Math.max(1, left)));
      if (s !== null) got.push(s);
      else if (!this.link.isConnected) await sleep(Math.min(250, Math.max(0, until() - Date.now())));
      await sleep(SAMPLE_GAP_MS);
    }
    return got;
  }

  private exchange(timeoutMs: number): Promise<TimeSample | null> {
    const id = this.nextRequest++;
    return new Promise<TimeSample | null>((resolve) => {
      const timer = setTimeout(() => {
        this.pendingAnswer = null;
        resolve(null);
      }, timeoutMs);
      const t1 = this.o.clock.nowUs();
      this.pendingAnswer = {
        id,
        t1,
        resolve: (s) => {
          clearTimeout(timer);
          this.pendingAnswer = null;
          resolve(s);
        },
      };
      const sent = this.link.publish(`${this.prefix}/time`, JSON.stringify({ shard: this.o.shard.index, id, t1 }), 0, false);
      if (!sent) this.pendingAnswer.resolve(null);
    });
  }

  // ---- messages ---------------------------------------------------------------------------------------------------

  private onMessage(topic: string, payload: Buffer): void {
    const now = this.o.clock.nowUs();
    if (topic === `${this.prefix}/time`) {
      if (!this.isReference) return;
      const req = parseJson(payload) as { shard?: unknown; id?: unknown; t1?: unknown } | undefined;
      if (req === undefined || typeof req.shard !== 'number' || typeof req.id !== 'number' || typeof req.t1 !== 'number') return;
      const answer = { id: req.id, t1: req.t1, t2: now, t3: 0, startAtMs: this.startAtMs, shards: this.o.shard.count };
      answer.t3 = this.o.clock.nowUs();
      this.link.publish(`${this.prefix}/time/${req.shard}`, JSON.stringify(answer), 0, false);
      return;
    }
    if (topic === `${this.prefix}/time/${this.o.shard.index}`) {
      const a = parseJson(payload) as { id?: unknown; t1?: unknown; t2?: unknown; t3?: unknown; startAtMs?: unknown; shards?: unknown } | undefined;
      const pending = this.pendingAnswer;
      if (a === undefined || pending === null || a.id !== pending.id || typeof a.t2 !== 'number' || typeof a.t3 !== 'number') return;
      if (typeof a.shards === 'number' && a.shards !== this.o.shard.count) {
        this.startConflict = `shard 0 runs with ${a.shards} shards, this shard with ${this.o.shard.count}: give every shard the same --shards`;
        pending.resolve(null);
        return;
      }
      if (typeof a.startAtMs === 'number' && a.startAtMs !== this.startAtMs) this.adoptStart(a.startAtMs);
      pending.resolve({ t1: pending.t1, t2: a.t2, t3: a.t3, t4: now });
      return;
    }
    const m = new RegExp(`^${escapeRegExp(this.prefix)}/state/(\\d+)$`).exec(topic);
    if (m === null || payload.length === 0) return;
    const s = parseJson(payload) as { state?: unknown; startAtMs?: unknown } | undefined;
    // A retained state left by an earlier run with the same key has another start time.
    if (s === undefined || s.startAtMs !== this.startAtMs || !isState(s.state)) return;
    this.states.set(Number(m[1]), s.state);
    this.wakeStateWaiters();
  }

  /** Shard 0's start time differs from the one given here: shard 0's is the run's, if it is still ahead. */
  private adoptStart(reference: number): void {
    const given = this.startAtMs;
    const ahead = reference - (Date.now() - (this.before?.offsetUs ?? 0) / 1000);
    if (ahead < SYNC_MARGIN_MS) {
      this.startConflict =
        `shard 0 starts at ${new Date(reference).toISOString()}, ${ahead < 0 ? `${(-ahead / 1000).toFixed(1)} s ago` : 'too soon to join'}, ` +
        `and this shard was given ${new Date(given).toISOString()}: give every shard the same absolute --start-at`;
      return;
    }
    this.startAtMs = reference;
    this.o.log(`shard ${this.label()}: starting at shard 0's start time ${new Date(reference).toISOString()} (given ${new Date(given).toISOString()})`);
    this.states.clear();
    this.publishState();
    // The retained states sent so far were read against the other start time: have them sent again.
    this.link.subscribe([`${this.prefix}/state/+`]).catch(() => undefined);
  }

  private publishState(): void {
    this.link?.publish(`${this.prefix}/state/${this.o.shard.index}`, this.statePayload(this.state), 1, true);
  }

  private statePayload(state: ShardState): Buffer {
    return Buffer.from(JSON.stringify({ shard: this.o.shard.index, state, startAtMs: this.startAtMs }));
  }

  private everyShardIn(states: ShardState[], othersOnly = false): boolean {
    return this.shardsNotIn(states, othersOnly).length === 0;
  }

  /** Shards not (yet) in one of `states`; a shard never heard from counts as absent once the grace is over. */
  private shardsNotIn(states: ShardState[], othersOnly = true): number[] {
    const graceOver = Date.now() - (this.before?.offsetUs ?? 0) / 1000 > this.startAtMs + ABSENT_GRACE_MS;
    const out: number[] = [];
    for (let i = 0; i < this.o.shard.count; i++) {
      if (i === this.o.shard.index && (othersOnly || states.includes(this.state))) continue;
      const s = this.states.get(i);
      if (s === undefined ? !graceOver : !states.includes(s)) out.push(i);
    }
    return out;
  }

  /** Resolves true once `cond()` holds (checked on every state message and each second), false after `timeoutMs`. */
  private until(cond: () => boolean, timeoutMs = Infinity): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      if (cond()) {
        resolve(true);
        return;
      }
      const poll = setInterval(check, 1_000);
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => done(false), timeoutMs) : null;
      function check(): void {
        if (cond()) done(true);
      }
      const done = (ok: boolean) => {
        clearInterval(poll);
        if (timer) clearTimeout(timer);
        this.stateWaiters = this.stateWaiters.filter((w) => w !== check);
        this.cancels.delete(cancel);
        resolve(ok);
      };
      const cancel = () => done(false);
      this.cancels.add(cancel);
      this.stateWaiters.push(check);
    });
  }

  private wakeStateWaiters(): void {
    for (const w of [...this.stateWaiters]) w();
  }

  private label(): string {
    return `${this.o.shard.index}/${this.o.shard.count}`;
  }
}

/** Resolves at monotonic instant `hrNs` (a timer, then a spin for the last SPIN_MS), or early when aborted. */
async function waitUntil(hrNs: bigint, signal?: AbortSignal): Promise<void> {
  for (;;) {
    const leftMs = Number(hrNs - process.hrtime.bigint()) / 1e6;
    if (leftMs <= SPIN_MS || signal?.aborted) break;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(leftMs - SPIN_MS, 1_000));
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
  while (process.hrtime.bigint() < hrNs && !signal?.aborted) {
    // spin: the last couple of milliseconds, for a start to the microsecond rather than to the timer's millisecond
  }
}

/** This boot of this machine (Linux); null elsewhere. */
function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** Sleeps until Date.now() reaches `at()` (re-read after each second: the start time may change meanwhile). */
async function sleepUntil(at: () => number, stop: () => boolean): Promise<void> {
  for (let left = at() - Date.now(); left > 0 && !stop(); left = at() - Date.now()) await sleep(Math.min(left, 250));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function isState(s: unknown): s is ShardState {
  return s === 'ready' || s === 'idle' || s === 'done' || s === 'gone';
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** "+250.012 ms" / "-0.043 ms". */
export function formatOffset(us: number): string {
  return `${us >= 0 ? '+' : '-'}${(Math.abs(us) / 1000).toFixed(3)} ms`;
}
