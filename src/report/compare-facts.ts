/**
 * What every compare report says the same way: which figure a scenario is measured by, the ratio lines, the machine,
 * the brokers, and each saturation search's limit and the step that broke it.
 */
import type { BrokerInfo, BrokerSummary, CompareResult, SaturationResult, SaturationStep, ScenarioComparison } from '../compare/result.js';
import { formatBytes, formatCount, formatMs, formatRate, formatRateNumber, NOT_AVAILABLE, oneLine } from './format.js';

export type Measure = ScenarioComparison['measure'];

export interface MeasureText {
  /** What the figure is, in a sentence: "received messages per second". */
  what: string;
  /** Column head and unit: "msg/s". */
  unit: string;
  /** Which way is better, for the reader. */
  better: 'higher' | 'lower';
  /** A value of the figure with its unit: "52,000 msg/s", "3.0 KiB". */
  format: (v: number) => string;
  /** What the latency columns time. */
  latency: string;
}

export const MEASURES: Record<Measure, MeasureText> = {
  throughput: {
    what: 'messages received per second',
    unit: 'msg/s',
    better: 'higher',
    format: (v) => `${formatRateNumber(v)} msg/s`,
    latency: 'end to end (publish to arrival)',
  },
  retained: {
    what: 'retained copies sent to new subscriptions per second',
    unit: 'msg/s',
    better: 'higher',
    format: (v) => `${formatRateNumber(v)} msg/s`,
    latency: 'age of each retained copy (publish to arrival)',
  },
  'connect-rate': {
    what: 'connections established per second',
    unit: 'conn/s',
    better: 'higher',
    format: (v) => `${formatRateNumber(v)} conn/s`,
    latency: 'CONNECT to CONNACK',
  },
  memory: {
    what: 'broker memory per connected client',
    unit: 'B/conn',
    better: 'lower',
    format: formatBytes,
    latency: 'CONNECT to CONNACK',
  },
};

function usable(n: number | undefined): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

/** A ratio to two or three significant digits: "8.49×", "12.3×", "0.87×", "0.053×", "140×". */
export function formatRatio(ratio: number | undefined): string {
  if (!usable(ratio)) return NOT_AVAILABLE;
  const abs = Math.abs(ratio);
  // Decide on the rounded value so that 9.996 prints as "10.0×", not "10.00×".
  if (Number(abs.toFixed(1)) >= 100) return `${formatCount(ratio)}×`;
  if (Number(abs.toFixed(2)) >= 10) return `${ratio.toFixed(1)}×`;
  if (Number(abs.toFixed(2)) >= 0.1 || abs === 0) return `${ratio.toFixed(2)}×`;
  // A broker many times better than the other: two decimals would round its ratio to 0.05 or even 0.00.
  return `${Number(ratio.toPrecision(2))}×`;
}

/** CPU time in seconds, about three significant digits: "0.042 s", "1.23 s", "12.3 s", "1,234 s". */
export function formatCpuSeconds(seconds: number | undefined): string {
  if (!usable(seconds)) return NOT_AVAILABLE;
  const abs = Math.abs(seconds);
  if (abs === 0) return '0 s';
  if (Number(abs.toFixed(1)) >= 100) return `${formatCount(seconds)} s`;
  if (Number(abs.toFixed(2)) >= 10) return `${seconds.toFixed(1)} s`;
  if (Number(abs.toFixed(3)) >= 0.1) return `${seconds.toFixed(2)} s`;
  return `${seconds.toFixed(3)} s`;
}

/** "52,000–54,100" in the measure's own format, or n/a when either end is missing. */
export function formatRange(min: number | undefined, max: number | undefined, format: (v: number) => string): string {
  if (!usable(min) || !usable(max)) return NOT_AVAILABLE;
  return `${format(min)}–${format(max)}`;
}

/** The label of the bundled broker, the left side of every ratio; undefined when it was not compared. */
export function bundledLabel(result: CompareResult): string | undefined {
  return result.brokers.find((b) => b.kind === 'bundled')?.label;
}

