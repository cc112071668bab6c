import { describe, expect, it } from 'vitest';
import { LatencyHistogram, type LatencySummary } from '../../../src/metrics/histogram.js';
import {
  evaluateThresholds,
  parseThreshold,
  thresholdName,
  type Threshold,
  type ThresholdInput,
} from '../../../src/metrics/thresholds.js';

function parsed(text: string): Threshold {
  const r = parseThreshold(text);
  if (!('threshold' in r)) throw new Error(`"${text}" did not parse: ${r.error} (${r.hint ?? ''})`);
  return r.threshold;
}

function failure(text: string): { error: string; hint?: string } {
  const r = parseThreshold(text);
  if ('threshold' in r) throw new Error(`"${text}" parsed but should not have`);
  return r;
}

function latency(values: number[]): LatencySummary {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  return h.summarize();
}

describe('parseThreshold', () => {
  it('parses the documented forms', () => {
    expect(parsed('e2e.p99 < 20ms')).toEqual({
      source: 'e2e.p99 < 20ms', kind: 'latency', metric: 'e2e', stat: 'p99', op: '<', value: 20_000, unit: 'ms',
    });
    expect(parsed('connect.p95 <= 500ms')).toMatchObject({ metric: 'connect', stat: 'p95', op: '<=', value: 500_000 });
    expect(parsed('publish.max < 1s')).toMatchObject({ metric: 'publish', stat: 'max', value: 1_000_000, unit: 's' });
    expect(parsed('subscribe.p99.9 >= 250us')).toMatchObject({ metric: 'subscribe', stat: 'p99.9', op: '>=', value: 250 });
    expect(parsed('e2e.mean != 3µs')).toMatchObject({ stat: 'mean', op: '!=', value: 3, unit: 'µs' });
    expect(parsed('errors == 0')).toEqual({ source: 'errors == 0', kind: 'counter', metric: 'errors', op: '==', value: 0, unit: '' });
    expect(parsed('lost == 0')).toMatchObject({ kind: 'counter', metric: 'lost' });
    expect(parsed('duplicated == 0')).toMatchObject({ kind: 'counter', metric: 'duplicated' });
    expect(parsed('received >= 1000')).toMatchObject({ kind: 'counter', metric: 'received', op: '>=', value: 1000 });
    expect(parsed('connect.failed == 0')).toMatchObject({ kind: 'counter', metric: 'connect.failed' });
    expect(parsed('lost.acknowledged == 0')).toMatchObject({ kind: 'counter', metric: 'lost.acknowledged' });
    expect(parsed('faults.lost.acknowledged == 0')).toMatchObject({ kind: 'counter', metric: 'faults.lost.acknowledged' });
    expect(parsed('group(sub).faults.duplicated <= 10')).toMatchObject({ group: 'sub', metric: 'faults.duplicated', op: '<=' });
    expect(parsed('throughput > 5000/s')).toMatchObject({ kind: 'rate', metric: 'throughput', op: '>', value: 5000, unit: '/s' });
    expect(parsed('sent.rate>=200')).toMatchObject({ kind: 'rate', metric: 'sent.rate', op: '>=', value: 200, unit: '/s' });
  });

  it('parses a group prefix', () => {
    const t = parsed('group(publishers).publish.p99 < 50ms');
    expect(t).toMatchObject({ group: 'publishers', metric: 'publish', stat: 'p99', value: 50_000 });
    expect(thresholdName(t)).toBe('group(publishers).publish.p99');
    expect(parsed('group(fleet-2_a).errors == 0')).toMatchObject({ group: 'fleet-2_a', metric: 'errors' });
  });

  it('converts latency units to µs exactly', () => {
    expect(parsed('e2e.max == 1.1ms').value).toBe(1100);
    expect(parsed('e2e.max < 1.5s').value).toBe(1_500_000);
    expect(parsed('e2e.max < .5ms').value).toBe(500);
    expect(parsed('  e2e.p50   <   7 ms  ')).toMatchObject({ value: 7000, source: 'e2e.p50   <   7 ms' });
  });

  it('suggests the metric a typo meant', () => {
    expect(failure('e2e.meen < 20ms')).toEqual({ error: 'unknown statistic "meen" in "e2e.meen"', hint: 'did you mean "e2e.mean"?' });
    expect(failure('e2e.p98 < 20ms').hint).toMatch(/^did you mean "e2e\.p9[09]"\?$/);
    expect(failure('erors == 0')).toEqual({ error: 'unknown metric "erors"', hint: 'did you mean "errors"?' });
    expect(failure('conect.failed == 0').hint).toBe('did you mean "connect.failed"?');
    expect(failure('troughput > 5/s').hint).toBe('did you mean "throughput"?');
    expect(failure('group(x).e2e.p999 < 1ms').hint).toBe('did you mean "e2e.p99.9"?');
    expect(failure('connect.median < 1ms').hint).toBe('did you mean "connect.p50"?');
    expect(failure('e2e.latency < 1ms')).toEqual({
      error: 'unknown statistic "latency" in "e2e.latency"',
      hint: 'statistics are p50 p90 p95 p99 p99.9 max min mean',
    });
  });

  it('lists the metrics when nothing is close', () => {
    const r = failure('bananas > 3');
    expect(r.error).toBe('unknown metric "bananas"');
    expect(r.hint).toContain('counters: sent received received.retained lost');
    expect(r.hint).toContain('rates: throughput sent.rate');
  });

  it('asks for a statistic on a bare latency metric', () => {
    expect(failure('e2e < 20ms')).toEqual({
      error: 'e2e needs a statistic',
      hint: 'write e2e.<stat> with stat one of p50 p90 p95 p99 p99.9 max min mean, e.g. e2e.p99',
    });
  });

  it('rejects malformed comparisons', () => {
    expect(failure('')).toMatchObject({ error: 'empty threshold' });
    expect(failure('e2e.p99 20ms').error).toBe('no comparison in "e2e.p99 20ms"');
    expect(failure('errors = 0')).toEqual({ error: '"=" is not a comparison', hint: 'write == to test equality' });
    expect(failure('errors =< 0')).toEqual({ error: 'unknown operator "=<"', hint: 'write <=' });
    expect(failure('errors => 0')).toEqual({ error: 'unknown operator "=>"', hint: 'write >=' });
    expect(failure('errors === 0').error).toBe('unknown operator "==="');
    expect(failure('errors <> 0').error).toBe('unknown operator "<>"');
    expect(failure('< 3').error).toBe('no metric before "<"');
    expect(failure('errors <').error).toBe('no value after "<"');
  });

  it('rejects values and units that do not fit the metric', () => {
    expect(failure('e2e.p99 < 20')).toMatchObject({ error: 'e2e.p99 needs a time unit, got "20"' });
    expect(failure('e2e.p99 < 20/s').error).toBe('e2e.p99 needs a time unit, got "20/s"');
    expect(failure('errors == 0ms')).toMatchObject({ error: 'errors is a count and takes no unit, got "0ms"' });
    expect(failure('throughput > 5ms').error).toBe('throughput is a rate, got "5ms"');
    expect(failure('errors < -1').error).toBe('negative limit "-1"');
    expect(failure('errors < lots').error).toBe('"lots" is not a number with an optional unit');
    expect(failure('e2e.p99 < 20 minutes').error).toBe('"20 minutes" is not a number with an optional unit');
  });

  it('rejects a malformed group', () => {
    const hint = 'write group(<name>).<metric>, the name in letters, digits, _ and -, e.g. group(publishers).publish.p99 < 50ms';
    expect(failure('group(publishers.publish.p99 < 1ms')).toEqual({ error: 'bad group in "group(publishers.publish.p99"', hint });
    expect(failure('group().errors == 0').error).toBe('bad group in "group().errors"');
    expect(failure('group(a b).errors == 0').error).toBe('bad group in "group(a b).errors"');
    expect(failure('group.errors == 0').error).toBe('bad group in "group.errors"');
  });
});

