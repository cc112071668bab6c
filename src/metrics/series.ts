/**
 * Per-second time series: counters and gauges that workers fill, and per-interval latency on the subscriber side.
 *
 * Shape (`CounterSeries`): one array per counter, gauge and error kind, all of length `seconds`; index i holds what
 * happened during second i of the run (second 0 starts when the run starts). Counters hold the amount during that
 * second; gauges hold the value when the second was sampled. Merging workers sums index by index, gauges included
 * (each worker's gauge covers its own clients, so the sum is the run's value).
 *
 * Workers count into running totals (one typed-array add per event, no clock read, no allocation) and call
 * `sample(second)` once per second from a timer: everything counted since the previous sample goes to that second.
 * Convention: the timer that fires just after the end of second s calls `sample(s)`; the final call at the end of
 * the run passes the second the run ended in. A sample that comes late (a busy event loop) lands its whole delta in
 * the later second, and skipped seconds read 0 for counters and the previous value for gauges.
 */
import { mergeEncodedHistograms, LatencyHistogram, type EncodedHistogram, type LatencySummary } from './histogram.js';

/** Counter ids, for `SeriesRecorder.add`. The name is the key in `CounterSeries.counters`. */
export const Counter = {
  connectsOk: 0,
  connectsFailed: 1,
  disconnects: 2,
  subscribesOk: 3,
  subscribesFailed: 4,
  messagesSent: 5,
  bytesSent: 6,
  messagesReceived: 7,
  bytesReceived: 8,
  /** QoS 1 and 2 publishes completed by PUBACK or PUBCOMP. */
  acksReceived: 9,
  publishesFailed: 10,
  /**
   * Retained copies a SUBSCRIBE brought (see engine/inbound.ts): also counted in messagesReceived, but not
   * end-to-end deliveries of live messages.
   */
  retainedReceived: 11,
} as const;
export type CounterName = keyof typeof Counter;
export type CounterId = (typeof Counter)[CounterName];
export const COUNTER_NAMES = Object.keys(Counter) as CounterName[];

/** Gauge ids, for `SeriesRecorder.setGauge` / `adjustGauge`. */
export const Gauge = {
  connectionsOpen: 0,
  /** QoS 1 and 2 publishes sent and not yet acknowledged. */
  inflight: 1,
} as const;
export type GaugeName = keyof typeof Gauge;
export type GaugeId = (typeof Gauge)[GaugeName];
export const GAUGE_NAMES = Object.keys(Gauge) as GaugeName[];

export interface CounterSeries {
  /** Length of every array in this object. */
  seconds: number;
  counters: Record<CounterName, number[]>;
  gauges: Record<GaugeName, number[]>;
  /** Errors per second by kind; the kinds are whatever the engine reports (e.g. "connect-timeout"). */
  errors: Record<string, number[]>;
}

export class SeriesRecorder {
  private readonly totals = new Float64Array(COUNTER_NAMES.length);
  private readonly sampled = new Float64Array(COUNTER_NAMES.length);
  private readonly gaugeValues = new Float64Array(GAUGE_NAMES.length);
  private readonly errorsSinceSample = new Map<string, number>();
  private readonly errorTotals = new Map<string, number>();
  private readonly data: CounterSeries = emptySeries();
  // Gauges are carried forward over seconds no sample covered; this is the last second written.
  private lastSecond = -1;

  /** `onSample` runs after each sample, with its second: for other per-second records kept in step with this one. */
  constructor(private readonly onSample?: (second: number) => void) {}

  add(counter: CounterId, amount = 1): void {
    this.totals[counter] += amount;
  }

  setGauge(gauge: GaugeId, value: number): void {
    this.gaugeValues[gauge] = value;
  }

  adjustGauge(gauge: GaugeId, delta: number): void {
    this.gaugeValues[gauge] += delta;
  }

  /** A gauge's current value. */
  gauge(gauge: GaugeId): number {
    return this.gaugeValues[gauge];
  }

  /** Errors are rare, so a Map keyed by kind is cheap enough. */
  error(kind: string, amount = 1): void {
    this.errorsSinceSample.set(kind, (this.errorsSinceSample.get(kind) ?? 0) + amount);
    this.errorTotals.set(kind, (this.errorTotals.get(kind) ?? 0) + amount);
  }

  /** Everything counted since the previous sample goes to `second` (a non-negative integer). */
  sample(second: number): void {
    if (!Number.isInteger(second) || second < 0) throw new RangeError(`series second must be an integer >= 0, got ${second}`);
    const d = this.data;
    const previousGauges = this.lastSecond >= 0 ? this.gaugeRow(this.lastSecond) : undefined;
    grow(d, second + 1);
    if (previousGauges !== undefined) {
      for (let s = this.lastSecond + 1; s < second; s++) {
        for (let g = 0; g < GAUGE_NAMES.length; g++) d.gauges[GAUGE_NAMES[g]][s] = previousGauges[g];
      }
    }
    for (let c = 0; c < COUNTER_NAMES.length; c++) {
      const delta = this.totals[c] - this.sampled[c];
      if (delta !== 0) d.counters[COUNTER_NAMES[c]][second] += delta;
      this.sampled[c] = this.totals[c];
    }
    for (let g = 0; g < GAUGE_NAMES.length; g++) d.gauges[GAUGE_NAMES[g]][second] = this.gaugeValues[g];
    for (const [kind, n] of this.errorsSinceSample) {
      let row = d.errors[kind];
      if (row === undefined) {
        row = new Array<number>(d.seconds).fill(0);
        d.errors[kind] = row;
      }
      row[second] += n;
    }
    this.errorsSinceSample.clear();
    if (second > this.lastSecond) this.lastSecond = second;
    this.onSample?.(second);
  }