/** A broker's place in the result, so that it keeps one colour in every chart. */
export function brokerIndex(result: CompareResult, label: string): number {
  const i = result.brokers.findIndex((b) => b.label === label);
  return i >= 0 ? i : result.brokers.length;
}

export interface MeasureFigure {
  median: number | undefined;
  min: number | undefined;
  max: number | undefined;
}

/**
 * A broker's figure on the scenario's measure: its median and the spread over rounds. Memory per connection has no
 * spread in the summary, so it is taken from the runs.
 */
export function measureOf(result: CompareResult, scenario: ScenarioComparison, b: BrokerSummary): MeasureFigure {
  const clean = (n: number | undefined): number | undefined => (usable(n) ? n : undefined);
  if (scenario.measure === 'throughput' || scenario.measure === 'retained') {
    const rate = rateOf(scenario, b);
    return { median: clean(rate.median), min: clean(rate.min), max: clean(rate.max) };
  }
  if (scenario.measure === 'connect-rate') {
    return { median: clean(b.connectsPerSec.median), min: clean(b.connectsPerSec.min), max: clean(b.connectsPerSec.max) };
  }
  const median = clean(b.bytesPerConnection);
  if (median === undefined) return { median, min: undefined, max: undefined };
  let min = Infinity;
  let max = -Infinity;
  for (const run of result.runs) {
    if (run.scenario !== scenario.scenario || run.broker !== b.broker || !usable(run.bytesPerConnection)) continue;
    min = Math.min(min, run.bytesPerConnection);
    max = Math.max(max, run.bytesPerConnection);
  }
  return min <= max ? { median, min, max } : { median, min: median, max: median };
}

/**
 * The rate a table row leads with: messages received per second where the scenario is about throughput, retained
 * copies per second where it is about retained messages, connections established per second where it is about
 * connections (their rate or their memory).
 */
export function rateOf(scenario: ScenarioComparison, b: BrokerSummary): BrokerSummary['receivedPerSec'] {
  if (scenario.measure === 'throughput') return b.receivedPerSec;
  return scenario.measure === 'retained' ? b.retainedPerSec : b.connectsPerSec;
}

/** The unit of `rateOf`. */
export function rateUnit(scenario: ScenarioComparison): 'conn/s' | 'msg/s' {
  return scenario.measure === 'throughput' || scenario.measure === 'retained' ? 'msg/s' : 'conn/s';
}

/**
 * Memory per connection belongs in the table only where the scenario holds its connections: where they come and go,
 * peak memory over peak connections measures the churn's garbage, not a connection.
 */
export function showsBytesPerConnection(scenario: ScenarioComparison): boolean {
  return scenario.measure === 'memory';
}

/** The faults column belongs in the table only where the scenario stops and starts the broker. */
export function showsFaultLoss(scenario: ScenarioComparison): boolean {
  return (scenario.faults ?? 0) > 0;
}

/** What the faults column counts, in every compare report's words. */
export const FAULT_LOSS_MEANING =
  'lost across faults: messages a broker acknowledged (QoS 1 and 2) before one of the scenario’s faults (kill -9, ' +
  'restart) and never delivered to a subscriber that should have had them, summed over all rounds';

export interface RatioLine {
  broker: string;
  ratio: number | undefined;
  /** Dividend and divisor: the bundled broker and the other one, the other way round for memory. */
  left: string;
  right: string;
  /** "8.49×", or n/a. */
  value: string;
}

/** The column head for a row's ratio: which side is divided by which. */
export function ratioHead(scenario: ScenarioComparison, bundled: string): string {
  return scenario.measure === 'memory' ? `this ÷ ${bundled}` : `${bundled} ÷ this`;
}

/**
 * One line per broker other than the bundled one ("bundled ÷ mosquitto 2.0.11: 8.49×" once each renderer has made
 * the labels safe); none when the bundled broker was not in the scenario.
 */
