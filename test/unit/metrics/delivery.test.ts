import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DELIVERY_WINDOW,
  DeliveryTracker,
  Receipt,
  deliveryVerdicts,
  emptyDeliveryCounts,
  mergeDeliverySummaries,
  settleDelivery,
  totalDelivery,
  type DeliveryCounts,
  type StreamDelivery,
  type StreamExpectation,
} from '../../../src/metrics/delivery.js';
import { Prng } from '../../../bench/fuzz/prng.js';

const PUB = 7;
const TOPIC = 'bench/t/0';

function feed(tracker: DeliveryTracker, seqs: readonly number[], qos: 0 | 1 | 2 = 1): number[] {
  return seqs.map((s) => tracker.receive(PUB, TOPIC, s, qos));
}

function only(tracker: DeliveryTracker): StreamDelivery {
  const streams = tracker.streams();
  expect(streams).toHaveLength(1);
  return streams[0];
}

function expectation(sent: number, acknowledged: number, qos: 0 | 1 | 2 = 1): StreamExpectation {
  return { publisherId: PUB, topic: TOPIC, qos, sent, acknowledged };
}

function counts(partial: Partial<DeliveryCounts>): DeliveryCounts {
  return { ...emptyDeliveryCounts(), ...partial };
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

describe('DeliveryTracker rules', () => {
  it('counts an in-order stream with nothing lost', () => {
    const t = new DeliveryTracker();
    expect(new Set(feed(t, range(0, 100)))).toEqual(new Set([Receipt.New]));
    const s = only(t);
    expect(s).toMatchObject({ received: 100, duplicated: 0, outOfOrder: 0, late: 0, highest: 99, windowGaps: [], settledGaps: 0 });
    expect(settleDelivery([s], [expectation(100, 100)]).qos1).toEqual(
      counts({ streams: 1, sent: 100, acknowledged: 100, received: 100 }),
    );
  });

  it('counts gaps never filled as lost', () => {
    const t = new DeliveryTracker();
    feed(t, [0, 1, 2, 4, 5, 6, 8, 9]);
    const s = only(t);
    expect(s.windowGaps).toEqual([3, 3, 7, 7]);
    expect(settleDelivery([s], [expectation(10, 10)]).qos1).toMatchObject({ received: 8, lost: 2, lostAcknowledged: 2 });
  });

  it('counts a sequence seen twice as duplicated, and every delivery as received', () => {
    const t = new DeliveryTracker();
    expect(feed(t, [0, 1, 1, 2, 0])).toEqual([Receipt.New, Receipt.New, Receipt.Duplicate, Receipt.New, Receipt.Duplicate]);
    expect(only(t)).toMatchObject({ received: 5, duplicated: 2, outOfOrder: 0 });
  });

  it('counts a lower sequence that fills a gap as out of order, not lost', () => {
    const t = new DeliveryTracker();
    expect(feed(t, [0, 3, 1, 2, 4])).toEqual([Receipt.New, Receipt.New, Receipt.OutOfOrder, Receipt.OutOfOrder, Receipt.New]);
    const s = only(t);
    expect(s).toMatchObject({ received: 5, outOfOrder: 2, duplicated: 0, windowGaps: [] });
    expect(settleDelivery([s], [expectation(5, 5)]).qos1.lost).toBe(0);
  });

  it('counts missing sequences after the highest seen as tail loss, split by acknowledgement', () => {
    const t = new DeliveryTracker();
    feed(t, range(0, 5));
    const c = settleDelivery([only(t)], [expectation(10, 7)]).qos1;
    expect(c).toMatchObject({ lost: 5, lostAcknowledged: 2, sent: 10, acknowledged: 7 });
  });

  it('counts the missed beginning of a stream as lost', () => {
    const t = new DeliveryTracker();
    feed(t, [3, 4]);
    expect(only(t).windowGaps).toEqual([0, 2]);
    expect(settleDelivery([only(t)], [expectation(5, 5)]).qos1.lost).toBe(3);
  });

  it('applies the window edge exactly', () => {
    const t = new DeliveryTracker({ window: 32 });
    expect(feed(t, [0, 32])).toEqual([Receipt.New, Receipt.New]);
    expect(only(t)).toMatchObject({ windowGaps: [1, 31], settledGaps: 0 });
    // 33 pushes sequence 1, still missing, out of the window (2..33).
    feed(t, [33]);
    expect(only(t)).toMatchObject({ windowGaps: [2, 31], settledGaps: 1, settledGapMin: 1, settledGapMax: 1 });
    // 2 is the oldest sequence inside the window: an ordinary gap fill.
    expect(feed(t, [2])).toEqual([Receipt.OutOfOrder]);
    // 1 is older than the window and a settled gap is open: late, and no longer lost.
    expect(feed(t, [1])).toEqual([Receipt.Late]);
    // Again 1, or 0: no settled gap is open, so these can only be repeats.
    expect(feed(t, [1, 0])).toEqual([Receipt.Duplicate, Receipt.Duplicate]);
    const s = only(t);
    expect(s).toMatchObject({ received: 7, duplicated: 2, outOfOrder: 2, late: 1, settledGaps: 0, windowGaps: [3, 31] });
    expect(settleDelivery([s], [expectation(34, 34)]).qos1).toMatchObject({ lost: 29, lostAcknowledged: 29 });
  });

  it('settles the whole window and the skipped sequences on a jump longer than the window', () => {
    const t = new DeliveryTracker({ window: 32 });
    feed(t, [0, 1, 3, 100]);
    const s = only(t);
    // Old window gap: 2. Skipped before the new window (69..100): 4..68. In the new window: 69..99.
    expect(s).toMatchObject({ settledGaps: 1 + 65, settledGapMin: 0, windowGaps: [69, 99] });
    expect(s.settledGapMax).toBeGreaterThanOrEqual(68);
    expect(s.settledGapMax).toBeLessThan(69);
    expect(settleDelivery([s], [expectation(101, 101)]).qos1).toMatchObject({ lost: 97, lostAcknowledged: 97 });
    expect(feed(t, [50])).toEqual([Receipt.Late]);
    expect(settleDelivery([only(t)], [expectation(101, 101)]).qos1).toMatchObject({ lost: 96, late: 1 });
  });

  it('attributes settled gaps to acknowledged messages by their bounds', () => {
    const t = new DeliveryTracker({ window: 32 });
    feed(t, [0, ...range(10, 60)]);
    const s = only(t);
    expect(s).toMatchObject({ settledGaps: 9, settledGapMin: 1, settledGapMax: 9, windowGaps: [] });
    // All settled gaps lie below the acknowledged prefix.
    expect(settleDelivery([s], [expectation(60, 10)]).qos1.lostAcknowledged).toBe(9);
    // None does.
    expect(settleDelivery([s], [expectation(60, 1)]).qos1.lostAcknowledged).toBe(0);
    // The prefix ends inside their bounds: as many count as were acknowledged between the bounds (4 of 1..9), erring
    // towards a broken promise.
    expect(settleDelivery([s], [expectation(60, 5)]).qos1.lostAcknowledged).toBe(4);
  });

  it('counts in-window gaps against the acknowledged prefix exactly', () => {
    const t = new DeliveryTracker();
    feed(t, [0, 1, 4, 5, 9, 10]);
    const s = only(t);
    expect(s.windowGaps).toEqual([2, 3, 6, 8]);
    expect(settleDelivery([s], [expectation(11, 7)]).qos1).toMatchObject({ lost: 5, lostAcknowledged: 3 });
    expect(settleDelivery([s], [expectation(11, 3)]).qos1).toMatchObject({ lost: 5, lostAcknowledged: 1 });
    expect(settleDelivery([s], [expectation(11, 0)]).qos1).toMatchObject({ lost: 5, lostAcknowledged: 0 });
  });

  it('handles sequence numbers beyond 32 bits', () => {
    const t = new DeliveryTracker({ window: 32 });
    const base = 2 ** 32 - 2;
    expect(feed(t, [base, base + 1, base + 3, base + 2, base + 2, base + 40, base + 9])).toEqual([
      Receipt.New, Receipt.New, Receipt.New, Receipt.OutOfOrder, Receipt.Duplicate, Receipt.New, Receipt.OutOfOrder,
    ]);
    const s = only(t);
    expect(s.windowGaps).toEqual([base + 10, base + 39]);
    expect(s).toMatchObject({ highest: base + 40, settledGapMin: 0, settledGapMax: base + 8 });
    // 0..base-32 on the first jump, base-31..base-29 as base+1 and base+3 arrive, base-28..base-1 and
    // base+4..base+8 on the jump to base+40.
    expect(s.settledGaps).toBe(base - 31 + 3 + 28 + 5);
  });

  it('keeps streams apart by publisher and topic', () => {
    const t = new DeliveryTracker();
    t.receive(1, 'a', 0, 1);
    t.receive(1, 'b', 0, 1);
    t.receive(2, 'a', 0, 1);
    t.receive(1, 'a', 1, 1);
    t.receive(1, 'b', 2, 1);
    t.receive(2, 'a', 0, 1);
    expect(t.streamCount).toBe(3);
    const byKey = new Map(t.streams().map((s) => [`${s.publisherId}/${s.topic}`, s]));
    expect(byKey.get('1/a')).toMatchObject({ received: 2, highest: 1, windowGaps: [], duplicated: 0 });
    expect(byKey.get('1/b')).toMatchObject({ received: 2, highest: 2, windowGaps: [1, 1] });
    expect(byKey.get('2/a')).toMatchObject({ received: 2, highest: 0, duplicated: 1 });
  });

  it('rejects a window that is not a power of two in range', () => {
    expect(() => new DeliveryTracker({ window: 100 })).toThrow(/power of two/);
    expect(() => new DeliveryTracker({ window: 16 })).toThrow(/power of two/);
    expect(() => new DeliveryTracker({ window: 1 << 21 })).toThrow(/power of two/);
    expect(new DeliveryTracker().window).toBe(DEFAULT_DELIVERY_WINDOW);
  });

  it('produces snapshots that survive structured clone', () => {
    const t = new DeliveryTracker();
    feed(t, [0, 2, 2, 5]);
    const s = only(t);
    expect(structuredClone(s)).toEqual(s);
  });
});

describe('DeliveryTracker against an exact model', () => {
  /** A stream with loss, duplicates and reordering, and the counts a tracker with unbounded memory would report. */
  function scenario(seed: string, n: number, maxDisplacement: number, duplicates: boolean) {
    const rng = new Prng(seed);
    const order = range(0, n).filter(() => !rng.chance(0.01));
    // Local reordering: swap each element with one up to maxDisplacement ahead.
    for (let i = 0; i < order.length; i++) {
      if (rng.chance(0.05)) {
        const j = Math.min(order.length - 1, i + rng.int(maxDisplacement) + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    const deliveries: number[] = [];
    for (const s of order) {
      deliveries.push(s);
      if (duplicates && rng.chance(0.01)) deliveries.push(s);
    }
    const seen = new Set<number>();
    let highest = -1;
    let duplicated = 0;
    let outOfOrder = 0;
    for (const s of deliveries) {
      if (seen.has(s)) duplicated++;
      else if (s < highest) outOfOrder++;
      seen.add(s);
      highest = Math.max(highest, s);
    }
    return { deliveries, received: deliveries.length, duplicated, outOfOrder, lost: n - seen.size };
  }

  it('matches it exactly while reordering stays inside the window', () => {
    const n = 300_000;
    const m = scenario('delivery-model-window', n, 1000, true);
    const t = new DeliveryTracker({ window: 4096 });
    for (const s of m.deliveries) t.receive(PUB, TOPIC, s, 2);
    const c = settleDelivery(t.streams(), [expectation(n, n, 2)]).qos2;
    expect(c).toMatchObject({ received: m.received, duplicated: m.duplicated, outOfOrder: m.outOfOrder, late: 0, lost: m.lost });
    expect(c.lostAcknowledged).toBe(m.lost);
  });

  it('never counts a late delivery as lost when reordering exceeds the window', () => {
    const n = 100_000;
    const m = scenario('delivery-model-late', n, 400, false);
    const t = new DeliveryTracker({ window: 64 });
    for (const s of m.deliveries) t.receive(PUB, TOPIC, s, 1);
    const c = settleDelivery(t.streams(), [expectation(n, n)]).qos1;
    expect(c.late).toBeGreaterThan(0);
    expect(c).toMatchObject({ received: m.received, duplicated: 0, outOfOrder: m.outOfOrder, lost: m.lost });
  });
});

describe('settleDelivery and summaries', () => {
  it('counts an expected stream that never arrived as lost whole', () => {
    const c = settleDelivery([], [expectation(5, 4)]).qos1;
    expect(c).toEqual(counts({ streams: 1, sent: 5, acknowledged: 4, lost: 5, lostAcknowledged: 4 }));
  });

  it('settles a stream without an expectation on its gaps alone, at the QoS it arrived with', () => {
    const t = new DeliveryTracker();
    feed(t, [0, 2], 2);
    const summary = settleDelivery(t.streams(), []);
    expect(summary.qos2).toEqual(counts({ streams: 1, received: 2, lost: 1 }));
    expect(summary.qos1.streams).toBe(0);
  });

  it('files a stream under the QoS of its expectation', () => {
    const t = new DeliveryTracker();
    feed(t, [0, 1], 1);
    const summary = settleDelivery(t.streams(), [expectation(2, 0, 0)]);
    expect(summary.qos0).toMatchObject({ streams: 1, received: 2 });
    expect(summary.qos1.streams).toBe(0);
  });

  it('sums receivers of the same stream in different workers separately', () => {
    const a = new DeliveryTracker();
    const b = new DeliveryTracker();
    feed(a, [0, 1, 2, 3]);
    feed(b, [0, 2, 3, 3]);
    const exp = [expectation(5, 5)];
    const merged = mergeDeliverySummaries([
      settleDelivery(structuredClone(a.streams()), exp),
      settleDelivery(structuredClone(b.streams()), exp),
    ]);
    expect(merged.qos1).toEqual(
      counts({ streams: 2, sent: 10, acknowledged: 10, received: 8, duplicated: 1, lost: 3, lostAcknowledged: 3 }),
    );
    expect(totalDelivery(merged)).toEqual(merged.qos1);
  });

  it('adds QoS levels into a total', () => {
    const t = new DeliveryTracker();
    t.receive(1, 'x', 0, 0);
    t.receive(2, 'x', 1, 1);
    t.receive(3, 'x', 0, 2);
    const total = totalDelivery(settleDelivery(t.streams(), []));
    expect(total).toMatchObject({ streams: 3, received: 3, lost: 1 });
  });
});

describe('deliveryVerdicts', () => {
  function verdictsFor(seqs: number[], qos: 0 | 1 | 2, sent: number, acknowledged: number) {
    const t = new DeliveryTracker();
    feed(t, seqs, qos);
    return deliveryVerdicts(settleDelivery(t.streams(), [expectation(sent, acknowledged, qos)]));
  }

  it('gives QoS 0 no verdict but reports loss', () => {
    const [v] = verdictsFor([0, 2], 0, 4, 0);
    expect(v).toMatchObject({ qos: 0, held: null });
    expect(v.counts.lost).toBe(2);
    expect(v.detail).toContain('2 lost');
  });

  it('holds QoS 1 when only unacknowledged messages are lost, duplicates allowed', () => {
    const [v] = verdictsFor([0, 1, 1, 2], 1, 5, 3);
    expect(v).toMatchObject({ qos: 1, held: true });
    expect(v.counts).toMatchObject({ lost: 2, lostAcknowledged: 0, duplicated: 1 });
  });

  it('breaks QoS 1 when an acknowledged message is lost', () => {
    const [v] = verdictsFor([0, 2], 1, 3, 3);
    expect(v).toMatchObject({ qos: 1, held: false });
    expect(v.detail).toBe('at least once: broken (1 acknowledged lost)');
  });

  it('breaks QoS 2 on a duplicate', () => {
    const [v] = verdictsFor([0, 1, 1], 2, 2, 2);
    expect(v).toMatchObject({ qos: 2, held: false });
    expect(v.detail).toBe('exactly once: broken (1 duplicated)');
  });

  it('holds QoS 2 when nothing acknowledged is lost and nothing is duplicated', () => {
    const [v] = verdictsFor([0, 2, 1], 2, 3, 3);
    expect(v).toMatchObject({ qos: 2, held: true, detail: 'exactly once: held' });
  });

  it('has nothing to check when nothing was acknowledged', () => {
    const [v] = verdictsFor([0, 1], 1, 2, 0);
    expect(v.held).toBeNull();
  });

  it('gives one verdict per QoS level that had streams', () => {
    const t = new DeliveryTracker();
    t.receive(1, 'x', 0, 0);
    t.receive(2, 'x', 0, 2);
    const verdicts = deliveryVerdicts(settleDelivery(t.streams(), []));
    expect(verdicts.map((v) => v.qos)).toEqual([0, 2]);
  });
});

describe('a run stopped before it completed: the tail is in flight at stop, not lost', () => {
  const stopped = { stoppedEarly: true };

  it('counts what follows the highest sequence received as in flight, and gaps below it as lost', () => {
    const t = new DeliveryTracker();
    feed(t, [0, 1, 2, 4, 5, 6]); // 3 is missing below the highest; 7..19 never arrived
    const c = settleDelivery([only(t)], [expectation(20, 18)], stopped).qos1;
    expect(c).toMatchObject({ lost: 1, lostAcknowledged: 1, inFlightAtStop: 13, received: 6, sent: 20, acknowledged: 18 });
    // The same stream in a run that completed: the tail is lost, as before.
    const done = settleDelivery([only(t)], [expectation(20, 18)]).qos1;
    expect(done).toMatchObject({ lost: 14, lostAcknowledged: 12, inFlightAtStop: 0 });
  });

  it('keeps the tail out of the QoS verdicts', () => {
    const t = new DeliveryTracker();
    feed(t, range(0, 100));
    const verdicts = deliveryVerdicts(settleDelivery([only(t)], [expectation(963, 963)], stopped));
    expect(verdicts).toEqual([expect.objectContaining({ qos: 1, held: true })]);
    expect(verdicts[0].counts).toMatchObject({ lost: 0, lostAcknowledged: 0, inFlightAtStop: 863 });
    const broken = deliveryVerdicts(settleDelivery([only(t)], [expectation(963, 963)]));
    expect(broken[0]).toMatchObject({ held: false });
    expect(broken[0].counts.lostAcknowledged).toBe(863);
  });

  it('counts a stream that never arrived as in flight whole when the run was stopped', () => {
    expect(settleDelivery([], [expectation(5, 5)], stopped).qos1).toMatchObject({ lost: 0, inFlightAtStop: 5, streams: 1 });
  });

  it('adds in-flight counts across receivers and levels', () => {
    const a = new DeliveryTracker();
    feed(a, range(0, 3));
    const one = settleDelivery([only(a)], [expectation(10, 10)], stopped);
    const merged = mergeDeliverySummaries([one, one]);
    expect(merged.qos1.inFlightAtStop).toBe(14);
    expect(totalDelivery(merged).inFlightAtStop).toBe(14);
  });
});
