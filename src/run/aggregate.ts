/**
 * Workers' reports → one RunResult: histograms merged exactly, series summed, and delivery settled by joining
 * what each publisher sent with what each subscriber's subscriptions covered.
 */
import {
  deliveryVerdicts,
  mergeDeliverySummaries,
  settleDelivery,
  totalDelivery,
  type DeliverySummary,
  type StreamDelivery,
  type StreamExpectation,
} from '../metrics/delivery.js';
import { emptyFaultDelivery, mergeFaultDeliveries, settleFaults, totalFault, type FaultDelivery } from '../metrics/fault-delivery.js';
import { LatencyHistogram, type LatencySummary } from '../metrics/histogram.js';
import { groupQueueDepth, type StreamPair } from '../metrics/queue-depth.js';
import { mergeSpans, spanRate, type TrafficSpan } from '../metrics/rates.js';
import { mergeIntervals, mergeSeries, seriesTotals, type CounterSeries } from '../metrics/series.js';
import { evaluateThresholds, type ThresholdInput, type ThresholdMetrics } from '../metrics/thresholds.js';
import { topicMatches } from '../protocol/topic.js';
import { groupSampleEvery } from '../scenario/plan.js';
import type { Scenario } from '../scenario/schema.js';
import type { EngineReport } from '../engine/engine.js';
import type { Coverage, GroupReport, PublishedStream } from '../engine/group-metrics.js';
import {
  LATENCY_NAMES,
  type BrokerSys,
  type FaultRun,
  type GroupResult,
  type LatencyName,
  type PercentileCurve,
  type RunResult,
  type SpanMs,
  type StreamRow,
  type Totals,
} from './result.js';

export interface RunFacts {
  version: string;
  scenario: Scenario;
  target: RunResult['target'];
  startedAt: Date;
  endedAt: Date;
  durationMs: number;
  stoppedBy: RunResult['stoppedBy'];
  workers: number;
  /** What the broker published on `$SYS` during the run; null when it was not read (`sysTopics: false`). */
  brokerSys: BrokerSys | null;
  /** The scenario's broker faults as they happened (empty without faults). */
  faults: FaultRun[];
}

export interface Aggregated {
  result: RunResult;
  /** Merged histograms by name ("e2e", "publishers.e2e"), for .hgrm files. */
  histograms: Map<string, LatencyHistogram>;
}

const CURVE_PERCENTILES = [
  0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96.875, 97.5, 98.4375, 99, 99.21875, 99.5, 99.6, 99.75, 99.8,
  99.9, 99.95, 99.975, 99.99, 99.995, 99.999, 100,
];
const MAX_PROBLEM_ROWS = 100;

