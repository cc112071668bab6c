/**
 * Approximate latency quantiles for the live progress line: 8 buckets per power of two, a few nanoseconds per record,
 * and a 4 KiB snapshot that is cheap to post every second. The exact figures are the HDR histograms of the final
 * report; encoding those every second would stall a worker while messages arrive.
 *
 * A quantile is the largest value actually recorded in the bucket it falls in, not the bucket's upper edge: the
 * edge is up to 12.5% above anything seen (a run whose slowest message took 1,011 ms would read 1,049 ms live), and
 * the live line must never show a latency above the final report's max. Taken this way a live quantile is at most
 * one bucket (12.5%) above the exact one and never above the largest value recorded.
 */
const SUB_BITS = 3;
const SUB = 1 << SUB_BITS;
export const LIVE_BUCKETS = 33 * SUB;

export class LiveQuantiles {
  /** Counts per bucket, then the largest value recorded per bucket: one array, so a snapshot is one copy. */
  private readonly data = new Float64Array(2 * LIVE_BUCKETS);

  record(us: number): void {
    const v = us > 0 ? (us > 0xffff_ffff ? 0xffff_ffff : Math.floor(us)) >>> 0 : 0;
    const b = bucketOf(v);
    const d = this.data;
    d[b]++;
    if (v > d[LIVE_BUCKETS + b]) d[LIVE_BUCKETS + b] = v;
  }

  /** A copy for posting to another thread: counts in the first LIVE_BUCKETS entries, maxima in the rest. */
  snapshot(): Float64Array {
    return this.data.slice();
  }
}

function bucketOf(v: number): number {
  if (v < SUB) return v;
  const e = 31 - Math.clz32(v);
  return (e - SUB_BITS + 1) * SUB + ((v >>> (e - SUB_BITS)) & (SUB - 1));
}

/** The value at `percentile` (0-100) of the summed snapshots, µs; undefined when they are empty. */
export function liveQuantile(snapshots: readonly Float64Array[], percentile: number): number | undefined {
  const counts = new Float64Array(LIVE_BUCKETS);
  const maxima = new Float64Array(LIVE_BUCKETS);
  let total = 0;
  for (const s of snapshots) {
    for (let i = 0; i < LIVE_BUCKETS; i++) {
      counts[i] += s[i];
      const m = s[LIVE_BUCKETS + i];
      if (m > maxima[i]) maxima[i] = m;
    }
  }
  for (let i = 0; i < LIVE_BUCKETS; i++) total += counts[i];
  if (total === 0) return undefined;
  const want = Math.max(1, Math.ceil((percentile / 100) * total));
  let seen = 0;
  for (let i = 0; i < LIVE_BUCKETS; i++) {
    seen += counts[i];
    if (seen >= want && counts[i] > 0) return maxima[i];
  }
  return undefined;
}
