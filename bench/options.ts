/**
 * Command-line options of the benchmark and fuzzing scripts: one scanner for `--name value` / `--name=value` /
 * `--help`, and the value readers they share (lists, whole numbers, names picked from a set). Every problem is
 * collected, not only the first.
 */
import { suggest } from '../src/util/suggest.js';

export class UsageError extends Error {
  readonly code = 'USAGE';
}

/**
 * Walk `--name value`, `--name=value` and `--help`/`-h`, handing each value option to `onValue` (which returns a
 * problem or undefined) and collecting every problem rather than stopping at the first. Returns whether help was
 * asked for.
 */
export function scanOptions(
  argv: readonly string[],
  valueOptions: readonly string[],
  problems: string[],
  onValue: (name: string, value: string) => string | undefined,
): boolean {
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match || !valueOptions.includes(match[1])) {
      const name = match ? match[1] : arg;
      const hint = suggest(name, [...valueOptions, 'help']);
      problems.push(`unknown option "${arg}"${hint ? ` (did you mean --${hint}?)` : ''}`);
      continue;
    }
    const name = match[1];
    let value = match[2];
    if (value === undefined) {
      if (i + 1 >= argv.length) {
        problems.push(`--${name} needs a value`);
        continue;
      }
      value = argv[++i];
    }
    const problem = onValue(name, value);
    if (problem) problems.push(problem);
  }
  return help;
}

/** "a, b,,c" → ["a", "b", "c"]. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function unknownNames(what: string, names: readonly string[], known: readonly string[]): string {
  return names
    .map((n) => {
      const hint = suggest(n, known);
      return `unknown ${what} "${n}"${hint ? ` (did you mean ${hint}?)` : ''}; known: ${known.join(', ')}`;
    })
    .join('\n');
}

/** A whole number from `min` to `max` (underscores allowed: 1_000_000), handed to `set`; or the problem. */
export function wholeNumber(value: string, name: string, min: number, max: number, set: (n: number) => void): string | undefined {
  const n = Number(value.replace(/_/g, ''));
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    return `--${name} must be a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, got "${value}"`;
  }
  set(n);
  return undefined;
}

/** Distinct names from a comma-separated list, each one of `known`; or the problem. */
export function pickKinds<K extends string>(value: string, known: readonly K[], what: string): K[] | string {
  const names = splitList(value);
  const unknown = names.filter((n) => !(known as readonly string[]).includes(n));
  if (unknown.length > 0) return unknownNames(what, unknown, known);
  if (names.length === 0) return `--${what}s needs at least one ${what}`;
  return [...new Set(names as K[])];
}

/** Items picked from `items` by name or by 1-based number, from a comma-separated list; or the problem. */
export function pickNamed<T extends { name: string }>(value: string, items: readonly T[], what: string): T[] | string {
  const picked: T[] = [];
  const unknown: string[] = [];
  for (const item of splitList(value)) {
    const found = /^\d+$/.test(item) ? items[Number(item) - 1] : items.find((t) => t.name === item);
    if (found) picked.push(found);
    else unknown.push(item);
  }
  if (unknown.length > 0) return unknownNames(what, unknown, items.map((t) => t.name));
  return picked;
}
