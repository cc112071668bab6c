/**
 * The result of `mqbench compare`: the same scenarios against several brokers, alternating, with medians, spread,
 * the brokers' own CPU and memory, and ratios of the bundled broker to each other one. Plain data: what compare.json
 * holds and what every compare report renders. Latencies in µs, times in ms unless named otherwise.
 */
import type { LatencySummary } from '../metrics/histogram.js';
import type { PercentileCurve } from '../run/result.js';

export interface BrokerInfo {
  /** How reports name it: "bundled", "mosquitto 2.0.11", "aedes 1.2.0", or a URL. */
  label: string;
  kind: 'bundled' | 'mosquitto' | 'aedes' | 'remote';
  version: string;
  url: string;
  /** Started by mqbench as its own process: its CPU and memory are measured. */
  local: boolean;
}

/** What one run of one scenario against one broker measured. */
export interface CompareRun {
  scenario: string;
  broker: string;
  round: number;
  /**
   * Messages per second while they flowed, as the run report defines it (metrics/rates.ts): messages after the first
   * ÷ time from the first to the last message of that kind; 0 when the run had fewer than two.
   */
  receivedPerSec: number;
  sentPerSec: number;
  /** Connections established per second, by the same definition over the successful CONNACKs. */
  connectsPerSec: number;
  /** Retained copies a SUBSCRIBE brought, per second, by the same definition. */
  retainedPerSec: number;
  e2e: LatencySummary | undefined;
  connect: LatencySummary | undefined;
  /** Age of the retained copies a SUBSCRIBE brought: send time in the payload to arrival. */
  retained: LatencySummary | undefined;
  errors: number;
  lost: number;
  duplicated: number;
  /**
   * For a scenario with broker faults: messages the broker acknowledged (QoS 1 and 2) before a fault and never
   * delivered, over all its faults; undefined without faults.
   */
  faultsLost?: number;
  /** Why the broker did not come back after one of the scenario's faults (the round is then lost). */
  brokerLost?: string;
  /** Peak clients connected at once. */
  peakConnected: number;
  /** The broker process over the run; undefined for a broker mqbench did not start. */
  process: { cpuSeconds: number; peakRssBytes: number } | undefined;
  /** Messages received per CPU-second of the broker (undefined without process figures). */
  messagesPerCpuSecond: number | undefined;
  /** Broker memory per connected client, bytes: (peak RSS − RSS before the run) / peak connections. */
  bytesPerConnection: number | undefined;
  /** End-to-end percentile curve, for overlaid latency charts. */
  e2eCurve: PercentileCurve | undefined;
  /** The scenario's own verdict (thresholds). */
  passed: boolean;
  durationMs: number;
}

/** Median and spread of one figure over rounds. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface BrokerSummary {
  broker: string;
  rounds: number;
  receivedPerSec: Spread;
  sentPerSec: Spread;
  connectsPerSec: Spread;
  retainedPerSec: Spread;
  /**
   * Medians of the runs' latency percentiles, µs: end to end where the scenario is about messages, the retained
   * copies' age where it is about retained messages, CONNECT to CONNACK where it is about connections (their rate or
   * their memory).
   */
  p50: number | undefined;
  p99: number | undefined;
  p999: number | undefined;
  errors: number;
  lost: number;
  /** faultsLost summed over rounds, like errors and lost; undefined for a scenario without faults. */
  faultsLost?: number;
  cpuSeconds: Spread | undefined;
  peakRssBytes: Spread | undefined;
  messagesPerCpuSecond: number | undefined;
  bytesPerConnection: number | undefined;
  /** The median run's curve. */
  e2eCurve: PercentileCurve | undefined;
}

/** The latency a scenario's table shows for a run: end to end, the retained copies' age, or CONNECT to CONNACK. */
export function runLatency(measure: ScenarioComparison['measure'], run: CompareRun): LatencySummary | undefined {
  if (measure === 'throughput') return run.e2e;
  return measure === 'retained' ? run.retained : run.connect;
}

export interface ScenarioComparison {
  scenario: string;
  description: string;
  /**
   * The figure the scenario is about: message throughput, retained copies sent to new subscriptions (a scenario
   * whose every publish is retained), connection rate, or memory per connection.
   */
  measure: 'throughput' | 'retained' | 'connect-rate' | 'memory';
  /** Broker faults the scenario has (kill-broker, restart-broker); absent or 0: none. */
  faults?: number;
  brokers: BrokerSummary[];
  /** Bundled broker ÷ each other broker, on `measure` (for memory: other ÷ bundled, so above 1 means the bundled broker uses less). */
  ratios: Record<string, number>;
}

/** Saturation: the offered rate raised step by step until a limit is crossed; the highest rate that held. */
export interface SaturationStep {
  offeredPerSec: number;
  /** What the publishers managed, and what the subscribers received, as the run report's rates define them. */
  sentPerSec: number;
  receivedPerSec: number;
  p99Us: number | undefined;
  lost: number;
  errors: number;
  held: boolean;
  /** Why it did not hold: "p99 120 ms > 50 ms", "12 lost", "3 errors", "publishers sent 1500/s of 2250/s offered". */
  why: string | undefined;
}

export interface SaturationResult {
  scenario: string;
  broker: string;
  limits: { p99Us: number; lost: number; errors: number };
  steps: SaturationStep[];
  /** The highest offered rate that held (undefined when the first step already failed). */
  sustainedPerSec: number | undefined;
}

/** Something that went wrong with a broker during the comparison: a round lost, a broker restarted. */
export interface CompareIncident {
  scenario: string;
  broker: string;
  /** The round (or saturation step) it happened in. */
  round: number;
  /** What happened, in one sentence, with the broker's last log lines when it exited. */
  what: string;
}

export interface CompareResult {
  tool: { name: 'mqbench'; version: string };
  generatedAt: string;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; node: string; platform: string };
  command: string;
  rounds: number;
  brokers: BrokerInfo[];
  scenarios: ScenarioComparison[];
  runs: CompareRun[];
  saturation: SaturationResult[];
  /** Rounds lost and brokers restarted; a lost round is left out of the medians. */
  incidents: CompareIncident[];
}
