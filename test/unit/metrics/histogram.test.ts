import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import {
  LatencyHistogram,
  MAX_LATENCY_US,
  mergeEncodedHistograms,
} from '../../../src/metrics/histogram.js';
import { Prng } from '../../../bench/fuzz/prng.js';

function libraryHistogram() {
  return build({
    useWebAssembly: false,
    bitBucketSize: 64,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_LATENCY_US,
    numberOfSignificantValueDigits: 3,
  });
}

/** Values that exercise every bucket boundary, plus a log-spread random sample. */
function awkwardValues(): number[] {
  const values: number[] = [];
  for (let v = 0; v <= 5000; v++) values.push(v);
  for (let p = 11; p < 32; p++) {
    const edge = 2 ** p;
    for (const d of [-2, -1, 0, 1, 2]) if (edge + d <= MAX_LATENCY_US) values.push(edge + d);
  }
  values.push(MAX_LATENCY_US - 1, MAX_LATENCY_US, 1.7, 2047.5, 999_999.9);
  const rng = new Prng('histogram-awkward');
  for (let i = 0; i < 20_000; i++) values.push(Math.floor(Math.exp(rng.float() * Math.log(MAX_LATENCY_US))));
  return values;
}

describe('LatencyHistogram recording', () => {
  it('builds exactly the histogram hdr-histogram-js recordValue builds', () => {
    const ours = new LatencyHistogram();
    const theirs = libraryHistogram();
    let sum = 0;
    const values = awkwardValues();
    for (const v of values) {
      ours.record(v);
      theirs.recordValue(v);
      sum += v;
    }
    expect(ours.count).toBe(theirs.totalCount);
    expect(ours.encode().hdr).toBe(encodeIntoCompressedBase64(theirs));
    for (let p = 0; p <= 100; p += 0.25) {
      expect(ours.valueAtPercentile(p), `p${p}`).toBe(theirs.getValueAtPercentile(p));
    }
    // The mean is exact, where the library's uses bucket middles.
    expect(ours.summarize().mean).toBeCloseTo(sum / values.length, 6);
    expect(Math.abs(ours.summarize().mean - theirs.mean) / theirs.mean).toBeLessThan(0.001);
  });

  it('gives exact percentiles for 1..1000 µs', () => {
    const h = new LatencyHistogram();
    for (let v = 1000; v >= 1; v--) h.record(v);
    expect(h.summarize()).toEqual({
      count: 1000, min: 1, mean: 500.5, p50: 500, p90: 900, p95: 950, p99: 990, p99_9: 999, max: 1000,
      belowRange: 0, aboveRange: 0,
    });
  });

  it('keeps 3 significant digits for large values', () => {
    const h = new LatencyHistogram();
    h.record(1_000_000);
    const s = h.summarize();
    expect(s.mean).toBe(1_000_000);
    expect(s.min).toBeLessThanOrEqual(1_000_000);
    expect(s.max).toBeGreaterThanOrEqual(1_000_000);
    expect((s.max - s.min) / 1_000_000).toBeLessThan(0.001);
    expect(s.p50).toBe(s.max);
  });

  it('weights percentiles by count', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 990; i++) h.record(100);
    for (let i = 0; i < 10; i++) h.record(1500);
    const s = h.summarize();
    expect([s.p50, s.p90, s.p95, s.p99, s.p99_9, s.max]).toEqual([100, 100, 100, 100, 1500, 1500]);
    expect(s.mean).toBe((990 * 100 + 10 * 1500) / 1000);
  });

  it('clamps values outside 0..1 h without throwing and counts them', () => {
    const h = new LatencyHistogram();
    h.record(-5);
    h.record(Number.NaN);
    h.record(MAX_LATENCY_US * 2);
    h.record(Number.POSITIVE_INFINITY);
    h.record(10);
    const s = h.summarize();
    expect(s.count).toBe(5);
    expect(s.belowRange).toBe(2);
    expect(s.aboveRange).toBe(2);
    expect(s.min).toBe(0);
    expect(s.p50).toBe(10);
    expect(s.mean).toBe((2 * MAX_LATENCY_US + 10) / 5);
    const reference = libraryHistogram();
    reference.recordValue(MAX_LATENCY_US);
    expect(s.max).toBe(reference.getValueAtPercentile(100));
  });

  it('is empty after reset', () => {
    const h = new LatencyHistogram();
    for (let v = 0; v < 100; v++) h.record(v * 1000);
    h.record(-1);
    h.reset();
    expect(h.count).toBe(0);
    expect(h.valueAtPercentile(99)).toBe(0);
    expect(h.summarize()).toEqual({
      count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p99_9: 0, max: 0, belowRange: 0, aboveRange: 0,
    });
    h.record(7);
    expect(h.summarize().max).toBe(7);
  });
});

