/**
 * The table `mqbench compare` prints: the machine and rounds, then per scenario a row per broker (rate with its
 * spread, end-to-end latency, errors, loss, broker CPU and memory) and the bundled broker's ratio to each other one,
 * then the saturation searches. Colour only when asked.
 */
import type { CompareResult, ScenarioComparison } from '../compare/result.js';
import {
  brokerFigures,
  bundledLabel,
  describeMachine,
  describeRounds,
  MEASURES,
  missesRounds,
  processNote,
  rateUnit,
  ratioLines,
  saturationByScenario,
  saturationFacts,
  showsBytesPerConnection,
  showsFaultLoss,
  FAULT_LOSS_MEANING,
  thresholdNotes,
  incidentLines,
} from './compare-facts.js';
import { formatCount, formatMsNumber, oneLine, truncate } from './format.js';
import { alignColumns, type Align } from './text-table.js';

export interface CompareTableOptions {
  /** ANSI colours for a terminal. */
  color: boolean;
}

const STYLE = {
  bold: '\u001b[1m',
  dim: '\u001b[2m',
  yellow: '\u001b[33m',
  reset: '\u001b[0m',
};

type Paint = (style: keyof typeof STYLE, text: string) => string;

/** Widest broker or scenario name in a column; the full one is in compare.json. */
const NAME_WIDTH = 40;

function name(text: string): string {
  return truncate(oneLine(text), NAME_WIDTH);
}

export function renderCompareTable(result: CompareResult, options: CompareTableOptions = { color: false }): string {
  const paint: Paint = (style, text) => (options.color ? `${STYLE[style]}${text}${STYLE.reset}` : text);
  const label = (text: string): string => paint('dim', text.padEnd(10));
  const lines: string[] = [];

  lines.push(`${paint('bold', `mqbench ${oneLine(result.tool.version)} compare`)}  ${describeRounds(result.rounds)}  ${oneLine(result.generatedAt)}`);
  lines.push(`${label('machine')}${oneLine(describeMachine(result.machine))}`);
  if (result.brokers.length === 0) {
    lines.push(`${label('brokers')}none`);
  } else {
    const rows = result.brokers.map((b) => [
      name(b.label),
      oneLine(b.kind),
      oneLine(b.version === '' ? 'n/a' : b.version),
      truncate(oneLine(b.url), 60),
      `CPU and memory ${processNote(b)}`,
    ]);
    alignColumns(rows, ['left', 'left', 'left', 'left', 'left']).forEach((row, i) => lines.push(`${label(i === 0 ? 'brokers' : '')}${row}`));
  }

  const bundled = bundledLabel(result);
  for (const scenario of result.scenarios) {
    lines.push('', ...scenarioBlock(result, scenario, bundled, paint));
  }
  if (result.scenarios.length === 0) lines.push('', 'No scenario was compared.');

  if (result.saturation.length > 0) lines.push('', ...saturationBlock(result, paint));
  const incidents = incidentLines(result);
  if (incidents.length > 0) {
    lines.push('', paint('bold', 'incidents') + paint('dim', '  (a lost round is left out of the medians)'));
    for (const line of incidents) lines.push(`  ${paint('yellow', '!')} ${line}`);
  }
  return lines.join('\n') + '\n';
}

function scenarioBlock(result: CompareResult, s: ScenarioComparison, bundled: string | undefined, paint: Paint): string[] {
  const m = MEASURES[s.measure];
  const out: string[] = [`${paint('bold', name(s.scenario))}  ${paint('dim', `measured by ${m.what}, ${m.better} is better; latency ${m.latency}`)}`];
  if (s.description.trim() !== '') out.push(truncate(oneLine(s.description.trim()), 160));
  if (s.brokers.length === 0) {
    out.push('no broker ran it');
    return out;
  }
  const bytes = showsBytesPerConnection(s);
  const rounds = missesRounds(result, s);
  const head = ['broker', rateUnit(s), 'min–max', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'lost', 'CPU', 'msg/CPU s', 'peak mem'];
  const align: Align[] = ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'];
  if (bytes) {
    head.push('mem/conn');
    align.push('right');
  }
  if (showsFaultLoss(s)) {
    head.push('lost/faults');
    align.push('right');
  }
  if (rounds) {
    head.push('rounds');
    align.push('right');
  }
  const rows: string[][] = [head];
  for (const b of s.brokers) {
    rows.push([name(b.broker), ...brokerFigures(result, s, b, formatMsNumber)]);
  }
  const table = alignColumns(rows, align);
  table[0] = paint('dim', table[0]);
  out.push(...table);
  if (showsFaultLoss(s)) out.push(paint('dim', `lost/faults: ${FAULT_LOSS_MEANING.replace(/^lost across faults: /, '')}`));
  for (const r of ratioLines(s, bundled)) out.push(`${name(r.left)} ÷ ${name(r.right)}: ${paint('bold', r.value)}`);
  for (const n of thresholdNotes(result, s)) {
    out.push(`${paint('yellow', 'note')}  ${name(n.broker)}: thresholds failed in ${formatCount(n.failed)} of ${formatCount(n.runs)} rounds`);
  }
  return out;
}

function saturationBlock(result: CompareResult, paint: Paint): string[] {
  const facts = saturationByScenario(result).flatMap(([, list]) => list.map(saturationFacts));
  const sameLimits = facts.every((f) => f.limits === facts[0].limits);
  const out: string[] = [
    `${paint('bold', 'saturation')}  ${paint('dim', 'highest offered rate that held, raised step by step')}` +
      (sameLimits ? `  limits ${facts[0].limits}` : ''),
  ];
  const head = ['scenario', 'broker', 'sustained', 'failed at', 'why', 'steps'];
  const align: Align[] = ['left', 'left', 'right', 'right', 'left', 'right'];
  if (!sameLimits) {
    head.push('limits');
    align.push('left');
  }
  const rows: string[][] = [head];
  let scenario: string | undefined;
  for (const f of facts) {
    const row = [f.scenario === scenario ? '' : name(f.scenario), name(f.broker), f.sustained, f.failedAt, truncate(oneLine(f.why), 60), formatCount(f.steps)];
    if (!sameLimits) row.push(f.limits);
    rows.push(row);
    scenario = f.scenario;
  }
  const table = alignColumns(rows, align);
  table[0] = paint('dim', table[0]);
  out.push(...table);
  return out;
}
