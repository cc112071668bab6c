import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/metrics/histogram.js';
import { LiveQuantiles, liveQuantile } from '../../../src/metrics/live-quantiles.js';

/** The same values into the live quantiles and the final report's histogram, as a worker records them. */
function both(values: readonly number[]): { live: LiveQuantiles; final: LatencyHistogram } {
  const live = new LiveQuantiles();
  const final = new LatencyHistogram();
  for (const v of values) {
    live.record(v);
    final.record(v);
  }
  return { live, final };
}

describe('live quantiles', () => {
  it('never say more than the largest value recorded (a bucket does not round up past it)', () => {
    // 1,011 ms lies in the live bucket that ends at 1,048.575 ms: the top of that bucket is not a latency anyone saw.
    const { live, final } = both(Array.from({ length: 100 }, (_, i) => 985_000 + i * 260));
    const p99 = liveQuantile([live.snapshot()], 99)!;
    expect(p99).toBeLessThanOrEqual(final.summarize().max);
    expect(p99).toBeLessThanOrEqual(985_000 + 99 * 260);
  });

  it('agree with the final histogram: p99 within one live bucket (12.5%) of it and never above its max', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 5_000_000 })), { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 1, max: 3 }),
        (values, workers) => {
          // Split over workers, as the live line merges one snapshot per worker.
          const parts = Array.from({ length: workers }, (_, w) => values.filter((_, i) => i % workers === w));
          const snaps = parts.map((p) => both(p).live.snapshot());
          const final = both(values).final.summarize();
          for (const percentile of [50, 90, 99, 100]) {
            const live = liveQuantile(snaps, percentile)!;
            expect(live).toBeLessThanOrEqual(final.max);
          }
          const p99 = liveQuantile(snaps, 99)!;
          expect(p99).toBeGreaterThanOrEqual(final.p99 / 1.125 - 1);
          expect(p99).toBeLessThanOrEqual(final.p99 * 1.125 + 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is undefined before anything was recorded', () => {
    expect(liveQuantile([new LiveQuantiles().snapshot()], 99)).toBeUndefined();
    expect(liveQuantile([], 99)).toBeUndefined();
  });
});
