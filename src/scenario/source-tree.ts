/**
 * YAML text → a small tree of maps, lists and scalars that remembers where each node was written. `${ENV}` is
 * interpolated here, in scalar values after parsing, so every position still points into the file as written.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, type Document, type Node } from 'yaml';
import type { ScenarioProblem } from './errors.js';
import { interpolate, type Env } from './interpolate.js';

export interface Place {
  file: string;
  line: number;
  col: number;
}

/** Where a node's text sits in its file, so a problem can point inside a value. */
interface Span {
  text: string;
  lineCounter: LineCounter;
  start: number;
  end: number;
}

export type RawNode = RawMap | RawSeq | RawScalar;

export interface RawMap {
  kind: 'map';
  place: Place;
  span: Span | undefined;
  entries: RawEntry[];
}

export interface RawEntry {
  key: string;
  keyPlace: Place;
  value: RawNode;
}

export interface RawSeq {
  kind: 'seq';
  place: Place;
  span: Span | undefined;
  items: RawNode[];
}

export interface RawScalar {
  kind: 'scalar';
  place: Place;
  span: Span | undefined;
  value: string | number | boolean | null;
  /** Written in quotes (or as a block): never read as a number or boolean. */
  quoted: boolean;
  /** The text of a plain scalar as written (after interpolation), e.g. "3.10" whose value is 3.1. */
  plain: string | undefined;
}

export interface ParsedSource {
  root: RawNode | undefined;
  problems: ScenarioProblem[];
}

/** Parse YAML, report syntax errors with their positions, and build the tree with `${ENV}` filled in. */
export function parseSource(text: string, file: string, env: Env): ParsedSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const problems: ScenarioProblem[] = [];
  const lines = new Set<number>();
  for (const e of [...doc.errors, ...doc.warnings]) {
    const { line, col } = lineCounter.linePos(e.pos[0]);
    // One syntax mistake often confuses the parser for the rest of its line; the first message is the useful one.
    if (lines.has(line)) continue;
    lines.add(line);
    const hint = templateInFlowHint(text, lineCounter, line) ?? yamlHint(e.code);
    problems.push(hint === undefined ? { file, line, col, message: yamlMessage(e.message) } : { file, line, col, message: yamlMessage(e.message), hint });
  }
  if (doc.errors.length > 0) return { root: undefined, problems };
  const builder = new TreeBuilder(doc, text, file, lineCounter, env, problems);
  const root = doc.contents ? builder.build(doc.contents as Node) : undefined;
  return { root, problems };
}

