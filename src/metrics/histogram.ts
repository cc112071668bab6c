/**
 * Latency histograms in integer microseconds (µs) over hdr-histogram-js: record on the hot path, encode to cross
 * threads, decode and merge exactly, summarise, and print the `.hgrm` percentile distribution.
 *
 * Every value here is in microseconds: what is recorded, every field of a summary, and the Value column of the
 * `.hgrm` text (whose footer says so in a `#[Unit = microseconds]` line).
 *
 * Range and resolution: 0 µs to 1 hour, 3 significant digits (values below 2048 µs are exact; above, a value lands in
 * a bucket no wider than 1/1024 of it). A value outside the range is clamped to the nearest end and counted in
 * `belowRange` / `aboveRange`, so a broken clock or a message stuck for hours shows up without a throw on the hot path.
 *
 * Speed (Node 20 on a shared 2-core VM, 5 M records): hdr-histogram-js `recordValue` costs about 95 ns for a constant value
 * and 145 ns for log-spread values, the same for every bit bucket size (8/16/32/64; "packed" is about 700 ns): its
 * index maths (Math.log2, Math.pow) dominates. `record()` below computes the same counts-array index with Math.clz32
 * and a shift into a plain Uint32Array (6 ns constant, 12 ns spread) and folds those counts into the HDR histogram
 * only when it is read, encoded or merged. The index layout is HdrHistogram's (unit magnitude 0, 2048 sub-buckets),
 * so the folded histogram is the one `recordValue` would have built; the unit tests check that count for count.
 * The HDR side uses 64-bit (float) buckets: merged totals from many workers must not wrap at 2^32.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, JsHistogram, type Histogram } from 'hdr-histogram-js';

/** Largest recordable latency: one hour in µs. Larger values are recorded as this and counted in `aboveRange`. */
export const MAX_LATENCY_US = 3_600_000_000;

const SIGNIFICANT_DIGITS = 3;
const BIT_BUCKET_SIZE = 64;
// 3 significant digits need unit resolution up to 2000, so HdrHistogram uses 2^11 sub-buckets per bucket; the
// index of v is (bucket << 10) + (v >>> bucket) with bucket = max(0, floor(log2 v) - 10) = max(0, 21 - clz32(v)).
const SUB_BUCKET_HALF_MAGNITUDE = 10;
const SUB_BUCKET_HALF_COUNT = 1 << SUB_BUCKET_HALF_MAGNITUDE;
const BUCKET_BASE = 31 - SUB_BUCKET_HALF_MAGNITUDE;
// Buckets 0..21 cover 0..2^32-1 (MAX_LATENCY_US < 2^32, so every clamped value is a valid uint32).
const COUNTS_LENGTH = (BUCKET_BASE + 2) * SUB_BUCKET_HALF_COUNT;
// Flushing before any slot can reach 2^32 keeps the Uint32Array from wrapping.
const FLUSH_AT = 0x8000_0000;

/**
 * A histogram as it crosses threads: HdrHistogram V2 compressed base64, plus what that encoding cannot carry (the
 * exact sum and the clamp counters).
 */
export interface EncodedHistogram {
  readonly hdr: string;
  /** Sum of the recorded (clamped) values, for an exact mean. */
  readonly sum: number;
  readonly belowRange: number;
  readonly aboveRange: number;
}

/**
 * Percentiles and friends, all in µs. Percentiles follow HdrHistogram: the highest value equivalent (within the
 * 3-digit resolution) to the value that the given share of samples is at or below; `min` is the lowest equivalent
 * value. `mean` is exact: the sum of the recorded values travels with the histogram (the library's own mean walks
 * every bucket through an iterator, about 10 ms a call). With `count` 0 every other field is 0.
 */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p99_9: number;
  max: number;
  /** Samples below 0 µs (recorded as 0): a sign of clocks that disagree. */
  belowRange: number;
  /** Samples above one hour (recorded as one hour). */
  aboveRange: number;
}

export class LatencyHistogram {
  // Counts not yet folded into `hdr`, laid out like HdrHistogram's counts array.
  private readonly pending = new Uint32Array(COUNTS_LENGTH);
  private pendingCount = 0;
  private readonly hdr: Histogram = createHdr();
  private sum = 0;
  private below = 0;
  private above = 0;
  // The last countInto() result and the count it was taken at: a histogram that did not change is not scanned again.
  private bucketCache: { buckets: FixedBuckets; count: number; values: Float64Array } | null = null;

  /** Records one latency in µs. Never throws: out-of-range and NaN values are clamped and counted. */
  record(us: number): void {
    let v = us;
    if (!(v >= 0)) {
      v = 0;
      this.below++;
    } else if (v > MAX_LATENCY_US) {
      v = MAX_LATENCY_US;
      this.above++;
    }
    const b = BUCKET_BASE - Math.clz32(v);
    const bucket = b > 0 ? b : 0;
    this.pending[(bucket << SUB_BUCKET_HALF_MAGNITUDE) + (v >>> bucket)]++;
    this.sum += v;
    if (++this.pendingCount === FLUSH_AT) this.flush();
  }

