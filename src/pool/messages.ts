/**
 * Messages between the main thread and the workers of a run, as one discriminated union each way.
 */
import type { MessagePort } from 'node:worker_threads';
import type { EngineInit, EngineReport, ProgressSnapshot } from '../engine/engine.js';

/** The one long-lived task each worker runs for the whole run. */
export interface WorkerTask {
  worker: number;
  init: EngineInit;
  /** The worker's end of the channel for progress and control. */
  port: MessagePort;
}

/** Main → worker. */
export type ToWorker =
  /** Every worker is ready: the run's timeline starts at this epoch. */
  | { type: 'start'; epochNs: bigint; epochWallMs: number }
  /** Stop stepping and publishing; keep receiving for drainMs; then disconnect and return the report. */
  | { type: 'stop'; drainMs: number }
  /** The broker has exited (fault `index`, from 0): mark what each stream had acknowledged and duplicated. */
  | { type: 'fault'; index: number }
  /** Report the thread's V8 heap used; with `collect`, after a full garbage collection if Node exposes one. */
  | { type: 'heap'; collect: boolean };

/** Worker → main. */
export type FromWorker =
  /** The worker has built its clients and waits for 'start'. */
  | { type: 'ready'; worker: number }
  | { type: 'progress'; worker: number; snapshot: ProgressSnapshot }
  /** Every client of the worker has run all its steps. */
  | { type: 'idle'; worker: number }
  /** Fault `index` is marked: the broker may start again as far as this worker is concerned. */
  | { type: 'fault-marked'; worker: number; index: number }
  /** The answer to 'heap': the thread's V8 heap (util/heap.ts), and whether a full collection ran just before. */
  | { type: 'heap'; worker: number; usedBytes: number; youngGenerationBytes: number; collected: boolean };

/** What the task resolves with. */
export interface WorkerResult {
  worker: number;
  report: EngineReport;
}
