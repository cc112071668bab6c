import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/metrics/histogram.js';
import {
  COUNTER_NAMES,
  Counter,
  GAUGE_NAMES,
  Gauge,
  IntervalRecorder,
  SeriesRecorder,
  emptySeries,
  mergeIntervals,
  mergeSeries,
  seriesTotals,
} from '../../../src/metrics/series.js';

describe('counter and gauge ids', () => {
  it('index the name lists', () => {
    for (const name of COUNTER_NAMES) expect(COUNTER_NAMES[Counter[name]]).toBe(name);
    for (const name of GAUGE_NAMES) expect(GAUGE_NAMES[Gauge[name]]).toBe(name);
    expect(new Set(Object.values(Counter)).size).toBe(COUNTER_NAMES.length);
  });
});

describe('SeriesRecorder', () => {
  it('puts what was counted since the previous sample into the sampled second', () => {
    const r = new SeriesRecorder();
    r.add(Counter.messagesSent);
    r.add(Counter.messagesSent);
    r.add(Counter.bytesSent, 100);
    r.adjustGauge(Gauge.connectionsOpen, 3);
    r.sample(0);
    r.add(Counter.messagesSent, 5);
    r.adjustGauge(Gauge.connectionsOpen, -1);
    r.sample(1);
    // A late timer: second 2 is never sampled, second 3 gets everything since second 1.
    r.add(Counter.messagesReceived, 4);
    r.setGauge(Gauge.connectionsOpen, 7);
    r.sample(3);
    const s = r.series();
    expect(s.seconds).toBe(4);
    expect(s.counters.messagesSent).toEqual([2, 5, 0, 0]);
    expect(s.counters.bytesSent).toEqual([100, 0, 0, 0]);
    expect(s.counters.messagesReceived).toEqual([0, 0, 0, 4]);
    expect(s.counters.connectsOk).toEqual([0, 0, 0, 0]);
    expect(s.gauges.connectionsOpen).toEqual([3, 2, 2, 7]);
    expect(s.gauges.inflight).toEqual([0, 0, 0, 0]);
    expect(s.errors).toEqual({});
  });

  it('adds two samples of the same second, keeping the later gauge', () => {
    const r = new SeriesRecorder();
    r.add(Counter.acksReceived, 2);
    r.setGauge(Gauge.inflight, 10);
    r.sample(0);
    r.add(Counter.acksReceived, 3);
    r.setGauge(Gauge.inflight, 4);
    r.sample(0);
    const s = r.series();
    expect(s.counters.acksReceived).toEqual([5]);
    expect(s.gauges.inflight).toEqual([4]);
  });

  it('keeps errors by kind, zero-filled before their first occurrence', () => {
    const r = new SeriesRecorder();
    r.sample(0);
    r.error('connect-timeout');
    r.error('connect-timeout');
    r.sample(1);
    r.error('ECONNRESET', 3);
    r.sample(2);
    r.sample(3);
    const s = r.series();
    expect(s.errors).toEqual({ 'connect-timeout': [0, 2, 0, 0], ECONNRESET: [0, 0, 3, 0] });
    expect(r.totalsNow().errors).toEqual({ 'connect-timeout': 2, ECONNRESET: 3 });
  });

  it('keeps running totals whether sampled or not', () => {
    const r = new SeriesRecorder();
    r.add(Counter.connectsOk, 4);
    r.sample(0);
    r.add(Counter.connectsFailed);
    expect(r.totalsNow().counters).toMatchObject({ connectsOk: 4, connectsFailed: 1 });
    expect(seriesTotals(r.series()).counters).toMatchObject({ connectsOk: 4, connectsFailed: 0 });
  });

  it('hands out copies', () => {
    const r = new SeriesRecorder();
    r.add(Counter.disconnects);
    r.sample(0);
    const first = r.series();
    first.counters.disconnects[0] = 99;
    expect(r.series().counters.disconnects).toEqual([1]);
  });

  it('rejects a second that is not a whole non-negative number', () => {
    const r = new SeriesRecorder();
    expect(() => r.sample(-1)).toThrow(RangeError);
    expect(() => r.sample(1.5)).toThrow(RangeError);
  });
});

