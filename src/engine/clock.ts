/**
 * One monotonic clock for a whole run, in microseconds since the run started, the same in every worker thread.
 *
 * The main thread takes `process.hrtime.bigint()` once as the run's epoch and gives it to each worker. A worker
 * calibrates `performance.now()` (cheap, no allocation, but relative to the thread's own start) against hrtime when
 * it starts, so every later reading is a plain float addition. Both clocks are CLOCK_MONOTONIC, so they do not drift apart.
 */
/** Readings taken to calibrate a thread's clock. */
const CALIBRATIONS = 20;

export class RunClock {
  private readonly offsetUs: number;

  constructor(epochNs: bigint) {
    // A thread descheduled between the two readings would shift its whole clock by the pause (tens of ms on a busy
    // machine), and with it every latency measured across threads: each performance.now() is bracketed by two
    // hrtime readings, and the tightest of a few brackets is kept.
    let window = Infinity;
    let offsetUs = 0;
    for (let i = 0; i < CALIBRATIONS; i++) {
      const before = process.hrtime.bigint();
      const p = performance.now();
      const after = process.hrtime.bigint();
      const w = after - before;
      if (Number(w) < window) {
        window = Number(w);
        offsetUs = Number(before + w / 2n - epochNs) / 1000 - p * 1000;
      }
    }
    this.offsetUs = offsetUs;
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
