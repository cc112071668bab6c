/**
 * This host's wall clock read to the microsecond, tied to the monotonic clock: the clock a shard starts by and that
 * the clock exchange with shard 0 compares.
 *
 * Date.now() has millisecond steps. Spinning until it steps gives the instant a millisecond began, to within the
 * few hundred nanoseconds of one loop; the monotonic clock (process.hrtime, shared by every process of the host)
 * read at that instant anchors the two. Reading the wall clock is then anchor + elapsed monotonic time. The anchor
 * is taken again on request, so a clock stepped in between is followed (a slewed clock moves both alike).
 *
 * For tests, `skewMs` moves this host's wall clock (MQBENCH_CLOCK_SKEW_MS, see docs/distributed.md): everything a
 * shard reads from this clock is off by it, as on a host whose clock is wrong.
 */

/** The environment variable that moves a shard's clock, for tests of the clock exchange. */
export const CLOCK_SKEW_ENV = 'MQBENCH_CLOCK_SKEW_MS';

/** Longest spin waiting for Date.now() to step (it steps every millisecond). */
const MAX_SPIN_MS = 3;
/** A step bracketed this tightly is good enough (ns). */
const ANCHOR_BRACKET_NS = 4_000;
/** Steps tried for the tightest bracket. */
const ANCHOR_TRIES = 8;

/**
 * The next step of Date.now(): the new value and monotonic readings just before the last read of the old value and
 * just after the first read of the new one (the step lies between); null when it did not step within MAX_SPIN_MS.
 */
function stepOfDateNow(): { wallMs: number; beforeNs: bigint; afterNs: bigint } | null {
  const giveUp = process.hrtime.bigint() + BigInt(MAX_SPIN_MS * 1e6);
  let before = process.hrtime.bigint();
  const start = Date.now();
  for (;;) {
    const h1 = process.hrtime.bigint();
    const now = Date.now();
    const h2 = process.hrtime.bigint();
    if (now !== start) return { wallMs: now, beforeNs: before, afterNs: h2 };
    if (h2 > giveUp) return null;
    before = h1;
  }
}

export class WallClock {
  private anchorWallMs = 0;
  private anchorHrNs = 0n;

  constructor(readonly skewMs = 0) {
    this.anchor();
  }

  /**
   * Ties the wall clock to the monotonic clock again (a few milliseconds of busy waiting at most). The step of
   * Date.now() is bracketed by monotonic readings on both sides; a bracket wider than ANCHOR_BRACKET_NS (the thread
   * was descheduled in between) is thrown away and the next step waited for, and of ANCHOR_TRIES steps the
   * narrowest bracket is kept.
   */
  anchor(): void {
    let bestWidth = Infinity;
    for (let t = 0; t < ANCHOR_TRIES; t++) {
      const step = stepOfDateNow();
      if (step === null) continue;
      const width = Number(step.afterNs - step.beforeNs);
      if (width >= bestWidth) continue;
      bestWidth = width;
      this.anchorWallMs = step.wallMs;
      this.anchorHrNs = step.beforeNs + (step.afterNs - step.beforeNs) / 2n;
      if (width <= ANCHOR_BRACKET_NS) break;
    }
    if (!Number.isFinite(bestWidth)) {
      // Date.now() never stepped within the spins (cannot happen on a working system): fall back to one reading.
      this.anchorHrNs = process.hrtime.bigint();
      this.anchorWallMs = Date.now();
    }
    this.anchorUncertaintyNs = Number.isFinite(bestWidth) ? bestWidth / 2 : 1e6;
  }

  /** How far the anchor may be off, ns: half the bracket of the Date.now() step it was taken at. */
  anchorUncertaintyNs = 0;

  /** This host's wall clock (skew included), µs since 1970, fractional. */
  nowUs(): number {
    return this.wallUsAt(process.hrtime.bigint());
  }

  /** The wall clock reading (µs, skew included) at monotonic instant `hrNs`. */
  wallUsAt(hrNs: bigint): number {
    return (this.anchorWallMs + this.skewMs) * 1000 + Number(hrNs - this.anchorHrNs) / 1000;
  }

  /** The monotonic instant (process.hrtime.bigint()) at which this clock reads `wallUs`. */
  hrAt(wallUs: number): bigint {
    return this.anchorHrNs + BigInt(Math.round((wallUs - (this.anchorWallMs + this.skewMs) * 1000) * 1000));
  }
}

/** The skew to apply from the environment; 0 when unset. Throws on a value that is not a number. */
export function clockSkewFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env[CLOCK_SKEW_ENV];
  if (raw === undefined || raw.trim() === '') return 0;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new RangeError(`${CLOCK_SKEW_ENV}=${JSON.stringify(raw)} is not a number of milliseconds`);
  return n;
}
