/**
 * The facts every report states, phrased once: the verdict and why, the QoS promise sentences, latency rows by
 * scope, errors by kind, and counter names. Console, Markdown and HTML all read from here, so they never disagree.
 */
import type { DeliveryCounts, DeliveryVerdict } from '../metrics/delivery.js';
import type { LatencySummary } from '../metrics/histogram.js';
import type { CounterName } from '../metrics/series.js';
import type { FaultCounts } from '../metrics/fault-delivery.js';
import {
  LATENCY_NAMES,
  type BrokerSys,
  type FaultResult,
  type GroupResult,
  type LatencyName,
  type RunResult,
  type SpanMs,
  type SysPoint,
} from '../run/result.js';
import { formatCount, formatDuration, formatMs, formatRate, plural } from './format.js';
import { partialText } from './shards.js';

export interface Verdict {
  passed: boolean;
  /** "PASSED" or "FAILED". */
  word: 'PASSED' | 'FAILED';
  /** One line: what decided the verdict, e.g. "1 of 3 thresholds failed". */
  summary: string;
  /** What made the run fail, one line each (empty when it passed). */
  reasons: string[];
  /** Worth knowing, but not part of the verdict (broken delivery promises, clients that gave up, errors). */
  warnings: string[];
}

export function verdictOf(r: RunResult): Verdict {
  const failed = r.thresholds.filter((t) => !t.passed);
  const reasons: string[] = [];
  const parts: string[] = [];
  if (r.stoppedBy === 'interrupted') {
    reasons.push('the run was interrupted before it ended');
    parts.push('interrupted');
  }
  if (r.stoppedBy === 'broker-lost') {
    const failed = r.faults.find((f) => f.error !== null && f.backAtMs === null);
    reasons.push(failed?.error ?? 'the broker did not come back after a fault');
    parts.push('the broker did not come back after a fault');
  }
  if (failed.length > 0) {
    parts.push(`${formatCount(failed.length)} of ${plural(r.thresholds.length, 'threshold')} failed`);
    for (const t of failed) reasons.push(`threshold failed: ${t.describe}`);
  }
  let summary: string;
  if (r.passed) {
    summary = r.thresholds.length === 0
      ? 'no thresholds were set'
      : `every threshold held (${formatCount(r.thresholds.length)} of ${formatCount(r.thresholds.length)})`;
  } else if (parts.length > 0) {
    summary = parts.join('; ');
  } else {
    // The run marked itself failed for a reason the result does not itemise; say so rather than invent one.
    summary = 'the run reported a failure';
    reasons.push('the run reported a failure without a failed threshold');
  }
  // A partial merge (mqbench merge --allow-partial) judges only the shards that ran: the verdict says so first.
  const partial = partialText(r);
  if (partial !== undefined) summary = `${partial} (only the shards that ran are judged); ${summary}`;
  return { passed: r.passed, word: r.passed ? 'PASSED' : 'FAILED', summary, reasons, warnings: warningsOf(r) };
}

function warningsOf(r: RunResult): string[] {
  const out: string[] = [];
  for (const v of r.delivery.verdicts) {
    if (v.held === false) out.push(qosVerdictText(v));
  }
  for (const f of r.faults) {
    const lost = f.delivery.qos1.lostAcknowledged + f.delivery.qos2.lostAcknowledged;
    if (lost > 0) out.push(`fault ${f.index} (${f.action}): ${plural(lost, 'acknowledged message')} lost across it`);
  }
  if (r.failedClients > 0) out.push(`${plural(r.failedClients, 'client')} gave up (connect failed for good or the connection was lost)`);
  if (r.totals.errorsTotal > 0) out.push(`${plural(r.totals.errorsTotal, 'error')} (see errors)`);
  for (const name of LATENCY_NAMES) {
    const s = r.latency[name];
    if (s === undefined) continue;
    if (s.belowRange > 0) out.push(`${plural(s.belowRange, `${name} sample`)} below 0 µs, recorded as 0: clocks disagree`);
    if (s.aboveRange > 0) out.push(`${plural(s.aboveRange, `${name} sample`)} above one hour, recorded as one hour`);
  }
  return out;
}

/**
 * One sentence per QoS level, e.g. "QoS 1 promise held: nothing acknowledged was lost". The counts quoted are the
 * verdict's own.
 */
