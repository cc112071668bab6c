/**
 * What one worker measures for one client group: latency histograms, per-second counters, interval statistics of
 * its subscribers, and the raw facts the main thread needs for delivery accounting (streams received, streams
 * published, subscription coverage). Everything here ends as plain data in a GroupReport.
 */
import { DeliveryTracker, type StreamDelivery } from '../metrics/delivery.js';
import { LatencyHistogram, type EncodedHistogram } from '../metrics/histogram.js';
import { PROMETHEUS_LATENCY_BUCKETS } from '../metrics/prometheus-buckets.js';
import type { TrafficSpan } from '../metrics/rates.js';
import {
  COUNTER_NAMES,
  GAUGE_NAMES,
  Gauge,
  IntervalRecorder,
  SeriesRecorder,
  type CounterName,
  type CounterSeries,
  type IntervalSample,
} from '../metrics/series.js';
import type { SampleEvery } from '../scenario/schema.js';

export type LatencyName = 'connect' | 'subscribe' | 'publish' | 'e2e' | 'retained';

/** A stream a client published: (publisher, topic), with how many it sent and how many the broker acknowledged. */
export interface PublishedStream {
  publisherId: number;
  clientId: string;
  topic: string;
  qos: number;
  sent: number;
  acknowledged: number;
  /** One past the highest sequence acknowledged (see metrics/acknowledged.ts). */
  ackedThrough: number;
  /** QoS 2: one past the highest sequence the broker answered with PUBREC (it owns the message from then on). */
  recThrough: number;
  /** Sequences that will never be acknowledged (dropped with a lost session, refused): ranges; null: none. */
  unacknowledged: number[] | null;
  /**
   * What the broker had taken when each broker fault happened: `ackedThrough`, or for QoS 2 `recThrough` when that
   * is further (a message answered with PUBREC before the fault and completed after it was the old broker's to keep).
   * 0 for faults before the stream's first message; -1 while the connection that was open at the fault has not yet
   * ended (acknowledgements it carries came before the fault). Null when the run has had no fault.
   */
  faultFrontiers: number[] | null;
  /** Send time of the first and last message, µs since the run's epoch. */
  firstUs: number;
  lastUs: number;
  /** `sent` as sampled once a second: [second, count] pairs (see metrics/queue-depth.ts); filled in by the report. */
  progress?: number[];
}

/** When a client's subscription was in force: from SUBACK until unsubscribed or its session ended. */
export interface Coverage {
  clientId: string;
  filter: string;
  /** Granted QoS (the lower of this and the publish QoS is what the stream is received at). */
  qos: number;
  fromUs: number;
  /** Infinity while still in force at the end. */
  toUs: number;
}

/** One receiving client's delivery record. */
export interface ReceiverReport {
  clientId: string;
  streams: StreamDelivery[];
}

export interface GroupReport {
  group: string;
  latency: Record<LatencyName, EncodedHistogram>;
  series: CounterSeries;
  intervals: IntervalSample[];
  receivers: ReceiverReport[];
  published: PublishedStream[];
  coverage: Coverage[];
  /** When this group's clients received live messages (retained copies a SUBSCRIBE brought left out). */
  received: TrafficSpan;
  /** When this group's clients received retained copies a SUBSCRIBE brought. */
  retainedReceived: TrafficSpan;
  /** When this group's clients got a successful CONNACK. */
  connected: TrafficSpan;
  /**
   * The first second whose progress (sent per stream, received per stream) was no longer recorded because the
   * worker's budget for it was spent; -1 when every second was.
   */
  progressCutAt: number;
  /**
   * In a shard of a split run: the e2e latencies again, by the shard of the publisher (key: its index; "-1" for
   * payloads from publishers that are not the run's). Together they hold exactly what `latency.e2e` holds.
   */
  e2eBySource?: Record<string, EncodedHistogram>;
}

