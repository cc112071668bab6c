/**
 * The result of one run, as plain data: what summary.json holds and what every report renders. Latencies are in
 * microseconds; times are ISO strings or milliseconds as named.
 */
import type { DeliveryCounts, DeliverySummary, DeliveryVerdict } from '../metrics/delivery.js';
import type { FaultDelivery } from '../metrics/fault-delivery.js';
import type { LatencySummary } from '../metrics/histogram.js';
import type { QueueDepth } from '../metrics/queue-depth.js';
import type { CounterName, CounterSeries, IntervalStats } from '../metrics/series.js';
import type { ThresholdResult } from '../metrics/thresholds.js';

export type LatencyName = 'connect' | 'subscribe' | 'publish' | 'e2e' | 'retained';
export const LATENCY_NAMES: readonly LatencyName[] = ['connect', 'subscribe', 'publish', 'e2e', 'retained'];

/** What a latency measures, for report legends. */
export const LATENCY_MEANING: Record<LatencyName, string> = {
  connect: 'socket open to CONNACK',
  subscribe: 'SUBSCRIBE to SUBACK',
  publish: 'PUBLISH to PUBACK (QoS 1) or PUBCOMP (QoS 2), from the intended send time',
  e2e: 'send time in the payload to arrival at a subscriber, live messages only',
  retained:
    'age of a retained copy a SUBSCRIBE brought (retain flag set, published before the subscription took effect): ' +
    'send time in the payload to arrival; kept out of e2e and of delivery accounting',
};

export interface Totals {
  counters: Record<CounterName, number>;
  /** Errors by kind (e.g. "connect-refused", "takeover", "connack-0x87"). */
  errors: Record<string, number>;
  errorsTotal: number;
  /**
   * Messages per second while they flowed: (messages − 1) ÷ (last − first message of that kind), see
   * metrics/rates.ts. Null with fewer than two messages. The same definition for the run, each group, thresholds
   * (`sent.rate`, `throughput`) and compare. Received means live deliveries: messagesReceived − retainedReceived
   * (retained copies a SUBSCRIBE brought are another kind, counted apart).
   */
  sentPerSec: number | null;
  receivedPerSec: number | null;
  /** Successful connections (CONNACKs) per second, by the same definition. */
  connectsPerSec: number | null;
  /** Retained copies a SUBSCRIBE brought, per second while they arrived, by the same definition. */
  retainedPerSec: number | null;
  /** From the first to the last message sent (live message received), ms since the run's start; null when none was. */
  sentSpan: SpanMs | null;
  receivedSpan: SpanMs | null;
  /** From the first to the last successful CONNACK. */
  connectedSpan: SpanMs | null;
  /** The most messages sent (live messages received) in one whole second of the run, and which second. */
  busiestSent: { second: number; messages: number } | null;
  busiestReceived: { second: number; messages: number } | null;
}

export interface SpanMs {
  firstMs: number;
  lastMs: number;
}

export interface GroupResult {
  name: string;
  clients: number;
  /** Only the latencies with samples. */
  latency: Partial<Record<LatencyName, LatencySummary>>;
  totals: Totals;
  /** Delivery as seen by this group's subscribers. */
  delivery: DeliverySummary;
  /** Subscriber interval statistics (sampleEvery), when the group subscribes. */
  intervals: IntervalStats[];
  /** The interval setting as written: "1s", "100 messages". */
  intervalEvery: string | undefined;
  /** Delivery across the run's broker faults as seen by this group's subscribers, one entry per fault. */
  faults: FaultDelivery[];
  /**
   * Messages this group's subscribers were behind (sent to them, not yet received) at the end of each second; see
   * metrics/queue-depth.ts for how exact. Undefined when no subscriber of the group had a stream to judge.
   */
  queueDepth?: QueueDepth;
}