describe('mergeSeries', () => {
  it('sums workers index by index, padding the shorter', () => {
    const a = new SeriesRecorder();
    const b = new SeriesRecorder();
    a.add(Counter.messagesSent, 10);
    a.setGauge(Gauge.connectionsOpen, 2);
    a.error('publish-timeout');
    a.sample(0);
    a.add(Counter.messagesSent, 20);
    a.sample(1);
    b.add(Counter.messagesSent, 1);
    b.setGauge(Gauge.connectionsOpen, 5);
    b.sample(0);
    b.add(Counter.messagesSent, 2);
    b.error('publish-timeout', 2);
    b.error('ECONNREFUSED');
    b.sample(1);
    b.add(Counter.messagesSent, 3);
    b.sample(2);
    const merged = mergeSeries([structuredClone(a.series()), structuredClone(b.series())]);
    expect(merged.seconds).toBe(3);
    expect(merged.counters.messagesSent).toEqual([11, 22, 3]);
    expect(merged.gauges.connectionsOpen).toEqual([7, 7, 5]);
    expect(merged.errors).toEqual({ 'publish-timeout': [1, 2, 0], ECONNREFUSED: [0, 1, 0] });
    const totals = seriesTotals(merged);
    expect(totals.counters.messagesSent).toBe(
      a.totalsNow().counters.messagesSent + b.totalsNow().counters.messagesSent,
    );
    expect(totals.errors).toEqual({ 'publish-timeout': 3, ECONNREFUSED: 1 });
  });

  it('merges nothing into an empty series', () => {
    expect(mergeSeries([])).toEqual(emptySeries());
    expect(mergeSeries([emptySeries(), emptySeries()]).seconds).toBe(0);
  });
});

describe('interval latency', () => {
  it('merges per-second samples from several workers exactly', () => {
    const workers = [new IntervalRecorder(), new IntervalRecorder(), new IntervalRecorder()];
    const reference = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
    const samples = [];
    for (let second = 0; second < 3; second++) {
      if (second === 1) {
        // Nobody received anything in second 1; only worker 0 even sampled it.
        samples.push(workers[0].sample(second));
        continue;
      }
      for (let w = 0; w < workers.length; w++) {
        for (let i = 0; i < 200; i++) {
          const us = (second + 1) * 1000 + w * 300 + i * 7;
          workers[w].record(us);
          reference[second].record(us);
        }
        samples.push(structuredClone(workers[w].sample(second)));
      }
    }
    const stats = mergeIntervals(samples.reverse());
    expect(stats.map((s) => s.second)).toEqual([0, 1, 2]);
    expect(stats.map((s) => s.messages)).toEqual([600, 0, 600]);
    expect(stats[0].latency).toEqual(reference[0].summarize());
    expect(stats[1].latency.count).toBe(0);
    expect(stats[2].latency).toEqual(reference[2].summarize());
    expect(stats[2].latency.min).toBe(3000);
  });

  it('fills seconds no worker sampled with empty rows', () => {
    const r = new IntervalRecorder();
    r.record(500);
    const stats = mergeIntervals([r.sample(2)]);
    expect(stats.map((s) => s.messages)).toEqual([0, 0, 1]);
    expect(stats[2].latency.p50).toBe(500);
    expect(mergeIntervals([])).toEqual([]);
  });

  it('starts afresh after each sample', () => {
    const r = new IntervalRecorder();
    r.record(100);
    r.sample(0);
    r.record(200);
    const [, second1] = mergeIntervals([r.sample(1)]);
    expect(second1.messages).toBe(1);
    expect(second1.latency.max).toBe(200);
  });
});
