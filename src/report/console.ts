/**
 * The summary printed when a run ends: target and run facts, messages, delivery, broker faults, errors, a latency
 * table, notes, and last the verdict with every failed threshold. Colour only when asked.
 */
import type { RunResult } from '../run/result.js';
import {
  brokerStoreLine,
  deliveryLine,
  describeTarget,
  faultDeliveryLine,
  faultLine,
  errorKinds,
  latencyRows,
  qosVerdictText,
  queueDepthLine,
  queueDepthNotable,
  receivedText,
  retainedLine,
  STOPPED_BY,
  trafficText,
  verdictOf,
} from './facts.js';
import { formatCount, formatDuration, formatMsNumber, oneLine, plural, truncate } from './format.js';
import { e2eClockText, shardClockLines, shardsLine } from './shards.js';
import { alignColumns } from './text-table.js';

export interface SummaryOptions {
  /** ANSI colours for a terminal. */
  color: boolean;
}

const STYLE = {
  bold: '\u001b[1m',
  dim: '\u001b[2m',
  red: '\u001b[31m',
  green: '\u001b[32m',
  yellow: '\u001b[33m',
  reset: '\u001b[0m',
};

/** Most takeover client ids and error kinds named on one line before "and N more". */
const LIST_LIMIT = 5;

export function renderSummary(r: RunResult, options: SummaryOptions = { color: false }): string {
  const paint = (style: keyof typeof STYLE, text: string): string =>
    options.color ? `${STYLE[style]}${text}${STYLE.reset}` : text;
  const label = (text: string): string => paint('dim', text.padEnd(10));
  const lines: string[] = [];

  lines.push(`${paint('bold', `mqbench ${oneLine(r.tool.version)}`)}  ${oneLine(r.scenario.name)}  (${oneLine(r.scenario.file)})`);
  lines.push(`${label('target')}${oneLine(describeTarget(r))}`);
  lines.push(
    `${label('run')}${formatDuration(r.durationMs)}, ${STOPPED_BY[r.stoppedBy]} · ${plural(r.workers, 'worker')} · ` +
      `${plural(r.clients, 'client')}, ${formatCount(r.failedClients)} gave up`,
  );
  const shards = shardsLine(r);
  if (shards !== undefined) {
    lines.push(`${label('shards')}${r.shards!.partial ? paint('yellow', oneLine(shards)) : oneLine(shards)}`);
    for (const line of shardClockLines(r)) lines.push(`${label('')}${truncate(oneLine(line), 160)}`);
  }
  lines.push('');

  const t = r.totals;
  lines.push(
    `${label('messages')}sent ${trafficText(t.counters.messagesSent, t.sentPerSec, t.sentSpan)} · ` +
      `received ${receivedText(t)}`,
  );

  lines.push(`${label('delivery')}${deliveryLine(r)}`);
  for (const v of r.delivery.verdicts) {
    const text = qosVerdictText(v);
    lines.push(`${' '.repeat(10)}${v.held === false ? paint('red', text) : text}`);
  }

  for (const f of r.faults) {
    const broken = f.delivery.qos1.lostAcknowledged + f.delivery.qos2.lostAcknowledged > 0 || f.error !== null;
    lines.push(`${label(f.index === 1 ? 'faults' : '')}${f.index} ${oneLine(faultLine(f))}`);
    const delivery = oneLine(faultDeliveryLine(f));
    lines.push(`${' '.repeat(10)}  ${broken ? paint('red', delivery) : delivery}`);
  }

  let backlogs = 0;
  for (const g of r.groups) {
    const backlog = queueDepthLine(g);
    if (backlog === undefined || !queueDepthNotable(g)) continue;
    lines.push(`${label('backlog')}${oneLine(g.name)}: ${oneLine(backlog)}`);
    backlogs++;
  }
  // Beside a backlog, what the broker itself said about it.
  const store = backlogs > 0 ? brokerStoreLine(r) : undefined;
  if (store !== undefined) lines.push(`${label('')}${oneLine(store)}`);
  const retained = retainedLine(r, false);
  if (retained !== undefined) lines.push(`${label('retained')}${oneLine(retained)}`);

  const kinds = errorKinds(r.totals.errors);
  if (r.totals.errorsTotal === 0 && kinds.length === 0) {
    lines.push(`${label('errors')}none`);
  } else {
    const named = kinds.slice(0, LIST_LIMIT).map(([kind, n]) => `${oneLine(kind)} ${formatCount(n)}`);
    if (kinds.length > LIST_LIMIT) named.push(`${kinds.length - LIST_LIMIT} more kinds`);
    lines.push(`${label('errors')}${paint('yellow', formatCount(r.totals.errorsTotal))}${named.length > 0 ? `: ${named.join(' · ')}` : ''}`);
  }
  if (r.takeovers.count > 0) {
    const ids = r.takeovers.clientIds.slice(0, LIST_LIMIT).map((id) => truncate(oneLine(id), 40));
    const more = r.takeovers.clientIds.length > LIST_LIMIT ? `, ${r.takeovers.clientIds.length - LIST_LIMIT} more` : '';
    lines.push(`${label('takeovers')}${formatCount(r.takeovers.count)}${ids.length > 0 ? ` (${ids.join(', ')}${more})` : ''}`);
  }
  lines.push('');

  lines.push(...latencyTable(r, paint));
  const clock = e2eClockText(r);
  if (clock !== undefined && r.shards!.crossShardDeliveries > 0) lines.push(paint(r.shards!.e2eWithheld ? 'yellow' : 'dim', oneLine(clock)));

  if (r.notes.length > 0) {
    lines.push('');
    for (const note of r.notes) lines.push(`${paint('yellow', 'note')}  ${oneLine(note)}`);
  }

  lines.push('');
  const verdict = verdictOf(r);
  const word = paint(verdict.passed ? 'green' : 'red', paint('bold', verdict.word));
  lines.push(`${word}  ${verdict.summary}`);
  for (const reason of verdict.reasons) lines.push(`  ${paint('red', '✗')} ${oneLine(reason.replace(/^threshold failed: /, ''))}`);
  return lines.join('\n') + '\n';
}

function latencyTable(r: RunResult, paint: (style: keyof typeof STYLE, text: string) => string): string[] {
  const rows = latencyRows(r);
  if (rows.length === 0) return [`${paint('dim', 'latency'.padEnd(10))}no samples`];
  const table: string[][] = [['latency (ms)', '', 'count', 'min', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'max']];
  let scope = '';
  for (const row of rows) {
    const s = row.summary;
    table.push([
      row.scope === scope ? '' : oneLine(row.scope),
      row.name,
      formatCount(s.count),
      formatMsNumber(s.min),
      formatMsNumber(s.p50),
      formatMsNumber(s.p90),
      formatMsNumber(s.p95),
      formatMsNumber(s.p99),
      formatMsNumber(s.p99_9),
      formatMsNumber(s.max),
    ]);
    scope = row.scope;
  }
  const lines = alignColumns(table, ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right']);
  lines[0] = paint('dim', lines[0]);
  return lines;
}
