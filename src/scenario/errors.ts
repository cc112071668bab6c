/** Scenario problems (file:line:col, message, hint), their text form, and the error that carries them. */

/** One mistake in a scenario. `line` and `col` are 1-based; both are 0 when the problem has no place in a file. */
export interface ScenarioProblem {
  file: string;
  line: number;
  col: number;
  message: string;
  hint?: string;
}

/** Where command-line overrides are reported: they have no line in any file. */
export const COMMAND_LINE = 'command line';

/** Thrown by callers that prefer an exception to a result; the CLI maps `code` to its exit code. */
export class ScenarioError extends Error {
  readonly code = 'SCENARIO_INVALID';
  constructor(readonly problems: ScenarioProblem[]) {
    super(formatProblems(problems));
    this.name = 'ScenarioError';
  }
}

/** Problems in file order, then by place; a stable sort keeps same-place problems in the order they were found. */
export function sortProblems(problems: ScenarioProblem[]): ScenarioProblem[] {
  return problems
    .map((p, n) => ({ p, n }))
    .sort((a, b) => {
      if (a.p.file !== b.p.file) return a.p.file < b.p.file ? -1 : 1;
      return a.p.line - b.p.line || a.p.col - b.p.col || a.n - b.n;
    })
    .map((x) => x.p);
}

/**
 * One problem per line, compiler style (`file:line:col: message`), each hint on an indented line below, so editors
 * and terminals can jump to the place.
 */
export function formatProblems(problems: readonly ScenarioProblem[]): string {
  const lines: string[] = [];
  for (const p of problems) {
    const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
    lines.push(`${where}: ${p.message}`);
    if (p.hint) lines.push(`  hint: ${p.hint}`);
  }
  return lines.join('\n');
}
