/**
 * fast-check parameters for property and model-based tests: a fixed seed by default so `npm test` is repeatable,
 * and environment variables to run longer or replay a failure (fast-check prints the seed and path it failed on).
 *
 *   <PREFIX>_SEED=<n>    another seed
 *   <PREFIX>_RUNS=<n>    more (or fewer) runs
 *   <PREFIX>_PATH=<path> replay exactly the failing run (and its shrinking) from the printed path
 */
import fc, { type Parameters } from 'fast-check';

export const DEFAULT_SEED = 20_240_611;

export interface PropertyDefaults<T> extends Parameters<T> {
  numRuns: number;
  /**
   * Stop generating and shrinking after this long, reporting the counterexample shrunk so far: keep it under the
   * test's timeout, so that a slow shrink still ends in a report rather than a timeout.
   */
  timeLimitMs?: number;
}

export function propertyParams<T>(defaults: PropertyDefaults<T>, prefix = 'MQBENCH_PROPERTY'): Parameters<T> {
  const { timeLimitMs, ...rest } = defaults;
  const seed = readInt(`${prefix}_SEED`) ?? DEFAULT_SEED;
  const numRuns = readInt(`${prefix}_RUNS`) ?? defaults.numRuns;
  const path = process.env[`${prefix}_PATH`];
  return {
    ...rest,
    seed,
    numRuns,
    ...(path ? { path } : {}),
    ...(timeLimitMs !== undefined ? { plugins: [fc.interruptAfterTimeLimit(timeLimitMs)] } : {}),
  };
}

/**
 * Time for a slow (socket-level) property: the test's timeout grows with the runs asked for, and generation and
 * shrinking stop 30 s before it, so that even a long shrink ends in a report.
 */
export function propertyBudget(
  prefix: string,
  defaultRuns: number,
  msPerRun: number,
): { runs: number; testTimeoutMs: number; timeLimitMs: number } {
  const runs = readInt(`${prefix}_RUNS`) ?? defaultRuns;
  const testTimeoutMs = Math.max(130_000, runs * msPerRun + 60_000);
  return { runs, testTimeoutMs, timeLimitMs: testTimeoutMs - 30_000 };
}

function readInt(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got "${text}"`);
  return n;
}
