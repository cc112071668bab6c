/**
 * Approximate latency quantiles for the live progress line: 8 buckets per power of two (at most 12.5% off), a few
 * nanoseconds per record, and a 2 KiB snapshot that is cheap to post every second. The exact figures are the HDR
 * histograms of the final report; encoding those every second would stall a worker while messages arrive.
 */
const SUB_BITS = 3;
const SUB = 1 << SUB_BITS;
export const LIVE_BUCKETS = 33 * SUB;

export class LiveQuantiles {
  readonly counts = new Float64Array(LIVE_BUCKETS);

  record(us: number): void {
    const v = us > 0 ? (us > 0xffff_ffff ? 0xffff_ffff : us >>> 0) : 0;
    this.counts[bucketOf(v)]++;
  }

  /** A copy for posting to another thread. */
  snapshot(): Float64Array {
    return this.counts.slice();
  }
}

function bucketOf(v: number): number {
  if (v < SUB) return v;
  const e = 31 - Math.clz32(v);
  return (e - SUB_BITS + 1) * SUB + ((v >>> (e - SUB_BITS)) & (SUB - 1));
}

/** Upper bound of a bucket, µs. */
function bucketTop(i: number): number {
  if (i < SUB) return i;
  const e = (i >> SUB_BITS) + SUB_BITS - 1;
  const sub = i & (SUB - 1);
  return ((SUB + sub + 1) << (e - SUB_BITS)) - 1;
}

/** The value at `percentile` (0-100) of the summed snapshots; undefined when they are empty. */
export function liveQuantile(snapshots: readonly Float64Array[], percentile: number): number | undefined {
  const sum = new Float64Array(LIVE_BUCKETS);
  let total = 0;
  for (const s of snapshots) {
    for (let i = 0; i < LIVE_BUCKETS; i++) sum[i] += s[i];
  }
  for (let i = 0; i < LIVE_BUCKETS; i++) total += sum[i];
  if (total === 0) return undefined;
  const want = Math.ceil((percentile / 100) * total);
  let seen = 0;
  for (let i = 0; i < LIVE_BUCKETS; i++) {
    seen += sum[i];
    if (seen >= want && sum[i] > 0) return bucketTop(i);
  }
  return bucketTop(LIVE_BUCKETS - 1);
}
