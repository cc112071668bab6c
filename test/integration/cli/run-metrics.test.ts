/**
 * `mqbench run --metrics-port` as a scraper sees it: the built CLI in a child process, /metrics read every 200 ms
 * while it runs (valid exposition, histograms consistent, counters never going down), and after the end the final
 * figures, which must be exactly summary.json's. Also: a port in use, options that need --metrics-port, SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { httpRequest, parseExposition, regressions, scrape, seriesKey, valueOf, type Exposition } from '../../helpers/prometheus.js';
import { PROMETHEUS_LATENCY_BUCKETS } from '../../../src/metrics/prometheus-buckets.js';

const root = resolve(__dirname, '../../..');
const bin = join(root, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-metrics-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Three groups: QoS 1 subscribers, paced QoS 1 publishers (about 3 s), and a v5 client whose $SYS publishes are refused. */
const SCENARIO = [
  'name: metrics-e2e',
  'groups:',
  '  - name: subscribers',
  '    clients: 3',
  '    steps: [connect, { subscribe: { topic: "m/#", qos: 1 } }]',
  '  - name: publishers',
  '    clients: 2',
  '    startTime: 300ms',
  '    steps:',
  '      - connect',
  '      - publish: { topic: "m/{client}", qos: 1, rate: 100/s, count: 300, payload: { size: 100 } }',
  '      - disconnect',
  '  - name: refused',
  '    protocol: 5',
  '    startTime: 300ms',
  '    steps: [connect, { publish: { topic: "$SYS/forbidden", qos: 1, count: 5 } }, disconnect]',
  '',
].join('\n');

interface Running {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, stderr: () => err, exited };
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);
}

const GROUPS = ['subscribers', 'publishers', 'refused'];
const COUNTER_METRICS: Record<string, string> = {
  connectsOk: 'mqbench_connects_total',
  connectsFailed: 'mqbench_connect_failures_total',
  disconnects: 'mqbench_disconnects_total',
  subscribesOk: 'mqbench_subscribes_total',
  subscribesFailed: 'mqbench_subscribe_failures_total',
  messagesSent: 'mqbench_messages_sent_total',
  bytesSent: 'mqbench_sent_bytes_total',
  messagesReceived: 'mqbench_messages_received_total',
  bytesReceived: 'mqbench_received_bytes_total',
  acksReceived: 'mqbench_publish_acks_total',
  publishesFailed: 'mqbench_publish_failures_total',
  retainedReceived: 'mqbench_retained_received_total',
};

