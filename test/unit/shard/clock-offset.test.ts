/**
 * The clock offset from NTP-style exchanges: whatever the delays on the way there and back (queued, asymmetric),
 * the true offset lies within the stated bound; the shortest round trip wins; an offset that drifts during the run
 * is covered by the bound of before-and-after.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { combineOffsets, estimateOffset, type TimeSample } from '../../../src/shard/clock-offset.js';
import { propertyParams } from '../../helpers/property.js';

/** One exchange with a clock `theta` µs ahead of shard 0's, `there`/`back` µs on the wire, `busy` µs at shard 0. */
function exchange(theta: number, at: number, there: number, busy: number, back: number): TimeSample {
  const t1 = at + theta;
  const t2 = at + there;
  const t3 = t2 + busy;
  const t4 = t3 + back + theta;
  return { t1, t2, t3, t4 };
}

// Whole microseconds: exact in doubles at today's µs-since-1970 (below 2^53), as the clocks read them to well under a µs.
const delay = fc.integer({ min: 0, max: 200_000 });

describe('estimateOffset', () => {
  it('always bounds the true offset, however the delays split', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -3.6e9, max: 3.6e9 }),
        fc.array(fc.tuple(delay, fc.integer({ min: 0, max: 5_000 }), delay), { minLength: 1, maxLength: 20 }),
        (theta, delays) => {
          const samples = delays.map(([there, busy, back], i) => exchange(theta, 1.7e15 + i * 20_000, there, busy, back));
          const e = estimateOffset(samples)!;
          expect(Math.abs(e.offsetUs - theta)).toBeLessThanOrEqual(e.errorUs);
          const best = Math.min(...delays.map(([there, , back]) => there + back));
          expect(e.rttUs).toBeCloseTo(best, 3);
          expect(e.samples).toBe(samples.length);
        },
      ),
      propertyParams({ numRuns: 500 }),
    );
  });

  it('keeps the shortest round trip: one quick exchange among slow, lopsided ones', () => {
    const theta = 250_000;
    const slow = [exchange(theta, 0, 90_000, 10, 100), exchange(theta, 1, 100, 10, 70_000), exchange(theta, 2, 40_000, 10, 40_000)];
    const quick = exchange(theta, 3, 150, 10, 160);
    const e = estimateOffset([...slow, quick, ...slow])!;
    expect(e.rttUs).toBeCloseTo(310, 6);
    expect(Math.abs(e.offsetUs - theta)).toBeLessThanOrEqual(e.errorUs);
    expect(e.errorUs).toBeLessThan(200);
  });

  it('ignores exchanges whose times make a negative round trip (a stepped clock, a forged answer)', () => {
    const bad: TimeSample = { t1: 1_000, t2: 0, t3: 0, t4: 900 };
    expect(estimateOffset([bad])).toBeUndefined();
    expect(estimateOffset([])).toBeUndefined();
    expect(estimateOffset([{ t1: NaN, t2: 0, t3: 0, t4: 1 }])).toBeUndefined();
    const good = exchange(5, 0, 100, 1, 100);
    expect(estimateOffset([bad, good])!.rttUs).toBeCloseTo(200, 6);
  });
});

describe('combineOffsets', () => {
  it('covers an offset that drifted steadily between the measurement before the run and the one after', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e7, max: 1e7 }), fc.integer({ min: -50_000, max: 50_000 }), delay, delay, (theta, drift, d1, d2) => {
        const before = estimateOffset([exchange(theta, 0, d1, 1, Math.round(d1 / 3))])!;
        const after = estimateOffset([exchange(theta + drift, 60e6, Math.round(d2 / 2), 1, d2)])!;
        const run = combineOffsets(before, after)!;
        expect(run.basis).toBe('before and after');
        expect(run.driftUs).toBeCloseTo(after.offsetUs - before.offsetUs, 3);
        // Every offset the clock had during the run, from theta to theta + drift.
        for (const f of [0, 0.25, 0.5, 1]) expect(Math.abs(run.offsetUs - (theta + f * drift))).toBeLessThanOrEqual(run.errorUs + 1e-3);
      }),
      propertyParams({ numRuns: 300 }),
    );
  });

  it('takes one measurement alone, with no drift known, and none when neither was answered', () => {
    const one = estimateOffset([exchange(7, 0, 10, 1, 10)])!;
    expect(combineOffsets(one, null)).toMatchObject({ offsetUs: one.offsetUs, errorUs: one.errorUs, driftUs: null, basis: 'before' });
    expect(combineOffsets(null, one)).toMatchObject({ basis: 'after', driftUs: null });
    expect(combineOffsets(null, null)).toBeNull();
  });
});
