/**
 * One run of a scenario against one broker endpoint: check the broker answers, split the clients over worker
 * threads, follow their progress, stop and start the broker at the scenario's faults, stop at the scenario's end
 * (or on request), and aggregate what they measured.
 */
import { connect as netConnect } from 'node:net';
import { readFileSync } from 'node:fs';
import { liveQuantile } from '../metrics/live-quantiles.js';
import type { CounterName } from '../metrics/series.js';
import { planRun, type PlanOptions, type RunPlan } from '../scenario/plan.js';
import type { Scenario, Step } from '../scenario/schema.js';
import { FlowGate, type FlowGateInit } from '../engine/flow-gate.js';
import { newEpoch, RunClock } from '../engine/clock.js';
import type { EngineInit, EngineReport, JtlRow, ProgressSnapshot } from '../engine/engine.js';
import type { Endpoint, TlsMaterial } from '../engine/transport.js';
import { RunPool, type WorkerHeap } from '../pool/pool.js';
import type { FromWorker } from '../pool/messages.js';
import { aggregate, type Aggregated, type RunFacts } from './aggregate.js';
import { FaultDriver, MIN_RESTART_TIMEOUT_MS, type FaultBroker } from './faults.js';
import type { BrokerSys, FaultRun, RunResult } from './result.js';
import { SysObserver } from './sys-observer.js';
import { portShortfall, unbindableSource } from '../util/source-addresses.js';
import { Timer, Timers } from '../util/timers.js';

export type { WorkerHeap };

export class BrokerUnreachableError extends Error {
  readonly code = 'BROKER_UNREACHABLE';
}

/** The source addresses cannot carry the run: not this machine's, or too few for its clients' local ports. */
export class SourceAddressError extends Error {
  readonly code = 'SOURCE_ADDRESSES';
}

export interface RunSetup {
  scenario: Scenario;
  endpoint: Endpoint;
  target: RunResult['target'];
  workers: number;
  version: string;
  /** Most QoS 1/2 messages a client keeps unacknowledged (also capped by the broker's Receive Maximum). */
  maxInflight?: number;
  /** One shard of a run split over several processes: its share of the clients, its start, its end. */
  coordinator?: RunCoordinator;
  /** The broker process mqbench started, which the scenario's faults stop and start; required when it has faults. */
  broker?: FaultBroker;
}

/**
 * What a run split over several processes (src/shard/) decides for this one: which clients it plans, when its
 * timeline starts, and when a run without a duration is over (when every shard's clients are, not only its own).
 */
export interface RunCoordinator {
  /** This process's share of the clients (and the random source for their ids, the same in every process). */
  readonly plan: PlanOptions;
  /** Called once every worker is ready; resolves at the start instant with the run's epoch. */
  start(signal?: AbortSignal): Promise<{ epochNs: bigint; epochWallMs: number }>;
  /** Every client of this process has run its steps; resolves when every process's have. */
  idle(): Promise<void>;
}

/** The run as the live console line shows it, once a second. */
export interface RunProgress {
  elapsedSec: number;
  clients: number;
  connected: number;
  finishedClients: number;
  sentPerSec: number;
  receivedPerSec: number;
  errors: number;
  /** End-to-end p99 over everything received so far, µs; undefined before the first message. */
  p99Us: number | undefined;
}

/** What a run's caller may ask of it while it runs. */
export interface RunControl {
  /**
   * Every worker thread's V8 heap in use; with `collect`, each after a full garbage collection where Node runs with
   * --expose-gc (for memory measurements: the figure is then live memory, not garbage awaiting collection). Fails
   * when a worker has not answered within `timeoutMs`.
   */
  workerHeaps(collect: boolean, timeoutMs: number): Promise<WorkerHeap[]>;
}

export interface RunHooks {
  /** The broker answered and every worker is ready: the clients start now. */
  onStart?(run: RunControl): void;
  onProgress?(p: RunProgress): void;
  /** results.jtl rows, as they come (about once a second). */
  onJtl?(rows: JtlRow[]): void;
  /** Each worker's progress snapshot as it comes (once a second per worker), for the live metrics endpoint. */
  onSnapshot?(worker: number, snapshot: ProgressSnapshot): void;
  /** The workers' final reports once they have stopped, and the run's facts, before they are aggregated (a shard keeps them for the merge). */
  onReports?(reports: readonly EngineReport[], facts: RunFacts): void;
  /** A broker fault's steps: the broker has stopped (`down`), is back (`up`), or did not come back (`failed`). */
  onFault?(phase: 'down' | 'up' | 'failed', fault: FaultRun): void;
  /**
   * Aborting stops the run as its end would (clients stop, subscribers receive for the drain time, everyone
   * disconnects); the result says it was interrupted.
   */
  signal?: AbortSignal;
}