/** The latencies a worker reports once a second by fixed buckets (for the Prometheus histograms), in this order. */
export const LIVE_LATENCIES = ['connect', 'publish', 'e2e'] as const satisfies readonly LatencyName[];
export type LiveLatencyName = (typeof LIVE_LATENCIES)[number];

/**
 * Where things are in `GroupProgress.values`: counter totals (COUNTER_NAMES order), gauges (GAUGE_NAMES order), then
 * for each of LIVE_LATENCIES its counts per PROMETHEUS_LATENCY_BUCKETS bucket (not cumulative) and the sum in µs.
 */
export const PROGRESS_LAYOUT = (() => {
  const counters = 0;
  const gauges = counters + COUNTER_NAMES.length;
  const latency = gauges + GAUGE_NAMES.length;
  const latencyStride = PROMETHEUS_LATENCY_BUCKETS.count + 1;
  return { counters, gauges, latency, latencyStride, length: latency + LIVE_LATENCIES.length * latencyStride };
})();

/** One group's running totals in one worker, since the run started: posted with each progress snapshot. */
export interface GroupProgress {
  /** Laid out as PROGRESS_LAYOUT says (about 150 numbers). */
  values: Float64Array;
  /** Errors by kind. */
  errors: Record<string, number>;
}

/** Numbers of per-second progress one group keeps in one worker (8 MB): beyond, queue depth stops being followed. */
const PROGRESS_BUDGET = 1_000_000;

export class GroupMetrics {
  readonly connect = new LatencyHistogram();
  readonly subscribe = new LatencyHistogram();
  readonly publish = new LatencyHistogram();
  readonly e2e = new LatencyHistogram();
  /** Age of retained copies a SUBSCRIBE brought: send time in the payload to arrival (not an end-to-end latency). */
  readonly retained = new LatencyHistogram();
  readonly series = new SeriesRecorder((second) => this.sampleProgress(second));
  readonly interval = new IntervalRecorder();
  readonly intervalSamples: IntervalSample[] = [];
  /** Messages received since the last interval sample (for message-count intervals). */
  intervalMessages = 0;
  readonly receivers = new Map<string, DeliveryTracker>();
  readonly published: PublishedStream[] = [];
  readonly coverage: Coverage[] = [];
  /** First and last arrival of a live message at any client of the group, µs since the run's epoch. */
  readonly received: TrafficSpan = { firstUs: -1, lastUs: -1 };
  /** First and last arrival of a retained copy a SUBSCRIBE brought, µs since the run's epoch. */
  readonly retainedReceived: TrafficSpan = { firstUs: -1, lastUs: -1 };
  /** First and last successful CONNACK at any client of the group, µs since the run's epoch. */
  readonly connected: TrafficSpan = { firstUs: -1, lastUs: -1 };
  /** Closes an interval: after a time, or after a number of messages. */
  sampleEvery: SampleEvery | undefined;
  /** In a shard of a split run: e2e latencies by the publisher's shard (see GroupReport.e2eBySource). */
  e2eBySource: Map<number, LatencyHistogram> | undefined;
  private intervalIndex = 0;
  /** Per published stream, `sent` once a second: [second, count] pairs. */
  private readonly sentProgress = new Map<PublishedStream, { progress: number[]; last: number }>();
  private progressSpent = 0;
  private progressCutAt = -1;

  constructor(readonly name: string) {}

  /** One e2e latency of a message from a publisher in shard `source`, kept apart by shard. */
  recordBySource(bySource: Map<number, LatencyHistogram>, source: number, us: number): void {
    let h = bySource.get(source);
    if (h === undefined) {
      h = new LatencyHistogram();
      bySource.set(source, h);
    }
    h.record(us);
  }

  tracker(clientId: string, window: number): DeliveryTracker {
    let t = this.receivers.get(clientId);
    if (t === undefined) {
      t = new DeliveryTracker({ window });
      this.receivers.set(clientId, t);
    }
    return t;
  }

