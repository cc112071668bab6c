/**
 * compare.json: the CompareResult as pretty-printed JSON that any JSON reader accepts.
 */
import type { CompareResult } from '../compare/result.js';
import { jsonSafe } from './json.js';

/**
 * The result, indented by two spaces, with a trailing newline. As in summary.json, NaN and Infinity (a ratio to a
 * broker that did nothing) become null, -0 becomes 0, and a bigint a number when exact, else a decimal string.
 */
export function renderCompareJson(result: CompareResult): string {
  return JSON.stringify(result, jsonSafe, 2) + '\n';
}
