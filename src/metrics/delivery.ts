/**
 * Delivery accounting: per receiver and per stream, what arrived, what was lost, duplicated or out of order, and
 * whether each QoS level kept its promise.
 *
 * A stream is one publisher's messages on one topic. Its payloads carry the publisher id (unique in the run) and a
 * sequence number that starts at 0 and goes up by 1 per message. A receiver (one subscriber, or a shared-subscription
 * group tracked by one `DeliveryTracker`) keeps, per stream, the highest sequence seen `H` and a bitmap of the last
 * `window` sequences, (H - window, H]. The rules, for a delivery of sequence `s`:
 *
 * - `s > H`: new. Every sequence between H and s becomes a gap. Sequences leaving the window while still missing
 *   become settled gaps (their positions are no longer known, only their number and lowest/highest bound).
 * - `H - window < s <= H`: seen before → `duplicated`; else it fills a gap → `outOfOrder`.
 * - `s <= H - window` (older than the window): if any settled gap is open, it is taken to fill one → `outOfOrder` and
 *   `late` (so it is never counted as lost as well); if none is open it can only be a repeat → `duplicated`.
 *
 * On an ordered topic a broker forwards one client's messages of one QoS in the order it received them
 * [MQTT-4.6.0-6], so `outOfOrder` above 0 on such a stream, outside shared subscriptions and reconnects, is worth a look.
 *
 * Every delivery counts in `received`, duplicates included (distinct messages = received - duplicated). Memory per
 * stream is fixed: the bitmap (window / 8 bytes) and a few numbers, however many messages flow.
 *
 * At the end, `settleDelivery` adds what only the publisher knows: how many it `sent` (sequences 0..sent-1) and which
 * the broker acknowledged. MQTT's ordering rules have PUBACK and PUBREC sent in the order the PUBLISH packets
 * arrived [MQTT-4.6.0-2], [MQTT-4.6.0-3], so the acknowledged messages are the sequences below `ackedThrough` (one
 * past the highest acknowledged) except the `unacknowledged` ranges: messages dropped from a session the broker
 * lost, and refusals (see acknowledged.ts). Without those, that is sequences 0..acknowledged-1. Then
 *
 * - `lost` = gaps never filled (in the window or settled) + the tail: sequences after H up to sent - 1;
 * - `lostAcknowledged` = the lost sequences that were acknowledged. Window gaps and the tail are known exactly.
 *   Settled gaps have only their number and bounds: they count as acknowledged up to the number of acknowledged
 *   sequences between their bounds — all of them when the bounds lie below `ackedThrough`, none when they lie at or
 *   above it or in a never-acknowledged range; settled gaps that straddle the frontier (only possible when
 *   acknowledgements trail the deliveries by more than the window) count as far as the acknowledged sequences go:
 *   the verdict errs towards reporting a broken promise.
 *
 * A run stopped before it completed (interrupted, or its duration ended) still drains for its `drain` time; what a
 * receiver has not received by then after the highest sequence it did receive — the tail, sent - 1 - H messages,
 * the whole stream when nothing arrived — was still on its way: it is counted `inFlightAtStop`, not lost, and not
 * in `lostAcknowledged`, so it never breaks a QoS verdict. Gaps below H are lost all the same: something after
 * them did arrive. In a run that completed, the tail is lost. In a run with broker faults, the part of the tail the
 * broker had acknowledged before the last fault (`faultFrontiers`) is lost in either case: the broker that took it
 * was stopped since, and the run went on after it came back.
 *
 * Per fault, fault-delivery.ts splits `lostAcknowledged` and the duplicates by when they happened.
 *
 * A receiver that subscribes after a publisher started sees the sequences it missed as lost: subscribe first.
 */

import { ackedInRange, type AckedSet } from './acknowledged.js';

/** Default window: 4096 sequences (512 bytes of bitmap per stream). */
export const DEFAULT_DELIVERY_WINDOW = 4096;

