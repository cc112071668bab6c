/**
 * fast-check parameters for property and model-based tests: a fixed seed by default so `npm test` is repeatable,
 * and environment variables to run longer or replay a failure (fast-check prints the seed and path it failed on).
 *
 *   <PREFIX>_SEED=<n>    another seed
 *   <PREFIX>_RUNS=<n>    more (or fewer) runs
 *   <PREFIX>_PATH=<path> replay exactly the failing run (and its shrinking) from the printed path
 */
import type { Parameters } from 'fast-check';

export const DEFAULT_SEED = 20_240_611;

export function propertyParams<T>(defaults: { numRuns: number } & Parameters<T>, prefix = 'MQBENCH_PROPERTY'): Parameters<T> {
  const seed = readInt(`${prefix}_SEED`) ?? DEFAULT_SEED;
  const numRuns = readInt(`${prefix}_RUNS`) ?? defaults.numRuns;
  const path = process.env[`${prefix}_PATH`];
  return { ...defaults, seed, numRuns, ...(path ? { path } : {}) };
}

function readInt(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got "${text}"`);
  return n;
}
