/**
 * The run's figures for a Prometheus scrape, by group: while the run lasts, the running totals each worker posts once
 * a second with its progress, summed over workers; once it has ended, the run's exact totals (the numbers of
 * summary.json). Counters and histogram buckets only grow: each worker's totals do, and the final ones include them.
 */
import type { EngineReport, ProgressSnapshot } from '../engine/engine.js';
import { LIVE_LATENCIES, PROGRESS_LAYOUT, type GroupProgress, type LiveLatencyName } from '../engine/group-metrics.js';
import type { LatencyHistogram } from '../metrics/histogram.js';
import { PROMETHEUS_LATENCY_BUCKETS } from '../metrics/prometheus-buckets.js';
import { COUNTER_NAMES, GAUGE_NAMES, type CounterName, type GaugeName } from '../metrics/series.js';
import type { RunResult } from './result.js';

type Labels = Readonly<Record<string, string>>;

/** A metric family as the exposition writer takes it (the shape of broker/metrics-http.ts's MetricFamily). */
export type LiveMetricFamily =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples: { labels: Labels; value: number }[] }
  | {
      name: string;
      help: string;
      type: 'histogram';
      samples: { labels: Labels; upperBounds: readonly number[]; cumulative: ArrayLike<number>; sum: number }[];
    };

/** Exported name and help of each counter; a new counter in metrics/series.ts must be named here (the type says so). */
const COUNTERS: Record<CounterName, [name: string, help: string]> = {
  connectsOk: ['mqbench_connects_total', 'Connections the broker accepted (CONNACK success).'],
  connectsFailed: ['mqbench_connect_failures_total', 'Connection attempts that failed (refused, timed out, closed before CONNACK).'],
  disconnects: ['mqbench_disconnects_total', 'Connections that ended, by the client or the broker.'],
  subscribesOk: ['mqbench_subscribes_total', 'SUBSCRIBE requests granted.'],
  subscribesFailed: ['mqbench_subscribe_failures_total', 'SUBSCRIBE requests refused or unanswered.'],
  messagesSent: ['mqbench_messages_sent_total', 'PUBLISH packets sent by the clients.'],
  bytesSent: ['mqbench_sent_bytes_total', 'Payload bytes of the PUBLISH packets sent.'],
  messagesReceived: ['mqbench_messages_received_total', 'PUBLISH packets received by the clients, retained copies included.'],
  bytesReceived: ['mqbench_received_bytes_total', 'Payload bytes of the PUBLISH packets received.'],
  acksReceived: ['mqbench_publish_acks_total', 'QoS 1 and 2 publishes completed by PUBACK or PUBCOMP.'],
  publishesFailed: ['mqbench_publish_failures_total', 'QoS 1 and 2 publishes the broker refused (reason code 0x80 or above).'],
  retainedReceived: ['mqbench_retained_received_total', 'Retained copies a SUBSCRIBE brought (also in mqbench_messages_received_total).'],
};

const GAUGES: Record<GaugeName, [name: string, help: string]> = {
  connectionsOpen: ['mqbench_connections_open', 'Client connections open (CONNACK received, not closed).'],
  inflight: ['mqbench_inflight_messages', 'QoS 1 and 2 publishes sent and not yet acknowledged.'],
};

const LATENCIES: Record<LiveLatencyName, [name: string, help: string]> = {
  connect: ['mqbench_connect_latency_seconds', 'Socket open to CONNACK, seconds.'],
  publish: ['mqbench_publish_ack_latency_seconds', 'PUBLISH to PUBACK (QoS 1) or PUBCOMP (QoS 2), from the intended send time, seconds.'],
  e2e: ['mqbench_e2e_latency_seconds', 'Send time in the payload to arrival at a subscriber, live messages only, seconds.'],
};

const UPPER_BOUNDS_SECONDS: readonly number[] = PROMETHEUS_LATENCY_BUCKETS.edgesUs.map((us) => us / 1e6);

export interface LiveMetricsLabels {
  scenario: string;
  /** The shard index of a sharded run, "0" otherwise. */
  shard: string;
}

interface GroupTotals {
  values: Float64Array;
  errors: Record<string, number>;
}

export class LiveMetrics {
  /** Each worker's latest running totals, per group. */
  private readonly latest = new Map<number, GroupProgress[]>();
  private final: GroupTotals[] | undefined;
  private startedAtMs: number | undefined;

  constructor(
    private readonly groups: readonly string[],
    private readonly labels: LiveMetricsLabels,
  ) {}

  /** The run's clients start now. */
  start(atMs: number): void {
    this.startedAtMs = atMs;
  }

  /** A worker's progress snapshot (its totals since the start, so the latest replaces the one before). */
  add(worker: number, snapshot: ProgressSnapshot): void {
    if (this.final === undefined) this.latest.set(worker, snapshot.groups);
  }