export type Qos = 0 | 1 | 2;

/** What `DeliveryTracker.receive` made of a delivery. */
export const Receipt = {
  /** Higher than any sequence seen before. */
  New: 0,
  /** Filled a gap inside the window. */
  OutOfOrder: 1,
  /** Older than the window and taken to fill a settled gap. */
  Late: 2,
  /** A sequence already delivered. */
  Duplicate: 3,
} as const;
export type Receipt = (typeof Receipt)[keyof typeof Receipt];

/** One receiver's record of one stream: plain data, safe to post between threads. */
export interface StreamDelivery {
  publisherId: number;
  topic: string;
  /** QoS of the last delivery. */
  qos: Qos;
  received: number;
  duplicated: number;
  outOfOrder: number;
  late: number;
  /** Highest sequence delivered; -1 when nothing arrived. */
  highest: number;
  /** Missing sequences inside the window as inclusive ranges, flattened: [first0, last0, first1, last1, ...]. */
  windowGaps: number[];
  /** Missing sequences that left the window and were not filled by a late delivery. */
  settledGaps: number;
  /** Bounds of the settled gaps' sequences (-1 when there never were any). */
  settledGapMin: number;
  settledGapMax: number;
  /**
   * Distinct messages received (received − duplicated) as sampled once a second: flattened [second, count] pairs,
   * a pair only when the count changed (see metrics/queue-depth.ts).
   */
  progress: number[];
  /** `duplicated` when each of the run's faults happened, in order (0 before the stream's first delivery). */
  faultDuplicates?: number[];
}

/** What the publisher of a stream reports, for one receiver that should have received the stream. */
export interface StreamExpectation {
  publisherId: number;
  topic: string;
  /** The QoS the receiver gets the stream at: the lower of the publish QoS and the granted subscription QoS. */
  qos: Qos;
  /** Messages published: sequences 0..sent-1. */
  sent: number;
  /** Messages the broker acknowledged (PUBACK for QoS 1, PUBCOMP for QoS 2). */
  acknowledged: number;
  /** One past the highest sequence acknowledged; absent: `acknowledged` (nothing dropped or refused). */
  ackedThrough?: number;
  /** Sequences below `ackedThrough` never to be acknowledged, as in AckedSet (acknowledged.ts). */
  unacknowledged?: readonly number[];
  /**
   * What the broker had acknowledged when each of the run's faults happened, in order, as a frontier like
   * `ackedThrough` (for QoS 2 counting PUBREC: the broker owns a message from then on).
   */
  faultFrontiers?: readonly number[];
}

/** Delivery totals over receiver-stream pairs. All fields add up across receivers, workers and runs. */
export interface DeliveryCounts {
  /** Receiver-stream pairs counted. */
  streams: number;
  /** Messages the publishers sent, over pairs with an expectation (counted once per receiver). */
  sent: number;
  acknowledged: number;
  received: number;
  duplicated: number;
  outOfOrder: number;
  late: number;
  lost: number;
  lostAcknowledged: number;
  /** The tail of each stream when the run was stopped before it completed: on its way, not judged lost. */
  inFlightAtStop: number;
}

/** How a run ended, for settling: a run stopped before it completed leaves its tails in flight. */
export interface SettleOptions {
  stoppedEarly?: boolean;
}

/** Delivery totals by the QoS the streams were received at. */
export interface DeliverySummary {
  qos0: DeliveryCounts;
  qos1: DeliveryCounts;
  qos2: DeliveryCounts;
}

/**
 * Whether a QoS level kept its promise. QoS 0 promises nothing (`held` is null); QoS 1 holds when no acknowledged
 * message was lost; QoS 2 holds when, in addition, nothing was duplicated. A level with no broken promise and nothing
 * acknowledged (no expectation supplied, or a broker that acknowledged nothing) has nothing to check: `held` is null.
 */
export interface DeliveryVerdict {
  qos: Qos;
  held: boolean | null;
  detail: string;
  counts: DeliveryCounts;
}

