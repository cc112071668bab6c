/**
 * A worker's share of a run: its simulated clients, the scheduler that paces publishers, the once-a-second
 * progress snapshot, and the orderly end (stop publishing, let subscribers drain, disconnect, report).
 *
 * The engine emits plain data (progress snapshots, a final report); it never imports the pool, the reports or the
 * CLI. It runs the same in a worker thread or in the main thread.
 */
import { readFileSync } from 'node:fs';
import type { DeliveryTracker } from '../metrics/delivery.js';
import { LiveQuantiles } from '../metrics/live-quantiles.js';
import { Gauge, type CounterName } from '../metrics/series.js';
import { groupSampleEvery, type PlannedClient } from '../scenario/plan.js';
import type { ClientGroup, Payload, PublishStep, Scenario } from '../scenario/schema.js';
import { FlushQueue } from '../util/batch-writer.js';
import { Timer, Timers } from '../util/timers.js';
import { FlowGate, type FlowGateInit } from './flow-gate.js';
import { SimClient, emptySamples } from './client.js';
import { RunClock } from './clock.js';
import { payloadTemplate } from './codec.js';
import { GroupMetrics, type GroupProgress, type GroupReport } from './group-metrics.js';
import type { Publisher } from './publisher.js';
import type { Endpoint } from './transport.js';

export interface EngineInit {
  scenario: Scenario;
  clients: PlannedClient[];
  endpoint: Endpoint;
  /** Most QoS 1/2 messages one client keeps unacknowledged (also capped by the broker's Receive Maximum). */
  maxInflight: number;
  /** Shared counters that hold unpaced publishers back to what their subscribers receive. */
  flow: FlowGateInit;
  /**
   * In a shard of a run split over several processes: the shard of every client of the scenario, by flow-gate slot
   * (group offset + index). Subscribers then also keep their end-to-end latencies by the publisher's shard, so a
   * merge can correct each for the clock offset between the two shards' hosts.
   */
  shardOfSlot?: Uint16Array;
}

/** One line of results.jtl, before it is rendered: JMeter's sample fields. */
export type JtlRow = [
  timeStampMs: number,
  elapsedMs: number,
  label: string,
  success: boolean,
  message: string,
  thread: string,
  bytes: number,
  sentBytes: number,
  sampleCount: number,
  errorCount: number,
];

export interface ErrorExample {
  kind: string;
  clientId: string;
  detail: string;
  atMs: number;
}

export interface ProgressSnapshot {
  /** Seconds since the run's epoch this snapshot closes. */
  second: number;
  /** Running totals over all groups of this worker. */
  totals: Record<CounterName, number>;
  errors: Record<string, number>;
  connected: number;
  inflight: number;
  /** Every end-to-end latency recorded so far by this worker, coarsely (for the live p99). */
  e2e: Float64Array;
  jtl: JtlRow[];
  finishedClients: number;
  /** Per group (the scenario's order), running totals and latency buckets, for the live metrics endpoint. */
  groups: GroupProgress[];
}

export interface EngineReport {
  groups: GroupReport[];
  errors: ErrorExample[];
  jtl: JtlRow[];
  /** Client ids used by more than one client of this worker that lost connections to a takeover. */
  takenOver: string[];
  clients: number;
  finishedClients: number;
  failedClients: number;
}

export interface EngineEvents {
  progress(snapshot: ProgressSnapshot): void;
  /** Every client has run all its steps (publishers are done; subscribers may still receive). */
  idle(): void;
}

/** How long after a whole second the per-second tick runs. */
const TICK_MARGIN_MS = 5;
/** Examples of each error kind kept for the report. */
const ERROR_EXAMPLES_PER_KIND = 5;
/** A close within this long after another client with the same id connected is counted as a takeover. */
const TAKEOVER_WINDOW_MS = 2_000;

export interface GroupRuntime {
  name: string;
  config: ClientGroup;
  metrics: GroupMetrics;
  /** Clients of the groups before this one: a client's place in the whole scenario is this plus its index. */
  firstClient: number;
}

export class Engine {
  /** The run's clock; set by start(), when every worker is ready. */
  clock: RunClock;
  readonly endpoint: Endpoint;
  private readonly sources: readonly string[];
  readonly bytes = { bytesSent: 0 };
  readonly flushQueue = new FlushQueue(this.bytes);
  /** Date.now() at the run's epoch, for wall-clock timestamps in results.jtl. */
  epochWallMs = Date.now();
  readonly maxInflight: number;
  readonly groups: GroupRuntime[];
  readonly flow: FlowGate;
  /** End-to-end latencies, coarsely, for the live progress line. */
  readonly live = new LiveQuantiles();
  /** Milliseconds since the epoch, refreshed on reads and timers (a cheap clock for keepalive bookkeeping). */
  nowMs = 0;
  stopping = false;
  /** Broker faults marked so far (see markFault). */
  faultsMarked = 0;

