/**
 * conformance.json: the whole conformance report as pretty-printed JSON that any JSON reader accepts.
 */
import type { ConformanceReport } from './conformance-model.js';

/**
 * The report, indented by two spaces, with a trailing newline. JSON has no NaN or Infinity, so a duration that was
 * never measured becomes null rather than text no parser reads; -0 becomes 0.
 */
export function renderConformanceJson(report: ConformanceReport): string {
  return JSON.stringify(report, jsonSafe, 2) + '\n';
}

function jsonSafe(_key: string, value: unknown): unknown {
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