class StreamState {
  qos: Qos = 0;
  highest = -1;
  received = 0;
  duplicated = 0;
  outOfOrder = 0;
  late = 0;
  missingInWindow = 0;
  settledGaps = 0;
  settledGapMin = -1;
  settledGapMax = -1;
  readonly progress: number[] = [];
  /** The distinct count last written to `progress`. */
  progressed = 0;
  /** `duplicated` at each fault mark; null until the first mark. */
  faultDuplicates: number[] | null = null;
  readonly bits: Uint32Array;

  constructor(
    readonly publisherId: number,
    readonly topic: string,
    window: number,
  ) {
    this.bits = new Uint32Array(window >>> 5);
  }
}

export interface DeliveryTrackerOptions {
  /** Sequences remembered per stream: a power of two from 32 to 1 048 576. */
  window?: number;
}

/** One receiver's delivery accounting. `receive` is the hot path: no allocation once a stream exists. */
export class DeliveryTracker {
  readonly window: number;
  private readonly mask: number;
  private readonly byPublisher = new Map<number, Map<string, StreamState>>();
  // Deliveries come in runs from one stream; remembering the last one skips both map lookups.
  private last: StreamState | undefined;
  /** Distinct publishers heard from so far (grows by one on a publisher's first delivery to this receiver). */
  publishers = 0;
  /** Broker faults marked so far. */
  private faults = 0;

  constructor(options: DeliveryTrackerOptions = {}) {
    const window = options.window ?? DEFAULT_DELIVERY_WINDOW;
    if (!Number.isInteger(window) || window < 32 || window > 1 << 20 || (window & (window - 1)) !== 0) {
      throw new RangeError(`delivery window must be a power of two from 32 to 1048576, got ${window}`);
    }
    this.window = window;
    this.mask = window - 1;
  }

  /** Accounts one delivery. `seq` must be a non-negative integer below 2^53. */
  receive(publisherId: number, topic: string, seq: number, qos: Qos): Receipt {
    let st = this.last;
    if (st === undefined || st.publisherId !== publisherId || st.topic !== topic) {
      st = this.lookup(publisherId, topic);
      this.last = st;
    }
    st.qos = qos;
    st.received++;
    const h = st.highest;
    if (seq > h) {
      this.advance(st, seq);
      return Receipt.New;
    }
    if (seq <= h - this.window) {
      if (st.settledGaps > 0) {
        st.settledGaps--;
        st.outOfOrder++;
        st.late++;
        return Receipt.Late;
      }
      st.duplicated++;
      return Receipt.Duplicate;
    }
    const slot = seq & this.mask;
    const word = slot >>> 5;
    const bit = 1 << (slot & 31);
    if ((st.bits[word] & bit) !== 0) {
      st.duplicated++;
      return Receipt.Duplicate;
    }
    st.bits[word] |= bit;
    st.missingInWindow--;
    st.outOfOrder++;
    return Receipt.OutOfOrder;
  }

  /**
   * Records each stream's distinct received count for `second` when it changed since the last sample; returns how
   * many numbers were appended (the caller keeps the total bounded).
   */
  sampleProgress(second: number): number {
    let added = 0;
    for (const topics of this.byPublisher.values()) {
      for (const st of topics.values()) {
        const distinct = st.received - st.duplicated;
        if (distinct === st.progressed) continue;
        const p = st.progress;
        // A second sampled twice (the final sample repeats the last tick's second) keeps its latest count.
        if (p.length > 0 && p[p.length - 2] === second) p[p.length - 1] = distinct;
        else {
          p.push(second, distinct);
          added += 2;
        }
        st.progressed = distinct;
      }
    }
    return added;
  }