export function aggregate(facts: RunFacts, reports: EngineReport[]): Aggregated {
  const scenario = facts.scenario;
  const histograms = new Map<string, LatencyHistogram>();
  const total: Record<LatencyName, LatencyHistogram> = {
    connect: new LatencyHistogram(),
    subscribe: new LatencyHistogram(),
    publish: new LatencyHistogram(),
    e2e: new LatencyHistogram(),
    retained: new LatencyHistogram(),
  };
  const published: PublishedStream[] = [];
  const coverage: Coverage[] = [];
  const receiversByGroup = new Map<string, { clientId: string; streams: StreamDelivery[] }[]>();
  const groupSeries: CounterSeries[] = [];
  const sentSpans: TrafficSpan[] = [];
  const receivedSpans: TrafficSpan[] = [];
  const retainedSpans: TrafficSpan[] = [];
  const connectedSpans: TrafficSpan[] = [];
  const groups: GroupResult[] = [];
  const groupHistograms = new Map<string, Record<LatencyName, LatencyHistogram>>();
  // Queue depth is followed up to the first second a worker stopped recording progress (its budget spent).
  let progressSeconds = Infinity;

  for (const [g, config] of scenario.groups.entries()) {
    const parts: GroupReport[] = reports.map((r) => r.groups[g]).filter((x): x is GroupReport => x !== undefined);
    const hist: Record<LatencyName, LatencyHistogram> = {
      connect: new LatencyHistogram(),
      subscribe: new LatencyHistogram(),
      publish: new LatencyHistogram(),
      e2e: new LatencyHistogram(),
      retained: new LatencyHistogram(),
    };
    for (const p of parts) {
      if (p.progressCutAt >= 0) progressSeconds = Math.min(progressSeconds, p.progressCutAt);
      for (const name of LATENCY_NAMES) hist[name].merge(p.latency[name]);
      published.push(...p.published);
      coverage.push(...p.coverage);
    }
    for (const name of LATENCY_NAMES) {
      total[name].add(hist[name]);
      if (hist[name].count > 0) histograms.set(`${config.name}.${name}`, hist[name]);
    }
    groupHistograms.set(config.name, hist);
    const series = mergeSeries(parts.map((p) => p.series));
    groupSeries.push(series);
    const sent = mergeSpans(parts.flatMap((p) => p.published.filter((s) => s.sent > 0)));
    const received = mergeSpans(parts.map((p) => p.received));
    const retained = mergeSpans(parts.map((p) => p.retainedReceived));
    const connected = mergeSpans(parts.map((p) => p.connected));
    sentSpans.push(sent);
    receivedSpans.push(received);
    retainedSpans.push(retained);
    connectedSpans.push(connected);
    receiversByGroup.set(config.name, parts.flatMap((p) => p.receivers));
    const every = groupSampleEvery(config);
    groups.push({
      name: config.name,
      clients: config.clients,
      latency: summaries(hist),
      totals: totalsOf(series, sent, received, connected, retained),
      delivery: emptySummary(),
      faults: [],
      intervals: every ? mergeIntervals(parts.flatMap((p) => p.intervals)) : [],
      intervalEvery: every ? (every.kind === 'time' ? formatMs(every.everyMs) : `${every.every} messages`) : undefined,
    });
  }
  for (const name of LATENCY_NAMES) if (total[name].count > 0) histograms.set(name, total[name]);

  // Delivery: per receiver, expectations from the streams its subscriptions covered from start to end.
  const problems: StreamRow[] = [];
  let problemStreams = 0;
  let uncovered = 0;
  let uncoveredMessages = 0;
  const publisherNames = new Map<number, string>(published.map((p) => [p.publisherId, p.clientId]));
  const sentProgress = new Map<string, number[]>(published.map((p) => [`${p.publisherId}\u0000${p.topic}`, p.progress ?? []]));
  const depthSeconds = Math.min(progressSeconds, reports.reduce((n, r) => Math.max(n, ...r.groups.map((g) => g.series.seconds)), 0));
  const coverageByClient = new Map<string, Coverage[]>();
  for (const c of coverage) {
    let list = coverageByClient.get(c.clientId);
    if (list === undefined) {
      list = [];
      coverageByClient.set(c.clientId, list);
    }
    list.push(c);
  }
  const summaries_: DeliverySummary[] = [];
  const faultCount = facts.faults.length;
  // Stopped before it completed: what each stream had not delivered after its highest sequence was still on its way.
  const settle = { stoppedEarly: facts.stoppedBy !== 'completed' };
  groups.forEach((group) => {
    const receivers = receiversByGroup.get(group.name) ?? [];
    const perReceiver: DeliverySummary[] = [];
    const faultsPerReceiver: FaultDelivery[][] = [];
    const depth: Array<{ clientId: string; streams: StreamPair[] }> = [];
    for (const r of receivers) {
      const covers = coverageByClient.get(r.clientId) ?? [];
      const expectations: StreamExpectation[] = [];
      for (const s of published) {
        let qos = -1;
        for (const c of covers) {
          if (c.filter.startsWith('$share/')) continue;
          if (c.fromUs <= s.firstUs && c.toUs >= s.lastUs && topicMatches(c.filter, s.topic)) qos = Math.max(qos, Math.min(c.qos, s.qos));
        }
        if (qos >= 0) {
          expectations.push({
            publisherId: s.publisherId,
            topic: s.topic,
            qos: qos as 0 | 1 | 2,
            sent: s.sent,
            acknowledged: s.acknowledged,
            ackedThrough: s.ackedThrough,
            ...(s.unacknowledged !== null ? { unacknowledged: s.unacknowledged } : {}),
            ...(s.faultFrontiers !== null ? { faultFrontiers: s.faultFrontiers } : {}),
          });
        }
      }
      const expected = new Set(expectations.map((e) => `${e.publisherId}\u0000${e.topic}`));
      // A stream this receiver was not subscribed to for its whole life (it subscribed late, unsubscribed early, or
      // shares a subscription group) cannot be judged for loss: its deliveries are counted apart. Retained copies never
      // reach the trackers (engine/inbound.ts).
      const judged = r.streams.filter((s) => {
        const ok = expected.has(`${s.publisherId}\u0000${s.topic}`);
        if (!ok) {
          uncovered++;
          uncoveredMessages += s.received;
        }
        return ok;
      });
      const summary = settleDelivery(judged, expectations, settle);
      perReceiver.push(summary);
      if (faultCount > 0) faultsPerReceiver.push(settleFaults(judged, expectations, faultCount, settle));
      const received = new Map(judged.map((s) => [`${s.publisherId}\u0000${s.topic}`, s.progress]));
      depth.push({
        clientId: r.clientId,
        streams: expectations.map((e) => {
          const key = `${e.publisherId}\u0000${e.topic}`;
          return { sent: sentProgress.get(key) ?? [], received: received.get(key) ?? [] };
        }),
      });
      for (const e of expectations) {
        const s = judged.find((x) => x.publisherId === e.publisherId && x.topic === e.topic);
        const one = settleDelivery(s ? [s] : [], [e], settle);
        const t = totalDelivery(one);
        if (t.lost > 0 || t.duplicated > 0 || t.outOfOrder > 0) {
          problemStreams++;
          problems.push({
            receiver: r.clientId,
            publisher: publisherNames.get(e.publisherId) ?? String(e.publisherId),
            topic: e.topic,
            qos: e.qos,
            sent: e.sent,
            acknowledged: e.acknowledged,
            received: t.received,
            lost: t.lost,
            duplicated: t.duplicated,
            outOfOrder: t.outOfOrder,
          });
        }
      }
    }
    group.delivery = mergeDeliverySummaries(perReceiver);
    group.faults = faultCount > 0 ? padFaults(mergeFaultDeliveries(faultsPerReceiver), faultCount) : [];
    if (depth.some((d) => d.streams.length > 0)) group.queueDepth = groupQueueDepth(depth, depthSeconds);
    summaries_.push(group.delivery);
  });
  problems.sort((a, b) => b.lost - a.lost || b.duplicated - a.duplicated || b.outOfOrder - a.outOfOrder);
  const deliverySummary = mergeDeliverySummaries(summaries_);
  const deliveryTotal = totalDelivery(deliverySummary);
  const faultDelivery = padFaults(mergeFaultDeliveries(groups.map((g) => g.faults)), faultCount);
  const faults = facts.faults.map((f, k) => ({ ...f, delivery: faultDelivery[k] }));

  const series = mergeSeries(groupSeries);
  const totals = totalsOf(series, mergeSpans(sentSpans), mergeSpans(receivedSpans), mergeSpans(connectedSpans), mergeSpans(retainedSpans));
  const takeoverIds = [...new Set(reports.flatMap((r) => r.takenOver))].sort();
  const notes: string[] = [];
  const takeoverCount = totals.errors.takeover ?? 0;
  if (takeoverCount > 0) {
    notes.push(
      `${takeoverCount} connection${takeoverCount === 1 ? ' was' : 's were'} closed because another client connected with the ` +
        `same client id (session takeover; client id${takeoverIds.length === 1 ? '' : 's'}: ${takeoverIds.join(', ') || 'shared ids'}). ` +
        'Each takeover makes the other client reconnect and take the session back: the "lost connection, retrying" loop. ' +
        'Give every client its own id.',
    );
  }
  if (uncovered > 0) {
    notes.push(
      `${uncoveredMessages} message${uncoveredMessages === 1 ? '' : 's'} on ${uncovered} stream${uncovered === 1 ? '' : 's'} arrived at subscribers ` +
        'whose subscription did not cover the whole stream (subscribed after it began, unsubscribed before it ended, or a ' +
        'shared subscription); they are counted as received but not judged for loss.',
    );
  }
  for (const f of faults) {
    if (f.firedAtMs === null) {
      notes.push(`Fault ${f.index} (${f.action} at ${formatMs(f.atMs)}) did not happen: the run ended first.`);
    } else if (f.unconfirmedWorkers > 0) {
      notes.push(
        `Fault ${f.index}: ${f.unconfirmedWorkers} worker${f.unconfirmedWorkers === 1 ? '' : 's'} did not confirm it within the reply timeout before the ` +
          'broker was started again; what their publishers had acknowledged before it may count after it.',
      );
    }
  }
  if (deliveryTotal.inFlightAtStop > 0) {
    const n = deliveryTotal.inFlightAtStop;
    notes.push(
      `The run was stopped before it completed (${facts.stoppedBy === 'duration' ? 'its duration ended' : 'interrupted'}): ` +
        `${n} message${n === 1 ? '' : 's'} sent after the last one each subscriber received ${n === 1 ? 'was' : 'were'} still on ` +
        `${n === 1 ? 'its' : 'their'} way when the run ended. They are counted as in flight at stop, not ` +
        'lost, and no QoS verdict counts them; gaps before the last message received are lost as usual.',
    );
  }
  const failedClients = reports.reduce((n, r) => n + r.failedClients, 0);
  if (failedClients > 0) notes.push(`${failedClients} client${failedClients === 1 ? '' : 's'} gave up (connect failed for good, or connection lost with no reconnects left).`);

  const curves: RunResult['curves'] = { run: curvesOf(total), groups: {} };
  for (const [name, hist] of groupHistograms) curves.groups[name] = curvesOf(hist);

  const latency = summaries(total);
  const thresholdInput: ThresholdInput = {
    ...thresholdMetrics(latency, totals, deliveryTotal, faultCount > 0 ? faultDelivery : undefined),
    groups: Object.fromEntries(
      groups.map((g) => [g.name, thresholdMetrics(g.latency, g.totals, totalDelivery(g.delivery), faultCount > 0 ? g.faults : undefined)]),
    ),
  };
  const thresholds = evaluateThresholds(
    scenario.thresholds.map((t) => t.threshold),
    thresholdInput,
  );
  const errorExamples = reports.flatMap((r) => r.errors).sort((a, b) => a.atMs - b.atMs).slice(0, 50);

  const result: RunResult = {
    tool: { name: 'mqbench', version: facts.version },
    scenario: { name: scenario.name, description: scenario.description, file: scenario.source.file },
    target: facts.target,
    startedAt: facts.startedAt.toISOString(),
    endedAt: facts.endedAt.toISOString(),
    durationMs: facts.durationMs,
    stoppedBy: facts.stoppedBy,
    workers: facts.workers,
    clients: scenario.groups.reduce((n, g) => n + g.clients, 0),
    failedClients,
    latency,
    totals,
    delivery: {
      summary: deliverySummary,
      total: deliveryTotal,
      verdicts: deliveryVerdicts(deliverySummary),
      problems: problems.slice(0, MAX_PROBLEM_ROWS),
      problemStreams,
      unjudged: { streams: uncovered, messages: uncoveredMessages },
    },
    groups,
    curves,
    series,
    thresholds,
    errorExamples,
    takeovers: { count: takeoverCount, clientIds: takeoverIds },
    faults,
    broker: { sys: facts.brokerSys },
    notes,
    passed: facts.stoppedBy !== 'interrupted' && facts.stoppedBy !== 'broker-lost' && thresholds.every((t) => t.passed),
  };
  return { result, histograms };
}

