/**
 * Pass/fail thresholds over a run's results: parsing one line of text, and evaluating a list against the results.
 *
 * Syntax: `[group(<name>).]<metric> <op> <value>[unit]`
 *
 * - `op`: `<`, `<=`, `>`, `>=`, `==`, `!=`.
 * - Latency: `<connect|subscribe|publish|e2e>.<stat>` with stat `p50 p90 p95 p99 p99.9 max min mean`; the value needs
 *   a unit, `us` (or `µs`), `ms` or `s`, and is stored in µs. `connect` is CONNECT to CONNACK, `subscribe` SUBSCRIBE
 *   to SUBACK, `publish` PUBLISH to its acknowledgement, `e2e` publish to delivery.
 * - Counters, plain numbers without a unit: `sent`, `received`, `lost`, `lost.acknowledged`, `duplicated`,
 *   `reordered`, `errors`, `connect.failed`, `subscribe.failed`, `publish.failed`; across the scenario's broker
 *   faults, `faults.lost.acknowledged` (acknowledged before a fault, never delivered) and `faults.duplicated`
 *   (duplicates received after a fault) — no data in a scenario without faults.
 * - Rates, per second with an optional `/s`: `throughput` (messages received per second), `sent.rate` (messages sent
 *   per second).
 * - `group(<name>).` limits a threshold to one client group of the scenario (name: letters, digits, `_`, `-`).
 *
 * Examples: `e2e.p99 < 20ms`, `connect.p95 <= 500ms`, `publish.max < 1s`, `errors == 0`, `received >= 1000`,
 * `throughput > 5000/s`, `group(publishers).publish.p99 < 50ms`.
 *
 * A threshold whose metric has no data (no samples, a counter not measured, an unknown group) fails: a limit that was
 * never checked must not read as met.
 */
import { suggest } from '../util/suggest.js';
import type { LatencySummary } from './histogram.js';

export type ThresholdOp = '<' | '<=' | '>' | '>=' | '==' | '!=';
export type LatencyMetric = 'connect' | 'subscribe' | 'publish' | 'e2e' | 'retained';
export type LatencyStat = 'p50' | 'p90' | 'p95' | 'p99' | 'p99.9' | 'max' | 'min' | 'mean';
export type CounterMetric =
  | 'sent'
  | 'received'
  | 'received.retained'
  | 'lost'
  | 'lost.acknowledged'
  | 'inflight'
  | 'duplicated'
  | 'reordered'
  | 'errors'
  | 'connect.failed'
  | 'subscribe.failed'
  | 'publish.failed'
  | 'faults.lost.acknowledged'
  | 'faults.duplicated';
export type RateMetric = 'throughput' | 'sent.rate';
/** The unit a limit was written in; '' for counters. */
export type ThresholdUnit = 'us' | 'µs' | 'ms' | 's' | '/s' | '';

export interface Threshold {
  /** The text it was parsed from, trimmed. */
  readonly source: string;
  readonly kind: 'latency' | 'counter' | 'rate';
  readonly metric: LatencyMetric | CounterMetric | RateMetric;
  /** Set for latency thresholds only. */
  readonly stat?: LatencyStat;
  /** Set when the threshold applies to one client group rather than the whole run. */
  readonly group?: string;
  readonly op: ThresholdOp;
  /** The limit in base units: µs for latency, per second for rates, a count for counters. */
  readonly value: number;
  readonly unit: ThresholdUnit;
}

/** One set of results: the whole run, or one group. Latency summaries are in µs. */
export interface ThresholdMetrics {
  latency?: { readonly [M in LatencyMetric]?: LatencySummary };
  counters?: { readonly [C in CounterMetric]?: number };
  rates?: { readonly [R in RateMetric]?: number };
}

/** What thresholds are evaluated against: run totals, plus the same per client group. */
export interface ThresholdInput extends ThresholdMetrics {
  groups?: { readonly [group: string]: ThresholdMetrics };
}

export interface ThresholdResult {
  threshold: Threshold;
  /** The measured value in base units (like `threshold.value`); null when there was nothing to measure. */
  actual: number | null;
  passed: boolean;
  /** E.g. "e2e.p99 = 23.4ms, limit < 20ms", with the actual value in the threshold's unit. */
  describe: string;
}

export const LATENCY_METRICS: readonly LatencyMetric[] = ['connect', 'subscribe', 'publish', 'e2e', 'retained'];
export const LATENCY_STATS: readonly LatencyStat[] = ['p50', 'p90', 'p95', 'p99', 'p99.9', 'max', 'min', 'mean'];
export const COUNTER_METRICS: readonly CounterMetric[] = [
  'sent', 'received', 'received.retained', 'lost', 'lost.acknowledged', 'inflight', 'duplicated', 'reordered', 'errors',
  'connect.failed', 'subscribe.failed', 'publish.failed', 'faults.lost.acknowledged', 'faults.duplicated',
];
export const RATE_METRICS: readonly RateMetric[] = ['throughput', 'sent.rate'];