describe('evaluateThresholds', () => {
  const input: ThresholdInput = {
    latency: {
      e2e: latency([...Array(99).fill(1000), 23_400]),
      connect: latency([120_000, 130_000]),
      subscribe: latency([]),
    },
    counters: { errors: 0, lost: 3, received: 1200, 'connect.failed': 1 },
    rates: { throughput: 4821.33 },
    groups: {
      publishers: { latency: { publish: latency([61_200]) }, counters: { errors: 2 } },
    },
  };

  function run(text: string) {
    const [r] = evaluateThresholds([parsed(text)], input);
    return r;
  }

  it('reports the actual value in the threshold unit', () => {
    expect(run('e2e.p99 < 20ms')).toMatchObject({ actual: 1000, passed: true, describe: 'e2e.p99 = 1ms, limit < 20ms' });
    expect(run('e2e.max < 20ms')).toMatchObject({ actual: 23_407, passed: false, describe: 'e2e.max = 23.41ms, limit < 20ms' });
    expect(run('e2e.max < 20000us').describe).toBe('e2e.max = 23407us, limit < 20000us');
    expect(run('connect.mean <= 0.2s')).toMatchObject({ actual: 125_000, passed: true, describe: 'connect.mean = 0.125s, limit <= 0.2s' });
    expect(run('throughput > 5000/s')).toMatchObject({ passed: false, describe: 'throughput = 4821.3/s, limit > 5000/s' });
    expect(run('lost == 0')).toMatchObject({ actual: 3, passed: false, describe: 'lost = 3, limit == 0' });
  });

  it('applies every operator', () => {
    expect(run('received > 1199').passed).toBe(true);
    expect(run('received > 1200').passed).toBe(false);
    expect(run('received >= 1200').passed).toBe(true);
    expect(run('received < 1200').passed).toBe(false);
    expect(run('received <= 1200').passed).toBe(true);
    expect(run('received == 1200').passed).toBe(true);
    expect(run('received != 1200').passed).toBe(false);
    expect(run('connect.failed != 0').passed).toBe(true);
    expect(run('errors == 0').passed).toBe(true);
  });

  it('reads group thresholds from the group', () => {
    expect(run('group(publishers).publish.p99 < 50ms')).toMatchObject({
      passed: false,
      // 61 200 µs lands in a 32 µs wide bucket whose highest value is 61 215 µs.
      actual: 61_215,
      describe: 'group(publishers).publish.p99 = 61.22ms, limit < 50ms',
    });
    expect(run('group(publishers).errors == 0')).toMatchObject({ actual: 2, passed: false });
  });

  it('fails what it cannot measure', () => {
    expect(run('subscribe.p99 < 1s')).toMatchObject({ actual: null, passed: false, describe: 'subscribe.p99: no samples, limit < 1s' });
    expect(run('publish.p99 < 1s')).toMatchObject({ actual: null, passed: false, describe: 'publish.p99: no samples, limit < 1s' });
    expect(run('duplicated == 0')).toMatchObject({ actual: null, passed: false, describe: 'duplicated: not measured, limit == 0' });
    // A scenario without faults has nothing to say about them.
    expect(run('faults.lost.acknowledged == 0')).toMatchObject({ actual: null, passed: false });
    expect(run('group(nobody).errors == 0')).toMatchObject({
      actual: null,
      passed: false,
      describe: 'group(nobody).errors: no group "nobody" in the results, limit == 0',
    });
    expect(evaluateThresholds([parsed('errors == 0')], {})[0].passed).toBe(false);
  });

  it('keeps the order and identity of the thresholds', () => {
    const list = ['errors == 0', 'lost == 0', 'e2e.p50 < 2ms'].map(parsed);
    const results = evaluateThresholds(list, input);
    expect(results.map((r) => r.threshold)).toEqual(list);
    expect(results.map((r) => r.passed)).toEqual([true, false, true]);
  });
});
