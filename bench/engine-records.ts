/** Records of `npm run bench:engine` measurements, their medians, and the verdict on each goal. */
import type { EngineJobResult } from './engine-messages.js';
import type { MessageResult } from './messages.js';
import { median } from './summary.js';

export type LoadTool = 'raw' | 'mqbench';

/** One fan-in measurement in the terms both tools share. */
export interface FanInMeasurement {
  windowSeconds: number;
  receivedPerSecond: number;
  sentPerSecond: number;
  lost: number;
  brokerCpuPercent: number | null;
  /** The load process (raw generator or mqbench) over the window, % of one core. */
  loadCpuPercent: number | null;
  /** mqbench's end-to-end latency over the whole run, µs; null for the raw generator, which does not time messages. */
  e2eP50Us: number | null;
  e2eP99Us: number | null;
}

export interface FanInRecord {
  round: number;
  tool: LoadTool;
  brokerLabel: string;
  /** Absent when the run failed; `error` says why. */
  measurement?: FanInMeasurement;
  error?: string;
  /** What the tool itself reported, for the JSON file. */
  raw?: MessageResult;
  mqbench?: EngineJobResult;
}

export interface ToolSummary {
  tool: LoadTool;
  runs: number;
  failed: number;
  /** Received messages per second: median, lowest and highest over the rounds. */
  median: number;
  min: number;
  max: number;
  /** Half the min–max range as % of the median. */
  spreadPercent: number;
  sentPerSecond: number;
  brokerCpuPercent: number | null;
  loadCpuPercent: number | null;
  /** Summed over the rounds. */
  lost: number;
  e2eP50Us: number | null;
  e2eP99Us: number | null;
}

export interface FanInVerdict {
  raw: ToolSummary;
  mqbench: ToolSummary;
  /** Median mqbench ÷ median raw; undefined unless both were measured. */
  ratio: number | undefined;
  goal: number;
  passed: boolean;
}

export function fanInMeasurementOfRaw(r: MessageResult): FanInMeasurement {
  return {
    windowSeconds: r.windowSeconds,
    receivedPerSecond: r.receivedPerSecond,
    sentPerSecond: r.sentPerSecond,
    lost: r.lost,
    brokerCpuPercent: r.brokerCpuPercent,
    loadCpuPercent: r.generatorCpuPercent,
    e2eP50Us: null,
    e2eP99Us: null,
  };
}

export function fanInMeasurementOfMqbench(r: EngineJobResult): FanInMeasurement {
  const e2e = r.run.latency.e2e;
  return {
    windowSeconds: r.windowSeconds,
    receivedPerSecond: r.receivedPerSecond,
    sentPerSecond: r.sentPerSecond,
    lost: r.lost,
    brokerCpuPercent: r.brokerCpuPercent,
    loadCpuPercent: r.loadCpuPercent,
    e2eP50Us: e2e?.p50 ?? null,
    e2eP99Us: e2e?.p99 ?? null,
  };
}

export function summariseTool(records: readonly FanInRecord[], tool: LoadTool): ToolSummary {
  const mine = records.filter((r) => r.tool === tool);
  const ok = mine.filter((r) => r.measurement !== undefined).map((r) => r.measurement!);
  const rates = ok.map((m) => m.receivedPerSecond);
  const mid = median(rates);
  const lo = rates.length > 0 ? Math.min(...rates) : 0;
  const hi = rates.length > 0 ? Math.max(...rates) : 0;
  return {
    tool,
    runs: ok.length,
    failed: mine.length - ok.length,
    median: mid,
    min: lo,
    max: hi,
    spreadPercent: mid > 0 ? ((hi - lo) / 2 / mid) * 100 : 0,
    sentPerSecond: median(ok.map((m) => m.sentPerSecond)),
    brokerCpuPercent: medianOrNull(ok.map((m) => m.brokerCpuPercent)),
    loadCpuPercent: medianOrNull(ok.map((m) => m.loadCpuPercent)),
    lost: ok.reduce((n, m) => n + m.lost, 0),
    e2eP50Us: medianOrNull(ok.map((m) => m.e2eP50Us)),
    e2eP99Us: medianOrNull(ok.map((m) => m.e2eP99Us)),
  };
}

/** mqbench passes when its median reaches `goal` × the raw generator's median and no run of either failed. */
export function judgeFanIn(records: readonly FanInRecord[], goal: number): FanInVerdict {
  const raw = summariseTool(records, 'raw');
  const mqbench = summariseTool(records, 'mqbench');
  const ratio = raw.runs > 0 && mqbench.runs > 0 && raw.median > 0 ? mqbench.median / raw.median : undefined;
  const passed = ratio !== undefined && ratio >= goal && raw.failed === 0 && mqbench.failed === 0;
  return { raw, mqbench, ratio, goal, passed };
}

export interface ScaleRecord {
  brokerLabel: string;
  clients: number;
  talkers: number;
  rampSeconds: number;
  holdSeconds: number;
  /** The broker process's open-file limit (soft, as `ulimit -n` shows), after any raise; null when unreadable. */
  brokerOpenFiles: number | 'unlimited' | null;
  /** The soft limit the broker started with, when it had to be raised for this run. */
  brokerOpenFilesRaisedFrom: number | null;
  result?: EngineJobResult;
  error?: string;
}

export interface ScaleVerdict {
  clients: number;
  /** The run produced a result (false: the record's `error` says why not). */
  measured: boolean;
  /** Most connections open at once. */
  peakConnections: number;
  /** Errors by kind, over the whole run. */
  errors: Record<string, number>;
  errorsTotal: number;
  failedClients: number;
  passed: boolean;
}

/** Every client connected at the same time, and nothing went wrong. */
export function judgeScale(record: ScaleRecord): ScaleVerdict {
  const r = record.result;
  if (r === undefined) {
    return { clients: record.clients, measured: false, peakConnections: 0, errors: {}, errorsTotal: 0, failedClients: 0, passed: false };
  }
  const errorsTotal = r.run.totals.errorsTotal;
  const failedClients = r.run.failedClients;
  return {
    clients: record.clients,
    measured: true,
    peakConnections: r.peakConnections,
    errors: r.run.totals.errors,
    errorsTotal,
    failedClients,
    passed: r.peakConnections >= record.clients && errorsTotal === 0 && failedClients === 0,
  };
}

function medianOrNull(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length > 0 ? median(known) : null;
}