export function qosVerdictText(v: DeliveryVerdict): string {
  const c = v.counts;
  // In flight at stop is never part of a verdict; say so where it would otherwise read as missing.
  const inFlight = c.inFlightAtStop > 0 ? ` (${formatCount(c.inFlightAtStop)} in flight at stop, not judged)` : '';
  if (v.qos === 0) return `QoS 0 (at most once) promises nothing: ${plural(c.lost, 'message')} lost${inFlight}`;
  if (v.held === true) {
    return v.qos === 1
      ? `QoS 1 promise held: nothing acknowledged was lost${inFlight}`
      : `QoS 2 promise held: nothing acknowledged was lost or duplicated${inFlight}`;
  }
  if (v.held === false) {
    const problems: string[] = [];
    if (c.lostAcknowledged > 0) problems.push(`${plural(c.lostAcknowledged, 'acknowledged message')} lost`);
    if (v.qos === 2 && c.duplicated > 0) problems.push(`${plural(c.duplicated, 'message')} duplicated`);
    return `QoS ${v.qos} promise BROKEN: ${problems.length > 0 ? problems.join(', ') : v.detail}${inFlight}`;
  }
  return `QoS ${v.qos} promise not checked: nothing was acknowledged${inFlight}`;
}

/**
 * Delivery in one line: the judged streams' losses, or, when no stream was judged, why; the same words in every
 * report. "lost 0 · duplicated 0 · out of order 0 · 6 streams".
 */
export function deliveryLine(r: RunResult): string {
  const d = r.delivery.total;
  const u = r.delivery.unjudged;
  if (d.streams === 0) {
    const unjudged = u.messages > 0 ? `; ${plural(u.messages, 'message')} on ${plural(u.streams, 'stream')} not judged (see notes)` : '';
    return `no live message was expected or received${unjudged}`;
  }
  const inFlight = r.stoppedBy !== 'completed' ? `in flight at stop ${formatCount(d.inFlightAtStop)} · ` : '';
  return (
    `lost ${formatCount(d.lost)} · duplicated ${formatCount(d.duplicated)} · out of order ${formatCount(d.outOfOrder)} · ` +
    inFlight +
    plural(d.streams, 'stream')
  );
}