type MetricEntry =
  | { kind: 'latency'; metric: LatencyMetric; stat: LatencyStat }
  | { kind: 'counter'; metric: CounterMetric }
  | { kind: 'rate'; metric: RateMetric };

const METRICS = new Map<string, MetricEntry>();
for (const metric of LATENCY_METRICS) {
  for (const stat of LATENCY_STATS) METRICS.set(`${metric}.${stat}`, { kind: 'latency', metric, stat });
}
for (const metric of COUNTER_METRICS) METRICS.set(metric, { kind: 'counter', metric });
for (const metric of RATE_METRICS) METRICS.set(metric, { kind: 'rate', metric });
const METRIC_NAMES = [...METRICS.keys()];

const STAT_FIELD: Record<LatencyStat, keyof LatencySummary> = {
  p50: 'p50', p90: 'p90', p95: 'p95', p99: 'p99', 'p99.9': 'p99_9', max: 'max', min: 'min', mean: 'mean',
};
// Other tools' spellings of a statistic, offered as the "did you mean" (edit distance alone ranks p999 nearer p99).
const STAT_ALIASES: Record<string, LatencyStat> = {
  p999: 'p99.9', p99_9: 'p99.9', median: 'p50', avg: 'mean', average: 'mean', maximum: 'max', minimum: 'min',
};
const LATENCY_FACTOR: Record<string, number> = { us: 1, 'µs': 1, ms: 1_000, s: 1_000_000 };

const EXAMPLE = 'e.g. e2e.p99 < 20ms, errors == 0, throughput > 5000/s';
const OPERATOR = /<=|>=|==|!=|<|>|=/;
const GROUP_PREFIX = /^group\(([^)]*)\)\.(.*)$/;
const GROUP_NAME = /^[A-Za-z0-9_-]+$/;
const VALUE = /^(\d+(?:\.\d+)?|\.\d+)\s*(us|µs|ms|s|\/s)?$/;

export function parseThreshold(text: string): { threshold: Threshold } | { error: string; hint?: string } {
  const source = text.trim();
  if (source === '') return { error: 'empty threshold', hint: EXAMPLE };
  const opMatch = OPERATOR.exec(source);
  if (opMatch === null) {
    return { error: `no comparison in "${source}"`, hint: `write <metric> <op> <value> with op one of < <= > >= == !=, ${EXAMPLE}` };
  }
  const at = opMatch.index;
  let op = opMatch[0];
  if (op === '=') {
    const next = source[at + 1];
    if (next === '<' || next === '>') return { error: `unknown operator "=${next}"`, hint: `write ${next}=` };
    return { error: `"=" is not a comparison`, hint: 'write == to test equality' };
  }
  const left = source.slice(0, at).trim();
  const right = source.slice(at + op.length).trim();
  if (/^[<>=!]/.test(right)) {
    op += right[0];
    return { error: `unknown operator "${op}"`, hint: 'operators are < <= > >= == !=' };
  }

  let name = left;
  let group: string | undefined;
  if (left.startsWith('group(') || left.startsWith('group.')) {
    const g = GROUP_PREFIX.exec(left);
    if (g === null || !GROUP_NAME.test(g[1])) {
      return {
        error: `bad group in "${left}"`,
        hint: 'write group(<name>).<metric>, the name in letters, digits, _ and -, e.g. group(publishers).publish.p99 < 50ms',
      };
    }
    group = g[1];
    name = g[2];
  }
  if (name === '') return { error: `no metric before "${op}"`, hint: EXAMPLE };
  const entry = METRICS.get(name);
  if (entry === undefined) return unknownMetric(name);

  if (right === '') return { error: `no value after "${op}"`, hint: EXAMPLE };
  const v = VALUE.exec(right);
  if (v === null) {
    if (right.startsWith('-')) return { error: `negative limit "${right}"`, hint: 'every metric is zero or more' };
    return { error: `"${right}" is not a number with an optional unit`, hint: unitHint(entry) };
  }
  const number = Number(v[1]);
  const unit = (v[2] ?? '') as ThresholdUnit;

  let value: number;
  if (entry.kind === 'latency') {
    if (unit === '' || unit === '/s') {
      return { error: `${name} needs a time unit, got "${right}"`, hint: unitHint(entry) };
    }
    // Rounded to the nanosecond so that 1.1ms is exactly 1100 µs, not 1100.0000000000002.
    value = Math.round(number * LATENCY_FACTOR[unit] * 1000) / 1000;
  } else if (entry.kind === 'rate') {
    if (unit !== '' && unit !== '/s') return { error: `${name} is a rate, got "${right}"`, hint: unitHint(entry) };
    value = number;
  } else {
    if (unit !== '') return { error: `${name} is a count and takes no unit, got "${right}"`, hint: unitHint(entry) };
    value = number;
  }

  const threshold: Threshold = {
    source,
    kind: entry.kind,
    metric: entry.metric,
    ...(entry.kind === 'latency' ? { stat: entry.stat } : {}),
    ...(group !== undefined ? { group } : {}),
    op: op as ThresholdOp,
    value,
    unit: entry.kind === 'rate' ? '/s' : unit,
  };
  return { threshold };
}

