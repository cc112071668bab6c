/**
 * The one definition of a message rate that every report, summary.json, thresholds and compare use: over the span in
 * which that traffic flowed, from the first to the last message of that kind,
 *
 *     rate = (messages − 1) ÷ (time of the last − time of the first)
 *
 * i.e. the inverse of the mean time between consecutive messages. One publisher on a fixed schedule of r/s reads
 * exactly r/s, however short the run (messages ÷ span would read r·n/(n−1)); seconds before the first and after the
 * last message of that kind (connecting, draining, a subscriber still catching up after the publishers stopped) do
 * not dilute it; a ramp-up or a pause inside the span does, as it should: the rate is the average while it flowed.
 * Fewer than two messages, or no time between first and last, have no rate (null).
 */

/** When traffic of one kind flowed: first and last time in µs since the run's epoch, -1 when none. */
export interface TrafficSpan {
  firstUs: number;
  lastUs: number;
}

export const NO_TRAFFIC: TrafficSpan = { firstUs: -1, lastUs: -1 };

/** Messages per second over the span, or null when there is no rate to speak of. */
export function spanRate(messages: number, span: TrafficSpan): number | null {
  if (messages < 2 || span.firstUs < 0 || span.lastUs <= span.firstUs) return null;
  return ((messages - 1) * 1e6) / (span.lastUs - span.firstUs);
}

/** The span covering all of `spans` (the earliest first, the latest last). */
export function mergeSpans(spans: Iterable<TrafficSpan>): TrafficSpan {
  let firstUs = -1;
  let lastUs = -1;
  for (const s of spans) {
    if (s.firstUs < 0) continue;
    if (firstUs < 0 || s.firstUs < firstUs) firstUs = s.firstUs;
    if (s.lastUs > lastUs) lastUs = s.lastUs;
  }
  return { firstUs, lastUs };
}

/** Extends a span by one event at `us` (hot path: two comparisons). */
export function noteTraffic(span: TrafficSpan, us: number): void {
  if (span.firstUs < 0 || us < span.firstUs) span.firstUs = us;
  if (us > span.lastUs) span.lastUs = us;
}