  /** Samples recorded or merged so far, clamped ones included. */
  get count(): number {
    return this.hdr.totalCount + this.pendingCount;
  }

  reset(): void {
    if (this.pendingCount > 0) {
      this.pending.fill(0);
      this.pendingCount = 0;
    }
    this.hdr.reset();
    this.sum = 0;
    this.below = 0;
    this.above = 0;
    this.bucketCache = null;
  }

  encode(): EncodedHistogram {
    this.flush();
    return { hdr: encodeIntoCompressedBase64(this.hdr), sum: this.sum, belowRange: this.below, aboveRange: this.above };
  }

  /** Adds an encoded histogram's counts to this one; the result is as if this one had recorded them. */
  merge(encoded: EncodedHistogram): void {
    this.flush();
    const other = decodeFromCompressedBase64(encoded.hdr, BIT_BUCKET_SIZE, false);
    this.hdr.add(other);
    this.sum += encoded.sum;
    this.below += encoded.belowRange;
    this.above += encoded.aboveRange;
  }

  /**
   * Adds an encoded histogram's counts with every value moved by `deltaUs` (e.g. a clock correction between two
   * hosts). Under a microsecond of shift the merge is exact. Otherwise each recorded value (the highest of its
   * bucket, as recorded) is moved and recorded again, so a value keeps its 3-digit resolution; the sum moves by
   * exactly count × delta. A value moved below 0 µs or above one hour is clamped and counted as out of range, and
   * values that were out of range when recorded stay counted so.
   */
  mergeShifted(encoded: EncodedHistogram, deltaUs: number): void {
    const delta = Math.round(deltaUs);
    if (delta === 0 || !Number.isFinite(delta)) {
      this.merge(encoded);
      return;
    }
    this.flush();
    const other = decodeFromCompressedBase64(encoded.hdr, BIT_BUCKET_SIZE, false);
    if (!(other instanceof JsHistogram)) throw new Error('expected a JavaScript histogram from decoding');
    let sum = encoded.sum;
    let below = 0;
    let above = 0;
    for (let i = 0; i < other.countsArrayLength; i++) {
      const count = other.getCountAtIndex(i);
      if (count === 0) continue;
      const value = other.highestEquivalentValue(other.valueFromIndex(i));
      let moved = value + delta;
      if (moved < 0) {
        sum -= moved * count;
        moved = 0;
        below += count;
      } else if (moved > MAX_LATENCY_US) {
        sum -= (moved - MAX_LATENCY_US) * count;
        moved = MAX_LATENCY_US;
        above += count;
      }
      sum += delta * count;
      this.hdr.recordValueWithCount(moved, count);
    }
    this.sum += sum;
    // Values clamped when recorded sit at 0 (or one hour): a shift that clamps again counts them once.
    this.below += Math.max(below, encoded.belowRange);
    this.above += Math.max(above, encoded.aboveRange);
  }

  /** Adds another histogram's counts to this one (same thread, no encoding). */
  add(other: LatencyHistogram): void {
    this.flush();
    other.flush();
    this.hdr.add(other.hdr);
    this.sum += other.sum;
    this.below += other.below;
    this.above += other.above;
  }

  /**
   * Counts per bucket of `buckets` (not cumulative: the last is the overflow bucket) at `out[offset...]`, then the
   * sum of the recorded values (µs) after them: `buckets.count + 1` numbers. Everything recorded or merged so far,
   * exactly: every bucket edge is an edge of this histogram's own slots. A walk over the counts (about 22,000 slots)
   * when the histogram changed since the previous call, a copy otherwise; nothing is added to `record()`.
   */
  countInto(buckets: FixedBuckets, out: Float64Array, offset: number): void {
    const n = this.count;
    let cache = this.bucketCache;
    if (cache === null || cache.buckets !== buckets || cache.count !== n) {
      const values = cache !== null && cache.buckets === buckets ? cache.values : new Float64Array(buckets.count + 1);
      values.fill(0);
      const slotBucket = buckets.slotBucket;
      const pending = this.pending;
      if (this.pendingCount > 0) {
        for (let i = 0; i < COUNTS_LENGTH; i++) {
          const c = pending[i];
          if (c !== 0) values[slotBucket[i]] += c;
        }
      }
      if (this.hdr.totalCount > 0) {
        // Counts folded in by flush() or merged: the same slot layout (see the file comment).
        const hdr = this.hdr as unknown as JsHistogram;
        const length = Math.min(hdr.countsArrayLength, COUNTS_LENGTH);
        for (let i = 0; i < length; i++) {
          const c = hdr.getCountAtIndex(i);
          if (c !== 0) values[slotBucket[i]] += c;
        }
      }
      values[buckets.count] = this.sum;
      cache = { buckets, count: n, values };
      this.bucketCache = cache;
    }
    out.set(cache.values, offset);
  }