  /**
   * The run ended: from now on the figures are its exact totals. Counters and errors are the result's (summary.json);
   * latencies are the merged histograms ("group.name" keys, as aggregate() makes them); gauges are each worker's last
   * reading, after its clients disconnected.
   */
  finish(result: RunResult, histograms: ReadonlyMap<string, LatencyHistogram>, reports: readonly EngineReport[]): void {
    this.final = this.groups.map((name, i) => {
      const values = new Float64Array(PROGRESS_LAYOUT.length);
      const group = result.groups.find((g) => g.name === name);
      if (group === undefined) throw new Error(`the result has no group "${name}"`);
      COUNTER_NAMES.forEach((c, k) => (values[PROGRESS_LAYOUT.counters + k] = group.totals.counters[c]));
      GAUGE_NAMES.forEach((gauge, k) => {
        let v = 0;
        for (const r of reports) {
          const row = r.groups[i]?.series.gauges[gauge];
          if (row !== undefined && row.length > 0) v += row[row.length - 1];
        }
        values[PROGRESS_LAYOUT.gauges + k] = v;
      });
      LIVE_LATENCIES.forEach((latency, k) => {
        const offset = PROGRESS_LAYOUT.latency + k * PROGRESS_LAYOUT.latencyStride;
        histograms.get(`${name}.${latency}`)?.countInto(PROMETHEUS_LATENCY_BUCKETS, values, offset);
      });
      return { values, errors: { ...group.totals.errors } };
    });
  }

  get finished(): boolean {
    return this.final !== undefined;
  }

  families(): LiveMetricFamily[] {
    const totals = this.final ?? this.sumWorkers();
    const base = { scenario: this.labels.scenario, shard: this.labels.shard };
    const byGroup = (name: string) => ({ ...base, group: name });
    const out: LiveMetricFamily[] = [];
    for (const [k, c] of COUNTER_NAMES.entries()) {
      const [name, help] = COUNTERS[c];
      out.push({ name, help, type: 'counter', samples: totals.map((t, g) => ({ labels: byGroup(this.groups[g]), value: t.values[PROGRESS_LAYOUT.counters + k] })) });
    }
    const errors: { labels: Labels; value: number }[] = [];
    totals.forEach((t, g) => {
      for (const kind of Object.keys(t.errors).sort()) errors.push({ labels: { ...byGroup(this.groups[g]), kind }, value: t.errors[kind] });
    });
    out.push({ name: 'mqbench_errors_total', help: 'Errors by kind (the error kinds of the report: connect-refused, timeout-puback, takeover, ...).', type: 'counter', samples: errors });
    for (const [k, gauge] of GAUGE_NAMES.entries()) {
      const [name, help] = GAUGES[gauge];
      out.push({ name, help, type: 'gauge', samples: totals.map((t, g) => ({ labels: byGroup(this.groups[g]), value: t.values[PROGRESS_LAYOUT.gauges + k] })) });
    }
    for (const [k, latency] of LIVE_LATENCIES.entries()) {
      const [name, help] = LATENCIES[latency];
      const offset = PROGRESS_LAYOUT.latency + k * PROGRESS_LAYOUT.latencyStride;
      out.push({
        name,
        help,
        type: 'histogram',
        samples: totals.map((t, g) => {
          const cumulative = new Float64Array(PROMETHEUS_LATENCY_BUCKETS.count);
          let running = 0;
          for (let b = 0; b < PROMETHEUS_LATENCY_BUCKETS.count; b++) cumulative[b] = running += t.values[offset + b];
          return { labels: byGroup(this.groups[g]), upperBounds: UPPER_BOUNDS_SECONDS, cumulative, sum: t.values[offset + PROMETHEUS_LATENCY_BUCKETS.count] / 1e6 };
        }),
      });
    }
    out.push({ name: 'mqbench_run_finished', help: '1 once the run has ended and every figure is its final total (as summary.json), else 0.', type: 'gauge', samples: [{ labels: base, value: this.final === undefined ? 0 : 1 }] });
    if (this.startedAtMs !== undefined) {
      out.push({ name: 'mqbench_run_start_time_seconds', help: 'When the clients started, seconds since the Unix epoch.', type: 'gauge', samples: [{ labels: base, value: this.startedAtMs / 1000 }] });
    }
    return out;
  }

  private sumWorkers(): GroupTotals[] {
    const totals = this.groups.map(() => ({ values: new Float64Array(PROGRESS_LAYOUT.length), errors: {} as Record<string, number> }));
    for (const groups of this.latest.values()) {
      groups.forEach((p, g) => {
        const t = totals[g];
        if (t === undefined) return;
        for (let i = 0; i < PROGRESS_LAYOUT.length; i++) t.values[i] += p.values[i];
        for (const [kind, n] of Object.entries(p.errors)) t.errors[kind] = (t.errors[kind] ?? 0) + n;
      });
    }
    return totals;
  }
}
