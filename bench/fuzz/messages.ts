/** Messages between the fuzz run and its fuzzing process (bench/fuzz/fuzz-child.ts). */
import type { PlanKind } from './connection-plans.js';
import type { FuzzStats } from './lanes.js';

export interface FuzzJob {
  host: string;
  port: number;
  seed: string;
  /** Stop starting connections once this many packets are written. */
  packets: number;
  /** Connections open at once. */
  lanes: number;
  /** Stop starting connections after this long, even short of `packets`. */
  limitMs: number;
  kinds: PlanKind[];
}

export type ToFuzzChild = { type: 'run'; job: FuzzJob } | { type: 'stop' };

export type FromFuzzChild =
  | { type: 'progress'; stats: FuzzStats; elapsedMs: number }
  | { type: 'done'; stats: FuzzStats; elapsedMs: number }
  | { type: 'error'; message: string };
