/**
 * The fixed latency buckets of the exported Prometheus histograms (`mqbench_*_latency_seconds`): two per power of two
 * (2^k and 1.5 × 2^k µs), from 32 µs to 2^26 µs = 67.1 s, 43 edges and the overflow bucket.
 *
 * Why these: every process of a distributed run must use the same edges, so that `sum by (le)` adds histograms from
 * many shards; edges at 2^k and 1.5 × 2^k are slot edges of the HDR histograms the workers already keep (and of the
 * live quantile buckets), so each bucket count is exact, not interpolated; and two per octave keep a quantile that
 * `histogram_quantile` interpolates within a factor of 1.5 of the truth, at 44 series per histogram. Latencies below
 * 32 µs (faster than a loopback round trip) share the first bucket; above 67 s, the overflow bucket.
 */
import { FixedBuckets } from './histogram.js';

function edges(): number[] {
  const out: number[] = [];
  for (let k = 5; k <= 25; k++) out.push(2 ** k, 3 * 2 ** (k - 1));
  out.push(2 ** 26);
  return out;
}

export const PROMETHEUS_LATENCY_BUCKETS = new FixedBuckets(edges());
