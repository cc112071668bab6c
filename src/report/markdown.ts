/**
 * report.md: the run as a readable Markdown document (GitHub-flavoured tables), verdict first.
 */
import type { DeliverySummary } from '../metrics/delivery.js';
import { LATENCY_MEANING, LATENCY_NAMES, type GroupResult, type RunResult } from '../run/result.js';
import {
  behindPerSecond,
  BROKER_SYS_MEANING,
  brokerHeldPerSecond,
  brokerStoreLine,
  COUNTER_LABELS,
  deliveryColumns,
  deliveryLine,
  describeTarget,
  faultLevels,
  faultLine,
  FAULTS_MEANING,
  errorKinds,
  latencyRows,
  qosVerdictText,
  QUEUE_DEPTH_MEANING,
  queueDepthLine,
  RATE_DEFINITION,
  receivedText,
  rateCell,
  retainedLine,
  sentence,
  spanClause,
  STOPPED_BY,
  sysPerSecond,
  sysSeconds,
  trafficText,
  verdictOf,
} from './facts.js';
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatMs,
  formatOffset,
  oneLine,
  plural,
} from './format.js';
import { e2eClockText, SHARD_COLUMNS, shardRows } from './shards.js';

/** Rows of a subscriber interval table shown per group; the full series is in summary.json. */
const INTERVAL_ROWS = 300;
/** Takeover client ids listed before "and N more". */
const TAKEOVER_IDS = 50;

