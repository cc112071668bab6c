import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ackedIn, addUnacknowledged, MAX_UNACKNOWLEDGED_RANGES } from '../../../src/metrics/acknowledged.js';
import { DeliveryTracker, settleDelivery, type StreamDelivery, type StreamExpectation } from '../../../src/metrics/delivery.js';
import { mergeFaultDeliveries, settleFaults, totalFault } from '../../../src/metrics/fault-delivery.js';
import { propertyParams } from '../../helpers/property.js';

const PUB = 3;
const TOPIC = 'durable/0';

function received(seqs: readonly number[], opts: { window?: number; marksAfter?: number[]; qos?: 0 | 1 | 2 } = {}): StreamDelivery {
  const t = new DeliveryTracker({ window: opts.window ?? 1024 });
  const marks = new Set(opts.marksAfter ?? []);
  seqs.forEach((s, i) => {
    t.receive(PUB, TOPIC, s, opts.qos ?? 1);
    if (marks.has(i)) t.markFault();
  });
  return t.streams()[0];
}

function expectation(sent: number, ackedThrough: number, extra: Partial<StreamExpectation> = {}): StreamExpectation {
  const unacked = extra.unacknowledged ?? [];
  let holes = 0;
  for (let i = 0; i < unacked.length; i += 2) holes += Math.min(unacked[i + 1], ackedThrough - 1) - unacked[i] + 1;
  return { publisherId: PUB, topic: TOPIC, qos: 1, sent, acknowledged: ackedThrough - holes, ackedThrough, ...extra };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

describe('acknowledged sets', () => {
  it('keeps never-acknowledged sequences as merged ranges, in any order', () => {
    const r: number[] = [];
    for (const s of [10, 11, 12, 20, 14, 13, 30, 31, 19, 5]) addUnacknowledged(r, s);
    expect(r).toEqual([5, 5, 10, 14, 19, 20, 30, 31]);
    addUnacknowledged(r, 12);
    expect(r).toEqual([5, 5, 10, 14, 19, 20, 30, 31]);
    const set = { through: 40, unacknowledged: r };
    expect(ackedIn(set, 0, 40)).toBe(40 - 1 - 5 - 2 - 2);
    expect(ackedIn(set, 10, 15)).toBe(0);
    expect(ackedIn(set, 15, 19)).toBe(4);
    expect(ackedIn({ through: 12, unacknowledged: r }, 0, 100)).toBe(12 - 1 - 2);
  });

  it('matches a plain set for any insertion order, and stays bounded by merging the newest ranges', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 400 }), { maxLength: 120 }), (seqs) => {
        const r: number[] = [];
        for (const s of seqs) addUnacknowledged(r, s);
        const model = new Set(seqs);
        const listed = new Set<number>();
        for (let i = 0; i < r.length; i += 2) {
          expect(r[i]).toBeLessThanOrEqual(r[i + 1]);
          if (i > 0) expect(r[i]).toBeGreaterThan(r[i - 1] + 1);
          for (let s = r[i]; s <= r[i + 1]; s++) listed.add(s);
        }
        expect(listed).toEqual(model);
      }),
      propertyParams({ numRuns: 300 }),
    );
    const r: number[] = [];
    for (let s = 0; s < 3 * MAX_UNACKNOWLEDGED_RANGES; s += 2) addUnacknowledged(r, s);
    expect(r.length).toBe(2 * MAX_UNACKNOWLEDGED_RANGES);
    // Merged ranges only ever grow: every sequence added is still in one.
    for (let s = 0; s < 3 * MAX_UNACKNOWLEDGED_RANGES; s += 2) expect(ackedIn({ through: s + 1, unacknowledged: r }, s, s + 1)).toBe(0);
  });
});

