import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdState, MAX_PACKET_ID, PacketIds } from '../../../bench/packet-ids.js';
import { propertyParams } from '../../helpers/property.js';

function takeMany(ids: PacketIds, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(ids.take());
  return out;
}

describe('packet ids of a bench publisher', () => {
  it('hands out 1..65,535 in turn and wraps to 1', () => {
    const ids = new PacketIds();
    const first = takeMany(ids, MAX_PACKET_ID);
    expect(first[0]).toBe(1);
    expect(first[MAX_PACKET_ID - 1]).toBe(MAX_PACKET_ID);
    expect(ids.take()).toBe(0);
    for (const id of first) ids.release(id);
    expect(ids.take()).toBe(1);
  });

  it('skips ids still in flight across the wrap', () => {
    const ids = new PacketIds();
    takeMany(ids, 65_533);
    // Everything acknowledged except 1, 2 and 100 (out of order acks), and 65,530 still in flight.
    for (let id = 3; id <= 65_533; id++) if (id !== 100 && id !== 65_530) ids.release(id);
    expect(takeMany(ids, 6)).toEqual([65_534, 65_535, 3, 4, 5, 6]);
    takeMany(ids, 93);
    expect(ids.take()).toBe(101);
    expect(ids.inFlight).toBe(4 + 6 + 93 + 1);
  });

  it('wraps while skipping: the ids at the end of the range in flight, and then the first one too', () => {
    for (const firstInFlight of [false, true]) {
      const ids = new PacketIds();
      takeMany(ids, MAX_PACKET_ID);
      for (let id = 1; id <= 65_533; id++) ids.release(id);
      takeMany(ids, 65_533);
      for (let id = firstInFlight ? 2 : 1; id <= 65_533; id++) ids.release(id);
      // The next id to try is 65,534; it and 65,535 are in flight.
      expect(takeMany(ids, 2)).toEqual(firstInFlight ? [2, 3] : [1, 2]);
    }
  });

  it('keeps a QoS 2 id taken from PUBREC until PUBCOMP', () => {
    const ids = new PacketIds();
    const id = ids.take();
    ids.markReleased(id);
    expect(ids.stateOf(id)).toBe(IdState.released);
    expect(ids.release(id)).toBe(true);
    expect(ids.release(id)).toBe(false);
    expect(ids.stateOf(0)).toBe(IdState.free);
    expect(ids.stateOf(70_000)).toBe(IdState.free);
  });

  it('never hands out an id in flight, and takes the first free one after the last taken', () => {
    // Takes in batches, and acknowledgements out of order: every release leaves the ids ending in `keep` for later.
    const op = fc.oneof(
      fc.record({ take: fc.integer({ min: 500, max: 3_000 }) }),
      fc.record({ release: fc.integer({ min: 1, max: 3_000 }), keep: fc.integer({ min: 0, max: 9 }) }),
    );
    const check = (ok: boolean, what: () => string): void => {
      if (!ok) throw new Error(what());
    };
    fc.assert(
      // At least 60 operations, about 30 takes of 500 or more: most runs go past 65,535 at least once.
      fc.property(fc.array(op, { minLength: 60, maxLength: 100 }), (ops) => {
        const ids = new PacketIds();
        const inFlight = new Set<number>();
        let queue: number[] = [];
        let last = 0;
        for (const o of ops) {
          if ('take' in o) {
            for (let k = 0; k < o.take; k++) {
              const id = ids.take();
              if (inFlight.size === MAX_PACKET_ID) {
                check(id === 0, () => `took ${id} with every id in flight`);
                continue;
              }
              let expected = last;
              do expected = expected === MAX_PACKET_ID ? 1 : expected + 1;
              while (inFlight.has(expected));
              check(id === expected, () => `took ${id} after ${last}, expected ${expected}`);
              inFlight.add(id);
              queue.push(id);
              last = id;
            }
          } else {
            let released = 0;
            const kept: number[] = [];
            for (const id of queue) {
              if (released < o.release && id % 10 !== o.keep) {
                check(ids.release(id), () => `${id} was not in flight`);
                inFlight.delete(id);
                released++;
              } else kept.push(id);
            }
            queue = kept;
          }
          check(ids.inFlight === inFlight.size, () => `${ids.inFlight} in flight, expected ${inFlight.size}`);
        }
      }),
      propertyParams({ numRuns: 25, timeLimitMs: 15_000 }),
    );
  });
});