  private readonly clients: SimClient[] = [];
  private finished = 0;
  private failed = 0;
  /** Start offsets and `wait` steps: any length, beyond the 24.8 days Node's own timers hold. */
  readonly timers = new Timers((err) => {
    // An error in the engine's own code ends the worker, as any other would.
    process.nextTick(() => {
      throw err;
    });
  });
  private tickTimer: NodeJS.Timeout | null = null;
  private readonly intervalTimers: NodeJS.Timeout[] = [];
  private readonly errorExamples = new Map<string, ErrorExample[]>();
  private jtl: JtlRow[] = [];
  private readonly payloads = new Map<PublishStep, Buffer>();
  private readonly files = new Map<string, Buffer>();
  private readonly sharedIds = new Set<string>();
  private readonly lastConnect = new Map<string, { client: SimClient; atMs: number }>();
  private readonly takenOver = new Set<string>();
  private readonly deliveryWindow: number;

  // Publisher scheduling: a min-heap on due time, and a list of publishers to pump on the next turn.
  private readonly heap: Publisher[] = [];
  private heapTimer: NodeJS.Timeout | null = null;
  private heapTimerDueUs = Infinity;
  private ready: Publisher[] = [];
  private readyScheduled = false;
  private connectedCount = 0;

  constructor(
    private readonly init: EngineInit,
    private readonly events: EngineEvents,
  ) {
    this.clock = new RunClock(process.hrtime.bigint());
    this.endpoint = init.endpoint;
    this.flow = new FlowGate(init.flow);
    this.maxInflight = init.maxInflight;
    let firstClient = 0;
    this.groups = init.scenario.groups.map((config) => {
      const g = { name: config.name, config, metrics: new GroupMetrics(config.name), firstClient };
      firstClient += config.clients;
      return g;
    });
    this.sources = init.endpoint.sources ?? [];
    if (init.shardOfSlot !== undefined) for (const g of this.groups) g.metrics.e2eBySource = new Map();
    const counts = new Map<string, number>();
    for (const c of init.clients) counts.set(c.clientId, (counts.get(c.clientId) ?? 0) + 1);
    for (const [id, n] of counts) if (n > 1) this.sharedIds.add(id);
    // Each stream costs window/8 bytes per receiver: keep the total bounded for runs with very many streams.
    const publishers = init.clients.length;
    this.deliveryWindow = publishers > 2_000 ? 256 : publishers > 200 ? 1024 : 4096;
    for (const planned of init.clients) {
      const group = this.groups[planned.group];
      const client = new SimClient(this, group, planned.index, planned.clientId, publisherId(planned));
      client.slot = this.flow.slot(planned.group, planned.index);
      this.clients.push(client);
    }
  }

  /**
   * The source address of a client by its place in the whole scenario, the same in every worker and shard, so the
   * run's clients spread evenly over the addresses; undefined when none were given.
   */
  sourceFor(group: GroupRuntime, index: number): string | undefined {
    const n = this.sources.length;
    return n === 0 ? undefined : this.sources[(group.firstClient + index) % n];
  }

  /**
   * Start the clients on the run's timeline. `epochNs` is process.hrtime.bigint() and `epochWallMs` Date.now() at
   * the run's start, taken by the main thread once every worker was ready.
   */
  start(epochNs: bigint, epochWallMs: number): void {
    this.clock = new RunClock(epochNs);
    this.epochWallMs = epochWallMs;
    const now = this.clock.nowMs();
    this.clients.forEach((c, i) => {
      const planned = this.init.clients[i];
      this.timers.schedule(new Timer(startClient, c), Math.max(0, planned.startOffsetMs - now));
    });
    this.scheduleTick();
    for (const g of this.groups) {
      const every = groupSampleEvery(g.config);
      if (every !== undefined && every.kind === 'time') {
        g.metrics.sampleEvery = every;
        this.intervalTimers.push(setInterval(() => g.metrics.sampleInterval(), every.everyMs));
      } else if (every !== undefined) {
        g.metrics.sampleEvery = every;
      }
    }
    if (this.clients.length === 0) this.events.idle();
  }