  /**
   * A broker fault happened: what each stream had duplicated so far, so that the duplicates after it can be told
   * apart (fault-delivery.ts). Once per fault, never per message.
   */
  markFault(): void {
    for (const topics of this.byPublisher.values()) {
      for (const st of topics.values()) {
        const marks = (st.faultDuplicates ??= []);
        while (marks.length < this.faults) marks.push(0);
        marks.push(st.duplicated);
      }
    }
    this.faults++;
  }

  get streamCount(): number {
    let n = 0;
    for (const topics of this.byPublisher.values()) n += topics.size;
    return n;
  }

  /** A snapshot of every stream this receiver has seen. */
  streams(): StreamDelivery[] {
    const out: StreamDelivery[] = [];
    for (const topics of this.byPublisher.values()) {
      for (const st of topics.values()) out.push(this.snapshot(st));
    }
    return out;
  }

  private lookup(publisherId: number, topic: string): StreamState {
    let topics = this.byPublisher.get(publisherId);
    if (topics === undefined) {
      topics = new Map();
      this.byPublisher.set(publisherId, topics);
      this.publishers++;
    }
    let st = topics.get(topic);
    if (st === undefined) {
      st = new StreamState(publisherId, topic, this.window);
      topics.set(topic, st);
    }
    return st;
  }

  private advance(st: StreamState, seq: number): void {
    const h = st.highest;
    const window = this.window;
    const bits = st.bits;
    if (seq - h >= window) {
      // Every slot is overwritten: the old window's gaps settle, and so does any skipped sequence that never even
      // entered the window. Positions inside the old window are not searched for; its bounds stand in for them.
      if (st.missingInWindow > 0) settle(st, st.missingInWindow, Math.max(0, h - window + 1), h - 1);
      const low = seq - window + 1;
      if (low > h + 1) settle(st, low - h - 1, h + 1, low - 1);
      bits.fill(0);
      st.missingInWindow = window - 1;
      const slot = seq & this.mask;
      bits[slot >>> 5] |= 1 << (slot & 31);
    } else {
      const mask = this.mask;
      for (let t = h + 1; t <= seq; t++) {
        const slot = t & mask;
        const word = slot >>> 5;
        const bit = 1 << (slot & 31);
        // The slot held sequence t - window, which now leaves the window.
        const old = t - window;
        if (old >= 0 && (bits[word] & bit) === 0) {
          st.missingInWindow--;
          settle(st, 1, old, old);
        }
        if (t < seq) {
          bits[word] &= ~bit;
          st.missingInWindow++;
        } else {
          bits[word] |= bit;
        }
      }
    }
    st.highest = seq;
  }

  private snapshot(st: StreamState): StreamDelivery {
    const windowGaps: number[] = [];
    if (st.missingInWindow > 0) {
      const bits = st.bits;
      const mask = this.mask;
      let runStart = -1;
      for (let t = Math.max(0, st.highest - this.window + 1); t <= st.highest; t++) {
        const slot = t & mask;
        const present = (bits[slot >>> 5] & (1 << (slot & 31))) !== 0;
        if (!present && runStart < 0) runStart = t;
        else if (present && runStart >= 0) {
          windowGaps.push(runStart, t - 1);
          runStart = -1;
        }
      }
      // The highest sequence is always present, so every run closes inside the loop.
    }
    return {
      publisherId: st.publisherId,
      topic: st.topic,
      qos: st.qos,
      received: st.received,
      duplicated: st.duplicated,
      outOfOrder: st.outOfOrder,
      late: st.late,
      highest: st.highest,
      windowGaps,
      settledGaps: st.settledGaps,
      settledGapMin: st.settledGapMin,
      settledGapMax: st.settledGapMax,
      progress: st.progress.slice(),
      ...(this.faults > 0 ? { faultDuplicates: padded(st.faultDuplicates, this.faults) } : {}),
    };
  }
}

/** A stream's fault marks: none yet means it first appeared after the last fault, with nothing duplicated before. */
function padded(marks: number[] | null, n: number): number[] {
  return marks === null ? new Array<number>(n).fill(0) : marks.slice();
}

