/** Plain-text tables and the verdict of the idle-clients memory row of `npm run bench:engine`; nothing is printed. */
import { renderTable } from './render.js';
import {
  EMQTT_BENCH_BYTES_PER_SUBSCRIBER,
  formatBytes,
  type IdleRecord,
  type IdleTool,
  type IdleVerdict,
  type MarginalCost,
} from './idle-memory.js';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const IDLE_TOOL_LABEL: Record<IdleTool, string> = { mqbench: 'mqbench', floor: "Node's floor" };

/** The row's line in the goals table: [goal, measured, target, verdict]. */
export function idleGoalRow(v: IdleVerdict): string[] {
  const measured =
    v.mqbench === undefined
      ? 'not measured (see the failure below)'
      : `mqbench ${perClient(v.mqbench)} per client` + (v.floor ? ` (Node's floor: ${perClient(v.floor)})` : '');
  return [
    `idle clients memory (${integer.format(v.topClients)} vs ${integer.format(v.baseClients)})`,
    measured,
    `≤ ${formatBytes(v.goalBytesPerClient)} RSS, ≤ ${formatBytes(v.goalBytesPerClient)} heap`,
    v.passed ? 'PASS' : 'FAIL',
  ];
}

/**
 * Every reading: each load's whole-process RSS, the young generation within it, and the heap in use, at each size,
 * with the heap of each thread.
 */
export function renderIdleReadings(records: readonly IdleRecord[]): string {
  const rows = records.map((r) => {
    const m = r.reading;
    if (!m) return [IDLE_TOOL_LABEL[r.tool], integer.format(r.clients), '', '', '', '', `failed: ${firstLine(r.error)}`];
    const [main, ...workers] = m.threadHeapBytes;
    const threads =
      workers.length === 0 ? 'main thread only' : `main ${mib(main)}, worker${workers.length > 1 ? 's' : ''} ${workers.map(mib).join(' + ')}`;
    return [IDLE_TOOL_LABEL[r.tool], integer.format(r.clients), mib(m.rssBytes), mib(m.youngGenerationBytes), mib(m.heapUsedBytes), threads, ''];
  });
  return renderTable(
    ['load', 'clients', 'RSS', 'of it young gen', 'heap used', 'heap by thread', 'note'],
    rows,
    [false, true, true, true, true, false, false],
  );
}

/** Per-client growth of each load, mqbench's share above the floor, and mqbench ÷ the floor. */
export function renderIdlePerClient(v: IdleVerdict): string {
  const row = (tool: IdleTool, c: MarginalCost | undefined): string[] =>
    c === undefined
      ? [IDLE_TOOL_LABEL[tool], 'not measured', '', '']
      : [IDLE_TOOL_LABEL[tool], formatBytes(c.rssBytesPerClient), formatBytes(c.heapBytesPerClient), formatBytes(c.rawRssBytesPerClient)];
  const rows = [row('mqbench', v.mqbench), row('floor', v.floor)];
  if (v.mqbench && v.floor) {
    rows.push([
      'mqbench − floor',
      formatBytes(v.mqbench.rssBytesPerClient - v.floor.rssBytesPerClient),
      formatBytes(v.mqbench.heapBytesPerClient - v.floor.heapBytesPerClient),
      formatBytes(v.mqbench.rawRssBytesPerClient - v.floor.rawRssBytesPerClient),
    ]);
  }
  const ratio = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(2));
  rows.push(['mqbench ÷ floor', ratio(v.rssRatio), ratio(v.heapRatio), '']);
  return renderTable(['load', 'RSS per client', 'heap per client', 'RSS as read'], rows, [false, true, true, true]);
}

/** The verdict in one sentence, goal and comparison included. */
export function renderIdleVerdict(v: IdleVerdict): string {
  const goal =
    `at most ${formatBytes(v.goalBytesPerClient)} of RSS and ${formatBytes(v.goalBytesPerClient)} of heap per idle mqbench ` +
    `client (emqtt-bench's low-memory mode: about ${formatBytes(EMQTT_BENCH_BYTES_PER_SUBSCRIBER)} per subscriber)`;
  if (v.passed) return `Goal ${goal}: met, with ${perClient(v.mqbench!)}.\n`;
  const figures: string[] = [];
  if (v.mqbench !== undefined) figures.push(`mqbench uses ${perClient(v.mqbench)}`);
  if (v.floor !== undefined) figures.push(`Node's floor alone ${perClient(v.floor)}`);
  const floorNote = v.floorAboveGoal ? " Node's floor is itself above the RSS goal on this machine." : '';
  return `Goal ${goal}: not met: ${[figures.join(', '), v.shortfall].filter(Boolean).join('; ')}.${floorNote}\n`;
}

/** The full error of every failed measurement. */
export function renderIdleFailures(records: readonly IdleRecord[]): string {
  return records
    .filter((r) => r.reading === undefined)
    .map((r) => `${IDLE_TOOL_LABEL[r.tool]} with ${integer.format(r.clients)} clients failed: ${r.error ?? 'unknown error'}\n`)
    .join('');
}

function perClient(c: MarginalCost): string {
  return `RSS ${formatBytes(c.rssBytesPerClient)}, heap ${formatBytes(c.heapBytesPerClient)}`;
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function firstLine(text: string | undefined): string {
  return (text ?? 'unknown error').split('\n')[0];
}