export function ratioLines(scenario: ScenarioComparison, bundled: string | undefined): RatioLine[] {
  if (bundled === undefined || !scenario.brokers.some((b) => b.broker === bundled)) return [];
  return scenario.brokers
    .filter((b) => b.broker !== bundled)
    .map((b) => {
      const ratio = ratioFor(scenario, b.broker);
      const memory = scenario.measure === 'memory';
      return { broker: b.broker, ratio, left: memory ? b.broker : bundled, right: memory ? bundled : b.broker, value: formatRatio(ratio) };
    });
}

function ratioFor(scenario: ScenarioComparison, broker: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(scenario.ratios, broker) ? scenario.ratios[broker] : undefined;
}

/** What a ratio above 1 means for the scenario's measure. */
export function ratioMeaning(scenario: ScenarioComparison): string {
  return scenario.measure === 'memory'
    ? "The other broker's memory per connection ÷ the bundled broker's: above 1 means the bundled broker uses less"
    : `The bundled broker's ${MEASURES[scenario.measure].what} ÷ the other broker's: above 1 means the bundled broker does more`;
}

/** A row's ratio cell: the ratio of the bundled broker to this one, "–" on the bundled broker's own row. */
export function ratioCell(scenario: ScenarioComparison, broker: string, bundled: string | undefined): string {
  if (bundled === undefined || broker === bundled || !scenario.brokers.some((b) => b.broker === bundled)) return '–';
  return formatRatio(ratioFor(scenario, broker));
}

/** Whether some broker completed fewer rounds of the scenario than were asked for (the tables then show the count). */
export function missesRounds(result: CompareResult, scenario: ScenarioComparison): boolean {
  return scenario.brokers.some((b) => b.rounds !== result.rounds);
}

/**
 * A broker's row in a scenario's table after its name, as plain text for the renderer to escape: the rate's median
 * and min–max, latency p50/p99/p99.9 (written by `ms`, with or without the unit), errors, lost, CPU time, messages
 * per CPU second and peak memory; then memory per connection where the scenario shows it, the acknowledged messages
 * lost across its faults where it has any, and "2 of 3" rounds where some broker missed rounds.
 */
export function brokerFigures(result: CompareResult, scenario: ScenarioComparison, b: BrokerSummary, ms: (us: number | undefined) => string): string[] {
  const rate = rateOf(scenario, b);
  const row = [
    formatRateNumber(rate.median),
    formatRange(rate.min, rate.max, formatRateNumber),
    ms(b.p50),
    ms(b.p99),
    ms(b.p999),
    formatCount(b.errors),
    formatCount(b.lost),
    formatCpuSeconds(b.cpuSeconds?.median),
    formatRateNumber(b.messagesPerCpuSecond),
    formatBytes(b.peakRssBytes?.median),
  ];
  if (showsBytesPerConnection(scenario)) row.push(formatBytes(b.bytesPerConnection));
  if (showsFaultLoss(scenario)) row.push(formatCount(b.faultsLost ?? 0));
  if (missesRounds(result, scenario)) row.push(`${formatCount(b.rounds)} of ${formatCount(result.rounds)}`);
  return row;
}

/** Per broker, how many rounds failed the scenario's own thresholds: "mosquitto 2.0.11: thresholds failed in 1 of 3 rounds". */
export function thresholdNotes(result: CompareResult, scenario: ScenarioComparison): Array<{ broker: string; failed: number; runs: number }> {
  const notes: Array<{ broker: string; failed: number; runs: number }> = [];
  for (const b of scenario.brokers) {
    let runs = 0;
    let failed = 0;
    for (const run of result.runs) {
      if (run.scenario !== scenario.scenario || run.broker !== b.broker) continue;
      runs++;
      if (!run.passed) failed++;
    }
    if (failed > 0) notes.push({ broker: b.broker, failed, runs });
  }
  return notes;
}

export interface MachineFacts {
  cpu: string;
  memory: string;
  node: string;
  platform: string;
}

export function machineFacts(m: CompareResult['machine']): MachineFacts {
  return {
    cpu: `${formatCount(m.cpus)} ${m.cpus === 1 ? 'core' : 'cores'}, ${m.cpuModel.trim() === '' ? 'model unknown' : m.cpuModel.trim()}`,
    memory: formatBytes(m.memoryBytes),
    node: m.node.replace(/^v?/, 'v'),
    platform: m.platform,
  };
}

