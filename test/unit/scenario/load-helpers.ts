/** Shared by the scenario tests: load text with a clean environment and look at the outcome. */
import { formatProblems, type ScenarioProblem } from '../../../src/scenario/errors.js';
import { loadScenarioText, type LoadOptions } from '../../../src/scenario/load.js';
import type { Scenario } from '../../../src/scenario/schema.js';

export const FILE = '/scenarios/test.yaml';

/** Lines joined with newlines, so a test's line numbers can be read off its array. */
export function yaml(...lines: string[]): string {
  return lines.join('\n') + '\n';
}

export function load(text: string, options: LoadOptions = {}): Scenario {
  const result = loadScenarioText(text, FILE, { env: {}, ...options });
  if ('problems' in result) throw new Error(`expected no problems, got:\n${formatProblems(result.problems)}`);
  return result.scenario;
}

export function problems(text: string, options: LoadOptions = {}): ScenarioProblem[] {
  const result = loadScenarioText(text, FILE, { env: {}, ...options });
  if ('scenario' in result) throw new Error('expected problems, the scenario loaded');
  return result.problems;
}

/** "line:col message" of each problem, the compact form most assertions compare. */
export function where(text: string, options: LoadOptions = {}): string[] {
  return problems(text, options).map((p) => `${p.line}:${p.col} ${p.message}`);
}

/** A valid group to put next to the one under test. */
export const MINIMAL = yaml('groups:', '  - name: g', '    steps:', '      - connect');
