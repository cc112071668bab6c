/**
 * conformance.md: the conformance matrix as GitHub-flavoured Markdown: a verdict per broker, one table per MQTT
 * version (a row per statement, a column per broker), then the failed checks of each broker with their messages,
 * packet traces and known deviations.
 */
import type { CheckOutcome } from '../conformance/runner.js';
import {
  chapterLabel,
  countChecks,
  describeVersions,
  failedChecks,
  matrixRows,
  statementTags,
  traceLines,
  verdictOf,
  CELL_SYMBOLS,
  type MatrixCell,
} from './conformance-facts.js';
import type { ConformanceReport, ConformanceRun } from './conformance-model.js';
import { formatCount, formatDuration, oneLine } from './format.js';
import { code, md } from './markdown.js';

export function renderConformanceMarkdown(report: ConformanceReport): string {
  const out: string[] = [];
  out.push('# MQTT conformance', '');
  out.push(
    `mqbench ${md(report.tool.version)} · ${describeVersions(report.versions)} · generated ${md(report.generatedAt)}`,
    '',
  );

  out.push('## Verdict', '');
  if (report.runs.length === 0) out.push('No broker was checked.', '');
  else {
    const rows = report.runs.map((run) => {
      const v = verdictOf(run);
      const c = countChecks(run.checks);
      return [
        md(run.broker),
        `**${v.word}**${v.detail === '' ? '' : `: ${md(v.detail)}`}`,
        formatCount(c.total),
        formatCount(c.pass),
        formatCount(c.fail),
        formatCount(c.allowed),
        formatCount(c.skip),
        formatCount(c.error),
        formatDuration(run.durationMs),
      ];
    });
    out.push(
      ...table(
        ['Broker', 'Verdict', 'Checks', 'Pass', 'Fail', 'Allowed failures', 'Skip', 'Error', 'Took'],
        rows,
        ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
      '',
    );
  }
  out.push(
    `Cells: ${CELL_SYMBOLS.pass} pass, ${CELL_SYMBOLS.fail} fail (with the failing checks; "allowed" when every one is an ` +
      `accepted failure), ${CELL_SYMBOLS.skip} skipped (the broker declared it lacks what the check needs), ` +
      `${CELL_SYMBOLS.error} error, ${CELL_SYMBOLS['not-checked']} not checked (the reason is in the last column); an empty ` +
      'cell: not in that run.',
    '',
  );

  for (const version of report.versions) {
    const rows = matrixRows(report, version);
    out.push(`## MQTT ${version}`, '');
    if (rows.length === 0) {
      out.push('No statement of this version was reported.', '');
      continue;
    }
    const header = ['Statement', 'Requirement', 'Chapter', ...report.runs.map((r) => md(r.broker)), 'Not checked because'];
    const body = rows.map((row) => [
      code(row.id),
      md(row.summary),
      md(chapterLabel(version, row.chapter)),
      ...row.cells.map(cell),
      row.notCheckedReason === undefined ? '' : md(row.notCheckedReason),
    ]);
    out.push(...table(header, body, header.map((_, i) => (i >= 3 && i < header.length - 1 ? 'center' : 'left'))), '');
  }

  const troubled = report.runs.filter((r) => !r.reachable || failedChecks(r).length > 0);
  if (troubled.length > 0) {
    out.push('## Failed checks', '');
    for (const run of troubled) out.push(...brokerFailures(run));
  }
  return out.join('\n').replace(/\n+$/, '') + '\n';
}

function cell(c: MatrixCell | undefined): string {
  if (c === undefined) return '';
  const symbol = CELL_SYMBOLS[c.kind];
  if (c.failing.length === 0) return symbol;
  const ids = c.failing.map((o) => code(o.id)).join(', ');
  return c.kind === 'allowed' ? `${symbol} allowed: ${ids}` : `${symbol} ${ids}`;
}

function brokerFailures(run: ConformanceRun): string[] {
  const out = [`### ${md(run.broker)}`, ''];
  if (!run.reachable) {
    out.push(`Unreachable: ${md(run.unreachableReason ?? 'no reason given')}`, '');
    return out;
  }
  const failed = failedChecks(run);
  for (const o of failed) out.push(...failure(o));
  const known = failed.filter((o) => o.status === 'fail' && run.deviations?.[o.id] !== undefined);
  if (known.length > 0) {
    out.push(`#### Known deviations of ${md(run.broker)}`, '');
    for (const o of known) out.push(`- ${code(o.id)}: ${md(run.deviations?.[o.id] ?? '')}`);
    out.push('');
  }
  return out;
}

function failure(o: CheckOutcome): string[] {
  const mark = o.status === 'error' ? `${CELL_SYMBOLS.error} error` : o.allowed === true ? `${CELL_SYMBOLS.fail} allowed failure` : `${CELL_SYMBOLS.fail} fail`;
  const tags = o.statements.length > 0 ? ` ${md(statementTags(o.statements))}` : '';
  const lines = [`- **${mark}** ${code(o.id)}${tags}: ${md(o.title)}`, ''];
  const body = [...(o.message ?? 'no message given').split(/\r\n|\r|\n/)];
  const trace = traceLines(o);
  if (trace.length > 0) body.push('', 'packet trace:', ...trace);
  lines.push(...fenced(body.map(oneLine)).map((l) => (l === '' ? '' : `  ${l}`)), '');
  return lines;
}

/** A fenced block whose fence no line of the content can close. */
function fenced(lines: readonly string[]): string[] {
  let longest = 0;
  for (const line of lines) for (const run of line.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}text`, ...lines, fence];
}

type Align = 'left' | 'right' | 'center';

function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[]): string[] {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const rule = align.map((a) => (a === 'right' ? '---:' : a === 'center' ? ':---:' : '---'));
  return [line(header), line(rule), ...rows.map(line)];
}
