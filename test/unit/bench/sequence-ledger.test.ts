import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SequenceLedger, ledgerWindowBits } from '../../../bench/sequence-ledger.js';
import { propertyParams } from '../../helpers/property.js';

/** What a delivery order should count, from a plain set: the reference the bitmap must agree with. */
function reference(sent: number, deliveries: readonly number[]) {
  const seen = new Set<number>();
  let highest = -1;
  let duplicates = 0;
  let outOfOrder = 0;
  for (const s of deliveries) {
    if (seen.has(s)) duplicates++;
    else {
      if (s < highest) outOfOrder++;
      seen.add(s);
    }
    if (s > highest) highest = s;
  }
  return { distinct: seen.size, duplicates, outOfOrder, lost: sent - seen.size };
}

function account(windowBits: number, sent: number, deliveries: readonly number[]) {
  const ledger = new SequenceLedger(windowBits);
  for (const s of deliveries) ledger.record(s);
  return {
    distinct: ledger.distinct,
    duplicates: ledger.duplicates,
    outOfOrder: ledger.outOfOrder,
    lost: ledger.lost(sent),
    beyondWindow: ledger.beyondWindow,
  };
}

/**
 * A publisher's sequences 0..sent-1 as a broker might deliver them: each dropped or delivered once or more, every
 * copy arriving at a random point less than `reach` sequences later than in order. Every delivery then lies within
 * `reach` of the highest before it, which is what the ledger promises to count exactly when `reach` ≤ window − 32.
 */
function deliveryOrder(maxSent: number, reach: number) {
  return fc
    .integer({ min: 0, max: maxSent })
    .chain((sent) =>
      fc.tuple(
        fc.constant(sent),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.array(fc.integer({ min: 0, max: reach - 1 }), { minLength: 3, maxLength: 3 })), {
          minLength: sent,
          maxLength: sent,
        }),
      ),
    )
    .map(([sent, fates]) => {
      const arrivals: { key: number; seq: number; tie: number }[] = [];
      fates.forEach(([fate, offsets], seq) => {
        // fate 0: dropped; 1: once; 2: twice; 3: three times (a broker resending without DUP).
        for (let copy = 0; copy < fate; copy++) arrivals.push({ key: seq + offsets[copy], seq, tie: arrivals.length });
      });
      arrivals.sort((a, b) => a.key - b.key || a.tie - b.tie);
      return { sent, deliveries: arrivals.map((a) => a.seq) };
    });
}

describe('sequence ledger', () => {
  it('counts a small delivery order exactly', () => {
    // 0..9 sent; 4 and 8 lost, 2 delivered twice (once without DUP), 6 after 7.
    const c = account(64, 10, [0, 1, 2, 3, 2, 5, 7, 6, 9]);
    expect(c).toEqual({ distinct: 8, duplicates: 1, outOfOrder: 1, lost: 2, beyondWindow: 0 });
  });

  it('counts every loss, duplicate and reordering exactly while deliveries stay within the window', () => {
    for (const windowBits of [64, 256]) {
      fc.assert(
        fc.property(deliveryOrder(1_500, windowBits - 32), ({ sent, deliveries }) => {
          const got = account(windowBits, sent, deliveries);
          expect(got).toEqual({ ...reference(sent, deliveries), beyondWindow: 0 });
        }),
        propertyParams({ numRuns: 200 }),
      );
    }
  });

  it('never counts a delivery from below the window as a new message, and accounts for every delivery', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2_000 }), { maxLength: 600 }), (deliveries) => {
        const got = account(64, 2_001, deliveries);
        const ref = reference(2_001, deliveries);
        expect(got.distinct + got.duplicates + got.beyondWindow).toBe(deliveries.length);
        // What it does classify is right: never more distinct messages than there were.
        expect(got.distinct).toBeLessThanOrEqual(ref.distinct);
        expect(got.outOfOrder).toBeLessThanOrEqual(got.distinct);
        if (got.beyondWindow === 0) expect(got).toEqual({ ...ref, beyondWindow: 0 });
      }),
      propertyParams({ numRuns: 300 }),
    );
  });

  it('keeps a window as it slides far ahead, and tells a late arrival from inside the window', () => {
    const ledger = new SequenceLedger(64);
    ledger.record(0);
    ledger.record(1_000_000);
    ledger.record(999_990);
    ledger.record(999_990);
    ledger.record(5);
    expect([ledger.distinct, ledger.duplicates, ledger.outOfOrder, ledger.beyondWindow]).toEqual([3, 1, 1, 1]);
    expect(ledger.next).toBe(1_000_001);
  });

  it('handles sequence numbers beyond 32 bits', () => {
    const ledger = new SequenceLedger(64);
    const base = 2 ** 40;
    for (const s of [base, base + 2, base + 1, base + 2]) ledger.record(s);
    expect([ledger.distinct, ledger.duplicates, ledger.outOfOrder]).toEqual([3, 1, 1]);
  });

  it('refuses windows that are not a power of two of at least 64 bits', () => {
    expect(() => new SequenceLedger(100)).toThrow(RangeError);
    expect(() => new SequenceLedger(32)).toThrow(RangeError);
  });

  it('shares a memory budget among ledgers in powers of two', () => {
    expect(ledgerWindowBits(4, 64 * 1024 * 1024)).toBe(2 ** 24);
    expect(ledgerWindowBits(100, 64 * 1024 * 1024)).toBe(2 ** 22);
    expect(ledgerWindowBits(1_000_000, 1024)).toBe(64);
  });
});