/** A phrase as a sentence: capital first letter, final full stop. */
export function sentence(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${text.endsWith('.') ? '' : '.'}`;
}

/**
 * The retained copies in one sentence, or undefined when none arrived: "50 retained copies sent on SUBSCRIBE, …"
 * (`noun` false leaves "retained" out, for a line already labelled so).
 */
export function retainedLine(r: RunResult, noun = true): string | undefined {
  const n = r.totals.counters.retainedReceived ?? 0;
  if (n === 0) return undefined;
  const s = r.latency.retained;
  const age = s !== undefined && s.count > 0 ? `: age p50 ${formatMs(s.p50)}, max ${formatMs(s.max)}` : '';
  const what = noun ? plural(n, 'retained copy', 'retained copies') : plural(n, 'copy', 'copies');
  return `${what} sent on SUBSCRIBE, counted apart from live deliveries${age}`;
}

/** What queue depth is and how exact, in every report's words (see metrics/queue-depth.ts). */
export const QUEUE_DEPTH_MEANING =
  'Messages each subscriber was behind — sent to it and not yet received by it — at the end of each second of the run, ' +
  "counted from the publishers' and subscribers' own tallies: exact counts, read within milliseconds of the second's end, " +
  'so a message in transit then counts as behind. Only streams a subscriber was subscribed to for their whole life ' +
  '(those delivery accounting judges); a message the broker dropped stays behind to the end. Not read from the broker: ' +
  "the broker's own count follows, when it publishes one.";

/** A group's backlog in one line: "up to 215 behind at the end of second 1 (laggard); 0 at the end". */
export function queueDepthLine(g: GroupResult): string | undefined {
  const q = g.queueDepth;
  if (q === undefined || q.seconds === 0) return undefined;
  let peakSecond = 0;
  for (let s = 1; s < q.seconds; s++) if (q.max[s] > q.max[peakSecond]) peakSecond = s;
  const peak = q.max[peakSecond];
  const last = q.total[q.seconds - 1];
  if (peak === 0) return `no subscriber was behind at the end of any second (${plural(q.subscribers, 'subscriber')})`;
  const who = q.worst.length > 0 && q.worst[0].peak === peak ? ` (${q.worst[0].clientId})` : '';
  return (
    `up to ${formatCount(peak)} behind at the end of second ${formatCount(peakSecond)}${who}; ` +
    `${formatCount(last)} at the end (${plural(q.subscribers, 'subscriber')})`
  );
}

/**
 * Whether a group's queue depth is a backlog worth a line in the console summary: at some second's end its
 * subscribers were behind by more than a tenth of a second of the traffic they received (a message or two in transit
 * at a tick is not), or by anything when they received no live traffic at all. report.md and report.html show the
 * depth whatever it is.
 */
export function queueDepthNotable(g: GroupResult): boolean {
  const q = g.queueDepth;
  if (q === undefined) return false;
  const rate = g.totals.receivedPerSec;
  const limit = rate === null ? 0 : rate / 10;
  return q.total.some((n) => n > limit);
}

/** What the broker's own figures are and how they line up with queue depth, in every report's words. */
export const BROKER_SYS_MEANING =
  "What the broker itself published on $SYS during the run, read by one extra connection that counts in none of the run's " +
  'figures: $SYS/broker/store/messages/count, the messages in its store — retained ones (its own $SYS values among them) ' +
  'and those held for sessions, in flight or queued — and $SYS/broker/retained messages/count; held for sessions is the ' +
  'first less the second. A broker publishes them every sys_interval seconds, each only when it changed (mqbench starts ' +
  'the bundled broker and Mosquitto with sys_interval 1); a value counts from the second it arrived in until the next one.';

/**
 * One value per second 0..seconds-1 of a $SYS series: the last value that had arrived by the end of that second (a
 * broker publishes a value only when it changed); NaN before the first.
 */
export function sysPerSecond(points: readonly SysPoint[], seconds: number): number[] {
  const out = new Array<number>(seconds).fill(Number.NaN);
  let i = 0;
  let value = Number.NaN;
  for (let s = 0; s < seconds; s++) {
    while (i < points.length && points[i].second <= s) value = points[i++].value;
    out[s] = value;
  }
  return out;
}

/** The seconds a run's $SYS figures cover: up to the last value that arrived, and at least the queue depth's seconds. */
export function sysSeconds(r: RunResult): number {
  const sys = r.broker.sys;
  let seconds = 0;
  for (const g of r.groups) if (g.queueDepth !== undefined) seconds = Math.max(seconds, g.queueDepth.seconds);
  if (sys === null) return seconds;
  for (const points of [sys.storedMessages, sys.retainedMessages, sys.dropped, sys.clientsConnected]) {
    if (points.length > 0) seconds = Math.max(seconds, points[points.length - 1].second + 1);
  }
  return seconds;
}

/** Messages the broker held for sessions, per second: its store count less its retained count; NaN where one is unknown. */
export function brokerHeldPerSecond(sys: BrokerSys, seconds: number): number[] {
  const stored = sysPerSecond(sys.storedMessages, seconds);
  const retained = sysPerSecond(sys.retainedMessages, seconds);
  return stored.map((n, s) => Math.max(0, n - retained[s]));
}

/** The engine's queue depth summed over every group, per second (0 where a group's series had ended). */
export function behindPerSecond(r: RunResult, seconds: number): number[] {
  const out = new Array<number>(seconds).fill(0);
  for (const g of r.groups) {
    const q = g.queueDepth;
    if (q === undefined) continue;
    for (let s = 0; s < Math.min(seconds, q.seconds); s++) out[s] += q.total[s];
  }
  return out;
}

/**
 * The broker's store in one line: "the broker's store ($SYS/broker/store/messages/count): up to 276 messages at
 * second 1, 61 retained among them; 61 at the end; 0 dropped during the run", or why there is nothing to say.
 * Undefined when $SYS was not read (`sysTopics: false`).
 */
export function brokerStoreLine(r: RunResult): string | undefined {
  const sys = r.broker.sys;
  if (sys === null) return undefined;
  if (sys.missing !== null) return `the broker published no $SYS figures: ${sys.missing}`;
  const stored = sys.storedMessages;
  if (stored.length === 0) return 'the broker published no $SYS/broker/store/messages/count (other $SYS figures arrived)';
  let peak = stored[0];
  for (const p of stored) if (p.value > peak.value) peak = p;
  const retained = sysPerSecond(sys.retainedMessages, peak.second + 1)[peak.second];
  const among = Number.isFinite(retained) ? `, ${formatCount(retained)} retained among them` : '';
  const last = stored[stored.length - 1];
  const dropped = sys.dropped;
  const drops =
    dropped.length > 0 ? `; ${formatCount(dropped[dropped.length - 1].value - dropped[0].value)} dropped during the run` : '';
  return (
    `the broker's store ($SYS/broker/store/messages/count): up to ${plural(peak.value, 'message')} at second ` +
    `${formatCount(peak.second)}${among}; ${formatCount(last.value)} at the end${drops}`
  );
}