function summaries(h: Record<LatencyName, LatencyHistogram>): Partial<Record<LatencyName, LatencySummary>> {
  const out: Partial<Record<LatencyName, LatencySummary>> = {};
  for (const name of LATENCY_NAMES) if (h[name].count > 0) out[name] = h[name].summarize();
  return out;
}

function curvesOf(h: Record<LatencyName, LatencyHistogram>): Partial<Record<LatencyName, PercentileCurve>> {
  const out: Partial<Record<LatencyName, PercentileCurve>> = {};
  for (const name of LATENCY_NAMES) {
    if (h[name].count === 0) continue;
    out[name] = CURVE_PERCENTILES.map((p) => [p, h[name].valueAtPercentile(p)]);
  }
  return out;
}

function totalsOf(series: CounterSeries, sent: TrafficSpan, received: TrafficSpan, connected: TrafficSpan, retained: TrafficSpan): Totals {
  const t = seriesTotals(series);
  let errorsTotal = 0;
  for (const n of Object.values(t.errors)) errorsTotal += n;
  return {
    counters: t.counters,
    errors: t.errors,
    errorsTotal,
    sentPerSec: spanRate(t.counters.messagesSent, sent),
    receivedPerSec: spanRate(t.counters.messagesReceived - t.counters.retainedReceived, received),
    connectsPerSec: spanRate(t.counters.connectsOk, connected),
    retainedPerSec: spanRate(t.counters.retainedReceived, retained),
    sentSpan: spanMs(sent),
    receivedSpan: spanMs(received),
    connectedSpan: spanMs(connected),
    busiestSent: busiest(series.counters.messagesSent),
    busiestReceived: busiest(series.counters.messagesReceived.map((n, i) => n - (series.counters.retainedReceived[i] ?? 0))),
  };
}