  /** One received timestamped message's latency, for the interval statistics. */
  recordInterval(us: number): void {
    this.interval.record(us);
    const every = this.sampleEvery;
    if (every !== undefined && every.kind === 'messages' && ++this.intervalMessages >= every.every) {
      this.intervalMessages = 0;
      this.intervalSamples.push(this.interval.sample(this.intervalIndex++));
    }
  }

  /** Once a second, with the counters: where each stream's sending and receiving had got to (for queue depth). */
  private sampleProgress(second: number): void {
    if (this.progressCutAt >= 0) return;
    if (this.progressSpent >= PROGRESS_BUDGET) {
      this.progressCutAt = second;
      return;
    }
    for (const s of this.published) {
      let rec = this.sentProgress.get(s);
      if (rec === undefined) {
        rec = { progress: [], last: 0 };
        this.sentProgress.set(s, rec);
      }
      if (s.sent === rec.last) continue;
      const p = rec.progress;
      if (p.length > 0 && p[p.length - 2] === second) p[p.length - 1] = s.sent;
      else {
        p.push(second, s.sent);
        this.progressSpent += 2;
      }
      rec.last = s.sent;
    }
    for (const t of this.receivers.values()) this.progressSpent += t.sampleProgress(second);
  }

  /** Running totals for the live metrics, given the series' totals of this moment: once a second, never per message. */
  progress(totals: { counters: Record<CounterName, number>; errors: Record<string, number> }): GroupProgress {
    const values = new Float64Array(PROGRESS_LAYOUT.length);
    for (let c = 0; c < COUNTER_NAMES.length; c++) values[PROGRESS_LAYOUT.counters + c] = totals.counters[COUNTER_NAMES[c]];
    for (let g = 0; g < GAUGE_NAMES.length; g++) values[PROGRESS_LAYOUT.gauges + g] = this.series.gauge(Gauge[GAUGE_NAMES[g]]);
    LIVE_LATENCIES.forEach((name, i) => {
      this[name].countInto(PROMETHEUS_LATENCY_BUCKETS, values, PROGRESS_LAYOUT.latency + i * PROGRESS_LAYOUT.latencyStride);
    });
    return { values, errors: totals.errors };
  }

  /** Close a time interval (called by the engine's timer for groups sampled by time). */
  sampleInterval(): void {
    this.intervalSamples.push(this.interval.sample(this.intervalIndex++));
  }

  report(lastSecond: number): GroupReport {
    this.series.sample(lastSecond);
    if (this.sampleEvery !== undefined && this.sampleEvery.kind === 'time') this.sampleInterval();
    return {
      group: this.name,
      latency: {
        connect: this.connect.encode(),
        subscribe: this.subscribe.encode(),
        publish: this.publish.encode(),
        e2e: this.e2e.encode(),
        retained: this.retained.encode(),
      },
      series: this.series.series(),
      intervals: this.intervalSamples,
      receivers: [...this.receivers].map(([clientId, t]) => ({ clientId, streams: t.streams() })),
      published: this.published.map((s) => ({
        ...s,
        progress: this.sentProgress.get(s)?.progress ?? [],
        // A connection still open at the end that was open at a fault: what it carried, it carried before the fault.
        faultFrontiers: s.faultFrontiers?.map((f) => (f < 0 ? takenThrough(s) : f)) ?? null,
      })),
      coverage: this.coverage,
      received: { ...this.received },
      retainedReceived: { ...this.retainedReceived },
      connected: { ...this.connected },
      progressCutAt: this.progressCutAt,
      ...(this.e2eBySource === undefined
        ? {}
        : { e2eBySource: Object.fromEntries([...this.e2eBySource].map(([source, h]) => [String(source), h.encode()])) }),
    };
  }
}

/** What the broker had taken of a stream: acknowledged, or for QoS 2 answered with PUBREC. */
export function takenThrough(s: PublishedStream): number {
  return Math.max(s.ackedThrough, s.recThrough);
}