  /**
   * A broker fault: the broker has exited and is not started again until every worker has marked it. Each publisher
   * records what the broker had acknowledged, each receiver what it had duplicated, so that what was lost and
   * duplicated can be told per fault. Once per fault, never per message.
   */
  markFault(): void {
    for (const c of this.clients) c.markFault();
    for (const g of this.groups) for (const t of g.metrics.receivers.values()) t.markFault();
    this.faultsMarked++;
  }

  // ---- services for clients -------------------------------------------------------------------------------------

  payloadFor(step: PublishStep): Buffer {
    let b = this.payloads.get(step);
    if (b === undefined) {
      b = this.payloadBytes(step.payload, step.timestamp);
      this.payloads.set(step, b);
    }
    return b;
  }

  willPayload(p: Payload): Buffer {
    return this.payloadBytes(p, false);
  }

  private payloadBytes(p: Payload, timestamp: boolean): Buffer {
    switch (p.kind) {
      case 'empty':
        return payloadTemplate('empty', {}, timestamp);
      case 'text':
        return payloadTemplate('text', { text: p.text }, timestamp);
      case 'hex':
        return payloadTemplate('hex', { hex: p.hex }, timestamp);
      case 'random':
        return payloadTemplate('random', { sizeBytes: p.sizeBytes }, timestamp);
      case 'file': {
        let data = this.files.get(p.path);
        if (data === undefined) {
          data = readFileSync(p.path);
          this.files.set(p.path, data);
        }
        return payloadTemplate('file', { data }, timestamp);
      }
    }
  }

  /** The shard that runs the publisher in flow-gate `slot`; -1 when unknown (a payload not from this run). */
  publisherShard(slot: number): number {
    const owners = this.init.shardOfSlot;
    return owners === undefined || slot < 0 || slot >= owners.length ? -1 : owners[slot];
  }

  tracker(c: SimClient): DeliveryTracker {
    return c.group.metrics.tracker(c.clientId, this.deliveryWindow);
  }

  noteError(kind: string, c: SimClient, detail: string): void {
    let list = this.errorExamples.get(kind);
    if (list === undefined) {
      list = [];
      this.errorExamples.set(kind, list);
    }
    if (list.length < ERROR_EXAMPLES_PER_KIND) list.push({ kind, clientId: c.clientId, detail, atMs: this.clock.nowMs() });
    if (kind === 'takeover') this.takenOver.add(c.clientId);
  }

  /** One results.jtl row for one sample that began at `startUs` (JMeter's timeStamp is the start, as results.jtl's header asks: sampleresult.timestamp.start=true). */
  jtlSample(startUs: number, elapsedUs: number, label: string, c: SimClient, ok: boolean, message: string, bytes: number): void {
    this.jtl.push([
      Math.round(this.epochWallMs + startUs / 1000),
      Math.round(elapsedUs / 1000),
      `${label} ${c.group.name}`,
      ok,
      message,
      c.clientId,
      bytes,
      0,
      1,
      ok ? 0 : 1,
    ]);
  }

  clientConnected(c: SimClient): void {
    this.connectedCount++;
    if (this.sharedIds.has(c.clientId)) this.lastConnect.set(c.clientId, { client: c, atMs: this.clock.nowMs() });
  }

  clientDisconnected(_c: SimClient): void {
    this.connectedCount--;
  }

  /** A 3.1.1 broker closes a taken-over connection without saying why: infer it from our own clients' ids. */
  likelyTakeover(c: SimClient): boolean {
    if (!this.sharedIds.has(c.clientId)) return false;
    const last = this.lastConnect.get(c.clientId);
    return last !== undefined && last.client !== c && this.clock.nowMs() - last.atMs <= TAKEOVER_WINDOW_MS;
  }

  clientFinished(c: SimClient): void {
    this.finished++;
    if (c.failed) this.failed++;
    if (this.finished === this.clients.length) this.events.idle();
  }

  /** Publishers held by the flow gate; a delivery received in this thread looks at them at once. */
  private readonly gatedPublishers: Publisher[] = [];
  private gatedWakeScheduled = false;

  gated(pub: Publisher): void {
    if (!this.gatedPublishers.includes(pub)) this.gatedPublishers.push(pub);
  }

  /** A subscriber here received messages: the publishers it was waiting for may continue (next turn). */
  deliveriesReceived(): void {
    if (this.gatedPublishers.length === 0 || this.gatedWakeScheduled) return;
    this.gatedWakeScheduled = true;
    setImmediate(this.wakeGated);
  }

  private readonly wakeGated = (): void => {
    this.gatedWakeScheduled = false;
    const list = this.gatedPublishers.splice(0);
    for (const pub of list) if (!pub.done) this.wake(pub);
  };

