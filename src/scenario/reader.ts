/**
 * Typed reads from the source tree. Each read that fails records a problem at the node and returns undefined, so
 * the loader keeps going and reports every mistake in one pass.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { suggest } from '../util/suggest.js';
import type { ScenarioProblem } from './errors.js';
import type { QoS } from './schema.js';
import type { Place, RawMap, RawNode, RawScalar } from './source-tree.js';
import { parseDuration, parseRate, parseSize, type Parsed } from './units.js';

export class Problems {
  readonly list: ScenarioProblem[] = [];

  at(place: Place, message: string, hint?: string): void {
    this.list.push(hint === undefined ? { ...place, message } : { ...place, message, hint });
  }

  get count(): number {
    return this.list.length;
  }
}

/** A mapping whose keys are taken one by one; whatever is left at `finish()` is an unknown key. */
export class MapReader {
  private readonly taken = new Set<string>();

  constructor(
    private readonly problems: Problems,
    readonly node: RawMap,
    /** Every key this mapping may have, for "did you mean". */
    private readonly known: readonly string[],
    /** "in a group", "in publish": completes "unknown key "x" …". */
    private readonly where: string,
    /** Other spellings people reach for, e.g. clean_session → clean. */
    private readonly synonyms: Readonly<Record<string, string>> = {},
  ) {}

  take(key: string): RawNode | undefined {
    this.taken.add(key);
    return this.node.entries.find((e) => e.key === key)?.value;
  }

  has(key: string): boolean {
    return this.node.entries.some((e) => e.key === key);
  }

  /** The key a node was written under, for placing "both a and b" problems. */
  keyPlace(key: string): Place {
    return this.node.entries.find((e) => e.key === key)?.keyPlace ?? this.node.place;
  }

  finish(): void {
    for (const e of this.node.entries) {
      if (this.taken.has(e.key) || this.known.includes(e.key)) continue;
      this.problems.at(e.keyPlace, `unknown key "${e.key}" ${this.where}`, unknownKeyHint(e.key, this.known, this.synonyms));
    }
  }
}

export function unknownKeyHint(
  key: string,
  known: readonly string[],
  synonyms: Readonly<Record<string, string>> = {},
): string {
  const normal = normalizeKey(key);
  const guess =
    synonyms[key] ?? synonyms[normal] ?? known.find((k) => normalizeKey(k) === normal) ?? suggest(key, known);
  if (guess) return `did you mean "${guess}"?`;
  return `known keys: ${known.join(', ')}`;
}

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_ ]/g, '');
}

/** How a node reads in a message: `the number 3`, `a list`, `"abc"`. */
export function describe(node: RawNode): string {
  if (node.kind === 'map') return 'a mapping';
  if (node.kind === 'seq') return 'a list';
  const v = node.value;
  if (v === null) return 'nothing';
  if (typeof v === 'string') return `"${v}"`;
  if (typeof v === 'number') return `the number ${node.plain ?? v}`;
  return String(v);
}

/** Reads of typed values; `label` names the key in messages. */
export class ValueReader {
  constructor(readonly problems: Problems) {}

  map(node: RawNode, label: string, known: readonly string[], where: string, synonyms?: Record<string, string>): MapReader | undefined {
    if (node.kind !== 'map') {
      this.problems.at(node.place, `${label} must be a mapping of keys to values, got ${describe(node)}`);
      return undefined;
    }
    return new MapReader(this.problems, node, known, where, synonyms);
  }

  list(node: RawNode, label: string): RawNode[] | undefined {
    if (node.kind !== 'seq') {
      this.problems.at(node.place, `${label} must be a list, got ${describe(node)}`, 'start each item on its own line with "- "');
      return undefined;
    }
    return node.items;
  }

  /** Text; numbers and booleans are taken as written (a password of 0123 stays "0123"). */
  string(node: RawNode, label: string, opts: { nonEmpty?: boolean } = {}): string | undefined {
    if (node.kind !== 'scalar' || node.value === null) {
      this.problems.at(node.place, `${label} must be text, got ${describe(node)}`);
      return undefined;
    }
    const text = typeof node.value === 'string' ? node.value : node.plain ?? String(node.value);
    if (opts.nonEmpty && text === '') {
      this.problems.at(node.place, `${label} must not be empty`);
      return undefined;
    }
    return text;
  }

