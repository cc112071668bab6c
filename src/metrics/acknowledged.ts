/**
 * Which sequences of a stream the broker acknowledged, and how many of given sequences were among them.
 *
 * A broker acknowledges one client's messages in the order they were sent [MQTT-4.6.0-2], [MQTT-4.6.0-3], so the
 * acknowledged set is every sequence below a frontier — one past the highest acknowledged — except those that will
 * never be acknowledged: messages in flight when a reconnection found the session gone (the client drops them), and
 * messages the broker refused. Those are kept as ranges, in a bounded list.
 */

/** Separate ranges of never-acknowledged sequences kept per stream; beyond, the newest two merge. */
export const MAX_UNACKNOWLEDGED_RANGES = 512;

export interface AckedSet {
  /** One past the highest sequence acknowledged. */
  through: number;
  /** Sequences never acknowledged, as sorted disjoint inclusive ranges, flattened: [first0, last0, first1, ...]. */
  unacknowledged: readonly number[];
}

/**
 * Adds `seq` to a flattened range list (sorted, disjoint, inclusive). Sequences come in nearly increasing order, so
 * the usual case extends or follows the last range. Past MAX_UNACKNOWLEDGED_RANGES the newest two ranges merge: the
 * gap between them then counts as never acknowledged, which can only hide a loss, never invent one.
 */
export function addUnacknowledged(ranges: number[], seq: number): void {
  const n = ranges.length;
  if (n === 0 || seq > ranges[n - 1] + 1) {
    ranges.push(seq, seq);
  } else if (seq === ranges[n - 1] + 1) {
    ranges[n - 1] = seq;
  } else {
    // Out of order: find its place (rare; the list is bounded).
    let i = 0;
    while (i < ranges.length && ranges[i + 1] < seq - 1) i += 2;
    if (i < ranges.length && ranges[i] <= seq && seq <= ranges[i + 1]) return;
    if (i < ranges.length && seq === ranges[i] - 1) ranges[i] = seq;
    else if (i < ranges.length && seq === ranges[i + 1] + 1) ranges[i + 1] = seq;
    else ranges.splice(i, 0, seq, seq);
    // A range that now touches the next one joins it.
    for (let j = 0; j + 2 < ranges.length; j += 2) {
      if (ranges[j + 1] + 1 >= ranges[j + 2]) {
        ranges.splice(j + 1, 2);
        j -= 2;
      }
    }
  }
  if (ranges.length > 2 * MAX_UNACKNOWLEDGED_RANGES) ranges.splice(ranges.length - 3, 2);
}

/** Sequences of [lo, hi) that were acknowledged. */
export function ackedIn(a: AckedSet, lo: number, hi: number): number {
  return ackedInRange(a, lo, hi - 1, lo, hi);
}

/** Sequences of the inclusive range [first, last] that lie in [lo, hi) and were acknowledged. */
export function ackedInRange(a: AckedSet, first: number, last: number, lo: number, hi: number): number {
  const from = Math.max(first, lo, 0);
  const to = Math.min(last, hi - 1, a.through - 1);
  if (to < from) return 0;
  let n = to - from + 1;
  const u = a.unacknowledged;
  for (let i = 0; i < u.length; i += 2) {
    if (u[i] > to) break;
    const x = Math.max(u[i], from);
    const y = Math.min(u[i + 1], to);
    if (y >= x) n -= y - x + 1;
  }
  return n;
}
