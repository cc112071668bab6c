/**
 * summary.json: the RunResult as pretty-printed JSON that any JSON reader accepts.
 */
import type { RunResult } from '../run/result.js';

/**
 * The result, indented by two spaces, with a trailing newline. JSON has no NaN or Infinity: they become null
 * (a value that was never measured reads as missing, not as a number), -0 becomes 0, and a bigint becomes a number
 * when it is exact as one, else a decimal string.
 */
export function renderJson(result: RunResult): string {
  return JSON.stringify(result, jsonSafe, 2) + '\n';
}

/** The JSON.stringify replacer behind `renderJson`, for the other JSON reports. */
export function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    return Object.is(value, -0) ? 0 : value;
  }
  if (typeof value === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  return value;
}
