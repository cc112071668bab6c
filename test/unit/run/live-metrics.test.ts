import { describe, expect, it } from 'vitest';
import { renderExposition } from '../../../broker/metrics-http.js';
import { readMetricsOptions, shardLabel } from '../../../src/cli/run-metrics.js';
import type { ProgressSnapshot } from '../../../src/engine/engine.js';
import { GroupMetrics } from '../../../src/engine/group-metrics.js';
import { Counter, Gauge } from '../../../src/metrics/series.js';
import { LiveMetrics } from '../../../src/run/live-metrics.js';
import type { RunResult } from '../../../src/run/result.js';
import { parseExposition, valueOf } from '../../helpers/prometheus.js';

/** A worker's snapshot of its groups, as the engine makes it once a second. */
function snapshot(groups: GroupMetrics[]): ProgressSnapshot {
  return {
    second: 0,
    totals: {} as ProgressSnapshot['totals'],
    errors: {},
    connected: 0,
    inflight: 0,
    e2e: new Float64Array(0),
    jtl: [],
    finishedClients: 0,
    groups: groups.map((g) => g.progress(g.series.totalsNow())),
  };
}

const labels = (group: string) => ({ scenario: 's', shard: '3', group });

describe('live metrics of a run', () => {
  it('sum the latest snapshot of each worker, per group, with the latency buckets cumulative', () => {
    const live = new LiveMetrics(['pubs', 'subs'], { scenario: 's', shard: '3' });
    const w0 = [new GroupMetrics('pubs'), new GroupMetrics('subs')];
    const w1 = [new GroupMetrics('pubs'), new GroupMetrics('subs')];
    w0[0].series.add(Counter.messagesSent, 10);
    w1[0].series.add(Counter.messagesSent, 5);
    w0[1].series.adjustGauge(Gauge.connectionsOpen, 2);
    w1[1].series.adjustGauge(Gauge.connectionsOpen, 1);
    w0[1].series.error('timeout-suback', 2);
    w1[1].series.error('timeout-suback');
    w1[1].series.error('connect-refused');
    w0[1].e2e.record(40); // bucket 32..48 µs
    w1[1].e2e.record(1000); // bucket 768..1024 µs
    w1[1].e2e.record(5_000_000);
    live.add(0, snapshot(w0));
    live.add(1, snapshot(w1));
    // A newer snapshot of worker 0 replaces its older one.
    w0[0].series.add(Counter.messagesSent, 1);
    live.add(0, snapshot(w0));

    const e = parseExposition(renderExposition(live.families()));
    expect(e.problems).toEqual([]);
    expect(valueOf(e, 'mqbench_messages_sent_total', labels('pubs'))).toBe(16);
    expect(valueOf(e, 'mqbench_messages_sent_total', labels('subs'))).toBe(0);
    expect(valueOf(e, 'mqbench_connections_open', labels('subs'))).toBe(3);
    expect(valueOf(e, 'mqbench_errors_total', { ...labels('subs'), kind: 'timeout-suback' })).toBe(3);
    expect(valueOf(e, 'mqbench_errors_total', { ...labels('subs'), kind: 'connect-refused' })).toBe(1);
    const bucket = (le: string) => valueOf(e, 'mqbench_e2e_latency_seconds_bucket', { ...labels('subs'), le });
    expect([bucket('0.000032'), bucket('0.000048'), bucket('0.000768'), bucket('0.001024'), bucket('4.194304'), bucket('6.291456'), bucket('+Inf')]).toEqual([0, 1, 1, 2, 2, 3, 3]);
    expect(valueOf(e, 'mqbench_e2e_latency_seconds_count', labels('subs'))).toBe(3);
    expect(valueOf(e, 'mqbench_e2e_latency_seconds_sum', labels('subs'))).toBeCloseTo(5.00104, 9);
    expect(valueOf(e, 'mqbench_run_finished', { scenario: 's', shard: '3' })).toBe(0);
    expect(live.finished).toBe(false);
  });

  it('take the result’s totals once finished, and ignore snapshots that come later', () => {
    const live = new LiveMetrics(['g'], { scenario: 's', shard: '3' });
    const w = [new GroupMetrics('g')];
    w[0].series.add(Counter.messagesReceived, 7);
    live.add(0, snapshot(w));
    const final = new GroupMetrics('g');
    for (const us of [100, 200, 300]) final.e2e.record(us);
    const result = {
      groups: [{ name: 'g', totals: { counters: { ...w[0].series.totalsNow().counters, messagesReceived: 9 }, errors: { takeover: 1 } } }],
    } as unknown as RunResult;
    const report = { groups: [{ series: { gauges: { connectionsOpen: [3, 0], inflight: [1, 0] } } }] } as never;
    live.finish(result, new Map([['g.e2e', final.e2e]]), [report]);
    w[0].series.add(Counter.messagesReceived, 100);
    live.add(0, snapshot(w));
    const e = parseExposition(renderExposition(live.families()));
    expect(valueOf(e, 'mqbench_messages_received_total', labels('g'))).toBe(9);
    expect(valueOf(e, 'mqbench_errors_total', { ...labels('g'), kind: 'takeover' })).toBe(1);
    expect(valueOf(e, 'mqbench_e2e_latency_seconds_count', labels('g'))).toBe(3);
    expect(valueOf(e, 'mqbench_connections_open', labels('g'))).toBe(0);
    expect(valueOf(e, 'mqbench_run_finished', { scenario: 's', shard: '3' })).toBe(1);
  });
});

describe('run metrics options', () => {
  it('take the shard index of a sharded run (from --shard I/N or JOB_COMPLETION_INDEX), else "0"', () => {
    expect(shardLabel(undefined)).toBe('0');
    expect(shardLabel({ index: 2, count: 8 })).toBe('2');
    expect(shardLabel({ index: 0, count: 4 })).toBe('0');
    expect(shardLabel({ index: 65_534, count: 65_535 })).toBe('65534');
  });

  it('read port, host and linger, and say what is wrong', () => {
    expect(readMetricsOptions({})).toBeUndefined();
    expect(readMetricsOptions({ 'metrics-port': '9464' })).toEqual({ host: '127.0.0.1', port: 9464, lingerMs: 0 });
    expect(readMetricsOptions({ 'metrics-port': '0', 'metrics-host': '0.0.0.0', 'metrics-linger': '30s' })).toEqual({ host: '0.0.0.0', port: 0, lingerMs: 30_000 });
    expect(() => readMetricsOptions({ 'metrics-port': 'x' })).toThrow('--metrics-port must be 0-65535, got "x"');
    expect(() => readMetricsOptions({ 'metrics-linger': '5s' })).toThrow('--metrics-linger needs --metrics-port as well');
  });
});