  /** HdrHistogram's value at a percentile in [0, 100]; 0 for an empty histogram. */
  valueAtPercentile(percentile: number): number {
    this.flush();
    if (this.hdr.totalCount === 0) return 0;
    return this.hdr.getValueAtPercentile(percentile);
  }

  summarize(): LatencySummary {
    this.flush();
    const h = this.hdr;
    const count = h.totalCount;
    if (count === 0) {
      return {
        count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p99_9: 0, max: 0,
        belowRange: this.below, aboveRange: this.above,
      };
    }
    return {
      count,
      min: h.getValueAtPercentile(0),
      mean: this.sum / count,
      p50: h.getValueAtPercentile(50),
      p90: h.getValueAtPercentile(90),
      p95: h.getValueAtPercentile(95),
      p99: h.getValueAtPercentile(99),
      p99_9: h.getValueAtPercentile(99.9),
      max: h.getValueAtPercentile(100),
      belowRange: this.below,
      aboveRange: this.above,
    };
  }

  /**
   * The HdrHistogram percentile distribution (`.hgrm`) with values in µs, as HdrHistogram's plotters read it.
   * `ticksPerHalfDistance` sets how many lines each halving of the remaining percentile range gets.
   */
  percentileDistribution(ticksPerHalfDistance = 5): string {
    this.flush();
    return this.hdr.outputPercentileDistribution(ticksPerHalfDistance, 1) + '#[Unit    = microseconds]\n';
  }

  private flush(): void {
    if (this.pendingCount === 0) return;
    const counts = this.pending;
    for (let i = 0; i < COUNTS_LENGTH; i++) {
      const c = counts[i];
      if (c === 0) continue;
      // The highest value of the slot, so that `maxValue` matches what decoding an encoded copy yields.
      this.hdr.recordValueWithCount(highestValueOfIndex(i), c);
      counts[i] = 0;
    }
    this.pendingCount = 0;
  }
}

/**
 * Fixed bucket boundaries over the latency histogram, for exporting it as a Prometheus histogram: bucket i counts the
 * values below `edgesUs[i]` and at or above the edge before it; the last bucket, everything from the last edge up.
 * Values are recorded in whole microseconds (truncated), so "below E µs" is exact for a latency measured to the
 * nanosecond. Each edge must be an edge of the histogram's own slots (any integer below 2048; above, a multiple of
 * the slot width there, which powers of two and 1.5 × powers of two always are); the constructor checks.
 */
export class FixedBuckets {
  /** Buckets, the overflow bucket included: edgesUs.length + 1. */
  readonly count: number;
  /** For each slot of the counts array, the bucket its values fall in. */
  readonly slotBucket: Uint8Array;

  constructor(readonly edgesUs: readonly number[]) {
    if (edgesUs.length === 0 || edgesUs.length > 254) throw new RangeError(`1 to 254 bucket edges, got ${edgesUs.length}`);
    for (let i = 0; i < edgesUs.length; i++) {
      const e = edgesUs[i];
      if (!Number.isInteger(e) || e <= 0 || e > MAX_LATENCY_US || (i > 0 && e <= edgesUs[i - 1])) {
        throw new RangeError(`bucket edges must be increasing integers in 1..${MAX_LATENCY_US} µs, got ${e}`);
      }
      if (lowestValueOfIndex(indexOfValue(e)) !== e) throw new RangeError(`bucket edge ${e} µs is not an edge of the histogram's slots`);
    }
    this.count = edgesUs.length + 1;
    this.slotBucket = new Uint8Array(COUNTS_LENGTH);
    let bucket = 0;
    for (let i = 0; i < COUNTS_LENGTH; i++) {
      const low = lowestValueOfIndex(i);
      while (bucket < edgesUs.length && low >= edgesUs[bucket]) bucket++;
      this.slotBucket[i] = bucket;
    }
  }
}

/** Merges encoded histograms (e.g. one per worker) into a new histogram. */
export function mergeEncodedHistograms(encoded: readonly EncodedHistogram[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const e of encoded) h.merge(e);
  return h;
}

function createHdr(): Histogram {
  return build({
    useWebAssembly: false,
    bitBucketSize: BIT_BUCKET_SIZE,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_LATENCY_US,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
  });
}

function indexOfValue(v: number): number {
  const b = BUCKET_BASE - Math.clz32(v);
  const bucket = b > 0 ? b : 0;
  return (bucket << SUB_BUCKET_HALF_MAGNITUDE) + (v >>> bucket);
}

function lowestValueOfIndex(index: number): number {
  if (index < 2 * SUB_BUCKET_HALF_COUNT) return index;
  const bucket = (index >>> SUB_BUCKET_HALF_MAGNITUDE) - 1;
  const subBucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
  return subBucket * 2 ** bucket;
}

function highestValueOfIndex(index: number): number {
  if (index < 2 * SUB_BUCKET_HALF_COUNT) return index;
  const bucket = (index >>> SUB_BUCKET_HALF_MAGNITUDE) - 1;
  const subBucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
  const width = 2 ** bucket;
  return subBucket * width + width - 1;
}