  /** true or false; also as quoted text, as `"${FLAG:-false}"` must be written inside a flow mapping. */
  boolean(node: RawNode, label: string): boolean | undefined {
    if (node.kind === 'scalar' && typeof node.value === 'boolean') return node.value;
    const v = node.kind === 'scalar' && typeof node.value === 'string' ? node.value.trim().toLowerCase() : undefined;
    if (v === 'true' || v === 'false') return v === 'true';
    const hint =
      v === 'yes' || v === 'on' || v === 'y'
        ? 'write true'
        : v === 'no' || v === 'off' || v === 'n'
          ? 'write false'
          : 'write true or false';
    this.problems.at(node.place, `${label} must be true or false, got ${describe(node)}`, hint);
    return undefined;
  }

  /** A whole number in [min, max]; digits in quotes are accepted. */
  integer(node: RawNode, label: string, min: number, max: number, hint?: string): number | undefined {
    let n: number | undefined;
    if (node.kind === 'scalar') {
      if (typeof node.value === 'number') n = node.value;
      else if (typeof node.value === 'string' && /^\s*[-+]?\d+\s*$/.test(node.value)) n = Number(node.value);
    }
    if (n === undefined || !Number.isInteger(n)) {
      this.problems.at(node.place, `${label} must be a whole number, got ${describe(node)}`, hint);
      return undefined;
    }
    if (n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
      this.problems.at(node.place, `${label} must be ${range}, got ${n}`, hint);
      return undefined;
    }
    return n;
  }

  qos(node: RawNode, label = 'qos'): QoS | undefined {
    if (node.kind === 'scalar' && (node.value === 0 || node.value === 1 || node.value === 2)) return node.value;
    if (node.kind === 'scalar' && typeof node.value === 'string' && /^\s*[012]\s*$/.test(node.value)) {
      return Number(node.value) as QoS;
    }
    this.problems.at(node.place, `${label} must be 0, 1 or 2, got ${describe(node)}`, 'QoS 0: at most once, 1: at least once, 2: exactly once');
    return undefined;
  }

  duration(node: RawNode, label: string): number | undefined {
    return this.unit(node, label, 'a duration', parseDuration);
  }

  rate(node: RawNode, label: string): number | undefined {
    return this.unit(node, label, 'a rate', parseRate);
  }

  size(node: RawNode, label: string): number | undefined {
    return this.unit(node, label, 'a size', parseSize);
  }

  private unit(
    node: RawNode,
    label: string,
    what: string,
    parse: (input: string | number) => Parsed<number>,
  ): number | undefined {
    if (node.kind !== 'scalar' || node.value === null || typeof node.value === 'boolean') {
      this.problems.at(node.place, `${label} must be ${what}, got ${describe(node)}`);
      return undefined;
    }
    const r = parse(node.value);
    if ('error' in r) {
      this.problems.at(node.place, `${label}: ${r.error}`, r.hint);
      return undefined;
    }
    return r.value;
  }

  /** One of a fixed set of words. */
  oneOf<T extends string>(node: RawNode, label: string, values: readonly T[]): T | undefined {
    if (node.kind === 'scalar' && typeof node.value === 'string' && (values as readonly string[]).includes(node.value)) {
      return node.value as T;
    }
    const got = node.kind === 'scalar' && typeof node.value === 'string' ? suggest(node.value, values) : undefined;
    this.problems.at(
      node.place,
      `${label} must be one of ${values.join(', ')}, got ${describe(node)}`,
      got ? `did you mean "${got}"?` : undefined,
    );
    return undefined;
  }
}

/** What every part of the loader needs: the readers, and where relative paths start. */
export interface ReadContext {
  r: ValueReader;
  problems: Problems;
  /** Relative file names in the scenario (payload files, TLS files) are relative to this folder. */
  baseDir: string;
}

/** A file the scenario names: resolved against baseDir, and it must exist and be a regular file. */
export function readExistingFile(ctx: ReadContext, node: RawNode, label: string): { path: string; sizeBytes: number } | undefined {
  const name = ctx.r.string(node, label, { nonEmpty: true });
  if (name === undefined) return undefined;
  const path = resolve(ctx.baseDir, name);
  let st;
  try {
    st = statSync(path);
  } catch {
    ctx.problems.at(node.place, `${label} "${name}" does not exist (looked for ${path})`, 'file names are relative to the scenario file');
    return undefined;
  }
  if (!st.isFile()) {
    ctx.problems.at(node.place, `${label} "${name}" is not a regular file (${path})`);
    return undefined;
  }
  return { path, sizeBytes: st.size };
}

/** Command-line values are reported under their flag's name. */
const flagLabels = new WeakMap<RawNode, string>();

export function flagged(node: RawScalar, flag: string): RawScalar {
  flagLabels.set(node, flag);
  return node;
}

export function labelOf(node: RawNode, key: string): string {
  return flagLabels.get(node) ?? key;
}
