/**
 * docs/grafana-dashboard.json: it parses, it is importable (schema version, a Prometheus datasource variable that every
 * panel and query uses, unique ids, grid positions), and every PromQL expression names only metrics and labels that
 * mqbench really exposes: the names are read from the exposition of a real run and of a real broker, not from a list.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processFamilies, renderExposition } from '../../../broker/metrics-http.js';
import { startBroker } from '../../../broker/index.js';
import type { EngineReport } from '../../../src/engine/engine.js';
import { LiveMetrics } from '../../../src/run/live-metrics.js';
import { parseExposition, scrape, type Exposition } from '../../helpers/prometheus.js';
import { runInline } from '../../helpers/run-scenario.js';
import { parser } from '@prometheus-io/lezer-promql';

const root = resolve(__dirname, '../../..');
const dashboard = JSON.parse(readFileSync(join(root, 'docs/grafana-dashboard.json'), 'utf8'));

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}

function allPanels(list: Panel[]): Panel[] {
  return list.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

const panels = allPanels(dashboard.panels as Panel[]);
const variables = dashboard.templating.list as { name: string; type: string; query: unknown; datasource?: { uid: string } }[];
const expressions: string[] = [
  ...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ...variables.filter((v) => v.type === 'query').map((v) => (v.query as { query: string }).query),
];

/** A Grafana query as Prometheus receives it: Grafana's interval variables become durations. */
function asPromql(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m');
}

/**
 * Parses a panel expression, or the selector of a `label_values(selector, label)` variable query, with Prometheus's
 * own PromQL grammar; returns the metric names (the identifier of each vector selector), the label names it
 * matches or groups on, and the syntax errors.
 */
function analyse(expr: string): { metrics: string[]; labels: string[]; errors: string[] } {
  let text = asPromql(expr);
  const labels: string[] = [];
  const lv = /^label_values\((.*),\s*([a-zA-Z_]\w*)\)$/.exec(text);
  if (lv) {
    text = lv[1];
    labels.push(lv[2]);
  }
  const metrics: string[] = [];
  const errors: string[] = [];
  parser.parse(text).iterate({
    enter: (node) => {
      const slice = text.slice(node.from, node.to);
      if (node.type.isError) errors.push(`syntax error at ${node.from} in ${text}`);
      else if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.push(slice);
      else if (node.name === 'LabelName') labels.push(slice);
    },
  });
  return { metrics, labels, errors };
}

const metricNames = (expr: string) => analyse(expr).metrics;
const labelNames = (expr: string) => analyse(expr).labels;

/** Every sample name and label name an exposition offers (histogram families as their _bucket, _sum, _count). */
function offered(e: Exposition): { metrics: Set<string>; labels: Set<string> } {
  const metrics = new Set<string>();
  const labels = new Set<string>();
  for (const f of e.families.values()) {
    if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) metrics.add(f.name + s);
    else metrics.add(f.name);
    for (const s of f.samples) for (const l of Object.keys(s.labels)) labels.add(l);
  }
  return { metrics, labels };
}

