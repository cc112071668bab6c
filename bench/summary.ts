/** Per-run records and their per-row, per-broker summary (median over rounds, min–max) and ratios between brokers. */
import type { BrokerKind } from './broker-process.js';
import type { ConnectResult, GeneratorResult, IdleResult, MessageResult } from './messages.js';
import type { RowName } from './rows.js';

export interface RunRecord {
  row: RowName;
  broker: BrokerKind;
  /** e.g. "mosquitto 2.0.11". */
  brokerLabel: string;
  round: number;
  /** Absent when the run failed; `error` says why. */
  result?: GeneratorResult;
  error?: string;
}

/** A figure over the rounds: the median, the lowest and the highest. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

interface SummaryBase {
  row: RowName;
  broker: BrokerKind;
  brokerLabel: string;
  /** Runs that produced a result. */
  runs: number;
  failed: number;
}

export interface MessageSummary extends SummaryBase {
  kind: 'messages';
  /** Messages received per second. */
  rate: Spread;
  /** Broker CPU µs per message received; null when /proc could not be read. */
  cpuPerMessage: Spread | null;
  brokerCpuPercent: number | null;
  generatorCpuPercent: number;
  /** Summed over the rounds. */
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  beyondWindow: number;
  unacknowledged: number;
  unexpected: number;
}

export interface IdleSummary extends SummaryBase {
  kind: 'idle';
  connections: number;
  /** Broker RSS growth per idle subscribed connection, bytes, 1 s after the last SUBACK. */
  bytesPerConnection: Spread;
  /** The same after the longer idle time; null when it was not read. */
  idleBytesPerConnection: Spread | null;
  connectSeconds: Spread;
}

export interface ConnectSummary extends SummaryBase {
  kind: 'connect';
  connections: number;
  /** Broker CPU µs per connect + CONNACK + DISCONNECT; null when /proc could not be read. */
  cpuPerConnection: Spread | null;
  rate: Spread;
  /** Medians over the rounds of each round's CONNECT → CONNACK quantiles, ms. */
  connackP50Ms: number;
  connackP99Ms: number;
}

export type BrokerSummary = MessageSummary | IdleSummary | ConnectSummary;

/** The figure a ratio divides: message rate and CPU per message, memory per connection, CPU per connection. */
export type Metric = 'rate' | 'cpu-per-message' | 'bytes-per-connection' | 'idle-bytes-per-connection' | 'cpu-per-connection';

/** `of`'s median ÷ `over`'s median for one row and figure. */
export interface Ratio {
  row: RowName;
  metric: Metric;
  of: BrokerKind;
  over: BrokerKind;
  overLabel: string;
  value: number;
}

export function summariseRuns(records: readonly RunRecord[]): BrokerSummary[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = `${r.row}\u0000${r.broker}`;
    const group = groups.get(key);
    if (group) group.push(r);
    else groups.set(key, [r]);
  }
  const out: BrokerSummary[] = [];
  for (const group of groups.values()) {
    const base: SummaryBase = {
      row: group[0].row,
      broker: group[0].broker,
      brokerLabel: group[0].brokerLabel,
      runs: group.filter((r) => r.result !== undefined).length,
      failed: group.filter((r) => r.result === undefined).length,
    };
    const results = group.map((r) => r.result).filter((r): r is GeneratorResult => r !== undefined);
    const kind = results[0]?.kind;
    if (kind === 'idle') out.push(summariseIdle(base, results as IdleResult[]));
    else if (kind === 'connect') out.push(summariseConnect(base, results as ConnectResult[]));
    else out.push(summariseMessages(base, results as MessageResult[]));
  }
  return out;
}

function summariseMessages(base: SummaryBase, ok: readonly MessageResult[]): MessageSummary {
  const cpus = ok.map((r) => r.brokerCpuPercent).filter((c): c is number => c !== null);
  return {
    kind: 'messages',
    ...base,
    rate: spread(ok.map((r) => r.receivedPerSecond)),
    cpuPerMessage: spreadOrNull(ok.map((r) => r.brokerCpuMicrosPerMessage)),
    brokerCpuPercent: cpus.length > 0 ? median(cpus) : null,
    generatorCpuPercent: median(ok.map((r) => r.generatorCpuPercent)),
    sent: sum(ok.map((r) => r.sent)),
    received: sum(ok.map((r) => r.received)),
    lost: sum(ok.map((r) => r.lost)),
    duplicates: sum(ok.map((r) => r.duplicates)),
    outOfOrder: sum(ok.map((r) => r.outOfOrder)),
    beyondWindow: sum(ok.map((r) => r.beyondWindow)),
    unacknowledged: sum(ok.map((r) => r.unacknowledged)),
    unexpected: sum(ok.map((r) => r.unexpected)),
  };
}

