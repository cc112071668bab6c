/**
 * One monotonic clock for a whole run, in microseconds since the run started, the same in every worker thread.
 *
 * The main thread takes `process.hrtime.bigint()` once as the run's epoch and gives it to each worker. A worker
 * calibrates `performance.now()` (cheap, no allocation, but relative to the thread's own start) against hrtime once,
 * so every later reading is a plain float addition. Both clocks are CLOCK_MONOTONIC, so they do not drift apart.
 */
export class RunClock {
  private readonly offsetUs: number;

  constructor(epochNs: bigint) {
    const hr = process.hrtime.bigint();
    const p = performance.now();
    this.offsetUs = Number(hr - epochNs) / 1000 - p * 1000;
  }

  /**
   * Whole microseconds since the run's epoch. Whole, so that the many fields holding times stay small integers, which
   * V8 keeps in the object itself (a fraction would box each one in a heap number: about 16 bytes per field per client)
   * — for the first 2^30 µs (17.9 minutes) of a run, and after that they simply cost their box.
   */
  nowUs(): number {
    return Math.floor(performance.now() * 1000 + this.offsetUs);
  }

  /** Whole milliseconds since the run's epoch. */
  nowMs(): number {
    return Math.floor(this.nowUs() / 1000);
  }
}

export function newEpoch(): bigint {
  return process.hrtime.bigint();
}