export function renderMarkdown(r: RunResult): string {
  const out: string[] = [];
  const verdict = verdictOf(r);

  out.push(`# mqbench report: ${md(r.scenario.name)}`, '');
  if (r.scenario.description.trim() !== '') out.push(mdStart(r.scenario.description), '');

  out.push('## Verdict', '');
  out.push(`**${verdict.word}**: ${md(verdict.summary)}`, '');
  for (const reason of verdict.reasons) out.push(`- ${mdStart(reason)}`);
  if (verdict.reasons.length > 0) out.push('');
  if (verdict.warnings.length > 0) {
    out.push('Also worth a look:', '');
    for (const w of verdict.warnings) out.push(`- ${mdStart(w)}`);
    out.push('');
  }

  out.push('## Run', '');
  out.push(
    ...table(['', ''], [
      ['scenario', `${md(r.scenario.name)} (${code(r.scenario.file)})`],
      ['target', md(describeTarget(r))],
      ['started', md(r.startedAt)],
      ['ended', md(r.endedAt)],
      ['duration', formatDuration(r.durationMs)],
      ['stopped by', STOPPED_BY[r.stoppedBy]],
      ['workers', formatCount(r.workers)],
      ['clients', `${formatCount(r.clients)} (${formatCount(r.failedClients)} gave up)`],
      ['tool', `mqbench ${md(r.tool.version)}`],
    ], ['left', 'left']),
    '',
  );

  if (r.shards !== undefined) {
    out.push('## Shards', '');
    out.push(
      ...table([...SHARD_COLUMNS], shardRows(r).map((row) => row.map(md)), ['right', 'right', 'left', 'right', 'right', 'right', 'right', 'left']),
      '',
    );
    out.push(`- ${md(e2eClockText(r) ?? '')}`);
    if (r.shards.sameHostStartSpreadUs !== null) out.push(`- time zeros of shards on one host within ${(r.shards.sameHostStartSpreadUs / 1000).toFixed(3)} ms`);
    out.push('');
  }

  out.push('## Throughput', '');
  out.push(...throughputLines(r).map((line) => `- ${line}`), '');
  out.push(...counterTable(r), '');
  if (r.groups.length > 0) {
    out.push(
      ...table(
        ['group', 'clients', 'sent', 'received', 'sent/s', 'received/s', 'errors'],
        r.groups.map((g) => [
          md(g.name),
          formatCount(g.clients),
          formatCount(g.totals.counters.messagesSent),
          formatCount(g.totals.counters.messagesReceived),
          rateCell(g.totals.counters.messagesSent, g.totals.sentPerSec),
          rateCell(g.totals.counters.messagesReceived - g.totals.counters.retainedReceived, g.totals.receivedPerSec),
          formatCount(g.totals.errorsTotal),
        ]),
        ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
      '',
    );
  }

  out.push('## Latency', '');
  const rows = latencyRows(r);
  if (rows.length === 0) {
    out.push('No latency samples.', '');
  } else {
    out.push(
      ...table(
        ['scope', 'latency', 'count', 'min', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'max', 'mean'],
        rows.map((row) => {
          const s = row.summary;
          return [
            md(row.scope), row.name, formatCount(s.count), formatMs(s.min), formatMs(s.p50), formatMs(s.p90),
            formatMs(s.p95), formatMs(s.p99), formatMs(s.p99_9), formatMs(s.max), formatMs(s.mean),
          ];
        }),
        ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
      '',
    );
    const measured = LATENCY_NAMES.filter((name) => rows.some((row) => row.name === name));
    for (const name of measured) out.push(`- **${name}**: ${LATENCY_MEANING[name]}`);
    if (r.shards !== undefined && r.shards.crossShardDeliveries > 0) out.push(`- **e2e across shards**: ${md(e2eClockText(r) ?? '')}`);
    out.push('');
    for (const row of rows) {
      const s = row.summary;
      if (s.belowRange > 0 || s.aboveRange > 0) {
        out.push(
          `- ${md(row.scope)} ${row.name}: ${formatCount(s.belowRange)} below 0 µs (recorded as 0), ` +
            `${formatCount(s.aboveRange)} above one hour (recorded as one hour)`,
        );
      }
    }
    if (rows.some((row) => row.summary.belowRange > 0 || row.summary.aboveRange > 0)) out.push('');
  }

  out.push('## Delivery', '');
  out.push(...deliverySection(r), '');

  out.push('### Streams with problems', '');
  if (r.delivery.problemStreams === 0) {
    out.push('None: no stream lost, duplicated or reordered a message.', '');
  } else {
    out.push(
      `${plural(r.delivery.problemStreams, 'stream')} lost, duplicated or reordered something` +
        (r.delivery.problems.length < r.delivery.problemStreams ? `; the worst ${formatCount(r.delivery.problems.length)}:` : ':'),
      '',
    );
    out.push(
      ...table(
        ['receiver', 'publisher', 'topic', 'QoS', 'sent', 'acknowledged', 'received', 'lost', 'duplicated', 'out of order'],
        r.delivery.problems.map((p) => [
          code(p.receiver), code(p.publisher), code(p.topic), String(p.qos), formatCount(p.sent),
          formatCount(p.acknowledged), formatCount(p.received), formatCount(p.lost), formatCount(p.duplicated),
          formatCount(p.outOfOrder),
        ]),
        ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
      '',
    );
  }

  if (r.faults.length > 0) out.push('## Faults', '', ...faultsSection(r), '');

  out.push('## Queue depth', '');
  out.push(...queueDepthSection(r), '');
  const broker = brokerSection(r);
  if (broker.length > 0) out.push("### The broker's view ($SYS)", '', ...broker, '');

  out.push('## Errors', '');
  out.push(...errorsSection(r), '');

  out.push('## Takeovers and notes', '');
  if (r.takeovers.count === 0) {
    out.push('Takeovers: none.', '');
  } else {
    const ids = r.takeovers.clientIds.slice(0, TAKEOVER_IDS).map(code);
    const more = r.takeovers.clientIds.length > TAKEOVER_IDS ? ` and ${formatCount(r.takeovers.clientIds.length - TAKEOVER_IDS)} more` : '';
    out.push(
      `${plural(r.takeovers.count, 'takeover')} (a connection closed because another client connected with the same id)` +
        (ids.length > 0 ? `; client ids: ${ids.join(', ')}${more}.` : '.'),
      '',
    );
  }
  if (r.notes.length === 0) {
    out.push('Notes: none.', '');
  } else {
    for (const note of r.notes) out.push(`- ${mdStart(note)}`);
    out.push('');
  }

  out.push('## Thresholds', '');
  if (r.thresholds.length === 0) {
    out.push('None set.', '');
  } else {
    out.push(
      ...table(
        ['result', 'threshold', 'measured'],
        r.thresholds.map((t) => [t.passed ? 'pass' : '**FAIL**', code(t.threshold.source), md(t.describe)]),
        ['left', 'left', 'left'],
      ),
      '',
    );
  }

  out.push('## Subscriber intervals', '');
  const sampled = r.groups.filter((g) => g.intervals.length > 0);
  if (sampled.length === 0) {
    out.push('None: no group sampled its subscribers by interval.', '');
  } else {
    for (const g of sampled) out.push(...intervalSection(g), '');
  }

  return out.join('\n').replace(/\n+$/, '') + '\n';
}

/** The headline rates and what they mean, one line each (shared wording with report.html). */
function throughputLines(r: RunResult): string[] {
  const t = r.totals;
  const c = t.counters;
  const lines = [
    `Sent **${md(trafficText(c.messagesSent, t.sentPerSec, t.sentSpan))}**${spanClause(t.sentSpan)}.`,
    `Received **${md(receivedText(t))}**${spanClause(t.receivedSpan)}.`,
  ];
  if (t.busiestSent !== null || t.busiestReceived !== null) {
    const parts: string[] = [];
    if (t.busiestSent !== null) parts.push(`${formatCount(t.busiestSent.messages)} sent (second ${formatCount(t.busiestSent.second)})`);
    if (t.busiestReceived !== null) parts.push(`${formatCount(t.busiestReceived.messages)} received (second ${formatCount(t.busiestReceived.second)})`);
    lines.push(`Busiest whole second: ${parts.join(', ')}.`);
  }
  lines.push(`${RATE_DEFINITION[0].toUpperCase()}${RATE_DEFINITION.slice(1)}.`);
  return lines;
}

function counterTable(r: RunResult): string[] {
  const c = r.totals.counters;
  const rows = COUNTER_LABELS.map(([name, label]) => [
    label,
    name === 'bytesSent' || name === 'bytesReceived' ? `${formatBytes(c[name])} (${formatCount(c[name])})` : formatCount(c[name]),
  ]);
  return table(['counter', 'total'], rows, ['left', 'right']);
}

function deliverySection(r: RunResult): string[] {
  const out: string[] = [];
  const t = r.delivery.total;
  const retained = retainedLine(r);
  if (t.streams === 0) {
    out.push(md(sentence(deliveryLine(r))));
    if (retained !== undefined) out.push('', md(sentence(retained)));
    return out;
  }
  out.push(
    `Received ${formatCount(t.received)} over ${plural(t.streams, 'receiver-stream pair')}: ` +
      `${formatCount(t.lost)} lost, ${formatCount(t.duplicated)} duplicated, ${formatCount(t.outOfOrder)} out of order` +
      (r.stoppedBy !== 'completed' ? `, ${formatCount(t.inFlightAtStop)} in flight at stop (not lost: the run was stopped before it completed).` : '.'),
    '',
  );
  if (retained !== undefined) out.push(md(sentence(retained)), '');
  for (const v of r.delivery.verdicts) {
    const text = qosVerdictText(v);
    out.push(`- ${v.held === false ? `**${text}**` : text}`);
  }
  if (r.delivery.verdicts.length > 0) out.push('');
  const columns = deliveryColumns(r);
  out.push(...deliveryTable(r.delivery.summary, t, columns));
  const withStreams = r.groups.filter((g) => levels(g.delivery).length > 0);
  if (withStreams.length > 0) {
    out.push('', "By group (as each group's subscribers saw it):", '');
    const rows: string[][] = [];
    for (const g of withStreams) {
      for (const [qos, c] of levels(g.delivery)) {
        rows.push([md(g.name), String(qos), ...columns.map(([key]) => formatCount(c[key]))]);
      }
    }
    out.push(
      ...table(['group', 'QoS', ...columns.map(([, label]) => label)], rows, ['left', 'right', ...columns.map(() => 'right' as const)]),
    );
  }
  return out;
}

/** Each fault in a sentence, then one row per fault and QoS level with something to count. */
function faultsSection(r: RunResult): string[] {
  const out: string[] = [md(FAULTS_MEANING), ''];
  for (const f of r.faults) out.push(`${formatCount(f.index)}. ${md(sentence(faultLine(f)))}`);
  out.push('');
  const rows: string[][] = [];
  for (const f of r.faults) {
    const levels = faultLevels(f);
    if (levels.length === 0) rows.push([formatCount(f.index), f.action, '–', '0', '0', '0']);
    for (const [qos, c] of levels) {
      const lost = formatCount(c.lostAcknowledged);
      rows.push([
        formatCount(f.index),
        f.action,
        `QoS ${qos}`,
        formatCount(c.acknowledged),
        qos > 0 && c.lostAcknowledged > 0 ? `**${lost}**` : lost,
        formatCount(c.duplicated),
      ]);
    }
  }
  out.push(
    ...table(
      ['fault', 'action', 'QoS', 'acknowledged before', 'acknowledged then lost', 'duplicated after'],
      rows,
      ['right', 'left', 'left', 'right', 'right', 'right'],
    ),
  );
  return out;
}

function levels(s: DeliverySummary): Array<[number, DeliverySummary['qos0']]> {
  const all: Array<[number, DeliverySummary['qos0']]> = [[0, s.qos0], [1, s.qos1], [2, s.qos2]];
  return all.filter(([, c]) => c.streams > 0);
}

function deliveryTable(s: DeliverySummary, total: DeliverySummary['qos0'], columns: ReturnType<typeof deliveryColumns>): string[] {
  const rows = levels(s).map(([qos, c]) => [`QoS ${qos}`, ...columns.map(([key]) => formatCount(c[key]))]);
  rows.push(['**total**', ...columns.map(([key]) => formatCount(total[key]))]);
  return table(['', ...columns.map(([, label]) => label)], rows, ['left', ...columns.map(() => 'right' as const)]);
}

function queueDepthSection(r: RunResult): string[] {
  const groups = r.groups.filter((g) => g.queueDepth !== undefined && g.queueDepth.seconds > 0);
  if (groups.length === 0) return ['None: no subscriber had a stream to follow.'];
  const out: string[] = [md(QUEUE_DEPTH_MEANING), ''];
  for (const g of groups) {
    const q = g.queueDepth!;
    out.push(`### ${md(g.name)}`, '', `${md(sentence(queueDepthLine(g)!))}`, '');
    if (!q.max.some((n) => n > 0)) continue;
    const shown = Math.min(q.seconds, INTERVAL_ROWS);
    const rows: string[][] = [];
    for (let s = 0; s < shown; s++) rows.push([formatCount(s), formatCount(q.total[s]), formatCount(q.max[s])]);
    out.push(...table(['second', 'behind (all subscribers)', 'most behind (one subscriber)'], rows, ['right', 'right', 'right']), '');
    if (q.seconds > shown) out.push(`The first ${formatCount(shown)} of ${formatCount(q.seconds)} seconds; summary.json has them all.`, '');
  }
  while (out[out.length - 1] === '') out.pop();
  return out;
}

/** The broker's $SYS figures beside the engine's queue depth, second by second; nothing when $SYS was not read. */
function brokerSection(r: RunResult): string[] {
  const line = brokerStoreLine(r);
  const sys = r.broker.sys;
  if (line === undefined || sys === null) return [];
  const out = [md(BROKER_SYS_MEANING), '', md(sentence(line))];
  if (sys.storedMessages.length === 0) return out;
  const seconds = sysSeconds(r);
  const shown = Math.min(seconds, INTERVAL_ROWS);
  const stored = sysPerSecond(sys.storedMessages, seconds);
  const retained = sysPerSecond(sys.retainedMessages, seconds);
  const held = brokerHeldPerSecond(sys, seconds);
  const dropped = sysPerSecond(sys.dropped, seconds);
  const behind = behindPerSecond(r, seconds);
  const followed = r.groups.some((g) => g.queueDepth !== undefined);
  const cell = (n: number) => (Number.isFinite(n) ? formatCount(n) : '–');
  const rows: string[][] = [];
  for (let s = 0; s < shown; s++) {
    rows.push([formatCount(s), cell(stored[s]), cell(retained[s]), cell(held[s]), ...(followed ? [formatCount(behind[s])] : []), cell(dropped[s])]);
  }
  const header = ['second', 'store', 'retained', 'held for sessions', ...(followed ? ['behind (all subscribers, mqbench)'] : []), 'dropped since the broker started'];
  out.push('', ...table(header, rows, header.map(() => 'right' as const)));
  if (seconds > shown) out.push('', `The first ${formatCount(shown)} of ${formatCount(seconds)} seconds; summary.json has every value.`);
  return out;
}

function errorsSection(r: RunResult): string[] {
  const kinds = errorKinds(r.totals.errors);
  if (kinds.length === 0 && r.totals.errorsTotal === 0) return ['None.'];
  const out: string[] = [`${plural(r.totals.errorsTotal, 'error')} in all.`, ''];
  if (kinds.length > 0) {
    out.push(...table(['kind', 'count'], kinds.map(([kind, n]) => [code(kind), formatCount(n)]), ['left', 'right']), '');
  }
  if (r.errorExamples.length > 0) {
    out.push('Examples:', '');
    out.push(
      ...table(
        ['kind', 'client', 'at', 'detail'],
        r.errorExamples.map((e) => [code(e.kind), code(e.clientId), formatOffset(e.atMs), md(e.detail)]),
        ['left', 'left', 'right', 'left'],
      ),
    );
  }
  return out;
}

function intervalSection(g: GroupResult): string[] {
  const every = g.intervalEvery === undefined ? '' : ` (one row per ${md(g.intervalEvery)})`;
  const out = [`### ${md(g.name)}${every}`, ''];
  const shown = g.intervals.slice(0, INTERVAL_ROWS);
  out.push(
    ...table(
      ['interval', 'messages', 'min', 'p50', 'p90', 'p99', 'max', 'mean'],
      shown.map((i) => [
        formatCount(i.second),
        formatCount(i.messages),
        // An interval without messages has no latency; its zeros would read as instant deliveries.
        ...(i.messages === 0
          ? ['–', '–', '–', '–', '–', '–']
          : [formatMs(i.latency.min), formatMs(i.latency.p50), formatMs(i.latency.p90), formatMs(i.latency.p99), formatMs(i.latency.max), formatMs(i.latency.mean)]),
      ]),
      ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  if (g.intervals.length > shown.length) {
    out.push('', `The first ${formatCount(shown.length)} of ${formatCount(g.intervals.length)} intervals; summary.json has them all.`);
  }
  return out;
}

type Align = 'left' | 'right';

function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[]): string[] {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const rule = align.map((a) => (a === 'right' ? '---:' : '---'));
  return [line(header), line(rule), ...rows.map(line)];
}

/**
 * Text from the run made inert in Markdown: one line, HTML special characters as entities (a client id cannot
 * become a tag), and Markdown punctuation escaped (a topic cannot become a link, emphasis or a table cell break).
 */
export function md(text: string): string {
  return oneLine(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    // With "[" escaped no link can form, so "(", ")" and "!" stay as they are and prose stays readable.
    .replace(/[\\`*_[\]|~]/g, '\\$&');
}

/** Like `md`, for text that starts a line or a list item: it must not open a heading, a list or a rule there. */
export function mdStart(text: string): string {
  return md(text)
    .replace(/^(\s*)([#+=>-])/, '$1\\$2')
    .replace(/^(\s*\d+)([.)])/, '$1\\$2');
}

/**
 * An identifier (client id, topic, kind) as inline code. Entities are literal inside code spans, so only what ends
 * the span or the table cell needs care: backticks are avoided by a longer fence, and "|" is escaped as GFM tables
 * require even inside code.
 */
export function code(text: string): string {
  const s = oneLine(text).replace(/\|/g, '\\|');
  if (s === '') return '';
  let fence = '`';
  while (s.includes(fence)) fence += '`';
  const pad = s.startsWith('`') || s.endsWith('`') || (s.startsWith(' ') && s.endsWith(' ')) ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

// The GFM table builder, for the other Markdown reports.
export { table as markdownTable, type Align as MarkdownAlign };