/** "2 cores, Intel(R) Xeon(R) … · 7.8 GiB · Node v20.11.1 · linux x64". */
export function describeMachine(m: CompareResult['machine']): string {
  const f = machineFacts(m);
  return `${f.cpu} · ${f.memory} · Node ${f.node} · ${f.platform}`;
}

/** "3 rounds per scenario and broker, alternating brokers". */
export function describeRounds(rounds: number): string {
  return `${formatCount(rounds)} ${rounds === 1 ? 'round' : 'rounds'} per scenario and broker, brokers alternating`;
}

/** Whether CPU and memory were measured, and why not. */
export function processNote(b: BrokerInfo): string {
  return b.local ? 'measured (started by mqbench)' : 'not measured (not started by mqbench)';
}

export interface SaturationFacts {
  scenario: string;
  broker: string;
  /** "40,000/s", or "none" when the first step already failed. */
  sustained: string;
  /** The offered rate of the step that did not hold, "–" when every step held. */
  failedAt: string;
  /** Why that step did not hold, or that every step held. */
  why: string;
  /** "p99 ≤ 50 ms, lost ≤ 0, errors ≤ 0". */
  limits: string;
  steps: number;
  failedStep: SaturationStep | undefined;
}

/**
 * The step that broke the search: the lowest offered rate above the sustained one that did not hold. Not simply the
 * first failed step, so that a search that bisects rather than climbs is read correctly too.
 */
export function failedStepOf(s: SaturationResult): SaturationStep | undefined {
  const floor = s.sustainedPerSec ?? -Infinity;
  let found: SaturationStep | undefined;
  for (const step of s.steps) {
    if (step.held || !(step.offeredPerSec > floor)) continue;
    if (found === undefined || step.offeredPerSec < found.offeredPerSec) found = step;
  }
  return found;
}

function describeLimits(limits: SaturationResult['limits']): string {
  return `p99 ≤ ${formatMs(limits.p99Us)}, lost ≤ ${formatCount(limits.lost)}, errors ≤ ${formatCount(limits.errors)}`;
}

export function saturationFacts(s: SaturationResult): SaturationFacts {
  const failed = failedStepOf(s);
  let why: string;
  if (failed !== undefined) why = failed.why !== undefined && failed.why.trim() !== '' ? failed.why : 'did not hold';
  else if (s.steps.length === 0) why = 'no step was run';
  else why = `every step held, up to ${formatRate(Math.max(...s.steps.map((st) => st.offeredPerSec)))}`;
  return {
    scenario: s.scenario,
    broker: s.broker,
    sustained: s.sustainedPerSec === undefined ? 'none' : formatRate(s.sustainedPerSec),
    failedAt: failed === undefined ? '–' : formatRate(failed.offeredPerSec),
    why,
    limits: describeLimits(s.limits),
    steps: s.steps.length,
    failedStep: failed,
  };
}

/** Steps in the order of their offered rate, as the charts and tables show them. */
export function stepsByRate(s: SaturationResult): SaturationStep[] {
  return [...s.steps].sort((a, b) => a.offeredPerSec - b.offeredPerSec);
}

/** Saturation results grouped by scenario, in the order they first appear. */
export function saturationByScenario(result: CompareResult): Array<[scenario: string, results: SaturationResult[]]> {
  const groups = new Map<string, SaturationResult[]>();
  for (const s of result.saturation) {
    const list = groups.get(s.scenario);
    if (list === undefined) groups.set(s.scenario, [s]);
    else list.push(s);
  }
  return [...groups];
}

/** Each incident as one line: "bench-qos0-fanin, aedes 1.2.0, round 2: aedes 1.2.0 exited during the run (…)". */
export function incidentLines(result: CompareResult): string[] {
  return result.incidents.map((i) => `${oneLine(i.scenario)}, ${oneLine(i.broker)}, round ${formatCount(i.round)}: ${oneLine(i.what)}`);
}
