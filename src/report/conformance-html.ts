/**
 * conformance.html: the conformance matrix as one self-contained page (inline CSS; no script, no external reference):
 * verdicts, one table per MQTT version with a row per statement and a column per broker, failing cells linked to
 * the failed checks below, each with its message, packet trace and the broker's known deviation. A
 * Content-Security-Policy forbids every fetch and script, so even a value that slipped past escaping could do nothing.
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
  type Verdict,
} from './conformance-facts.js';
import type { ConformanceReport, ConformanceRun } from './conformance-model.js';
import { formatCount, formatDuration } from './format.js';
import { escapeXml } from './svg-chart.js';

const CELL_NAMES = { pass: 'pass', fail: 'fail', allowed: 'allowed failure', skip: 'skipped', error: 'error', 'not-checked': 'not checked' } as const;

const VERDICT_CLASS: Record<Verdict['word'], string> = {
  CONFORMS: 'pass',
  'DOES NOT CONFORM': 'fail',
  INCONCLUSIVE: 'warn',
  UNREACHABLE: 'fail',
};

export function renderConformanceHtml(report: ConformanceReport): string {
  const anchors = failureAnchors(report);
  const parts: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="referrer" content="no-referrer">',
    `<title>${esc(`MQTT conformance: ${report.runs.map((r) => `${r.broker} ${verdictOf(r).word}`).join(', ') || 'no broker'}`)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<header>',
    '<h1>MQTT conformance</h1>',
    `<p class="muted">mqbench ${esc(report.tool.version)} · ${esc(describeVersions(report.versions))} · generated ${esc(report.generatedAt)}</p>`,
    '</header>',
    '<main>',
    verdicts(report),
    legend(),
  ];
  for (const version of report.versions) parts.push(versionTable(report, version, anchors));
  const troubled = report.runs.map((run, i) => [run, i] as const).filter(([r]) => !r.reachable || failedChecks(r).length > 0);
  if (troubled.length > 0) {
    parts.push('<section id="failed">', '<h2>Failed checks</h2>');
    for (const [run, index] of troubled) parts.push(brokerFailures(run, index, anchors));
    parts.push('</section>');
  }
  parts.push('</main>', '</body>', '</html>');
  return parts.join('\n') + '\n';
}

const esc = escapeXml;

/** Several lines as HTML for a <pre>: each line made safe as `esc` does, the line breaks kept. */
function escLines(lines: readonly string[]): string {
  return lines.map(esc).join('\n');
}

/**
 * An id for each failed check of each reachable broker, numbered: check ids may hold anything, anchors must not. An
 * unreachable broker's checks are not listed one by one, so they get none.
 */
function failureAnchors(report: ConformanceReport): Map<CheckOutcome, string> {
  const anchors = new Map<CheckOutcome, string>();
  report.runs.forEach((run, b) => {
    if (run.reachable) failedChecks(run).forEach((o, n) => anchors.set(o, `b${b}-f${n}`));
  });
  return anchors;
}

function verdicts(report: ConformanceReport): string {
  if (report.runs.length === 0) return '<section id="verdict"><h2>Verdict</h2><p>No broker was checked.</p></section>';
  const rows = report.runs.map((run) => {
    const v = verdictOf(run);
    const c = countChecks(run.checks);
    const word = `<strong class="${VERDICT_CLASS[v.word]}">${esc(v.word)}</strong>${v.detail === '' ? '' : `: ${esc(v.detail)}`}`;
    const nums = [c.total, c.pass, c.fail, c.allowed, c.skip, c.error].map((n) => `<td class="num">${formatCount(n)}</td>`).join('');
    return `<tr><th scope="row">${esc(run.broker)}</th><td>${word}</td>${nums}<td class="num">${esc(formatDuration(run.durationMs))}</td></tr>`;
  });
  const head = ['Broker', 'Verdict', 'Checks', 'Pass', 'Fail', 'Allowed failures', 'Skip', 'Error', 'Took']
    .map((h, i) => `<th${i >= 2 ? ' class="num"' : ''}>${h}</th>`)
    .join('');
  return [
    '<section id="verdict">',
    '<h2>Verdict</h2>',
    `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>`,
    ...rows,
    '</tbody></table></div>',
    '</section>',
  ].join('\n');
}