describe('mqbench run --metrics-port', () => {
  it('serves valid, monotonic metrics while it runs and exactly the summary.json totals at the end', async () => {
    const file = join(work, 'metrics.yaml');
    writeFileSync(file, SCENARIO);
    const out = join(work, 'out');
    const run = start(['run', file, '--out', out, '--no-progress', '--metrics-port', '0', '--metrics-linger', '20s']);
    const url = await waitFor('the metrics address on stderr', 15_000, () => /metrics at (http:\S+)/.exec(run.stderr())?.[1]);
    const labels = (group: string) => ({ scenario: 'metrics-e2e', shard: '0', group });

    // Scrape until the run says it has finished; every scrape valid, none going back.
    const scrapes: Exposition[] = [];
    const final = await withTimeout(
      (async () => {
        for (;;) {
          const e = await scrape(url);
          if (scrapes.length > 0) expect(regressions(scrapes[scrapes.length - 1], e)).toEqual([]);
          scrapes.push(e);
          if (valueOf(e, 'mqbench_run_finished', { scenario: 'metrics-e2e', shard: '0' }) === 1) return e;
          await new Promise((r) => setTimeout(r, 200));
        }
      })(),
      25_000,
      'the final scrape',
    );
    // The final totals were scraped: the linger ends and the run exits with its own code.
    const code = await withTimeout(run.exited, 10_000, 'exit after the final scrape');
    expect(code, run.stderr()).toBe(0);
    expect(run.stderr()).toMatch(/serving the final metrics at .* until scraped, at most 20s/);

    // Live figures were seen before the end: messages flowing, connections open.
    const live = scrapes.filter((e) => valueOf(e, 'mqbench_run_finished', { scenario: 'metrics-e2e', shard: '0' }) === 0);
    expect(live.length).toBeGreaterThan(3);
    expect(live.some((e) => (valueOf(e, 'mqbench_messages_received_total', labels('subscribers')) ?? 0) > 0)).toBe(true);
    expect(live.some((e) => (valueOf(e, 'mqbench_connections_open', labels('subscribers')) ?? 0) === 3)).toBe(true);
    expect(live.some((e) => (valueOf(e, 'mqbench_e2e_latency_seconds_count', labels('subscribers')) ?? 0) > 0)).toBe(true);

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.totals.counters.messagesReceived).toBe(1800);
    for (const group of GROUPS) {
      const g = summary.groups.find((x: { name: string }) => x.name === group);
      for (const [counter, metric] of Object.entries(COUNTER_METRICS)) {
        expect(valueOf(final, metric, labels(group)), `${metric} ${group}`).toBe(g.totals.counters[counter]);
      }
      const errors = final.families.get('mqbench_errors_total')!.samples.filter((s) => s.labels.group === group);
      expect(Object.fromEntries(errors.map((s) => [s.labels.kind, s.value])), `errors of ${group}`).toEqual(g.totals.errors);
      for (const [latency, metric] of [['connect', 'mqbench_connect_latency_seconds'], ['publish', 'mqbench_publish_ack_latency_seconds'], ['e2e', 'mqbench_e2e_latency_seconds']]) {
        const count = valueOf(final, `${metric}_count`, labels(group));
        const expected = g.latency[latency];
        expect(count, `${metric}_count ${group}`).toBe(expected?.count ?? 0);
        if (expected) expect(valueOf(final, `${metric}_sum`, labels(group))!).toBeCloseTo((expected.mean * expected.count) / 1e6, 9);
      }
      expect(valueOf(final, 'mqbench_connections_open', labels(group)), `open at the end, ${group}`).toBe(0);
    }
    expect(summary.groups.find((x: { name: string }) => x.name === 'refused').totals.errors).toEqual({ 'publish-refused-0x87': 5 });

    // Every latency of the e2e histogram lies between the bucket edges it was counted in: p50 and max of the
    // summary fall in buckets the exported counts agree with.
    const e2e = summary.groups.find((x: { name: string }) => x.name === 'subscribers').latency.e2e;
    const bucket = (le: string) => valueOf(final, 'mqbench_e2e_latency_seconds_bucket', { ...labels('subscribers'), le })!;
    const edges = PROMETHEUS_LATENCY_BUCKETS.edgesUs;
    const above = edges.find((e) => e > e2e.max)!;
    expect(bucket(String(above / 1e6))).toBe(e2e.count);
    const atOrBelowMin = [...edges].reverse().find((e) => e <= e2e.min);
    if (atOrBelowMin !== undefined) expect(bucket(String(atOrBelowMin / 1e6))).toBe(0);
    const belowMedian = [...edges].reverse().find((e) => e <= e2e.p50)!;
    expect(bucket(String(belowMedian / 1e6))).toBeLessThanOrEqual(e2e.count / 2);
    const aboveMedian = edges.find((e) => e > e2e.p50)!;
    expect(bucket(String(aboveMedian / 1e6))).toBeGreaterThanOrEqual(e2e.count / 2);

    // The same series from the first scrape to the last, but for error kinds (they appear when they happen) and the
    // start time (known once the clients start).
    const appear = ['mqbench_errors_total', 'mqbench_run_start_time_seconds'];
    const keys = (e: Exposition) =>
      [...e.families.values()].flatMap((f) => (appear.includes(f.name) ? [] : f.samples.map((s) => s.name + seriesKey(s.labels) + (s.labels.le ?? ''))));
    expect(new Set(keys(scrapes[0]))).toEqual(new Set(keys(final)));
  }, 45_000);

  it('stops with exit 2 and a clear message when the metrics port is in use, before any broker starts', async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    const port = (blocker.address() as { port: number }).port;
    try {
      const out = join(work, 'busy');
      const r = spawnSync(process.execPath, [bin, 'run', 'scenarios/qos2.yaml', '--no-progress', '--out', out, '--metrics-port', String(port)], {
        cwd: root,
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`cannot serve metrics on 127.0.0.1:${port}: address already in use`);
      expect(r.stderr).not.toMatch(/clients? in \d+ worker/);
      expect(existsSync(out)).toBe(false);
    } finally {
      await new Promise((done) => blocker.close(done));
    }
  });

  it('rejects metrics options that make no sense, with exit 2', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'run', 'scenarios/qos2.yaml', '--no-progress', ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 });
    const noPort = run('--metrics-host', '0.0.0.0');
    expect([noPort.status, noPort.stderr.trim()]).toEqual([2, 'mqbench: --metrics-host needs --metrics-port as well']);
    const badPort = run('--metrics-port', '70000');
    expect([badPort.status, badPort.stderr.trim()]).toEqual([2, 'mqbench: --metrics-port must be 0-65535, got "70000"']);
    const badLinger = run('--metrics-port', '0', '--metrics-linger', '10');
    expect(badLinger.status).toBe(2);
    expect(badLinger.stderr).toMatch(/--metrics-linger: a duration needs a unit/);
  });

  it('on SIGTERM during the run, writes the reports, exits 143 without lingering, and stops serving', async () => {
    const file = join(work, 'long.yaml');
    writeFileSync(
      file,
      ['name: long', 'duration: 60s', 'groups:', '  - name: idle', '    clients: 2', '    steps: [connect, { wait: 60s }]', ''].join('\n'),
    );
    const out = join(work, 'long-out');
    const run = start(['run', file, '--out', out, '--no-progress', '--metrics-port', '0', '--metrics-linger', '30s']);
    const url = await waitFor('the metrics address', 15_000, () => /metrics at (http:\S+)/.exec(run.stderr())?.[1]);
    await waitFor('two connections open', 15_000, async () => {
      const e = await scrape(url);
      return valueOf(e, 'mqbench_connections_open', { scenario: 'long', shard: '0', group: 'idle' }) === 2 ? true : undefined;
    });
    run.child.kill('SIGTERM');
    const code = await withTimeout(run.exited, 10_000, 'exit after SIGTERM');
    expect(code, run.stderr()).toBe(143);
    expect(run.stderr()).not.toMatch(/serving the final metrics/);
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
    await expect(httpRequest(url, { timeoutMs: 2_000 })).rejects.toThrow(/ECONNREFUSED/);
  }, 30_000);
});

// The parser is used above on real output; make sure it is not vacuous on it.
describe('the exposition of a run', () => {
  it('is refused by the test reader when a histogram is broken', () => {
    const text = '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 0\nh_count 1\n';
    expect(parseExposition(text).problems).toEqual(['h[]: bucket le=Infinity below the one before']);
  });
});
