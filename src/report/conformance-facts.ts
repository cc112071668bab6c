/**
 * What the conformance renderers derive alike from a report: counts, verdicts, check names and chapters, packet
 * traces as lines, and the statement × broker matrix. Every renderer states these the same way because they all come
 * from here.
 */
import type { CheckOutcome, StatementOutcome } from '../conformance/runner.js';
import { CHAPTER_TITLES, findStatement, statementsFor, type MqttVersion } from '../conformance/statements.js';
import { formatCount, plural } from './format.js';
import type { ConformanceReport, ConformanceRun } from './conformance-model.js';

export interface CheckCounts {
  total: number;
  pass: number;
  /** Failures that count: allowed ones are not included. */
  fail: number;
  /** Failures accepted with --allow-fail. */
  allowed: number;
  skip: number;
  error: number;
}

export function countChecks(checks: readonly CheckOutcome[]): CheckCounts {
  const c: CheckCounts = { total: checks.length, pass: 0, fail: 0, allowed: 0, skip: 0, error: 0 };
  for (const o of checks) {
    if (o.status === 'fail') {
      if (o.allowed === true) c.allowed++;
      else c.fail++;
    } else c[o.status]++;
  }
  return c;
}

/** "12 checks: 7 pass · 2 fail · 1 allowed failure · 1 skip · 1 error", leaving out what is zero after pass. */
export function describeCounts(c: CheckCounts): string {
  const parts = [`${formatCount(c.pass)} pass`];
  if (c.fail > 0) parts.push(`${formatCount(c.fail)} fail`);
  if (c.allowed > 0) parts.push(plural(c.allowed, 'allowed failure'));
  if (c.skip > 0) parts.push(`${formatCount(c.skip)} skip`);
  if (c.error > 0) parts.push(`${formatCount(c.error)} error`);
  return `${plural(c.total, 'check')}: ${parts.join(' · ')}`;
}

export type VerdictWord = 'CONFORMS' | 'DOES NOT CONFORM' | 'INCONCLUSIVE' | 'UNREACHABLE';

export interface Verdict {
  word: VerdictWord;
  /** Why, after the word; for CONFORMS, empty or the number of known deviations set aside. */
  detail: string;
  /** The whole verdict on one line: "DOES NOT CONFORM: 2 checks failed". */
  text: string;
}

/**
 * The verdict on one broker. Allowed failures do not count. A check that errored proves nothing either way, so a run
 * whose only problems are errors is INCONCLUSIVE rather than a verdict it cannot back.
 */
export function verdictOf(run: ConformanceRun): Verdict {
  if (!run.reachable) return verdict('UNREACHABLE', run.unreachableReason ?? 'no reason given');
  const c = countChecks(run.checks);
  const errored = `${plural(c.error, 'check')} errored`;
  if (c.fail > 0) {
    const failed = `${plural(c.fail, 'check')} failed`;
    return verdict('DOES NOT CONFORM', c.error > 0 ? `${failed}, ${errored}` : failed);
  }
  if (c.error > 0) return verdict('INCONCLUSIVE', errored);
  // Accepted deviations are still deviations: the verdict says how many it set aside.
  if (c.allowed > 0) return verdict('CONFORMS', `${plural(c.allowed, 'known deviation')} allowed`);
  return verdict('CONFORMS', '');
}

function verdict(word: VerdictWord, detail: string): Verdict {
  return { word, detail, text: detail === '' ? word : `${word}: ${detail}` };
}

/** Checks that failed (allowed or not) or errored, in run order. */
export function failedChecks(run: ConformanceRun): CheckOutcome[] {
  return run.checks.filter((o) => o.status === 'fail' || o.status === 'error');
}

/**
 * A check's chapter and short name from its id (`<version>/<chapter>/<name>`); an id of another shape keeps its
 * whole self as the name and takes the chapter of its first statement.
 */
export function checkParts(o: Pick<CheckOutcome, 'id' | 'version' | 'statements'>): { chapter: string; name: string } {
  const parts = o.id.split('/');
  if (parts.length >= 3 && parts[0] === o.version && parts[1] !== '') return { chapter: parts[1], name: parts.slice(2).join('/') };
  const first = o.statements.length > 0 ? findStatement(o.statements[0], o.version) : undefined;
  return { chapter: first?.chapter ?? '', name: o.id };
}

export function chapterTitle(version: MqttVersion, chapter: string): string {
  return CHAPTER_TITLES[version][chapter] ?? '';
}

/** "3.1 CONNECT", or the bare number for a chapter the table does not name. */
export function chapterLabel(version: MqttVersion, chapter: string): string {
  const title = chapterTitle(version, chapter);
  return title === '' ? chapter : `${chapter} ${title}`;
}

/** "[MQTT-3.1.0-1] [MQTT-3.1.0-2]", the tags checks and the spec use. */
export function statementTags(statements: readonly string[]): string {
  return statements.map((s) => `[${s}]`).join(' ');
}