describe('the Grafana dashboard', () => {
  let exposed: { metrics: Set<string>; labels: Set<string> };
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  beforeAll(async () => {
    // A real run (errors included, so mqbench_errors_total has a kind) and a real broker.
    const yaml = [
      'name: dashboard',
      'groups:',
      '  - name: subs',
      '    steps: [connect, { subscribe: { topic: "d/#", qos: 1 } }]',
      '  - name: pubs',
      '    protocol: 5',
      '    startTime: 200ms',
      '    steps: [connect, { publish: { topic: d/1, qos: 1, count: 20 } }, { publish: { topic: "$SYS/x", qos: 1, count: 1 } }, disconnect]',
      '',
    ].join('\n');
    const live = new LiveMetrics(['subs', 'pubs'], { scenario: 'dashboard', shard: '0' });
    let reports: readonly EngineReport[] = [];
    const outcome = await runInline(yaml, stops, {
      onStart: () => live.start(Date.now()),
      onSnapshot: (w, s) => live.add(w, s),
      onReports: (r) => (reports = r),
    });
    live.finish(outcome.result, outcome.histograms, reports);
    const run = parseExposition(renderExposition([...live.families(), ...processFamilies()]));
    expect(run.problems).toEqual([]);
    expect(run.families.get('mqbench_errors_total')!.samples.map((s) => s.labels.kind)).toEqual(['publish-refused-0x87']);
    const broker = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], metrics: { host: '127.0.0.1', port: 0 }, logSink: () => undefined });
    try {
      const b = offered(await scrape(broker.metrics!.url));
      const r = offered(run);
      exposed = { metrics: new Set([...r.metrics, ...b.metrics]), labels: new Set([...r.labels, ...b.labels]) };
    } finally {
      await broker.close();
    }
  }, 30_000);

  it('is importable: schema version, title and uid, a Prometheus datasource variable used by every panel and query', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(typeof dashboard.title).toBe('string');
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.id).toBeNull();
    const ds = variables.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const dataPanels = panels.filter((p) => p.type !== 'row');
    expect(dataPanels.length).toBeGreaterThan(15);
    for (const p of dataPanels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets!.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(new Set(p.targets!.map((t) => t.refId)).size, p.title).toBe(p.targets!.length);
    }
    for (const v of variables.filter((x) => x.type === 'query')) expect(v.datasource, v.name).toEqual({ type: 'prometheus', uid: '${datasource}' });
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.gridPos.h, p.title).toBeGreaterThan(0);
    }
  });

  it('is valid PromQL that uses only metric and label names that a run and the broker expose', () => {
    const unknownMetrics = new Set<string>();
    const unknownLabels = new Set<string>();
    // Prometheus itself adds `instance` and `job` to every scraped series.
    const labels = new Set([...exposed.labels, 'le', 'instance', 'job']);
    for (const expr of expressions) {
      expect(analyse(expr).errors, expr).toEqual([]);
      const names = metricNames(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const n of names) if (!exposed.metrics.has(n)) unknownMetrics.add(`${n} in ${expr}`);
      for (const l of labelNames(expr)) if (!labels.has(l)) unknownLabels.add(`${l} in ${expr}`);
    }
    expect([...unknownMetrics]).toEqual([]);
    expect([...unknownLabels]).toEqual([]);
  });

  it('shows a distributed run: connections per shard and in total, rates per group, e2e quantiles over all shards, errors by kind, the broker', () => {
    const all = expressions.join('\n');
    expect(all).toContain('sum by (shard) (mqbench_connections_open{');
    expect(all).toMatch(/sum\(mqbench_connections_open\{/);
    expect(all).toMatch(/sum by \(group\) \(rate\(mqbench_messages_received_total\{[^}]*\}\[\$__rate_interval\]\)\)/);
    expect(all).toMatch(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(mqbench_e2e_latency_seconds_bucket\{[^}]*\}\[1m\]\)\)\)/);
    expect(all).toMatch(/histogram_quantile\(0\.5, sum by \(le\) \(rate\(mqbench_e2e_latency_seconds_bucket/);
    expect(all).toMatch(/sum by \(kind\) \(rate\(mqbench_errors_total/);
    expect(all).toContain('mqbench_broker_clients_connected');
    expect(all).toContain('mqbench_broker_queued_messages');
  });

  it('the name check is not vacuous', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(mqbench_e2e_latency_seconds_bucket{group=~"$group"}[1m])))')).toEqual([
      'mqbench_e2e_latency_seconds_bucket',
    ]);
    expect(metricNames('sum by (instance) (rate(process_cpu_seconds_total[$__rate_interval]) and on (instance) mqbench_run_finished{shard="1"})')).toEqual([
      'process_cpu_seconds_total',
      'mqbench_run_finished',
    ]);
    expect(metricNames('label_values(mqbench_connects_total{scenario=~"$scenario"}, group)')).toEqual(['mqbench_connects_total']);
    expect(exposed.metrics.has('mqbench_e2e_latency_seconds_bucket')).toBe(true);
    expect(exposed.metrics.has('mqbench_e2e_latency_seconds')).toBe(false);
    expect(labelNames('sum by (le, group) (x{scenario=~"$s", shard="1"})').sort()).toEqual(['group', 'le', 'scenario', 'shard']);
    expect(analyse('sum(rate(x[5m])').errors).not.toEqual([]);
    expect(analyse('sum by (le) (rate(x_bucket{a="b"}[$__rate_interval]))').errors).toEqual([]);
  });
});