describe('settleFaults', () => {
  it('gives each fault the acknowledged messages since the one before that never arrived', () => {
    // 30 sent and acknowledged; the broker had acknowledged 10 at fault 1, 20 at fault 2; 5..11 never arrived.
    const s = received([...range(0, 5), ...range(12, 30)]);
    const e = expectation(30, 30, { faultFrontiers: [10, 20] });
    const [f1, f2] = settleFaults([s], [e], 2);
    expect(f1.qos1).toEqual({ acknowledged: 10, lostAcknowledged: 5, duplicated: 0 });
    expect(f2.qos1).toEqual({ acknowledged: 10, lostAcknowledged: 2, duplicated: 0 });
    expect(settleDelivery([s], [e]).qos1.lostAcknowledged).toBe(7);
  });

  it('leaves out what was never acknowledged: in flight when the session was lost, or refused', () => {
    // 10..12 were in flight at the fault, the session was gone after it: dropped, never acknowledged, and lost.
    const s = received([...range(0, 10), ...range(13, 25)]);
    const e = expectation(25, 25, { unacknowledged: [10, 12], faultFrontiers: [10] });
    const [f] = settleFaults([s], [e], 1);
    expect(f.qos1).toEqual({ acknowledged: 10, lostAcknowledged: 0, duplicated: 0 });
    const c = settleDelivery([s], [e]).qos1;
    expect(c).toMatchObject({ acknowledged: 22, lost: 3, lostAcknowledged: 0 });
  });

  it('counts the tail acknowledged before the last fault as lost in a run stopped early; the rest stays in flight', () => {
    // The subscriber got 0..9; 40 sent, all acknowledged, 30 of them before the fault; the run was stopped early.
    const s = received(range(0, 10));
    const e = expectation(40, 40, { faultFrontiers: [30] });
    const stopped = { stoppedEarly: true };
    expect(settleDelivery([s], [e], stopped).qos1).toMatchObject({ lost: 20, lostAcknowledged: 20, inFlightAtStop: 10 });
    expect(settleFaults([s], [e], 1, stopped)[0].qos1).toEqual({ acknowledged: 30, lostAcknowledged: 20, duplicated: 0 });
    // Without faults, the whole tail is in flight, as before.
    expect(settleDelivery([s], [expectation(40, 40)], stopped).qos1).toMatchObject({ lost: 0, lostAcknowledged: 0, inFlightAtStop: 30 });
    // A stream that never arrived at all.
    expect(settleFaults([], [e], 1, stopped)[0].qos1).toEqual({ acknowledged: 30, lostAcknowledged: 30, duplicated: 0 });
  });

  it('counts duplicates after each fault, up to the next', () => {
    // Marks after the 3rd and the 8th delivery: one duplicate before fault 1, two after it, one after fault 2.
    const s = received([0, 1, 1, 2, 3, 2, 3, 4, 5, 4, 6], { marksAfter: [2, 7], qos: 2 });
    expect(s.faultDuplicates).toEqual([1, 3]);
    const e = { ...expectation(7, 7), qos: 2 as const };
    const [f1, f2] = settleFaults([s], [e], 2);
    expect(f1.qos2.duplicated).toBe(2);
    expect(f2.qos2.duplicated).toBe(1);
    // A stream first seen after the faults has none before them; a stream without expectation still counts.
    const late = received([0, 0], { qos: 2 });
    const t = new DeliveryTracker();
    t.markFault();
    t.receive(PUB, TOPIC, 0, 1);
    t.receive(PUB, TOPIC, 0, 1);
    expect(t.streams()[0].faultDuplicates).toEqual([0]);
    expect(settleFaults(t.streams(), [], 1)[0].qos1.duplicated).toBe(1);
    expect(late.faultDuplicates).toBeUndefined();
  });

  it('merges and totals', () => {
    const s = received([...range(0, 5), ...range(12, 30)]);
    const one = settleFaults([s], [expectation(30, 30, { faultFrontiers: [10, 20] })], 2);
    const merged = mergeFaultDeliveries([one, one, []]);
    expect(merged.map((f) => totalFault(f).lostAcknowledged)).toEqual([10, 4]);
    expect(mergeFaultDeliveries([])).toEqual([]);
  });

  it('splits lostAcknowledged exactly, and matches a set model while nothing leaves the window', () => {
    const arb = fc
      .record({
        sent: fc.integer({ min: 0, max: 300 }),
        through: fc.integer({ min: 0, max: 300 }),
        unacked: fc.uniqueArray(fc.integer({ min: 0, max: 299 }), { maxLength: 30 }),
        delivered: fc.array(fc.integer({ min: 0, max: 299 }), { maxLength: 400 }),
        frontiers: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 4 }),
        window: fc.constantFrom(32, 64, 1024),
        stoppedEarly: fc.boolean(),
      })
      .map((x) => ({ ...x, through: Math.min(x.through, x.sent), delivered: x.delivered.filter((d) => d < x.sent), frontiers: [...x.frontiers].sort((a, b) => a - b) }));
    fc.assert(
      fc.property(arb, (x) => {
        const unacknowledged: number[] = [];
        for (const u of x.unacked.filter((u) => u < x.through)) addUnacknowledged(unacknowledged, u);
        const e = expectation(x.sent, x.through, { unacknowledged, faultFrontiers: x.frontiers.map((f) => Math.min(f, x.through)) });
        const t = new DeliveryTracker({ window: x.window });
        for (const d of x.delivered) t.receive(PUB, TOPIC, d, 1);
        const streams = t.streams();
        const options = { stoppedEarly: x.stoppedEarly };
        const faults = settleFaults(streams, [e], x.frontiers.length, options);
        const total = settleDelivery(streams, [e], options).qos1;
        const last = Math.min(x.frontiers[x.frontiers.length - 1], x.through);
        const sum = faults.reduce((n, f) => n + f.qos1.lostAcknowledged, 0);
        expect(sum).toBeLessThanOrEqual(total.lostAcknowledged);
        expect(faults.reduce((n, f) => n + f.qos1.acknowledged, 0)).toBe(ackedIn({ through: x.through, unacknowledged }, 0, last));
        for (const f of faults) expect(f.qos1.lostAcknowledged).toBeLessThanOrEqual(f.qos1.acknowledged);
        const highest = x.delivered.length === 0 ? -1 : Math.max(...x.delivered);
        if (highest < x.window) {
          // Nothing left the window: every loss is known exactly. The model: acknowledged, never delivered, and not
          // part of a tail still in flight.
          const got = new Set(x.delivered);
          const unack = new Set(x.unacked.filter((u) => u < x.through));
          const lostIn = (lo: number, hi: number): number => {
            let lost = 0;
            for (let q = lo; q < hi; q++) if (!got.has(q) && !unack.has(q) && (!x.stoppedEarly || q < highest || q < last)) lost++;
            return lost;
          };
          let lo = 0;
          faults.forEach((f, k) => {
            const hi = Math.max(lo, Math.min(x.frontiers[k], x.through));
            expect(f.qos1.lostAcknowledged).toBe(lostIn(lo, hi));
            lo = hi;
          });
          // The faults' parts and the part acknowledged after the last one make up the whole.
          expect(sum + lostIn(lo, x.through)).toBe(total.lostAcknowledged);
        }
      }),
      propertyParams({ numRuns: 400 }),
    );
  });
});