describe('LatencyHistogram merging', () => {
  it('merging N encoded histograms equals one histogram that recorded everything', () => {
    const rng = new Prng('histogram-merge');
    const all = new LatencyHistogram();
    const parts = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
    for (let i = 0; i < 50_000; i++) {
      const v = rng.chance(0.001) ? -rng.int(100) - 1 : Math.floor(Math.exp(rng.float() * 16));
      all.record(v);
      parts[rng.int(parts.length)].record(v);
    }
    parts[0].record(MAX_LATENCY_US + 1);
    all.record(MAX_LATENCY_US + 1);
    const encoded = parts.map((p) => p.encode());
    const merged = mergeEncodedHistograms(encoded);
    expect(merged.count).toBe(all.count);
    expect(merged.summarize()).toEqual(all.summarize());
    expect(merged.encode().hdr).toBe(all.encode().hdr);
    for (let p = 0; p <= 100; p += 0.5) expect(merged.valueAtPercentile(p)).toBe(all.valueAtPercentile(p));
    expect(merged.percentileDistribution()).toBe(all.percentileDistribution());
  });

  it('encodes to a structured-clone-safe object and merges into a non-empty histogram', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let v = 1; v <= 500; v++) a.record(v);
    for (let v = 501; v <= 1000; v++) b.record(v);
    const crossed = structuredClone(b.encode());
    expect(typeof crossed.hdr).toBe('string');
    a.merge(crossed);
    expect(a.summarize().p50).toBe(500);
    expect(a.summarize().max).toBe(1000);
    expect(a.count).toBe(1000);
  });

  it('adds a histogram of the same thread', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const both = new LatencyHistogram();
    for (let v = 0; v < 3000; v += 3) {
      a.record(v * 7);
      both.record(v * 7);
      b.record(v * 1_000 + 1);
      both.record(v * 1_000 + 1);
    }
    b.record(-1);
    both.record(-1);
    a.add(b);
    expect(a.summarize()).toEqual(both.summarize());
    expect(b.count).toBe(1001);
  });

  it('rejects text that is not an encoded histogram', () => {
    const h = new LatencyHistogram();
    expect(() => h.merge({ hdr: 'bm90IGEgaGlzdG9ncmFt', sum: 0, belowRange: 0, aboveRange: 0 })).toThrow();
  });
});

describe('LatencyHistogram .hgrm output', () => {
  it('prints the percentile distribution in µs and says so', () => {
    const h = new LatencyHistogram();
    for (let v = 1; v <= 1000; v++) h.record(v);
    const lines = h.percentileDistribution(1).split('\n');
    expect(lines[0]).toBe('       Value     Percentile TotalCount 1/(1-Percentile)');
    expect(lines[2]).toBe('       1.000 0.000000000000          1           1.00');
    expect(lines[3]).toBe('     500.000 0.500000000000        500           2.00');
    expect(lines).toContain('    1000.000 1.000000000000       1000');
    expect(lines).toContain('#[Max     =     1000.000, Total count    =         1000]');
    expect(lines).toContain('#[Unit    = microseconds]');
  });

  it('prints an empty histogram without data lines', () => {
    const text = new LatencyHistogram().percentileDistribution();
    expect(text).toContain('Total count    =            0');
    expect(text.split('\n').filter((l) => /^\s+\d/.test(l))).toEqual([]);
  });
});
