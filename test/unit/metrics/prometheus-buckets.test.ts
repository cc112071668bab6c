import { describe, expect, it } from 'vitest';
import { FixedBuckets, LatencyHistogram, MAX_LATENCY_US } from '../../../src/metrics/histogram.js';
import { PROMETHEUS_LATENCY_BUCKETS } from '../../../src/metrics/prometheus-buckets.js';
import { Prng } from '../../../bench/fuzz/prng.js';

/** What each bucket should hold, counted value by value: below edge i and not below edge i - 1 (values truncated). */
function bruteForce(values: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const raw of values) {
    const v = Math.floor(Math.min(Math.max(raw, 0), MAX_LATENCY_US));
    let b = 0;
    while (b < edges.length && v >= edges[b]) b++;
    counts[b]++;
  }
  return counts;
}

function values(seed: string, n: number): number[] {
  const rng = new Prng(seed);
  const out: number[] = [];
  for (const e of PROMETHEUS_LATENCY_BUCKETS.edgesUs) out.push(e - 1, e - 0.5, e, e + 0.5, e + 1);
  out.push(0, 0.3, -5, MAX_LATENCY_US, MAX_LATENCY_US + 10, 31, 32, 2 ** 26 - 1, 2 ** 26, 2 ** 27);
  for (let i = 0; i < n; i++) out.push(Math.exp(rng.float() * Math.log(MAX_LATENCY_US)));
  return out;
}

function counts(h: LatencyHistogram, buckets = PROMETHEUS_LATENCY_BUCKETS): { counts: number[]; sum: number } {
  const out = new Float64Array(buckets.count + 3);
  h.countInto(buckets, out, 2);
  return { counts: [...out.subarray(2, 2 + buckets.count)], sum: out[2 + buckets.count] };
}

describe('the Prometheus latency buckets', () => {
  it('are 2^k and 1.5 × 2^k µs from 32 µs to 2^26 µs (67 s): 43 edges, covering 50 µs to 60 s', () => {
    const edges = PROMETHEUS_LATENCY_BUCKETS.edgesUs;
    expect(edges.length).toBe(43);
    expect(PROMETHEUS_LATENCY_BUCKETS.count).toBe(44);
    expect(edges.slice(0, 6)).toEqual([32, 48, 64, 96, 128, 192]);
    expect(edges[edges.length - 1]).toBe(2 ** 26);
    expect(edges[0]).toBeLessThan(50);
    expect(edges[edges.length - 1]).toBeGreaterThan(60_000_000);
    for (let i = 1; i < edges.length; i++) expect(edges[i] / edges[i - 1]).toBeLessThanOrEqual(1.5);
  });

  it('count exactly what was recorded, bucket by bucket, with the exact sum', () => {
    const all = values('prom-buckets', 50_000);
    const h = new LatencyHistogram();
    let sum = 0;
    for (const v of all) {
      h.record(v);
      sum += Math.min(Math.max(v, 0), MAX_LATENCY_US);
    }
    const got = counts(h);
    expect(got.counts).toEqual(bruteForce(all, PROMETHEUS_LATENCY_BUCKETS.edgesUs));
    expect(got.sum).toBeCloseTo(sum, 3);
    expect(got.counts.reduce((a, b) => a + b, 0)).toBe(h.count);
  });

  it('count the same after the histogram folded its counts (encode, summarize) and after merges', () => {
    const a = values('prom-a', 5_000);
    const b = values('prom-b', 5_000);
    const ha = new LatencyHistogram();
    for (const v of a) ha.record(v);
    const before = counts(ha);
    ha.summarize(); // folds the pending counts into the HDR histogram
    expect(counts(ha)).toEqual(before);
    const hb = new LatencyHistogram();
    for (const v of b) hb.record(v);
    const merged = new LatencyHistogram();
    merged.merge(ha.encode());
    merged.merge(hb.encode());
    merged.record(100);
    expect(counts(merged).counts).toEqual(bruteForce([...a, ...b, 100], PROMETHEUS_LATENCY_BUCKETS.edgesUs));
  });

  it('follow new records and a reset (no stale copy)', () => {
    const h = new LatencyHistogram();
    h.record(40);
    expect(counts(h).counts[1]).toBe(1);
    h.record(40);
    expect(counts(h).counts[1]).toBe(2);
    h.reset();
    h.record(10);
    h.record(10);
    expect(counts(h).counts.slice(0, 2)).toEqual([2, 0]);
  });

  it('refuse edges that are not edges of the histogram slots, or out of order', () => {
    expect(() => new FixedBuckets([50, 100, 2049])).toThrow(/not an edge/);
    expect(() => new FixedBuckets([50_000])).toThrow(/not an edge/);
    expect(() => new FixedBuckets([100, 50])).toThrow(/increasing/);
    expect(() => new FixedBuckets([1000, 2048, 5000, 10_000])).not.toThrow();
  });
});