function yamlMessage(message: string): string {
  // The parser's messages end with a position ("at line 3, column 5"); ours lead with it.
  const text = message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
  return `YAML: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}

/** `{ topic: a/{i} }` reads `{i}` as a nested mapping; the fix (quotes) is not obvious from the parser's words. */
function templateInFlowHint(text: string, lineCounter: LineCounter, line: number): string | undefined {
  const start = lineCounter.lineStarts[line - 1] ?? 0;
  const end = lineCounter.lineStarts[line] ?? text.length;
  const lineText = text.slice(start, end);
  if (!/[{[]/.test(lineText)) return undefined;
  if (/(^|[\s{,:[])\$\{/.test(lineText)) {
    return 'inside { … } or [ … ] a ${VAR} reference needs quotes, e.g. "${VAR}"; without them YAML reads its braces';
  }
  const m = /[^\s"'{:,[]\{(client|group|i|seq|rand:\d+)\}/.exec(lineText);
  if (!m) return undefined;
  return `inside { … } or [ … ] a template needs quotes, e.g. "a/{i}"; without them YAML reads {${m[1]}} as a mapping`;
}

function yamlHint(code: string): string | undefined {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'each key may appear once in a mapping';
    case 'TAB_AS_INDENT':
      return 'indent with spaces; YAML does not allow tabs for indentation';
    case 'MULTIPLE_DOCS':
      return 'a scenario file holds one YAML document; remove the "---" separator';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
    case 'UNEXPECTED_TOKEN':
      return 'check the indentation and brackets of this line and the one before';
    default:
      return undefined;
  }
}

class TreeBuilder {
  /** Aliases being expanded, to stop a node that contains an alias to itself. */
  private readonly expanding = new Set<Node>();

  constructor(
    private readonly doc: Document,
    private readonly text: string,
    private readonly file: string,
    private readonly lineCounter: LineCounter,
    private readonly env: Env,
    private readonly problems: ScenarioProblem[],
  ) {}

  build(node: Node): RawNode {
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target || this.expanding.has(target)) {
        return this.scalarAt(node, null);
      }
      this.expanding.add(target);
      try {
        return this.build(target);
      } finally {
        this.expanding.delete(target);
      }
    }
    if (isMap(node)) return this.buildMap(node.items, node);
    if (isSeq(node)) {
      return { kind: 'seq', place: this.placeOf(node), span: this.spanOf(node), items: node.items.map((n) => this.child(n as Node | null, node)) };
    }
    if (isScalar(node)) return this.buildScalar(node);
    return this.scalarAt(node, null);
  }

  private buildMap(items: readonly { key: unknown; value: unknown }[], node: Node): RawMap {
    const entries: RawEntry[] = [];
    const merged: RawEntry[] = [];
    for (const pair of items) {
      const keyNode = pair.key as Node | null;
      if (isScalar(keyNode) && typeof keyNode.value === 'symbol') {
        // A YAML merge key (`<<: *defaults`): its entries fill in keys the mapping does not set itself.
        this.collectMerge(pair.value as Node | null, merged);
        continue;
      }
      const keyPlace = keyNode ? this.placeOf(keyNode) : this.placeOf(node);
      let key: string;
      if (isScalar(keyNode) && (typeof keyNode.value === 'string' || typeof keyNode.value === 'number' || typeof keyNode.value === 'boolean')) {
        key = String(keyNode.value);
      } else if (isScalar(keyNode) && keyNode.value === null) {
        this.problems.push({ ...keyPlace, message: 'a key is empty', hint: 'write the key before the ":"' });
        continue;
      } else {
        this.problems.push({ ...keyPlace, message: 'a key must be plain text, not a list or mapping' });
        continue;
      }
      const value = this.child(pair.value as Node | null, keyNode ?? node);
      entries.push({ key, keyPlace, value });
    }
    for (const m of merged) if (!entries.some((e) => e.key === m.key)) entries.push(m);
    return { kind: 'map', place: this.placeOf(node), span: this.spanOf(node), entries };
  }

  private collectMerge(value: Node | null, into: RawEntry[]): void {
    const built = value ? this.build(value) : undefined;
    const sources = built?.kind === 'seq' ? built.items : built ? [built] : [];
    for (const s of sources) {
      if (s.kind !== 'map') {
        this.problems.push({ ...s.place, message: 'a merge key (<<) takes a mapping or a list of mappings' });
        continue;
      }
      // Earlier sources win, as in YAML 1.1 merge semantics.
      for (const e of s.entries) if (!into.some((x) => x.key === e.key)) into.push(e);
    }
  }

  /** A missing value (`key:` with nothing after it) is a null scalar placed at its key. */
  private child(node: Node | null, parent: Node): RawNode {
    if (node) return this.build(node);
    return this.scalarAt(parent, null);
  }

  private buildScalar(node: Scalar): RawScalar {
    const place = this.placeOf(node);
    const span = this.spanOf(node);
    const quoted = node.type !== undefined && node.type !== Scalar.PLAIN;
    let value = node.value as string | number | boolean | null;
    let plain = !quoted && node.source !== undefined ? String(node.source) : undefined;
    if (typeof value === 'string') {
      const result = interpolate(value, this.env);
      for (const p of result.problems) {
        const ref = value.slice(p.offset, Math.max(p.offset + 2, value.indexOf('}', p.offset) + 1));
        this.problems.push({ ...locate({ kind: 'scalar', place, span, value, quoted, plain }, ref), message: p.message, hint: p.hint });
      }
      if (result.changed) {
        value = result.value;
        // An unquoted `${CLIENTS:-10}` reads as the number 10, as if 10 had been written there.
        if (!quoted && result.problems.length === 0) {
          plain = result.value;
          value = retype(result.value);
        }
      }
    }
    return { kind: 'scalar', place, span, value, quoted, plain };
  }

  private scalarAt(node: Node, value: null): RawScalar {
    return { kind: 'scalar', place: this.placeOf(node), span: undefined, value, quoted: false, plain: undefined };
  }

  private placeOf(node: Node): Place {
    const start = node.range?.[0] ?? 0;
    const { line, col } = this.lineCounter.linePos(start);
    return { file: this.file, line, col };
  }

  private spanOf(node: Node): Span | undefined {
    if (!node.range) return undefined;
    return { text: this.text, lineCounter: this.lineCounter, start: node.range[0], end: node.range[1] };
  }
}

/** YAML 1.2 core schema scalars: the types a plain scalar would have had, had its text been written there. */
function retype(text: string): string | number | boolean | null {
  if (text === '' || text === '~' || /^(null|Null|NULL)$/.test(text)) return null;
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?\d+$/.test(text)) return Number(text);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^[-+]?(\.\d+|\d+(\.\d*)?)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  return text;
}

/**
 * The place of `needle` inside a node as written, e.g. the `{foo}` of an unknown template variable: exact when the
 * written text contains the needle (the usual case), otherwise the start of the node.
 */
export function locate(node: RawNode, needle: string): Place {
  const span = node.span;
  if (!span || needle === '') return node.place;
  const idx = span.text.slice(span.start, span.end).indexOf(needle);
  if (idx < 0) return node.place;
  const { line, col } = span.lineCounter.linePos(span.start + idx);
  return { file: node.place.file, line, col };
}

/** A value given on the command line, read as YAML would read it unless `asText`. */
export function commandLineScalar(value: string | number, file: string, asText = false): RawScalar {
  const text = String(value);
  return {
    kind: 'scalar',
    place: { file, line: 0, col: 0 },
    span: undefined,
    value: asText ? text : typeof value === 'number' ? value : retype(text),
    quoted: asText,
    plain: asText ? undefined : text,
  };
}