/** How every report explains its message rates (see metrics/rates.ts). */
export const RATE_DEFINITION =
  'a rate is the messages after the first divided by the time from the first to the last message of that kind: ' +
  'the average while that traffic flowed (a ramp-up counts, seconds before and after it do not)';

/**
 * A count of messages with its rate and span, as every report prints it: "2,000 (816/s over 2.45 s)", "1 (a single
 * message: no rate)", "0".
 */
export function trafficText(messages: number, perSec: number | null, span: SpanMs | null): string {
  const count = formatCount(messages);
  if (messages === 0) return count;
  if (perSec === null) return `${count} (${messages === 1 ? 'a single message' : 'all at one instant'}: no rate)`;
  const over = span === null ? '' : ` over ${formatDuration(span.lastMs - span.firstMs)}`;
  return `${count} (${formatRate(perSec)}${over})`;
}

/** A rate for a table cell: "–" when nothing of that kind flowed, "n/a" for a single message, else "816/s". */
export function rateCell(messages: number, perSec: number | null): string {
  return messages === 0 ? '–' : formatRate(perSec);
}

/**
 * What was received, as every report words it: live deliveries with their rate and span, and the retained copies a
 * SUBSCRIBE brought after a "+": "600 (302/s over 2.0 s)", "0 + 50 retained copies".
 */
export function receivedText(t: RunResult['totals']): string {
  const retained = t.counters.retainedReceived ?? 0;
  const live = trafficText(t.counters.messagesReceived - retained, t.receivedPerSec, t.receivedSpan);
  return retained > 0 ? `${live} + ${plural(retained, 'retained copy', 'retained copies')}` : live;
}

/** ", from 0.300 s to 2.750 s of the run" for a span, "" without one. */
export function spanClause(span: SpanMs | null): string {
  if (span === null) return '';
  return `, from ${(span.firstMs / 1000).toFixed(3)} s to ${(span.lastMs / 1000).toFixed(3)} s of the run`;
}

/** A latency summary with where it was measured: the whole run or one group. */
export interface LatencyRow {
  /** "all clients" or the group name. */
  scope: string;
  isGroup: boolean;
  name: LatencyName;
  summary: LatencySummary;
}

export const ALL_CLIENTS = 'all clients';

/** Latencies with samples: the run's first, then each group's, in `LATENCY_NAMES` order. */
export function latencyRows(r: RunResult, withGroups = true): LatencyRow[] {
  const rows: LatencyRow[] = [];
  const add = (scope: string, isGroup: boolean, latency: Partial<Record<LatencyName, LatencySummary>>): void => {
    for (const name of LATENCY_NAMES) {
      const summary = latency[name];
      if (summary !== undefined && summary.count > 0) rows.push({ scope, isGroup, name, summary });
    }
  };
  add(ALL_CLIENTS, false, r.latency);
  if (withGroups) for (const g of r.groups) add(g.name, true, g.latency);
  return rows;
}