function summariseIdle(base: SummaryBase, ok: readonly IdleResult[]): IdleSummary {
  return {
    kind: 'idle',
    ...base,
    connections: ok[0].connections,
    bytesPerConnection: spread(ok.map((r) => r.bytesPerConnection)),
    idleBytesPerConnection: spreadOrNull(ok.map((r) => r.idleBytesPerConnection ?? null)),
    connectSeconds: spread(ok.map((r) => r.connectSeconds)),
  };
}

function summariseConnect(base: SummaryBase, ok: readonly ConnectResult[]): ConnectSummary {
  return {
    kind: 'connect',
    ...base,
    connections: ok[0].connections,
    cpuPerConnection: spreadOrNull(ok.map((r) => r.brokerCpuMicrosPerConnection)),
    rate: spread(ok.map((r) => r.connectionsPerSecond)),
    connackP50Ms: median(ok.map((r) => r.connackP50Ms)),
    connackP99Ms: median(ok.map((r) => r.connackP99Ms)),
  };
}

/**
 * The ratios the tables show. Message rows: the bundled broker ÷ each other broker, in msg/s and in CPU per message.
 * Connection rows: every broker ÷ the floor, and the bundled broker ÷ every other broker. Nothing for a broker with
 * no successful run or a zero median.
 */
export function rowRatios(summaries: readonly BrokerSummary[]): Ratio[] {
  const out: Ratio[] = [];
  const add = (of: BrokerSummary, over: BrokerSummary, metric: Metric, a: Spread | null, b: Spread | null): void => {
    if (a === null || b === null || of.runs === 0 || over.runs === 0 || b.median === 0) return;
    out.push({ row: of.row, metric, of: of.broker, over: over.broker, overLabel: over.brokerLabel, value: a.median / b.median });
  };
  const rows = [...new Set(summaries.map((s) => s.row))];
  for (const row of rows) {
    const group = summaries.filter((s) => s.row === row);
    const bundled = group.find((s) => s.broker === 'bundled');
    const floor = group.find((s) => s.broker === 'floor');
    for (const other of group) {
      if (bundled !== undefined && other !== bundled) {
        if (bundled.kind === 'messages' && other.kind === 'messages') {
          add(bundled, other, 'rate', bundled.rate, other.rate);
          add(bundled, other, 'cpu-per-message', bundled.cpuPerMessage, other.cpuPerMessage);
        }
        if (bundled.kind === 'idle' && other.kind === 'idle') {
          add(bundled, other, 'bytes-per-connection', bundled.bytesPerConnection, other.bytesPerConnection);
          add(bundled, other, 'idle-bytes-per-connection', bundled.idleBytesPerConnection, other.idleBytesPerConnection);
        }
        if (bundled.kind === 'connect' && other.kind === 'connect') {
          add(bundled, other, 'cpu-per-connection', bundled.cpuPerConnection, other.cpuPerConnection);
        }
      }
      if (floor !== undefined && other !== floor && other !== bundled) {
        if (other.kind === 'idle' && floor.kind === 'idle') {
          add(other, floor, 'bytes-per-connection', other.bytesPerConnection, floor.bytesPerConnection);
          add(other, floor, 'idle-bytes-per-connection', other.idleBytesPerConnection, floor.idleBytesPerConnection);
        }
        if (other.kind === 'connect' && floor.kind === 'connect') {
          add(other, floor, 'cpu-per-connection', other.cpuPerConnection, floor.cpuPerConnection);
        }
      }
    }
  }
  return out;
}

export function findRatio(ratios: readonly Ratio[], row: RowName, metric: Metric, of: BrokerKind, over: BrokerKind): number | undefined {
  return ratios.find((r) => r.row === row && r.metric === metric && r.of === of && r.over === over)?.value;
}

/** The middle value (mean of the two middle ones for an even count); 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: 0, min: 0, max: 0 };
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

function spreadOrNull(values: readonly (number | null)[]): Spread | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length > 0 ? spread(known) : null;
}

function sum(values: readonly number[]): number {
  let n = 0;
  for (const v of values) n += v;
  return n;
}