export function firstLine(text: string | undefined): string {
  if (text === undefined) return '';
  const end = text.search(/\r\n|\r|\n/);
  return end < 0 ? text : text.slice(0, end);
}

/** The packet trace of a failed check, one event per line: "client 1 +12 ms sent connect(…)". */
export function traceLines(o: CheckOutcome): string[] {
  const lines: string[] = [];
  for (const { client, events } of o.trace ?? []) {
    if (events.length === 0) {
      lines.push(`${client} sent and received nothing`);
      continue;
    }
    for (const e of events) {
      const at = `+${formatCount(e.atMs)} ms`;
      const what = e.dir === 'closed' ? `connection closed (${e.what})` : e.dir === 'raw' ? `sent raw bytes ${e.what}` : `${e.dir} ${e.what}`;
      lines.push(`${client} ${at} ${what}`);
    }
  }
  return lines;
}

/** A statement status the matrix shows; 'allowed' is a failure whose failing checks were all allowed. */
export type CellKind = 'pass' | 'fail' | 'allowed' | 'skip' | 'error' | 'not-checked';

/** The symbol of each cell kind in the matrix. */
export const CELL_SYMBOLS: Readonly<Record<CellKind, string>> = { pass: '✓', fail: '✗', allowed: '✗', skip: '–', error: '!', 'not-checked': '·' };

export interface MatrixCell {
  kind: CellKind;
  /** The checks behind a fail, allowed or error cell. */
  failing: CheckOutcome[];
}

export interface MatrixRow {
  id: string;
  version: MqttVersion;
  chapter: string;
  summary: string;
  /** One per run, in report order; undefined when that run did not cover the statement at all. */
  cells: (MatrixCell | undefined)[];
  /** Why the statement is not checked, when some run did not check it. */
  notCheckedReason?: string;
}

/** The reason shown for a statement the table calls checkable but that no check of the run covers. */
export const NO_CHECK = 'no check covers it';

/** One row per statement of `version` that any run reports, in the order of the statement table. */
export function matrixRows(report: ConformanceReport, version: MqttVersion): MatrixRow[] {
  const rows = new Map<string, MatrixRow>();
  report.runs.forEach((run, index) => {
    const checks = checksByKey(run.checks);
    for (const st of run.statements) {
      if (st.version !== version) continue;
      let row = rows.get(st.id);
      if (row === undefined) {
        row = { id: st.id, version, chapter: st.chapter, summary: st.summary, cells: report.runs.map(() => undefined) };
        rows.set(st.id, row);
      }
      row.cells[index] = cellOf(st, checks);
      if (st.status === 'not-checked' && row.notCheckedReason === undefined) row.notCheckedReason = st.note ?? NO_CHECK;
    }
  });
  const order = new Map(statementsFor(version).map((s, i) => [s.id, i]));
  const unknown = Number.MAX_SAFE_INTEGER;
  // Array.prototype.sort is stable: statements the table does not know keep the order the runs gave them.
  return [...rows.values()].sort((a, b) => (order.get(a.id) ?? unknown) - (order.get(b.id) ?? unknown));
}

function checksByKey(checks: readonly CheckOutcome[]): Map<string, CheckOutcome> {
  return new Map(checks.map((o) => [`${o.version} ${o.id}`, o]));
}

function cellOf(st: StatementOutcome, checks: Map<string, CheckOutcome>): MatrixCell {
  const failing: CheckOutcome[] = [];
  for (const id of st.checks) {
    const o = checks.get(`${st.version} ${id}`);
    if (o !== undefined && (o.status === 'fail' || o.status === 'error')) failing.push(o);
  }
  if (st.status === 'fail' && failing.length > 0 && failing.every((o) => o.status === 'fail' && o.allowed === true)) {
    return { kind: 'allowed', failing };
  }
  return { kind: st.status, failing };
}

export interface ChapterCounts {
  chapter: string;
  title: string;
  pass: number;
  fail: number;
  skip: number;
  error: number;
  notChecked: number;
}

/** Statement outcomes of one version counted per chapter, chapters in the order the statements come. */
export function chapterCounts(statements: readonly StatementOutcome[], version: MqttVersion): ChapterCounts[] {
  const byChapter = new Map<string, ChapterCounts>();
  for (const st of statements) {
    if (st.version !== version) continue;
    let c = byChapter.get(st.chapter);
    if (c === undefined) {
      c = { chapter: st.chapter, title: chapterTitle(version, st.chapter), pass: 0, fail: 0, skip: 0, error: 0, notChecked: 0 };
      byChapter.set(st.chapter, c);
    }
    if (st.status === 'not-checked') c.notChecked++;
    else c[st.status]++;
  }
  return [...byChapter.values()];
}

/** "MQTT 3.1.1, 5.0". */
export function describeVersions(versions: readonly MqttVersion[]): string {
  return versions.length === 0 ? 'no MQTT version' : `MQTT ${versions.join(', ')}`;
}