  // ---- publisher scheduling -------------------------------------------------------------------------------------

  /** Pump `pub` on the next turn of the event loop. */
  wake(pub: Publisher): void {
    if (pub.heapIndex >= 0) this.heapRemove(pub);
    if (pub.dueUs === -1) return;
    pub.dueUs = -1;
    this.ready.push(pub);
    if (!this.readyScheduled) {
      this.readyScheduled = true;
      setImmediate(this.runReady);
    }
  }

  private readonly runReady = (): void => {
    this.readyScheduled = false;
    const list = this.ready;
    this.ready = [];
    const now = this.clock.nowUs();
    this.nowMs = Date.now() - this.epochWallMs;
    for (let i = 0; i < list.length; i++) {
      const pub = list[i];
      pub.dueUs = 0;
      this.pump(pub, now);
    }
  };

  private pump(pub: Publisher, nowUs: number): void {
    if (this.stopping || pub.done || pub.client.finished) return;
    const next = pub.pump(nowUs);
    if (next > 0) this.heapPush(pub, next);
    else if (next === 0) this.wake(pub);
  }

  private heapPush(pub: Publisher, dueUs: number): void {
    pub.dueUs = dueUs;
    const h = this.heap;
    pub.heapIndex = h.length;
    h.push(pub);
    this.siftUp(pub.heapIndex);
    this.armHeapTimer();
  }

