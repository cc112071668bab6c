/** Typed messages between `npm run bench:engine` and its mqbench child process, and the child's findings. */
import type { RunResult } from '../src/run/result.js';

export type EngineJobKind = 'fan-in' | 'scale';

export interface EngineJob {
  kind: EngineJobKind;
  /** The scenario, as YAML text. */
  scenarioYaml: string;
  host: string;
  port: number;
  /** The broker process, whose CPU time and peak memory are read from /proc; undefined to skip. */
  brokerPid: number | undefined;
  /** Files the mqbench process must be able to open (its sockets and a margin); checked before anything connects. */
  openFilesNeeded: number;
  /** Worker threads of the run. */
  workers: number;
  /**
   * The steady window, in whole seconds of the run's time series: seconds [firstSecond, firstSecond + seconds), as
   * the engine closed them. Rates and CPU are measured over it.
   */
  window: { firstSecond: number; seconds: number };
}

/** CPU of one process over a span, % of one core; null when it could not be read. */
export type CpuPercent = number | null;

export interface EngineJobResult {
  /**
   * Length of the window, seconds: between the progress reports that closed the series seconds before and at its
   * end (close to `window.seconds`; see engine-window.ts).
   */
  windowSeconds: number;
  /** The series seconds the window's counts come from, first and last. */
  windowSeriesSeconds: [number, number];
  /** Messages received per second over the window, from the run's per-second series. */
  receivedPerSecond: number;
  /** Messages sent per second over the window, from the run's per-second series. */
  sentPerSecond: number;
  /** Over the whole run: sent, received, and lost as mqbench's delivery accounting judged it. */
  sent: number;
  received: number;
  lost: number;
  brokerCpuPercent: CpuPercent;
  /** The mqbench process (all its threads) over the window. */
  loadCpuPercent: CpuPercent;
  /** Broker CPU and mqbench CPU over the whole run, from the first client start to the end of the drain. */
  brokerRunCpuPercent: CpuPercent;
  loadRunCpuPercent: CpuPercent;
  /** Peak resident memory (VmHWM) at the end of the run, MiB; null when it could not be read. */
  brokerPeakRssMiB: number | null;
  loadPeakRssMiB: number | null;
  /** Most connections open at once, from the per-second `connectionsOpen` gauge. */
  peakConnections: number;
  /** The open-file limit the mqbench process ran with (soft, as `ulimit -n` shows); null when unreadable. */
  openFileLimit: number | 'unlimited' | null;
  /** The soft limit it started with, when it had to be raised for this run. */
  openFileLimitRaisedFrom: number | null;
  run: RunResult;
}

export type ToEngineChild = { type: 'run'; job: EngineJob };

export type FromEngineChild = { type: 'result'; result: EngineJobResult } | { type: 'error'; message: string };