/** Default client-side window of unacknowledged QoS 1/2 messages: Mosquitto's max_inflight_messages. */
export const DEFAULT_MAX_INFLIGHT = 20;

export async function runScenario(setup: RunSetup, hooks: RunHooks = {}): Promise<Aggregated> {
  const { scenario } = setup;
  if (scenario.faults.length > 0 && setup.broker === undefined) {
    throw new Error('a scenario with faults runs against a broker mqbench started (RunSetup.broker): it stops and starts it');
  }
  const coordinator = setup.coordinator;
  const plan = colocateSharedIds(planRun(scenario, setup.workers, coordinator?.plan));
  // A shard's local ports are for its own share of the clients.
  await checkSources(setup.endpoint, plan.totalClients);
  await checkReachable(setup.endpoint, setup.target.url);
  const flow = flowGateFor(scenario);
  const inits: EngineInit[] = plan.workers.map((w) => ({
    scenario,
    clients: w.clients,
    endpoint: setup.endpoint,
    maxInflight: setup.maxInflight ?? DEFAULT_MAX_INFLIGHT,
    flow,
    ...(plan.shardOfSlot !== undefined ? { shardOfSlot: plan.shardOfSlot } : {}),
  }));

  const progress = new ProgressMerger(plan.totalClients, inits.length);
  let idleWorkers = 0;
  let readyWorkers = 0;
  let epochWallMs = 0;
  let markReady: () => void = () => undefined;
  const allReady = new Promise<void>((resolve) => (markReady = resolve));
  let finish: (why: RunResult['stoppedBy']) => void = () => undefined;
  const finished = new Promise<RunResult['stoppedBy']>((resolve) => (finish = resolve));
  const pool = new RunPool(inits, {
    message(m: FromWorker) {
      if (m.type === 'ready') {
        if (++readyWorkers === inits.length) markReady();
      } else if (m.type === 'progress') {
        if (m.snapshot.jtl.length > 0) hooks.onJtl?.(m.snapshot.jtl);
        hooks.onSnapshot?.(m.worker, m.snapshot);
        const view = progress.add(m.worker, m.snapshot);
        if (view) hooks.onProgress?.(view);
      } else if (m.type === 'idle' && ++idleWorkers === inits.length && scenario.durationMs === undefined) {
        // Without a duration the run ends when every client has run its steps; with one, it lasts that long.
        if (coordinator === undefined) finish('completed');
        else coordinator.idle().then(() => finish('completed'), (err: unknown) => failCoordinated(err));
      }
    },
  });
  let failCoordinated: (err: unknown) => void = () => undefined;
  const coordinationFailed = new Promise<never>((_, reject) => (failCoordinated = reject));
  coordinationFailed.catch(() => undefined);
  const onAbort = () => finish('interrupted');
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  if (hooks.signal?.aborted) finish('interrupted');
  // Any duration the scenario accepts, beyond the 24.8 days Node's own timers hold.
  const timers = new Timers((err) => {
    throw err;
  });
  const durationTimer = new Timer(() => finish('duration'));
  let stoppedBy: RunResult['stoppedBy'];
  let observer: SysObserver | undefined;
  let brokerSys: BrokerSys | null = null;
  let faults: FaultDriver | undefined;
  let results;
  try {
    try {
      // The timeline starts once every worker has built its clients (thread start-up is not part of the run).
      await Promise.race([allReady, finished, pool.failure()]);
      // A shard's timeline starts at the run's start instant, the same for every shard.
      const start = coordinator
        ? await Promise.race([coordinator.start(hooks.signal), finished.then(() => undefined), pool.failure()])
        : undefined;
      epochWallMs = start?.epochWallMs ?? Date.now();
      const epoch = start?.epochNs ?? newEpoch();
      const clock = new RunClock(epoch);
      pool.start(epoch, epochWallMs);
      if (scenario.sysTopics) {
        observer = sysObserver(setup, clock);
        observer.start();
      }
      if (scenario.faults.length > 0) faults = faultDriver(setup, clock, pool, hooks, () => observer?.resume());
      hooks.onStart?.({ workerHeaps: (collect, timeoutMs) => pool.heapUsed(collect, timeoutMs) });
      const sinceEpochMs = Number(process.hrtime.bigint() - epoch) / 1e6;
      if (scenario.durationMs !== undefined) timers.schedule(durationTimer, Math.max(0, scenario.durationMs - sinceEpochMs));
      faults?.start();
      const lost = faults?.brokerLost.then((): RunResult['stoppedBy'] => 'broker-lost') ?? new Promise<never>(() => undefined);
      stoppedBy = await Promise.race([finished, pool.failure(), coordinationFailed, lost]);
    } finally {
      timers.close();
      hooks.signal?.removeEventListener('abort', onAbort);
      // No fault starts from now on; an interrupted run abandons one in progress, otherwise the broker comes back (a
      // down time cut short) for the drain.
      if (hooks.signal?.aborted) faults?.abort();
      else faults?.close();
    }
    // However the run ended, subscribers receive for the drain time: what is still on its way then is in flight at
    // stop, not lost. The workers' stop is bounded (drain, then disconnect), whatever the broker does.
    results = await pool.stop(scenario.drainMs);
    // A start in progress is bounded by its own time limit.
    await faults?.settled();
  } finally {
    // The broker's figures are read through the drain, so that they show the backlog going (or staying).
    if (observer !== undefined) brokerSys = observer.stop();
  }
  const reports: EngineReport[] = results.sort((a, b) => a.worker - b.worker).map((r) => r.report);
  for (const r of reports) if (r.jtl.length > 0) hooks.onJtl?.(r.jtl);
  const endedAt = new Date();
  const facts: RunFacts = {
    version: setup.version,
    scenario,
    target: setup.target,
    startedAt: new Date(epochWallMs),
    endedAt,
    durationMs: endedAt.getTime() - epochWallMs,
    stoppedBy,
    workers: inits.length,
    brokerSys,
    faults: faults?.results() ?? [],
  };
  hooks.onReports?.(reports, facts);
  return aggregate(facts, reports);
}

