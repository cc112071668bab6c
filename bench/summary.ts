/** Per-run records and their per-row, per-broker summary (median over rounds, spread, ratio). */
import type { BrokerKind } from './broker-process.js';
import type { GeneratorResult } from './messages.js';
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

export interface BrokerSummary {
  row: RowName;
  broker: BrokerKind;
  brokerLabel: string;
  /** Runs that produced a result. */
  runs: number;
  failed: number;
  /** Messages received per second: median, lowest and highest over the rounds. */
  median: number;
  min: number;
  max: number;
  /** Half the min–max range as % of the median. */
  spreadPercent: number;
  brokerCpuPercent: number | null;
  generatorCpuPercent: number;
  /** Summed over the rounds. */
  sent: number;
  received: number;
  lost: number;
}

export interface RowRatio {
  row: RowName;
  /** Median bundled ÷ median Mosquitto; undefined unless both were measured. */
  bundledOverMosquitto: number | undefined;
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
    const ok = group.filter((r) => r.result !== undefined).map((r) => r.result!);
    const rates = ok.map((r) => r.receivedPerSecond);
    const cpus = ok.map((r) => r.brokerCpuPercent).filter((c): c is number => c !== null);
    const mid = median(rates);
    const lo = rates.length > 0 ? Math.min(...rates) : 0;
    const hi = rates.length > 0 ? Math.max(...rates) : 0;
    out.push({
      row: group[0].row,
      broker: group[0].broker,
      brokerLabel: group[0].brokerLabel,
      runs: ok.length,
      failed: group.length - ok.length,
      median: mid,
      min: lo,
      max: hi,
      spreadPercent: mid > 0 ? ((hi - lo) / 2 / mid) * 100 : 0,
      brokerCpuPercent: cpus.length > 0 ? median(cpus) : null,
      generatorCpuPercent: median(ok.map((r) => r.generatorCpuPercent)),
      sent: sum(ok.map((r) => r.sent)),
      received: sum(ok.map((r) => r.received)),
      lost: sum(ok.map((r) => r.lost)),
    });
  }
  return out;
}

export function rowRatios(summaries: readonly BrokerSummary[]): RowRatio[] {
  const rows = [...new Set(summaries.map((s) => s.row))];
  return rows.map((row) => {
    const bundled = summaries.find((s) => s.row === row && s.broker === 'bundled');
    const mosquitto = summaries.find((s) => s.row === row && s.broker === 'mosquitto');
    const measured = bundled && mosquitto && bundled.runs > 0 && mosquitto.runs > 0 && mosquitto.median > 0;
    return { row, bundledOverMosquitto: measured ? bundled.median / mosquitto.median : undefined };
  });
}

/** The middle value (mean of the two middle ones for an even count); 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function sum(values: readonly number[]): number {
  let n = 0;
  for (const v of values) n += v;
  return n;
}