  private heapRemove(pub: Publisher): void {
    const h = this.heap;
    const i = pub.heapIndex;
    const last = h.pop()!;
    pub.heapIndex = -1;
    if (i < h.length) {
      h[i] = last;
      last.heapIndex = i;
      this.siftDown(i);
      this.siftUp(last.heapIndex);
    }
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].dueUs <= h[i].dueUs) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l].dueUs < h[m].dueUs) m = l;
      if (r < h.length && h[r].dueUs < h[m].dueUs) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const h = this.heap;
    const x = h[a];
    h[a] = h[b];
    h[b] = x;
    h[a].heapIndex = a;
    h[b].heapIndex = b;
  }

  private armHeapTimer(): void {
    const top = this.heap[0];
    if (top === undefined || top.dueUs >= this.heapTimerDueUs) return;
    if (this.heapTimer) clearTimeout(this.heapTimer);
    this.heapTimerDueUs = top.dueUs;
    const delayMs = Math.max(0, (top.dueUs - this.clock.nowUs()) / 1000);
    this.heapTimer = setTimeout(this.onHeapTimer, delayMs);
  }

  private readonly onHeapTimer = (): void => {
    this.heapTimer = null;
    this.heapTimerDueUs = Infinity;
    const now = this.clock.nowUs();
    this.nowMs = Date.now() - this.epochWallMs;
    const h = this.heap;
    while (h.length > 0 && h[0].dueUs <= now) {
      const pub = h[0];
      this.heapRemove(pub);
      this.pump(pub, now);
    }
    this.armHeapTimer();
  };

  // ---- once a second --------------------------------------------------------------------------------------------

  /**
   * Tick just after each whole second of the run's clock, so every second's counters land in that second (an
   * interval timer drifts, and a late tick would merge two seconds into one).
   */
  private scheduleTick(): void {
    const nowMs = this.clock.nowMs();
    // The second in progress is the one the tick closes. It is fixed here, not read from the clock when the timer
    // fires: timers keep their own millisecond clock and may fire a fraction of a millisecond before the boundary.
    const closing = Math.floor(nowMs / 1000);
    const next = (closing + 1) * 1000 + TICK_MARGIN_MS;
    this.tickTimer = setTimeout(() => {
      this.tick(Math.max(0, closing));
      if (!this.stopping) this.scheduleTick();
    }, next - nowMs);
  }

  private tick(second: number): void {
    this.nowMs = Date.now() - this.epochWallMs;
    const nowUs = this.clock.nowUs();
    const replyTimeoutUs = this.init.scenario.replyTimeoutMs * 1000;
    for (const c of this.clients) c.tick(this.nowMs, nowUs, replyTimeoutUs);
    this.collectClientSamples(second);
    this.events.progress(this.snapshot(second));
  }

  /**
   * JMeter-style rows, one per client and second for each of publishing and receiving, each summarising N samples
   * the way JMeter reads them: `elapsed` is the total of the N samples' times (JMeter divides by SampleCount), and
   * the timestamp is the start of the earliest of them (results.jtl asks JMeter for start timestamps). `publish`
   * rows are acknowledged QoS 1/2 publishes (time: to PUBACK or PUBCOMP), `send` rows QoS 0 publishes (no time),
   * `receive` rows deliveries (time: end to end, starting when the message was published).
   */
  private collectClientSamples(second: number): void {
    const secondStart = this.epochWallMs + second * 1000;
    const at = (firstUs: number) => (firstUs < 0 ? Math.round(secondStart) : Math.round(this.epochWallMs + firstUs / 1000));
    for (const c of this.clients) {
      const s = c.samples;
      if (s.acked + s.refused > 0) {
        const rows = s.acked + s.refused;
        this.jtl.push([at(s.ackFirstUs), Math.round(s.ackLatencyUs / 1000), `publish ${c.group.name}`, s.refused === 0, s.refused > 0 ? `${s.refused} refused` : '', c.clientId, 0, s.ackedBytes, rows, s.refused]);
      }
      if (s.sent0 > 0) this.jtl.push([at(s.sent0FirstUs), 0, `send ${c.group.name}`, true, '', c.clientId, 0, s.sent0Bytes, s.sent0, 0]);
      if (s.rxCount > 0) this.jtl.push([at(s.rxFirstUs), Math.round(s.rxLatencyUs / 1000), `receive ${c.group.name}`, true, '', c.clientId, s.rxBytes, 0, s.rxCount, 0]);
      Object.assign(s, emptySamples());
    }
  }

  private snapshot(second: number): ProgressSnapshot {
    const totals = {} as Record<CounterName, number>;
    const errors: Record<string, number> = {};
    let inflight = 0;
    const groups: GroupProgress[] = [];
    for (const g of this.groups) {
      const t = g.metrics.series.totalsNow();
      for (const [k, v] of Object.entries(t.counters) as [CounterName, number][]) totals[k] = (totals[k] ?? 0) + v;
      for (const [k, v] of Object.entries(t.errors)) errors[k] = (errors[k] ?? 0) + v;
      groups.push(g.metrics.progress(t));
      g.metrics.series.sample(second);
    }
    for (const g of this.groups) inflight += g.metrics.series.gauge(Gauge.inflight);
    const jtl = this.jtl;
    this.jtl = [];
    return {
      second,
      totals,
      errors,
      connected: this.connectedCount,
      inflight,
      e2e: this.live.snapshot(),
      jtl,
      finishedClients: this.finished,
      groups,
    };
  }

  // ---- the end --------------------------------------------------------------------------------------------------

  /**
   * Stop: no more steps or publishing; subscribers keep receiving for `drainMs`; then every client disconnects.
   * Resolves with the worker's report.
   */
  async stop(drainMs: number): Promise<EngineReport> {
    this.stopping = true;
    this.timers.close();
    if (this.heapTimer) clearTimeout(this.heapTimer);
    this.heap.length = 0;
    this.ready = [];
    if (drainMs > 0) await new Promise((r) => setTimeout(r, drainMs));
    if (this.tickTimer) clearTimeout(this.tickTimer);
    for (const t of this.intervalTimers) clearInterval(t);
    for (const c of this.clients) c.shutdown();
    // Let the DISCONNECTs go out and the sockets close (each is counted when it has closed), however busy the
    // machine, but no longer than a bound: a broker that does not close is left behind.
    const closeBy = Date.now() + STOP_CLOSE_WAIT_MS;
    do await new Promise((r) => setTimeout(r, 10));
    while (Date.now() < closeBy && this.clients.some((c) => c.link !== null));
    const nowMs = this.clock.nowMs();
    const lastSecond = Math.max(0, Math.floor(nowMs / 1000));
    this.collectClientSamples(lastSecond);
    const errors = [...this.errorExamples.values()].flat();
    return {
      groups: this.groups.map((g) => g.metrics.report(lastSecond)),
      errors,
      jtl: this.jtl,
      takenOver: [...this.takenOver],
      clients: this.clients.length,
      finishedClients: this.finished,
      failedClients: this.failed,
    };
  }
}

/** Longest wait at stop for the clients' connections to close after their DISCONNECT. */
const STOP_CLOSE_WAIT_MS = 2_000;

/** A client's publisher id, unique in the run: group in the high bits, index in the low 20. */
export function publisherId(c: PlannedClient): number {
  return c.group * 0x10_0000 + c.index;
}

/** The flow-gate slot of a publisher id from a payload; -1 when it is not one of this run's. */
export function slotOfPublisher(flow: FlowGate, groups: number, id: number): number {
  const group = Math.floor(id / 0x10_0000);
  return group < groups ? flow.slot(group, id % 0x10_0000) : -1;
}

function startClient(c: SimClient): void {
  c.start();
}