function settle(st: StreamState, count: number, min: number, max: number): void {
  if (st.settledGapMin < 0 || min < st.settledGapMin) st.settledGapMin = min;
  if (max > st.settledGapMax) st.settledGapMax = max;
  st.settledGaps += count;
}

export function emptyDeliveryCounts(): DeliveryCounts {
  return {
    streams: 0, sent: 0, acknowledged: 0, received: 0, duplicated: 0, outOfOrder: 0, late: 0, lost: 0,
    lostAcknowledged: 0, inFlightAtStop: 0,
  };
}

export function emptyDeliverySummary(): DeliverySummary {
  return { qos0: emptyDeliveryCounts(), qos1: emptyDeliveryCounts(), qos2: emptyDeliveryCounts() };
}

/**
 * Settles one receiver's streams against what the publishers report for that receiver. An expected stream that
 * never arrived is lost whole; a stream that arrived without an expectation has no tail and no acknowledgements.
 */
export function settleDelivery(
  streams: readonly StreamDelivery[],
  expectations: readonly StreamExpectation[],
  options: SettleOptions = {},
): DeliverySummary {
  const stoppedEarly = options.stoppedEarly === true;
  const summary = emptyDeliverySummary();
  const received = new Map<number, Map<string, StreamDelivery>>();
  for (const s of streams) {
    let topics = received.get(s.publisherId);
    if (topics === undefined) {
      topics = new Map();
      received.set(s.publisherId, topics);
    }
    topics.set(s.topic, s);
  }
  const settled = new Set<StreamDelivery>();
  for (const e of expectations) {
    const s = received.get(e.publisherId)?.get(e.topic);
    if (s !== undefined) settled.add(s);
    addStream(countsFor(summary, e.qos), s, e, stoppedEarly);
  }
  for (const s of streams) {
    if (!settled.has(s)) addStream(countsFor(summary, s.qos), s, undefined, stoppedEarly);
  }
  return summary;
}

/** Sums summaries: receivers in one worker, workers in one run. */
export function mergeDeliverySummaries(summaries: readonly DeliverySummary[]): DeliverySummary {
  const out = emptyDeliverySummary();
  for (const s of summaries) {
    addCounts(out.qos0, s.qos0);
    addCounts(out.qos1, s.qos1);
    addCounts(out.qos2, s.qos2);
  }
  return out;
}

/** All QoS levels together. */
export function totalDelivery(summary: DeliverySummary): DeliveryCounts {
  const out = emptyDeliveryCounts();
  addCounts(out, summary.qos0);
  addCounts(out, summary.qos1);
  addCounts(out, summary.qos2);
  return out;
}

/** One verdict per QoS level that had at least one stream. */
export function deliveryVerdicts(summary: DeliverySummary): DeliveryVerdict[] {
  const out: DeliveryVerdict[] = [];
  const levels: Array<[Qos, DeliveryCounts]> = [[0, summary.qos0], [1, summary.qos1], [2, summary.qos2]];
  for (const [qos, c] of levels) {
    if (c.streams === 0) continue;
    if (qos === 0) {
      out.push({ qos, held: null, detail: `at most once: no promise to check (${c.lost} lost)`, counts: c });
      continue;
    }
    const promise = qos === 1 ? 'at least once' : 'exactly once';
    const problems: string[] = [];
    if (c.lostAcknowledged > 0) problems.push(`${c.lostAcknowledged} acknowledged lost`);
    if (qos === 2 && c.duplicated > 0) problems.push(`${c.duplicated} duplicated`);
    if (problems.length > 0) {
      out.push({ qos, held: false, detail: `${promise}: broken (${problems.join(', ')})`, counts: c });
    } else if (c.acknowledged === 0) {
      out.push({ qos, held: null, detail: `${promise}: nothing was acknowledged, so no promise to check`, counts: c });
    } else {
      out.push({ qos, held: true, detail: `${promise}: held`, counts: c });
    }
  }
  return out;
}