function legend(): string {
  const items = (['pass', 'fail', 'allowed', 'skip', 'error', 'not-checked'] as const).map(
    (k) => `<li><span class="cell ${k}">${CELL_SYMBOLS[k]}</span> ${CELL_NAMES[k]}</li>`,
  );
  return `<ul class="legend">${items.join('')}</ul>`;
}

function versionTable(report: ConformanceReport, version: ConformanceReport['versions'][number], anchors: Map<CheckOutcome, string>): string {
  const id = `v${version.replace(/\D/g, '')}`;
  const rows = matrixRows(report, version);
  if (rows.length === 0) return `<section id="${id}"><h2>MQTT ${esc(version)}</h2><p>No statement of this version was reported.</p></section>`;
  const head = ['Statement', 'Requirement', 'Chapter'].map((h) => `<th>${h}</th>`).join('') +
    report.runs.map((r) => `<th class="broker">${esc(r.broker)}</th>`).join('') +
    '<th>Not checked because</th>';
  // Fixed column widths: the requirement takes what the others leave, a broker's name wraps between its words,
  // and a cell's failing checks stack under its symbol instead of widening the column.
  const cols =
    '<colgroup><col class="statement"><col class="requirement"><col class="chapter">' +
    report.runs.map(() => '<col class="broker">').join('') +
    '<col class="reason"></colgroup>';
  const body = rows.map(
    (row) =>
      `<tr><td><code>${esc(row.id)}</code></td><td>${esc(row.summary)}</td><td class="chapter">${esc(chapterLabel(version, row.chapter))}</td>` +
      row.cells.map((c) => cell(c, anchors)).join('') +
      `<td class="muted">${row.notCheckedReason === undefined ? '' : esc(row.notCheckedReason)}</td></tr>`,
  );
  return [
    `<section id="${id}">`,
    `<h2>MQTT ${esc(version)}</h2>`,
    `<div class="scroll"><table class="matrix" style="min-width:${46 + 9 * report.runs.length}em">${cols}<thead><tr>${head}</tr></thead><tbody>`,
    ...body,
    '</tbody></table></div>',
    '</section>',
  ].join('\n');
}

function cell(c: MatrixCell | undefined, anchors: Map<CheckOutcome, string>): string {
  if (c === undefined) return '<td class="cell absent" title="not in this run"></td>';
  const links = c.failing.map((o) => {
    const anchor = anchors.get(o);
    // A line may break after each "/" of a check id, not in the middle of its words.
    const label = `<code>${esc(o.id).replace(/\//g, '/<wbr>')}</code>`;
    return anchor === undefined ? label : `<a href="#${anchor}">${label}</a>`;
  });
  const symbol = `<span title="${CELL_NAMES[c.kind]}">${CELL_SYMBOLS[c.kind]}</span>`;
  return `<td class="cell ${c.kind}">${symbol}${links.length > 0 ? ` ${links.join(' ')}` : ''}</td>`;
}

function brokerFailures(run: ConformanceRun, index: number, anchors: Map<CheckOutcome, string>): string {
  const parts = [`<section class="broker" id="b${index}">`, `<h3>${esc(run.broker)}</h3>`];
  if (!run.reachable) {
    parts.push(`<p class="fail">Unreachable: ${esc(run.unreachableReason ?? 'no reason given')}</p>`, '</section>');
    return parts.join('\n');
  }
  const failed = failedChecks(run);
  parts.push('<ul class="failures">');
  for (const o of failed) parts.push(failure(o, anchors.get(o)));
  parts.push('</ul>');
  const known = failed.filter((o) => o.status === 'fail' && run.deviations?.[o.id] !== undefined);
  if (known.length > 0) {
    parts.push(`<h4>Known deviations of ${esc(run.broker)}</h4>`, '<dl class="deviations">');
    for (const o of known) parts.push(`<dt><code>${esc(o.id)}</code></dt><dd>${esc(run.deviations?.[o.id] ?? '')}</dd>`);
    parts.push('</dl>');
  }
  parts.push('</section>');
  return parts.join('\n');
}