/** One receiver's view of one publisher's stream, for the detail table (only streams with a problem are listed). */
export interface StreamRow {
  receiver: string;
  publisher: string;
  topic: string;
  qos: number;
  sent: number;
  acknowledged: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

export interface ErrorExampleRow {
  kind: string;
  clientId: string;
  detail: string;
  /** Milliseconds since the start of the run. */
  atMs: number;
}

/** A latency percentile curve: [percentile (0-100), value µs] points, as HdrHistogram's percentile iteration gives. */
export type PercentileCurve = [percentile: number, valueUs: number][];

/** One value of a `$SYS` topic and the second of the run (from its start, as the per-second series) it arrived in. */
export interface SysPoint {
  second: number;
  value: number;
}

/**
 * What the broker itself published on `$SYS/broker/...` during the run, read by one extra connection of the main
 * thread (run/sys-observer.ts). A broker publishes a topic only when its value changed (Mosquitto and the bundled
 * broker do), so each value holds until the next; the first may be the retained value from before the run.
 */
export interface BrokerSys {
  /**
   * `$SYS/broker/store/messages/count`: Mosquitto's message store, the retained messages (its own `$SYS` values
   * among them) and the messages held for sessions (in flight, queued), each message once.
   */
  storedMessages: SysPoint[];
  /** `$SYS/broker/retained messages/count`, the broker's `$SYS` values included. */
  retainedMessages: SysPoint[];
  /** `$SYS/broker/publish/messages/dropped`: messages dropped since the broker started. */
  dropped: SysPoint[];
  /** `$SYS/broker/clients/connected`: the connection that reads these included. */
  clientsConnected: SysPoint[];
  /**
   * Why no value arrived, when none did: "the broker refused the connection that reads them (CONNACK 5 Not
   * Authorized)", "no $SYS message arrived during the run". Null when values arrived.
   */
  missing: string | null;
}

/** One broker fault of the run (the scenario's `faults`): what was done and when, ms since the run's start. */
export interface FaultRun {
  /** From 1, in the scenario's order. */
  index: number;
  action: 'kill-broker' | 'restart-broker';
  signal: 'SIGKILL' | 'SIGTERM';
  /** When it was due, and for how long the broker was to stay down after it exited. */
  atMs: number;
  downForMs: number;
  /** When the signal was sent; null when the run ended before the fault was due. */
  firedAtMs: number | null;
  /** How the broker process ended: "killed by SIGKILL", "exited with code 0". */
  brokerExit: string | null;
  /** When the broker process had exited. */
  stoppedAtMs: number | null;
  /** When the broker accepted connections again; null when it did not come back (see error). */
  backAtMs: number | null;
  pidBefore: number | null;
  pidAfter: number | null;
  /** Why the fault did not complete: the broker did not come back, could not be stopped, or the run was stopped. */
  error: string | null;
  /** Workers that did not confirm the fault in time (their figures then split less exactly); normally 0. */
  unconfirmedWorkers: number;
}

/** A fault and, per QoS, what its subscribers lost of what the broker had acknowledged before it, and duplicates. */
export interface FaultResult extends FaultRun {
  delivery: FaultDelivery;
}

export interface RunResult {
  tool: { name: 'mqbench'; version: string };
  scenario: { name: string; description: string; file: string };
  target: { kind: 'bundled' | 'remote'; url: string; protocol: string };
  startedAt: string;
  endedAt: string;
  /** From the first client start to the end of the drain. */
  durationMs: number;
  /** `broker-lost`: a fault stopped the broker and it did not come back (or could not be stopped); see faults. */
  stoppedBy: 'completed' | 'duration' | 'interrupted' | 'broker-lost';
  workers: number;
  clients: number;
  /** Clients that gave up (connect failed for good, or the connection was lost with no reconnects left). */
  failedClients: number;
  latency: Partial<Record<LatencyName, LatencySummary>>;
  totals: Totals;
  delivery: {
    summary: DeliverySummary;
    total: DeliveryCounts;
    verdicts: DeliveryVerdict[];
    /** Streams that lost, duplicated or reordered something (at most 100, worst first). */
    problems: StreamRow[];
    problemStreams: number;
    /**
     * Streams that arrived at a subscriber whose subscription did not cover them whole (subscribed after a stream
     * began, unsubscribed before it ended, a shared subscription): counted as received, not judged for loss.
     * Retained copies are not streams (see latency.retained and counters.retainedReceived).
     */
    unjudged: { streams: number; messages: number };
  };
  groups: GroupResult[];
  /** Percentile curves per latency, for the whole run and per group name. */
  curves: {
    run: Partial<Record<LatencyName, PercentileCurve>>;
    groups: Record<string, Partial<Record<LatencyName, PercentileCurve>>>;
  };
  series: CounterSeries;
  thresholds: ThresholdResult[];
  errorExamples: ErrorExampleRow[];
  /** Client ids whose connections were closed because another client connected with the same id. */
  takeovers: { count: number; clientIds: string[] };
  /**
   * The scenario's broker faults, in order, with the delivery across each: acknowledged before it (after the one
   * before) and never delivered, and duplicates after it (before the next). Empty without faults.
   */
  faults: FaultResult[];
  /** The broker's own figures, from `$SYS`; `sys` is null when the scenario turned reading them off (`sysTopics: false`). */
  broker: { sys: BrokerSys | null };
  /** Plain-language findings (e.g. why a reconnect loop happened). */
  notes: string[];
  /** Every threshold held, the run was not interrupted, and the broker came back after every fault. */
  passed: boolean;
  /** A run split over several processes and merged (`mqbench merge`): the shards and their clocks. */
  shards?: ShardsResult;
}

/** How the shards of a merged run lined up (see docs/distributed.md). Times in µs unless named otherwise. */
export interface ShardsResult {
  count: number;
  /** Shard indexes merged, those not given to the merge, and those that failed (the last two with --allow-partial). */
  merged: number[];
  missing: number[];
  failed: Array<{ index: number; exitCode: number; message: string }>;
  /** Shards are missing or failed: the result holds only part of the run's clients. */
  partial: boolean;
  /** The start instant, on shard 0's clock. */
  startAt: string;
  /** The bound above which cross-shard end-to-end latencies are withheld (merge --max-clock-error). */
  maxClockErrorUs: number;
  /** The widest clock error bound of any pair of shards that exchanged messages; null when none did. */
  crossShardErrorUs: number | null;
  /** End-to-end deliveries from a publisher in another shard, and within one shard. */
  crossShardDeliveries: number;
  sameShardDeliveries: number;
  /** Cross-shard end-to-end latencies were above the bound: e2e figures are left out of this result. */
  e2eWithheld: boolean;
  /**
   * Shards that ran on one host (one boot of one machine) compare their time zeros on its monotonic clock: the
   * largest difference among them; null when no two shards shared a host.
   */
  sameHostStartSpreadUs: number | null;
  shards: ShardRow[];
}

export interface ShardRow {
  index: number;
  clients: number;
  host: string;
  /** This shard's clock minus shard 0's over the run, with its bound; null when it could not be measured. */
  offsetUs: number | null;
  errorUs: number | null;
  /** Offset after the run minus before it; null without both. */
  driftUs: number | null;
  /** How late this shard was ready for the start (its first clients started that late). */
  lateStartUs: number;
  /** The correction applied to this shard's times to put them on the merged timeline. */
  shiftUs: number;
  stoppedBy: RunResult['stoppedBy'];
}
