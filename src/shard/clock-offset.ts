/**
 * A shard's clock offset against shard 0 from NTP-style exchanges over the broker under test, and the error bound
 * that goes with it.
 *
 * One exchange: this shard sends a request at t1 (its clock), shard 0 receives it at t2 and answers at t3 (shard 0's
 * clock), the answer arrives at t4 (this shard's clock). With θ = this clock − shard 0's clock,
 *
 *     θ ≈ ((t1 − t2) + (t4 − t3)) / 2        round trip δ = (t4 − t1) − (t3 − t2)
 *
 * and, whatever the split of δ between the way there and the way back, the true θ is within δ / 2 of the estimate.
 * Of several exchanges the one with the shortest round trip has the tightest bound and is kept (min-RTT filter):
 * a message that waited in a queue on either way only widens its own bound.
 */

/** One exchange, µs: t1 and t4 on this shard's clock, t2 and t3 on shard 0's. */
export interface TimeSample {
  t1: number;
  t2: number;
  t3: number;
  t4: number;
}

/** What one round of exchanges found. */
export interface OffsetEstimate {
  /** This shard's clock minus shard 0's, µs. */
  offsetUs: number;
  /** The true offset is within ± this, µs: half the best round trip, plus the clocks' reading resolution. */
  errorUs: number;
  /** The best (shortest) round trip, µs. */
  rttUs: number;
  /** Exchanges answered in the round. */
  samples: number;
  /** When the best exchange took place, this shard's clock, ms since 1970. */
  atMs: number;
}

/** Reading a clock to the microsecond (wall-clock.ts) is good to about this much on each side, µs. */
export const CLOCK_READ_US = 5;

export function estimateOffset(samples: readonly TimeSample[]): OffsetEstimate | undefined {
  let best: TimeSample | undefined;
  let bestRtt = Infinity;
  for (const s of samples) {
    const rtt = s.t4 - s.t1 - (s.t3 - s.t2);
    if (!(rtt >= 0) || rtt >= bestRtt) continue;
    best = s;
    bestRtt = rtt;
  }
  if (best === undefined) return undefined;
  return {
    offsetUs: (best.t1 - best.t2 + (best.t4 - best.t3)) / 2,
    errorUs: bestRtt / 2 + 2 * CLOCK_READ_US,
    rttUs: bestRtt,
    samples: samples.length,
    atMs: (best.t1 + best.t4) / 2000,
  };
}

/** The offset that holds for the whole run, from the rounds before and after it. */
export interface RunOffset {
  offsetUs: number;
  /** The offset at any moment of the run is within ± this of `offsetUs`. */
  errorUs: number;
  /** After minus before, µs; null without both. */
  driftUs: number | null;
  basis: 'before and after' | 'before' | 'after';
}

/**
 * Before and after the run: the mean of the two, with a bound that covers both measurements and anything between
 * them (a clock that drifted steadily). From one of them only, that one's offset and bound (drift unknown).
 */
export function combineOffsets(before: OffsetEstimate | null, after: OffsetEstimate | null): RunOffset | null {
  if (before !== null && after !== null) {
    const drift = after.offsetUs - before.offsetUs;
    return {
      offsetUs: (before.offsetUs + after.offsetUs) / 2,
      errorUs: Math.max(before.errorUs, after.errorUs) + Math.abs(drift) / 2,
      driftUs: drift,
      basis: 'before and after',
    };
  }
  const one = before ?? after;
  if (one === null) return null;
  return { offsetUs: one.offsetUs, errorUs: one.errorUs, driftUs: null, basis: before !== null ? 'before' : 'after' };
}
