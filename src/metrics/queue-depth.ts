/**
 * Queue depth over time: how many messages each subscriber was behind at the end of every second of the run —
 * sent to it and not yet received by it, the backlog a slow consumer builds on the broker.
 *
 * Derived from two running counts the engine samples at its once-a-second tick: per published stream, the messages
 * sent so far; per receiver and stream, the distinct messages received so far (duplicates left out). Both are
 * recorded as "progress": flattened [second, count] pairs, a pair only when the count changed. For one subscriber
 * and second s the depth is the sum, over the streams its subscriptions covered for their whole life (the streams
 * delivery accounting judges), of sent(s) − received(s), each at least 0.
 *
 * How exact: the counts are exact; the instant is each worker's tick, a few milliseconds after the second ends, so
 * a message in transit at that instant (in a socket, in the broker) counts as behind, and publishers and subscribers
 * in different workers are read up to a few milliseconds apart. A message the broker dropped stays behind to the
 * end, where the depth equals that subscriber's lost plus in flight at stop. Streams a subscriber joined late, shared
 * subscriptions and retained copies are not counted. The broker's own view ($SYS) is read apart (run/sys-observer.ts)
 * and shown beside it.
 */

/** The count a progress record ([second, count] pairs, seconds ascending) had reached by the end of `second`. */
export function progressAt(progress: readonly number[], second: number): number {
  let value = 0;
  for (let i = 0; i < progress.length; i += 2) {
    if (progress[i] > second) break;
    value = progress[i + 1];
  }
  return value;
}

/** One stream as one subscriber should have received it: the publisher's and the subscriber's progress. */
export interface StreamPair {
  sent: readonly number[];
  received: readonly number[];
}

/** Messages behind at the end of each second 0..seconds-1 for one subscriber over its streams. */
export function behindBySecond(streams: readonly StreamPair[], seconds: number): number[] {
  const out = new Array<number>(seconds).fill(0);
  for (const st of streams) {
    // Walk both records once, carrying the last value forward.
    let i = 0;
    let j = 0;
    let sent = 0;
    let received = 0;
    for (let s = 0; s < seconds; s++) {
      while (i < st.sent.length && st.sent[i] <= s) {
        sent = st.sent[i + 1];
        i += 2;
      }
      while (j < st.received.length && st.received[j] <= s) {
        received = st.received[j + 1];
        j += 2;
      }
      if (sent > received) out[s] += sent - received;
    }
  }
  return out;
}

/** A group's queue depth: the sum and the worst subscriber per second, and the worst subscribers' own series. */
export interface QueueDepth {
  /** Subscribers counted: those with at least one judged stream. */
  subscribers: number;
  /** Seconds covered, from second 0 (shorter than the run when there were too many streams to follow). */
  seconds: number;
  /** Messages behind at the end of each second, summed over the group's subscribers. */
  total: number[];
  /** The most any one subscriber was behind at the end of each second. */
  max: number[];
  /** The subscribers that were furthest behind (at most QUEUE_DEPTH_WORST), with their peak and their series. */
  worst: Array<{ clientId: string; peak: number; behind: number[] }>;
}

export const QUEUE_DEPTH_WORST = 5;

export function groupQueueDepth(subscribers: ReadonlyArray<{ clientId: string; streams: readonly StreamPair[] }>, seconds: number): QueueDepth {
  const total = new Array<number>(seconds).fill(0);
  const max = new Array<number>(seconds).fill(0);
  const all: Array<{ clientId: string; peak: number; behind: number[] }> = [];
  let counted = 0;
  for (const sub of subscribers) {
    if (sub.streams.length === 0) continue;
    counted++;
    const behind = behindBySecond(sub.streams, seconds);
    let peak = 0;
    for (let s = 0; s < seconds; s++) {
      total[s] += behind[s];
      if (behind[s] > max[s]) max[s] = behind[s];
      if (behind[s] > peak) peak = behind[s];
    }
    all.push({ clientId: sub.clientId, peak, behind });
  }
  all.sort((a, b) => b.peak - a.peak || (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  return { subscribers: counted, seconds, total, max, worst: all.slice(0, QUEUE_DEPTH_WORST) };
}