/** Error kinds with a count above zero, most frequent first (ties by name). */
export function errorKinds(errors: Record<string, number>): Array<[kind: string, count: number]> {
  return Object.entries(errors)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Counters as a reader would name them, in reading order. */
export const COUNTER_LABELS: ReadonlyArray<[CounterName, string]> = [
  ['messagesSent', 'messages sent'],
  ['messagesReceived', 'messages received'],
  ['retainedReceived', 'of which retained copies sent on SUBSCRIBE'],
  ['acksReceived', 'QoS 1/2 publishes acknowledged'],
  ['publishesFailed', 'publishes failed'],
  ['bytesSent', 'bytes sent'],
  ['bytesReceived', 'bytes received'],
  ['connectsOk', 'connects'],
  ['connectsFailed', 'connects failed'],
  ['disconnects', 'disconnects'],
  ['subscribesOk', 'subscribes'],
  ['subscribesFailed', 'subscribes failed'],
];

export const DELIVERY_COLUMNS: ReadonlyArray<[keyof DeliveryCounts, string]> = [
  ['streams', 'streams'],
  ['sent', 'sent'],
  ['acknowledged', 'acknowledged'],
  ['received', 'received'],
  ['lost', 'lost'],
  ['lostAcknowledged', 'lost (acknowledged)'],
  ['inFlightAtStop', 'in flight at stop'],
  ['duplicated', 'duplicated'],
  ['outOfOrder', 'out of order'],
  ['late', 'late'],
];

/**
 * The delivery columns a run's tables show: "in flight at stop" only for a run stopped before it completed (in one
 * that completed it is 0 by definition).
 */
export function deliveryColumns(r: RunResult): ReadonlyArray<[keyof DeliveryCounts, string]> {
  return r.stoppedBy === 'completed' ? DELIVERY_COLUMNS.filter(([key]) => key !== 'inFlightAtStop') : DELIVERY_COLUMNS;
}

/** Target, as one line: "bundled mqtt://127.0.0.1:1883 (MQTT 5)". */
export function describeTarget(r: RunResult): string {
  const protocol = r.target.protocol === '' ? '' : ` (${r.target.protocol})`;
  return `${r.target.kind} ${r.target.url}${protocol}`;
}

export const STOPPED_BY: Record<RunResult['stoppedBy'], string> = {
  completed: 'every client finished its steps',
  duration: 'the duration limit was reached',
  interrupted: 'interrupted',
  'broker-lost': 'the broker did not come back after a fault',
};

/** What the fault figures are, in every report's words. */
export const FAULTS_MEANING =
  'At each fault mqbench stopped the broker it had started (kill-broker: SIGKILL, as kill -9; restart-broker: SIGTERM) ' +
  'and started it again with the same config, data directory and port. Acknowledged then lost: messages the broker ' +
  'had acknowledged (PUBACK, PUBCOMP) before the fault, and after the fault before it, that a subscriber which should ' +
  'have had them never received, counted per subscriber as the delivery table counts. Duplicated after: messages a ' +
  'subscriber received again after the fault, before the next one.';

/** What a fault did, in one line: "kill-broker (SIGKILL) at 3.0 s: the broker was killed by SIGKILL, back after 212 ms". */
export function faultLine(f: FaultResult): string {
  const head = `${f.action} (${f.signal}) at ${formatDuration(f.atMs)}`;
  if (f.firedAtMs === null) return `${head}: did not happen, the run ended first`;
  const late = f.firedAtMs - f.atMs >= 100 ? ` (sent at ${formatDuration(f.firedAtMs)})` : '';
  const exit = f.brokerExit === null ? 'the broker could not be stopped' : `the broker ${f.brokerExit.startsWith('killed') ? 'was ' : ''}${f.brokerExit}`;
  const cutShort = f.backAtMs !== null && f.stoppedAtMs !== null && f.backAtMs - f.stoppedAtMs < f.downForMs;
  const down = f.downForMs <= 0 ? '' : cutShort ? `, to stay down ${formatDuration(f.downForMs)} but started again when the run ended` : `, kept down ${formatDuration(f.downForMs)}`;
  if (f.backAtMs === null) return `${head}${late}: ${exit}${down}; ${f.error ?? 'it did not come back'}`;
  return `${head}${late}: ${exit}${down}, back after ${formatDuration(f.backAtMs - f.firedAtMs)}`;
}

/** The QoS levels a fault's delivery has something to say about: 1 and 2 with traffic, 0 only with duplicates. */
export function faultLevels(f: FaultResult): Array<[qos: 0 | 1 | 2, counts: FaultCounts]> {
  const levels: Array<[0 | 1 | 2, FaultCounts]> = [[0, f.delivery.qos0], [1, f.delivery.qos1], [2, f.delivery.qos2]];
  return levels.filter(([q, c]) => (q === 0 ? c.duplicated > 0 : c.acknowledged > 0 || c.lostAcknowledged > 0 || c.duplicated > 0));
}

/** A fault's delivery in one line: "acknowledged then lost: QoS 1 12 of 40, QoS 2 0 of 40 · duplicated after: QoS 1 3". */
export function faultDeliveryLine(f: FaultResult): string {
  const levels = faultLevels(f);
  if (levels.length === 0) return 'nothing acknowledged before it, nothing duplicated after it';
  const acked = levels.filter(([q]) => q > 0).map(([q, c]) => `QoS ${q} ${formatCount(c.lostAcknowledged)} of ${formatCount(c.acknowledged)}`);
  const dups = levels.filter(([, c]) => c.duplicated > 0).map(([q, c]) => `QoS ${q} ${formatCount(c.duplicated)}`);
  const parts: string[] = [];
  if (acked.length > 0) parts.push(`acknowledged then lost: ${acked.join(', ')}`);
  parts.push(dups.length > 0 ? `duplicated after: ${dups.join(', ')}` : 'no duplicates after');
  return parts.join(' · ');
}