function countsFor(summary: DeliverySummary, qos: Qos): DeliveryCounts {
  return qos === 2 ? summary.qos2 : qos === 1 ? summary.qos1 : summary.qos0;
}

function addStream(c: DeliveryCounts, s: StreamDelivery | undefined, e: StreamExpectation | undefined, stoppedEarly: boolean): void {
  c.streams++;
  let lost = 0;
  let lostAcknowledged = 0;
  if (s !== undefined) {
    c.received += s.received;
    c.duplicated += s.duplicated;
    c.outOfOrder += s.outOfOrder;
    c.late += s.late;
    lost += s.settledGaps;
  }
  const l = lostSequences(s, e, stoppedEarly);
  const ranges = l.ranges;
  for (let i = 0; i < ranges.length; i += 2) lost += ranges[i + 1] - ranges[i] + 1;
  c.inFlightAtStop += l.inFlightAtStop;
  if (e !== undefined) {
    c.sent += e.sent;
    c.acknowledged += e.acknowledged;
    const acked = ackedSetOf(e);
    for (let i = 0; i < ranges.length; i += 2) lostAcknowledged += ackedInRange(acked, ranges[i], ranges[i + 1], 0, acked.through);
    if (s !== undefined) lostAcknowledged += settledAcknowledged(s, acked);
  }
  c.lost += lost;
  c.lostAcknowledged += lostAcknowledged;
}

/** The lost sequences of one receiver's stream known exactly, and the tail still on its way at stop. */
export interface LostSequences {
  /** Window gaps, then the lost part of the tail: inclusive ranges, flattened. Settled gaps are not positions. */
  ranges: number[];
  inFlightAtStop: number;
}

/**
 * Window gaps and the lost tail of a stream as ranges: the tail (sequences after the highest received) is lost in a
 * completed run, and otherwise in flight at stop, except what the broker had acknowledged before the run's last fault.
 */
export function lostSequences(s: StreamDelivery | undefined, e: StreamExpectation | undefined, stoppedEarly: boolean): LostSequences {
  const ranges = s === undefined ? [] : s.windowGaps.slice();
  let inFlightAtStop = 0;
  if (e !== undefined) {
    const tailStart = s === undefined ? 0 : s.highest + 1;
    if (e.sent > tailStart) {
      const frontiers = e.faultFrontiers;
      const beforeLastFault = frontiers !== undefined && frontiers.length > 0 ? Math.min(e.sent, frontiers[frontiers.length - 1]) : 0;
      const tailEnd = stoppedEarly ? Math.max(tailStart, beforeLastFault) : e.sent;
      if (tailEnd > tailStart) ranges.push(tailStart, tailEnd - 1);
      inFlightAtStop = e.sent - tailEnd;
    }
  }
  return { ranges, inFlightAtStop };
}

/** The acknowledged set of an expectation, never past what was sent. */
export function ackedSetOf(e: StreamExpectation): AckedSet {
  return { through: Math.min(e.ackedThrough ?? e.acknowledged, e.sent), unacknowledged: e.unacknowledged ?? [] };
}

/** How many of a stream's settled gaps count as acknowledged losses (see the rule at the top of this file). */
export function settledAcknowledged(s: StreamDelivery, acked: AckedSet): number {
  if (s.settledGaps === 0) return 0;
  return Math.min(s.settledGaps, ackedInRange(acked, s.settledGapMin, s.settledGapMax, 0, acked.through));
}

function addCounts(into: DeliveryCounts, from: DeliveryCounts): void {
  into.streams += from.streams;
  into.sent += from.sent;
  into.acknowledged += from.acknowledged;
  into.received += from.received;
  into.duplicated += from.duplicated;
  into.outOfOrder += from.outOfOrder;
  into.late += from.late;
  into.lost += from.lost;
  into.lostAcknowledged += from.lostAcknowledged;
  into.inFlightAtStop += from.inFlightAtStop;
}
