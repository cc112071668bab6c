/**
 * The conformance summary printed when `mqbench conformance` ends: per broker the check counts, the statements of
 * each chapter by outcome, and every failed check; last one verdict line per broker. Colour only when asked.
 */
import {
  chapterCounts,
  countChecks,
  describeCounts,
  describeVersions,
  failedChecks,
  firstLine,
  statementTags,
  verdictOf,
  type Verdict,
} from './conformance-facts.js';
import type { ConformanceReport, ConformanceRun } from './conformance-model.js';
import { formatCount, formatDuration, oneLine, plural } from './format.js';
import { alignColumns } from './text-table.js';

export interface ConformanceSummaryOptions {
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

type Paint = (style: keyof typeof STYLE, text: string) => string;

const VERDICT_STYLE: Record<Verdict['word'], keyof typeof STYLE> = {
  CONFORMS: 'green',
  'DOES NOT CONFORM': 'red',
  INCONCLUSIVE: 'yellow',
  UNREACHABLE: 'red',
};

export function renderConformanceSummary(report: ConformanceReport, options: ConformanceSummaryOptions = { color: false }): string {
  const paint: Paint = (style, text) => (options.color ? `${STYLE[style]}${text}${STYLE.reset}` : text);
  const lines: string[] = [];
  lines.push(
    `${paint('bold', `mqbench ${oneLine(report.tool.version)} conformance`)} · ${describeVersions(report.versions)} · ` +
      `${plural(report.runs.length, 'broker')} · ${oneLine(report.generatedAt)}`,
  );
  for (const run of report.runs) {
    lines.push('', ...brokerSection(report, run, paint));
  }
  lines.push('', paint('bold', 'verdict'));
  const names = report.runs.map((r) => oneLine(r.broker));
  const width = Math.max(0, ...names.map((n) => [...n].length));
  report.runs.forEach((run, i) => {
    const v = verdictOf(run);
    const word = paint(VERDICT_STYLE[v.word], paint('bold', v.word));
    const pad = ' '.repeat(width - [...names[i]].length);
    lines.push(`  ${names[i]}${pad}  ${word}${v.detail === '' ? '' : `: ${oneLine(v.detail)}`}`);
  });
  if (report.runs.length === 0) lines.push('  no broker was checked');
  return lines.join('\n') + '\n';
}

function brokerSection(report: ConformanceReport, run: ConformanceRun, paint: Paint): string[] {
  const lines = [`${paint('bold', oneLine(run.broker))} · ${formatDuration(run.durationMs)}`];
  if (!run.reachable) {
    lines.push(`  ${paint('red', 'unreachable')}: ${oneLine(run.unreachableReason ?? 'no reason given')}`);
    return lines;
  }
  const counts = countChecks(run.checks);
  lines.push(`  ${describeCounts(counts)}`);
  for (const version of report.versions) {
    const chapters = chapterCounts(run.statements, version);
    if (chapters.length === 0) continue;
    const table: string[][] = [[`MQTT ${version}`, 'statements by chapter', 'pass', 'fail', 'skip', 'error', 'not checked']];
    for (const c of chapters) {
      table.push([
        `  ${c.chapter}`,
        c.title,
        formatCount(c.pass),
        formatCount(c.fail),
        formatCount(c.skip),
        formatCount(c.error),
        formatCount(c.notChecked),
      ]);
    }
    const aligned = alignColumns(table, ['left', 'left', 'right', 'right', 'right', 'right', 'right']);
    lines.push('', ...aligned.map((l, i) => `  ${i === 0 ? paint('dim', l) : l}`));
  }
  const failed = failedChecks(run);
  if (failed.length > 0) {
    lines.push('', `  ${paint('dim', 'failed checks')}`);
    for (const o of failed) {
      const mark = o.status === 'error' ? paint('yellow', '!') : o.allowed === true ? paint('yellow', '✗') : paint('red', '✗');
      const tags = o.statements.length > 0 ? ` ${oneLine(statementTags(o.statements))}` : '';
      const allowed = o.allowed === true ? ` ${paint('yellow', '(allowed)')}` : '';
      const kind = o.status === 'error' ? ' error:' : '';
      lines.push(`  ${mark} ${oneLine(o.id)}${tags}${allowed}${kind} ${oneLine(firstLine(o.message) || 'no message given')}`);
    }
  }
  return lines;
}