  /** A copy of the series sampled so far. */
  series(): CounterSeries {
    return mergeSeries([this.data]);
  }

  /** Running totals, sampled or not. */
  totalsNow(): { counters: Record<CounterName, number>; errors: Record<string, number> } {
    const counters = {} as Record<CounterName, number>;
    for (let c = 0; c < COUNTER_NAMES.length; c++) counters[COUNTER_NAMES[c]] = this.totals[c];
    return { counters, errors: Object.fromEntries(this.errorTotals) };
  }

  private gaugeRow(second: number): number[] {
    return GAUGE_NAMES.map((name) => this.data.gauges[name][second]);
  }
}

export function emptySeries(): CounterSeries {
  const counters = {} as Record<CounterName, number[]>;
  for (const name of COUNTER_NAMES) counters[name] = [];
  const gauges = {} as Record<GaugeName, number[]>;
  for (const name of GAUGE_NAMES) gauges[name] = [];
  return { seconds: 0, counters, gauges, errors: {} };
}

/** Sums series index by index; the result is as long as the longest. */
export function mergeSeries(all: readonly CounterSeries[]): CounterSeries {
  const out = emptySeries();
  let seconds = 0;
  for (const s of all) seconds = Math.max(seconds, s.seconds);
  grow(out, seconds);
  for (const s of all) {
    for (const name of COUNTER_NAMES) addInto(out.counters[name], s.counters[name]);
    for (const name of GAUGE_NAMES) addInto(out.gauges[name], s.gauges[name]);
    for (const [kind, row] of Object.entries(s.errors)) {
      let into = out.errors[kind];
      if (into === undefined) {
        into = new Array<number>(seconds).fill(0);
        out.errors[kind] = into;
      }
      addInto(into, row);
    }
  }
  return out;
}

/** Column totals of a series: counters and errors summed over all seconds (gauges have no meaningful sum). */
export function seriesTotals(s: CounterSeries): { counters: Record<CounterName, number>; errors: Record<string, number> } {
  const counters = {} as Record<CounterName, number>;
  for (const name of COUNTER_NAMES) counters[name] = sum(s.counters[name]);
  const errors: Record<string, number> = {};
  for (const [kind, row] of Object.entries(s.errors)) errors[kind] = sum(row);
  return { counters, errors };
}

function grow(s: CounterSeries, seconds: number): void {
  if (seconds <= s.seconds) return;
  for (const name of COUNTER_NAMES) padTo(s.counters[name], seconds);
  for (const name of GAUGE_NAMES) padTo(s.gauges[name], seconds);
  for (const row of Object.values(s.errors)) padTo(row, seconds);
  s.seconds = seconds;
}

function padTo(row: number[], length: number): void {
  while (row.length < length) row.push(0);
}

function addInto(into: number[], from: readonly number[]): void {
  for (let i = 0; i < from.length; i++) into[i] += from[i];
}

function sum(row: readonly number[]): number {
  let n = 0;
  for (const v of row) n += v;
  return n;
}

/** One worker's latency for one second, as it crosses threads. */
export interface IntervalSample {
  second: number;
  histogram: EncodedHistogram;
}

/** The run's latency for one second: how many samples (one per message received) and their percentiles in µs. */
export interface IntervalStats {
  second: number;
  messages: number;
  latency: LatencySummary;
}

/** Subscriber-side latency per interval: record each delivery's latency, take a sample per second. */
export class IntervalRecorder {
  private readonly histogram = new LatencyHistogram();

  record(us: number): void {
    this.histogram.record(us);
  }

  /** The latencies recorded since the previous sample, attributed to `second`; the recorder starts afresh. */
  sample(second: number): IntervalSample {
    const histogram = this.histogram.encode();
    this.histogram.reset();
    return { second, histogram };
  }
}

/**
 * Merges interval samples from every worker into one row per second, from second 0 to the last second sampled;
 * seconds no worker sampled have zero messages.
 */
export function mergeIntervals(samples: readonly IntervalSample[]): IntervalStats[] {
  const bySecond = new Map<number, EncodedHistogram[]>();
  let last = -1;
  for (const s of samples) {
    let list = bySecond.get(s.second);
    if (list === undefined) {
      list = [];
      bySecond.set(s.second, list);
    }
    list.push(s.histogram);
    if (s.second > last) last = s.second;
  }
  const out: IntervalStats[] = [];
  const empty = new LatencyHistogram().summarize();
  for (let second = 0; second <= last; second++) {
    const list = bySecond.get(second);
    if (list === undefined) {
      out.push({ second, messages: 0, latency: { ...empty } });
      continue;
    }
    const latency = mergeEncodedHistograms(list).summarize();
    out.push({ second, messages: latency.count, latency });
  }
  return out;
}
