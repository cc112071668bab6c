/** Medians and spread over rounds. */
import type { Spread } from './result.js';

/** The median of `xs` (the mean of the middle two for an even count); undefined for none. */
export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function spreadOf(xs: readonly number[]): Spread {
  if (xs.length === 0) return { median: 0, min: 0, max: 0 };
  return { median: median(xs)!, min: Math.min(...xs), max: Math.max(...xs) };
}
