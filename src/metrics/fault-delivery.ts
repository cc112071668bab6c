/**
 * Delivery across broker faults: for each fault and QoS, the messages the broker acknowledged before it (and after
 * the fault before) that never arrived, and the duplicates that arrived after it (before the next one).
 *
 * Each stream's acknowledged set is cut at the frontier each fault left (`faultFrontiers`, see delivery.ts): fault k
 * owns the acknowledged sequences from frontier k-1 (0 for the first) up to frontier k, so every acknowledged message
 * belongs to the first fault that came after its acknowledgement, or to none when it was acknowledged after the last.
 * The lost ones among them are the lost sequences of delivery.ts (window gaps and the lost tail, exactly), plus the
 * settled gaps that count as acknowledged, which have only bounds: they fill the parts in order, each up to the
 * acknowledged sequences it has between those bounds (the earliest fault first, erring towards a broken promise).
 * Summed over the faults and the part after the last, this is delivery.ts's `lostAcknowledged`, exactly.
 */
import { ackedIn, ackedInRange, type AckedSet } from './acknowledged.js';
import { ackedSetOf, lostSequences, settledAcknowledged, type Qos, type SettleOptions, type StreamDelivery, type StreamExpectation } from './delivery.js';

export interface FaultCounts {
  /** Messages acknowledged after the previous fault and before this one (per receiver, as DeliveryCounts counts). */
  acknowledged: number;
  /** Of those, never delivered. */
  lostAcknowledged: number;
  /** Deliveries of a message received before, after this fault and before the next. */
  duplicated: number;
}

export interface FaultDelivery {
  qos0: FaultCounts;
  qos1: FaultCounts;
  qos2: FaultCounts;
}

export function emptyFaultCounts(): FaultCounts {
  return { acknowledged: 0, lostAcknowledged: 0, duplicated: 0 };
}

export function emptyFaultDelivery(): FaultDelivery {
  return { qos0: emptyFaultCounts(), qos1: emptyFaultCounts(), qos2: emptyFaultCounts() };
}

/**
 * One receiver's streams across `faults` faults: like settleDelivery, joined with the publishers' expectations by
 * publisher and topic; a stream without an expectation has only duplicates to count.
 */
export function settleFaults(
  streams: readonly StreamDelivery[],
  expectations: readonly StreamExpectation[],
  faults: number,
  options: SettleOptions = {},
): FaultDelivery[] {
  const out = Array.from({ length: faults }, emptyFaultDelivery);
  if (faults === 0) return out;
  const received = new Map<string, StreamDelivery>();
  for (const s of streams) received.set(key(s.publisherId, s.topic), s);
  const settled = new Set<StreamDelivery>();
  for (const e of expectations) {
    const s = received.get(key(e.publisherId, e.topic));
    if (s !== undefined) settled.add(s);
    addAcknowledged(out, e.qos, s, e, options.stoppedEarly === true);
    if (s !== undefined) addDuplicates(out, e.qos, s);
  }
  for (const s of streams) if (!settled.has(s)) addDuplicates(out, s.qos, s);
  return out;
}

/** Sums per-fault counts: receivers, groups, workers. Lists of different lengths sum as far as each goes. */
export function mergeFaultDeliveries(lists: readonly (readonly FaultDelivery[])[]): FaultDelivery[] {
  const n = lists.reduce((m, l) => Math.max(m, l.length), 0);
  const out = Array.from({ length: n }, emptyFaultDelivery);
  for (const list of lists) {
    list.forEach((f, k) => {
      for (const q of ['qos0', 'qos1', 'qos2'] as const) {
        out[k][q].acknowledged += f[q].acknowledged;
        out[k][q].lostAcknowledged += f[q].lostAcknowledged;
        out[k][q].duplicated += f[q].duplicated;
      }
    });
  }
  return out;
}

/** All QoS levels of one fault together. */
export function totalFault(f: FaultDelivery): FaultCounts {
  return {
    acknowledged: f.qos0.acknowledged + f.qos1.acknowledged + f.qos2.acknowledged,
    lostAcknowledged: f.qos0.lostAcknowledged + f.qos1.lostAcknowledged + f.qos2.lostAcknowledged,
    duplicated: f.qos0.duplicated + f.qos1.duplicated + f.qos2.duplicated,
  };
}

function addAcknowledged(out: FaultDelivery[], qos: Qos, s: StreamDelivery | undefined, e: StreamExpectation, stoppedEarly: boolean): void {
  const acked = ackedSetOf(e);
  const cuts = frontiers(e, acked, out.length);
  const { ranges } = lostSequences(s, e, stoppedEarly);
  let settled = s === undefined ? 0 : settledAcknowledged(s, acked);
  let lo = 0;
  for (let k = 0; k < out.length; k++) {
    const hi = cuts[k];
    const c = levelOf(out[k], qos);
    c.acknowledged += ackedIn(acked, lo, hi);
    for (let i = 0; i < ranges.length; i += 2) c.lostAcknowledged += ackedInRange(acked, ranges[i], ranges[i + 1], lo, hi);
    if (settled > 0) {
      // Settled gaps lie below the window, window gaps and the tail above it: the two never share a sequence.
      const here = Math.min(settled, ackedInRange(acked, s!.settledGapMin, s!.settledGapMax, lo, hi));
      c.lostAcknowledged += here;
      settled -= here;
    }
    lo = hi;
  }
}

/** Each fault's frontier, never below the one before nor past the stream's acknowledged set. */
function frontiers(e: StreamExpectation, acked: AckedSet, n: number): number[] {
  const marks = e.faultFrontiers ?? [];
  const out: number[] = [];
  let prev = 0;
  for (let k = 0; k < n; k++) {
    const f = Math.min(Math.max(marks[k] ?? 0, prev), acked.through);
    out.push(f);
    prev = f;
  }
  return out;
}

function addDuplicates(out: FaultDelivery[], qos: Qos, s: StreamDelivery): void {
  const marks = s.faultDuplicates;
  if (marks === undefined) return;
  for (let k = 0; k < out.length && k < marks.length; k++) {
    const next = k + 1 < marks.length ? marks[k + 1] : s.duplicated;
    levelOf(out[k], qos).duplicated += Math.max(0, next - marks[k]);
  }
}

function levelOf(f: FaultDelivery, qos: Qos): FaultCounts {
  return qos === 2 ? f.qos2 : qos === 1 ? f.qos1 : f.qos0;
}

function key(publisherId: number, topic: string): string {
  return `${publisherId}\u0000${topic}`;
}