export function evaluateThresholds(thresholds: readonly Threshold[], result: ThresholdInput): ThresholdResult[] {
  return thresholds.map((t) => evaluateOne(t, result));
}

function evaluateOne(threshold: Threshold, result: ThresholdInput): ThresholdResult {
  const name = thresholdName(threshold);
  const factor = threshold.kind === 'latency' ? LATENCY_FACTOR[threshold.unit] : 1;
  const suffix = threshold.unit;
  const limit = `limit ${threshold.op} ${formatNumber(threshold.value / factor)}${suffix}`;
  let metrics: ThresholdMetrics | undefined = result;
  if (threshold.group !== undefined) metrics = result.groups?.[threshold.group];
  if (metrics === undefined) {
    return { threshold, actual: null, passed: false, describe: `${name}: no group "${threshold.group}" in the results, ${limit}` };
  }
  const actual = measure(threshold, metrics);
  if (actual === null) {
    const why = threshold.kind === 'latency' ? 'no samples' : 'not measured';
    return { threshold, actual: null, passed: false, describe: `${name}: ${why}, ${limit}` };
  }
  return {
    threshold,
    actual,
    passed: compare(actual, threshold.op, threshold.value),
    describe: `${name} = ${formatNumber(actual / factor)}${suffix}, ${limit}`,
  };
}

/** The threshold's metric as written, e.g. "group(publishers).publish.p99". */
export function thresholdName(t: Threshold): string {
  const metric = t.stat === undefined ? t.metric : `${t.metric}.${t.stat}`;
  return t.group === undefined ? metric : `group(${t.group}).${metric}`;
}

function measure(t: Threshold, m: ThresholdMetrics): number | null {
  if (t.kind === 'latency') {
    const summary = m.latency?.[t.metric as LatencyMetric];
    if (summary === undefined || summary.count === 0 || t.stat === undefined) return null;
    return summary[STAT_FIELD[t.stat]];
  }
  const v = t.kind === 'rate' ? m.rates?.[t.metric as RateMetric] : m.counters?.[t.metric as CounterMetric];
  return v === undefined || Number.isNaN(v) ? null : v;
}

function compare(actual: number, op: ThresholdOp, limit: number): boolean {
  switch (op) {
    case '<':
      return actual < limit;
    case '<=':
      return actual <= limit;
    case '>':
      return actual > limit;
    case '>=':
      return actual >= limit;
    case '==':
      return actual === limit;
    case '!=':
      return actual !== limit;
  }
}

function unknownMetric(name: string): { error: string; hint?: string } {
  if ((LATENCY_METRICS as readonly string[]).includes(name)) {
    return { error: `${name} needs a statistic`, hint: `write ${name}.<stat> with stat one of ${LATENCY_STATS.join(' ')}, e.g. ${name}.p99` };
  }
  const dot = name.lastIndexOf('.');
  const base = dot < 0 ? '' : name.slice(0, dot);
  if ((LATENCY_METRICS as readonly string[]).includes(base)) {
    const alias = STAT_ALIASES[name.slice(dot + 1)];
    const near = alias !== undefined ? `${base}.${alias}` : suggest(name, METRIC_NAMES);
    return {
      error: `unknown statistic "${name.slice(dot + 1)}" in "${name}"`,
      hint: near !== undefined ? `did you mean "${near}"?` : `statistics are ${LATENCY_STATS.join(' ')}`,
    };
  }
  const near = suggest(name, METRIC_NAMES);
  if (near !== undefined) return { error: `unknown metric "${name}"`, hint: `did you mean "${near}"?` };
  return {
    error: `unknown metric "${name}"`,
    hint: `latency: ${LATENCY_METRICS.join(' ')} with .${LATENCY_STATS.join('/.')}; counters: ${COUNTER_METRICS.join(' ')}; rates: ${RATE_METRICS.join(' ')}`,
  };
}

function unitHint(entry: MetricEntry): string {
  if (entry.kind === 'latency') return `a latency takes us, ms or s, e.g. ${entry.metric}.${entry.stat} < 20ms`;
  if (entry.kind === 'rate') return `a rate is per second, e.g. ${entry.metric} > 5000/s`;
  return `a count is a plain number, e.g. ${entry.metric} == 0`;
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  return String(Number(n.toFixed(abs >= 100 ? 1 : abs >= 1 ? 2 : 3)));
}
