/** Typed messages between the benchmark process and its load generator child. */
import type { Qos } from './mqtt-wire.js';
import type { RowName } from './rows.js';

export interface GeneratorJob {
  host: string;
  port: number;
  /** The broker process, whose CPU time is read over the measurement window; undefined to skip. */
  brokerPid: number | undefined;
  row: RowName;
  topic: string;
  publishers: number;
  subscribers: number;
  qos: Qos;
  payloadBytes: number;
  /** Unacknowledged packet ids per QoS 1/2 publisher. */
  window: number;
  /** Publishers pause while this many deliveries are outstanding (sent × subscribers − received); 0: no bound. */
  maxUndelivered: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Longest wait after publishing stops for the deliveries still on their way. */
  drainSeconds: number;
  clientIdPrefix: string;
}

export interface GeneratorResult {
  /** Measured window length, from the counter snapshots. */
  windowSeconds: number;
  /** Messages received by subscribers per second over the window, summed over subscribers. */
  receivedPerSecond: number;
  /** PUBLISH packets sent per second over the window, summed over publishers. */
  sentPerSecond: number;
  /** Totals over the whole run (warm-up, window and drain). */
  sent: number;
  received: number;
  /** sent × subscribers: what the subscribers should have received. */
  expected: number;
  /** expected − received; negative when the broker delivered extra copies. */
  lost: number;
  /** Deliveries flagged DUP. */
  duplicates: number;
  /** QoS 1/2 flows the broker had not completed when the drain ended. */
  unacknowledged: number;
  /** Packets the generator did not expect (acks for unknown ids and the like). */
  unexpected: number;
  /** Broker process CPU over the window, % of one core; null when it could not be read. */
  brokerCpuPercent: number | null;
  /** Generator process CPU over the window, % of one core: near 100 means the generator may be the limit. */
  generatorCpuPercent: number;
  /** Broker process peak resident memory (VmHWM) at the end of the drain, MiB; null when it could not be read. */
  brokerPeakRssMiB: number | null;
  drainSeconds: number;
  /** The drain ended at its time limit with deliveries still arriving. */
  drainTimedOut: boolean;
}

export type ToGenerator = { type: 'run'; job: GeneratorJob };

export type FromGenerator = { type: 'result'; result: GeneratorResult } | { type: 'error'; message: string };