/**
 * The scenario's faults on the run's clock: workers mark each one before the broker starts again (bounded by the
 * reply timeout), and `$SYS` is read again once it is back.
 */
function faultDriver(setup: RunSetup, clock: RunClock, pool: RunPool, hooks: RunHooks, resumeSys: () => void): FaultDriver {
  const replyTimeoutMs = setup.scenario.replyTimeoutMs;
  return new FaultDriver(setup.scenario.faults, setup.broker!, {
    nowMs: () => clock.nowMs(),
    mark: (index) => pool.markFault(index, replyTimeoutMs),
    timeoutMs: Math.max(replyTimeoutMs, MIN_RESTART_TIMEOUT_MS),
    onEvent: (phase, fault) => {
      if (phase === 'up') resumeSys();
      hooks.onFault?.(phase, fault);
    },
  });
}

/**
 * The connection that reads the broker's `$SYS` figures: the clients' transport, TLS and failover hosts, the
 * scenario's protocol, and the credentials its clients use (the broker's, else the first group's own).
 */
function sysObserver(setup: RunSetup, clock: RunClock): SysObserver {
  const { broker, groups } = setup.scenario;
  const withCredentials = broker.username !== undefined ? broker : groups.find((g) => g.username !== undefined) ?? broker;
  return new SysObserver({
    endpoint: setup.endpoint,
    protocolVersion: broker.protocolVersion,
    username: withCredentials.username,
    password: withCredentials.password,
    replyTimeoutMs: setup.scenario.replyTimeoutMs,
    second: () => Math.floor(clock.nowUs() / 1_000_000),
  });
}

/** Messages outstanding (sent, not yet received) over all unpaced publishers of a run. */
export const RUN_OUTSTANDING_LIMIT = 65_536;

/** One counter slot per client; the run's outstanding budget shared by its unpaced publishers. */
function flowGateFor(scenario: Scenario): FlowGateInit {
  const offsets: number[] = [];
  let slots = 0;
  let unpaced = 0;
  for (const g of scenario.groups) {
    offsets.push(slots);
    slots += g.clients;
    if (hasUnpacedPublish(g.steps)) unpaced += g.clients;
  }
  return FlowGate.create(slots, offsets, Math.max(64, Math.floor(RUN_OUTSTANDING_LIMIT / Math.max(1, unpaced))));
}

function hasUnpacedPublish(steps: Step[]): boolean {
  return steps.some((s) => (s.kind === 'publish' && s.rate === undefined) || (s.kind === 'repeat' && hasUnpacedPublish(s.steps)));
}

/**
 * Clients that share a client id (take-over scenarios) run in one worker, so the worker can tell a take-over from
 * any other close when the broker does not say why (MQTT 3.1.1).
 */