function failure(o: CheckOutcome, anchor: string | undefined): string {
  const kind = o.status === 'error' ? 'error' : o.allowed === true ? 'allowed' : 'fail';
  const word = kind === 'error' ? 'error' : kind === 'allowed' ? 'allowed failure' : 'fail';
  const tags = o.statements.length > 0 ? ` <span class="muted">${esc(statementTags(o.statements))}</span>` : '';
  const message = (o.message ?? 'no message given').split(/\r\n|\r|\n/);
  const trace = traceLines(o);
  return [
    `<li${anchor === undefined ? '' : ` id="${anchor}"`} class="is-${kind}">`,
    `<p><span class="cell ${kind}">${CELL_SYMBOLS[kind]}</span> <strong>${word}</strong> <code>${esc(o.id)}</code>${tags}: ${esc(o.title)}</p>`,
    `<pre>${escLines(message)}</pre>`,
    trace.length > 0 ? `<details><summary>packet trace (${formatCount(trace.length)} events)</summary><pre>${escLines(trace)}</pre></details>` : '',
    '</li>',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

const CSS = `
:root{--fg:#1b1f24;--muted:#5b6470;--bg:#fff;--panel:#f5f7fa;--line:#d8dde3;--pass:#137333;--fail:#b3261e;--warn:#8a5a00;--nc:#8c959f}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ee;--muted:#9aa4b1;--bg:#14171b;--panel:#1d2127;--line:#343a42;--pass:#5cc27a;--fail:#ff8a80;--warn:#e0b252;--nc:#6e7781}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,main{max-width:1400px;margin:0 auto;padding:0 20px}
header{padding-top:18px;border-bottom:1px solid var(--line)}
h1{margin:0 0 4px;font-size:26px}
h2{font-size:20px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:28px}
h3{font-size:17px;margin:22px 0 8px;overflow-wrap:anywhere}
h4{font-size:15px;margin:16px 0 6px;overflow-wrap:anywhere}
.muted{color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:8px 0;font-size:14px}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--panel);font-weight:600;position:sticky;top:0}
table.matrix{width:100%;table-layout:fixed}
col.statement{width:9.5em}col.chapter{width:10em}col.broker{width:9em}col.reason{width:14em}
th.broker{text-align:center;overflow-wrap:break-word;word-break:normal;hyphens:none}
table.matrix td:first-child code{white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.cell{text-align:center}
.cell{font-weight:700}
.pass{color:var(--pass)}.fail{color:var(--fail)}.allowed,.skip,.warn{color:var(--warn)}.error{color:var(--fail)}.not-checked{color:var(--nc)}
td.fail,td.error{background:rgba(179,38,30,.08)}td.allowed{background:rgba(138,90,0,.08)}
td.cell a{display:block;font-weight:400;font-size:12px;overflow-wrap:anywhere}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
pre{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--panel);padding:8px 10px;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0}
.legend{display:flex;flex-wrap:wrap;gap:4px 18px;list-style:none;padding:0;font-size:14px}
.failures{list-style:none;padding:0}
.failures>li{margin:0 0 14px;padding-left:10px;border-left:3px solid var(--line)}
.failures>li.is-fail,.failures>li.is-error{border-color:var(--fail)}.failures>li.is-allowed{border-color:var(--warn)}
.failures p{margin:0 0 4px;overflow-wrap:anywhere}
.failures>li:target{background:var(--panel)}
.deviations dt{margin-top:6px}.deviations dd{margin:2px 0 0 18px}
details summary{cursor:pointer;color:var(--muted);font-size:13px}
`;