function spanMs(s: TrafficSpan): SpanMs | null {
  return s.firstUs < 0 ? null : { firstMs: s.firstUs / 1000, lastMs: s.lastUs / 1000 };
}

/** The whole second with the most messages (the earliest of equals); null when none had any. */
function busiest(perSecond: readonly number[]): { second: number; messages: number } | null {
  let best = -1;
  for (let i = 0; i < perSecond.length; i++) if (perSecond[i] > 0 && (best < 0 || perSecond[i] > perSecond[best])) best = i;
  return best < 0 ? null : { second: best, messages: perSecond[best] };
}

function thresholdMetrics(
  latency: Partial<Record<LatencyName, LatencySummary>>,
  totals: Totals,
  delivery: ReturnType<typeof totalDelivery>,
  faults: FaultDelivery[] | undefined,
): ThresholdMetrics {
  const c = totals.counters;
  // Without faults these have no data: a threshold on them fails rather than reading as met.
  const acrossFaults = faults?.map(totalFault);
  return {
    latency,
    counters: {
      sent: c.messagesSent,
      received: c.messagesReceived,
      'received.retained': c.retainedReceived,
      lost: delivery.lost,
      'lost.acknowledged': delivery.lostAcknowledged,
      inflight: delivery.inFlightAtStop,
      duplicated: delivery.duplicated,
      reordered: delivery.outOfOrder,
      errors: totals.errorsTotal,
      'connect.failed': c.connectsFailed,
      'subscribe.failed': c.subscribesFailed,
      'publish.failed': c.publishesFailed,
      'faults.lost.acknowledged': acrossFaults?.reduce((n, f) => n + f.lostAcknowledged, 0),
      'faults.duplicated': acrossFaults?.reduce((n, f) => n + f.duplicated, 0),
    },
    // No rate (fewer than two messages) is "nothing to measure": such a threshold fails rather than passing.
    rates: {
      throughput: totals.receivedPerSec ?? Number.NaN,
      'sent.rate': totals.sentPerSec ?? Number.NaN,
    },
  };
}

/** One entry per fault, also for a group or run without any receiver. */
function padFaults(list: FaultDelivery[], n: number): FaultDelivery[] {
  const out = list.slice();
  while (out.length < n) out.push(emptyFaultDelivery());
  return out;
}

function emptySummary(): DeliverySummary {
  return mergeDeliverySummaries([]);
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