function colocateSharedIds(plan: RunPlan): RunPlan {
  const home = new Map<string, number>();
  const workers = plan.workers.map((w) => ({ worker: w.worker, clients: [...w.clients] }));
  for (const w of workers) {
    w.clients = w.clients.filter((c) => {
      const h = home.get(c.clientId);
      if (h === undefined) {
        home.set(c.clientId, w.worker);
        return true;
      }
      if (h === w.worker) return true;
      workers[h].clients.push(c);
      return false;
    });
  }
  for (const w of workers) w.clients.sort((a, b) => a.startOffsetMs - b.startOffsetMs);
  return { ...plan, workers };
}

/**
 * Before anything connects: every source address is one of this machine's, and together they have local ports for
 * every client (one each at a time) towards the broker.
 */
async function checkSources(endpoint: Endpoint, clients: number): Promise<void> {
  const sources = endpoint.sources ?? [];
  const first = endpoint.hosts[0];
  const short = portShortfall(clients, sources, `${first.host}:${first.port}`);
  if (short !== undefined) throw new SourceAddressError(short);
  const unbindable = sources.length > 0 ? await unbindableSource(sources) : undefined;
  if (unbindable !== undefined) throw new SourceAddressError(unbindable);
}

/** Fail fast, with the reason, when no host of the endpoint accepts a connection (from the first source address). */
async function checkReachable(endpoint: Endpoint, url: string): Promise<void> {
  const failures: string[] = [];
  const localAddress = endpoint.sources?.[0];
  for (const { host, port } of endpoint.hosts) {
    const error = await new Promise<string | null>((resolve) => {
      const s = netConnect({ host, port, localAddress });
      const timer = setTimeout(() => {
        s.destroy();
        resolve('no answer within 5 s');
      }, 5_000);
      s.once('connect', () => {
        clearTimeout(timer);
        s.destroy();
        resolve(null);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve(describeSocketError(err));
      });
    });
    if (error === null) return;
    failures.push(`${host}:${port}: ${error}`);
  }
  throw new BrokerUnreachableError(`cannot reach the broker at ${url} (${failures.join('; ')})`);
}

function describeSocketError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is a broker listening there?)';
    case 'ENOTFOUND':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default:
      return err.message;
  }
}

/** TLS files of a scenario, read once in the main thread and handed to the workers as bytes. */
export function readTls(tls: Scenario['broker']['tls']): TlsMaterial | undefined {
  if (tls === undefined) return undefined;
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  return {
    ca: read(tls.ca),
    cert: read(tls.cert),
    key: read(tls.key),
    pfx: read(tls.pfx),
    passphrase: tls.passphrase,
    verify: tls.verify,
    serverName: tls.serverName,
  };
}

/** Worker snapshots → one view per second, once every worker has reported that second. */
class ProgressMerger {
  private readonly latest: (ProgressSnapshot | undefined)[];
  private lastTotals: Record<CounterName, number> | undefined;
  private lastSecond = -1;

  constructor(
    private readonly clients: number,
    workers: number,
  ) {
    // Filled, not sparse: some() skips holes.
    this.latest = Array.from({ length: workers }, () => undefined);
  }

  add(worker: number, s: ProgressSnapshot): RunProgress | undefined {
    this.latest[worker] = s;
    if (this.latest.some((x) => x === undefined || x.second < s.second) || s.second <= this.lastSecond) return undefined;
    const snaps = this.latest as ProgressSnapshot[];
    const second = Math.min(...snaps.map((x) => x.second));
    const sum = (f: (x: ProgressSnapshot) => number) => snaps.reduce((n, x) => n + f(x), 0);
    const sent = sum((x) => x.totals.messagesSent ?? 0);
    const received = sum((x) => x.totals.messagesReceived ?? 0);
    const elapsed = second - this.lastSecond;
    const prevSent = this.lastTotals?.messagesSent ?? 0;
    const prevReceived = this.lastTotals?.messagesReceived ?? 0;
    this.lastTotals = { ...snaps[0].totals, messagesSent: sent, messagesReceived: received };
    this.lastSecond = second;
    let errors = 0;
    for (const x of snaps) for (const n of Object.values(x.errors)) errors += n;
    return {
      elapsedSec: second + 1,
      clients: this.clients,
      connected: sum((x) => x.connected),
      finishedClients: sum((x) => x.finishedClients),
      sentPerSec: (sent - prevSent) / elapsed,
      receivedPerSec: (received - prevReceived) / elapsed,
      errors,
      p99Us: liveQuantile(snaps.map((x) => x.e2e), 99),
    };
  }
}
