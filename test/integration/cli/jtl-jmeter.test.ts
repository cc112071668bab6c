/**
 * results.jtl as JMeter's Aggregate Report reads it, against summary.json of the same run: the built CLI runs an
 * example scenario against the bundled broker, and the file is read back with JMeter's own arithmetic
 * (test/helpers/jmeter.ts): average = Σelapsed / ΣSampleCount, error % = ΣErrorCount / ΣSampleCount, throughput =
 * ΣSampleCount from the first start to the last end (sampleresult.timestamp.start=true).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../../src/run/result.js';
import { jmeterAggregateReport, type JMeterAggregate } from '../../helpers/jmeter.js';

const root = resolve(__dirname, '../../..');
const work = mkdtempSync(join(tmpdir(), 'mqbench-jtl-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(scenario: string): { summary: RunResult; report: Map<string, JMeterAggregate> } {
  const out = join(work, scenario);
  const r = spawnSync(process.execPath, [join(root, 'bin/mqbench.js'), 'run', `scenarios/${scenario}.yaml`, '--out', out, '--no-progress'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  return {
    summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as RunResult,
    report: jmeterAggregateReport(readFileSync(join(out, 'results.jtl'), 'utf8')),
  };
}

/** The rows under labels starting with `kind ` (one label per group), summed as JMeter would one label. */
function kind(report: Map<string, JMeterAggregate>, name: string): { rows: number; samples: number; errors: number; sumElapsedMs: number } {
  const all = [...report.values()].filter((a) => a.label.startsWith(`${name} `));
  return {
    rows: all.reduce((n, a) => n + a.rows, 0),
    samples: all.reduce((n, a) => n + a.samples, 0),
    errors: all.reduce((n, a) => n + a.errors, 0),
    sumElapsedMs: all.reduce((n, a) => n + a.sumElapsedMs, 0),
  };
}

/**
 * An average from results.jtl against the exact mean of summary.json: each row's elapsed is its total rounded to a
 * whole millisecond, so the two differ by at most half a millisecond per row, spread over the samples.
 */
function expectMeanWithinRounding(jtl: { rows: number; samples: number; sumElapsedMs: number }, meanUs: number): void {
  const rounding = (0.5 * jtl.rows) / jtl.samples;
  expect(Math.abs(jtl.sumElapsedMs / jtl.samples - meanUs / 1000)).toBeLessThanOrEqual(rounding + 1e-9);
}

describe('results.jtl read the way JMeter reads it', () => {
  it('scenarios/qos2.yaml: the same messages, publish and end-to-end averages, and no errors', () => {
    const { summary, report } = run('qos2');
    const publish = report.get('publish publishers')!;
    const receive = report.get('receive subscribers')!;
    // Message counts: every acknowledged QoS 2 publish and every delivery, once.
    expect(publish.samples).toBe(summary.latency.publish!.count);
    expect(publish.samples + (report.get('send publishers')?.samples ?? 0)).toBe(summary.totals.counters.messagesSent);
    expect(receive.samples).toBe(summary.latency.e2e!.count);
    expect(receive.samples).toBe(summary.totals.counters.messagesReceived);
    // Averages: JMeter's Σelapsed/ΣSampleCount is the report's mean, to the rounding of each row.
    expectMeanWithinRounding(publish, summary.latency.publish!.mean);
    expectMeanWithinRounding(receive, summary.latency.e2e!.mean);
    expectMeanWithinRounding(kind(report, 'connect'), summary.latency.connect!.mean);
    expect(kind(report, 'connect').samples).toBe(summary.latency.connect!.count);
    // Errors: none in either.
    expect([...report.values()].reduce((n, a) => n + a.errors, 0)).toBe(summary.totals.errorsTotal);
    expect(publish.errorRate).toBe(0);
    // Throughput over JMeter's span: it starts with the first publish, as the report's does (a row's timestamp is
    // its earliest sample's start); it ends a row's summed times after that row's start, so up to a second off.
    const span = summary.totals.sentSpan!;
    expect(Math.abs(publish.firstStartMs - Date.parse(summary.startedAt) - span.firstMs)).toBeLessThanOrEqual(2);
    const jmeterSpanMs = publish.lastEndMs - publish.firstStartMs;
    expect(jmeterSpanMs).toBeGreaterThanOrEqual(span.lastMs - span.firstMs - 1_000);
    expect(jmeterSpanMs).toBeLessThanOrEqual(span.lastMs - span.firstMs + 1_000 + publish.sumElapsedMs);
    expect(publish.throughputPerSec).toBeGreaterThan(0);
  });

  it('scenarios/clientid-collision.yaml: every take-over is a failed sample, as many as summary.json counts', () => {
    const { summary, report } = run('clientid-collision');
    const connection = report.get('connection twins')!;
    expect(summary.totals.errors.takeover).toBeGreaterThan(5);
    expect(connection.samples).toBe(summary.totals.errors.takeover);
    expect(connection.errors).toBe(summary.totals.errors.takeover);
    expect(connection.errorRate).toBe(1);
    expect([...report.values()].reduce((n, a) => n + a.errors, 0)).toBe(summary.totals.errorsTotal);
    const connect = kind(report, 'connect');
    expect(connect.samples).toBe(summary.latency.connect!.count);
    expectMeanWithinRounding(connect, summary.latency.connect!.mean);
  });
});
