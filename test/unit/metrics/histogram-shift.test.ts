/**
 * Merging a histogram with its values moved by a constant: how a merge of shards corrects end-to-end latencies for
 * the clock offset between the publisher's host and the subscriber's.
 */
import { describe, expect, it } from 'vitest';
import { LatencyHistogram, MAX_LATENCY_US } from '../../../src/metrics/histogram.js';

function recorded(values: number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  return h;
}

describe('LatencyHistogram.mergeShifted', () => {
  const values = Array.from({ length: 5000 }, (_, i) => 100 + ((i * 7919) % 40_000));

  it('is the exact merge under a microsecond of shift', () => {
    const exact = new LatencyHistogram();
    exact.merge(recorded(values).encode());
    const shifted = new LatencyHistogram();
    shifted.mergeShifted(recorded(values).encode(), 0.4);
    expect(shifted.encode()).toEqual(exact.encode());
  });

  it('moves every value by the shift, within the 3-digit resolution, and the mean exactly', () => {
    for (const delta of [250_000, -90, 1234.6]) {
      const moved = new LatencyHistogram();
      moved.mergeShifted(recorded(values).encode(), delta);
      const reference = recorded(values.map((v) => v + Math.round(delta)));
      const a = moved.summarize();
      const b = reference.summarize();
      expect(a.count).toBe(b.count);
      expect(a.mean).toBeCloseTo(b.mean, 6);
      for (const k of ['min', 'p50', 'p90', 'p99', 'p99_9', 'max'] as const) {
        expect(Math.abs(a[k] - b[k]), `${k} after ${delta}`).toBeLessThanOrEqual(Math.max(1, b[k] / 512));
      }
      expect(a.belowRange + a.aboveRange).toBe(0);
    }
  });

  it('clamps values moved out of range and counts them, keeping what was out of range before', () => {
    const h = recorded([-5, 10, 20, 3000]);
    const moved = new LatencyHistogram();
    moved.mergeShifted(h.encode(), -15);
    const s = moved.summarize();
    expect(s.count).toBe(4);
    // -5 was below range when recorded; 10 - 15 is now; 20 - 15 = 5 and 3000 - 15 are in range.
    expect(s.belowRange).toBe(2);
    expect(s.min).toBe(0);
    expect(s.max).toBeGreaterThanOrEqual(2985);
    expect(s.mean).toBeCloseTo((0 + 0 + 5 + 2985) / 4, 6);
    const high = new LatencyHistogram();
    high.mergeShifted(recorded([MAX_LATENCY_US - 10]).encode(), 1000);
    expect(high.summarize().aboveRange).toBe(1);
  });
});
