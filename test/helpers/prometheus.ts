/**
 * A small reader of the Prometheus text exposition format 0.0.4, strict where Prometheus is (a sample before its
 * TYPE, a family split in two, a duplicate series, a malformed line are problems) and with the histogram invariants
 * checked: buckets cumulative and in increasing `le` order, ending with `+Inf`, `+Inf` equal to `_count`. Also scrapes
 * over HTTP with a timeout, and compares two scrapes for counters that went down.
 */
import { request } from 'node:http';

export interface Sample {
  /** The sample's own name: `x_bucket`, `x_sum`, `x_count` for a histogram `x`. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

export interface Exposition {
  families: Map<string, Family>;
  /** What is wrong with the text; empty when it is valid. */
  problems: string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseExposition(text: string): Exposition {
  const families = new Map<string, Family>();
  const problems: string[] = [];
  const seriesSeen = new Set<string>();
  let current: Family | undefined;
  const closed = new Set<string>();
  if (!text.endsWith('\n')) problems.push('the text does not end with a newline');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1}`;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const kind = line.slice(2, 6);
      const rest = line.slice(7);
      const space = rest.indexOf(' ');
      const name = space < 0 ? rest : rest.slice(0, space);
      const value = space < 0 ? '' : rest.slice(space + 1);
      if (!NAME.test(name)) problems.push(`${where}: bad metric name "${name}"`);
      let f = families.get(name);
      if (f === undefined) {
        if (current) closed.add(current.name);
        f = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, f);
        current = f;
      } else if (current !== f) {
        problems.push(`${where}: ${kind} for "${name}" apart from the rest of its family`);
      }
      if (kind === 'HELP') {
        if (f.help !== '') problems.push(`${where}: a second HELP for "${name}"`);
        f.help = value;
        if (value === '') problems.push(`${where}: empty HELP for "${name}"`);
      } else {
        if (!TYPES.has(value)) problems.push(`${where}: unknown type "${value}"`);
        if (f.samples.length > 0) problems.push(`${where}: TYPE of "${name}" after its samples`);
        f.type = value;
      }
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const sample = parseSample(line);
    if (typeof sample === 'string') {
      problems.push(`${where}: ${sample}: ${line}`);
      continue;
    }
    const family = familyOf(sample.name, families);
    if (family === undefined) {
      problems.push(`${where}: sample "${sample.name}" without a TYPE line`);
      continue;
    }
    if (family !== current || closed.has(family.name)) problems.push(`${where}: sample of "${family.name}" apart from the rest of its family`);
    const key = sample.name + JSON.stringify(Object.entries(sample.labels).sort());
    if (seriesSeen.has(key)) problems.push(`${where}: duplicate series ${key}`);
    seriesSeen.add(key);
    family.samples.push(sample);
  }
  for (const f of families.values()) {
    if (f.type === 'counter' && !f.name.endsWith('_total')) problems.push(`counter "${f.name}" does not end in _total`);
    if (f.type === 'counter') for (const s of f.samples) if (!(s.value >= 0)) problems.push(`counter ${f.name} is ${s.value}`);
    if (f.type === 'histogram') problems.push(...histogramProblems(f));
  }
  return { families, problems };
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sampleName);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const f = families.get(sampleName.slice(0, -suffix.length));
      if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
    }
  }
  return undefined;
}

function parseSample(line: string): Sample | string {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
  if (!m) return 'malformed sample line';
  const labels: Record<string, string> = {};
  if (m[3] !== undefined && m[3] !== '') {
    const body = m[3];
    let i = 0;
    while (i < body.length) {
      const nm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(body.slice(i));
      if (!nm) return 'malformed labels';
      i += nm[0].length;
      let value = '';
      for (;;) {
        if (i >= body.length) return 'unterminated label value';
        const c = body[i];
        if (c === '\\') {
          const n = body[i + 1];
          if (n === 'n') value += '\n';
          else if (n === '\\' || n === '"') value += n;
          else return `bad escape \\${n}`;
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (nm[1] in labels) return `label ${nm[1]} twice`;
      labels[nm[1]] = value;
      if (i < body.length) {
        if (body[i] !== ',') return 'labels not separated by a comma';
        i++;
      }
    }
  }
  const value = parseValue(m[4]);
  if (value === undefined) return `bad value "${m[4]}"`;
  return { name: m[1], labels, value };
}

export function parseValue(text: string): number | undefined {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** Labels of a sample without `le`, as a key: one histogram series. */
export function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
}

function histogramProblems(f: Family): string[] {
  const problems: string[] = [];
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  const get = (labels: Record<string, string>) => {
    const k = seriesKey(labels);
    let s = series.get(k);
    if (!s) series.set(k, (s = { buckets: [] }));
    return s;
  };
  for (const s of f.samples) {
    if (s.name === `${f.name}_bucket`) {
      const le = s.labels.le === undefined ? undefined : parseValue(s.labels.le);
      if (le === undefined) problems.push(`${f.name}: bucket without a valid le`);
      else get(s.labels).buckets.push([le, s.value]);
    } else if (s.name === `${f.name}_sum`) get(s.labels).sum = s.value;
    else if (s.name === `${f.name}_count`) get(s.labels).count = s.value;
    else problems.push(`${f.name}: unexpected sample ${s.name}`);
  }
  for (const [key, s] of series) {
    const where = `${f.name}${key}`;
    if (s.sum === undefined || s.count === undefined) problems.push(`${where}: no _sum or _count`);
    if (s.buckets.length === 0 || s.buckets[s.buckets.length - 1][0] !== Infinity) problems.push(`${where}: no le="+Inf" bucket last`);
    for (let i = 1; i < s.buckets.length; i++) {
      if (!(s.buckets[i][0] > s.buckets[i - 1][0])) problems.push(`${where}: le not increasing at ${s.buckets[i][0]}`);
      if (s.buckets[i][1] < s.buckets[i - 1][1]) problems.push(`${where}: bucket le=${s.buckets[i][0]} below the one before`);
    }
    const inf = s.buckets[s.buckets.length - 1];
    if (inf && s.count !== undefined && inf[1] !== s.count) problems.push(`${where}: +Inf ${inf[1]} != _count ${s.count}`);
    if (s.sum !== undefined && !(s.sum >= 0)) problems.push(`${where}: negative _sum`);
  }
  return problems;
}

/** The value of one series, or undefined. Labels must match exactly (all of them). */
export function valueOf(e: Exposition, sampleName: string, labels: Record<string, string>): number | undefined {
  const family = familyOf(sampleName, e.families);
  const want = JSON.stringify(Object.entries(labels).sort());
  return family?.samples.find((s) => s.name === sampleName && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

/**
 * Counters, histogram buckets, _count and _sum that went down from `before` to `after`, and series that disappeared.
 */
export function regressions(before: Exposition, after: Exposition): string[] {
  const out: string[] = [];
  for (const f of before.families.values()) {
    if (f.type !== 'counter' && f.type !== 'histogram') continue;
    const later = after.families.get(f.name);
    for (const s of f.samples) {
      const key = JSON.stringify(Object.entries(s.labels).sort());
      const now = later?.samples.find((x) => x.name === s.name && JSON.stringify(Object.entries(x.labels).sort()) === key);
      if (now === undefined) out.push(`${s.name}${key} disappeared`);
      else if (now.value < s.value) out.push(`${s.name}${key} went from ${s.value} to ${now.value}`);
    }
  }
  return out;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request, failing after `timeoutMs`. */
export function httpRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 5_000, () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 5_000} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** GET the URL and parse it; throws with the problems when the text is invalid or the status is not 200. */
export async function scrape(url: string): Promise<Exposition> {
  const r = await httpRequest(url);
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.body}`);
  if (r.headers['content-type'] !== 'text/plain; version=0.0.4; charset=utf-8') throw new Error(`GET ${url}: content type ${String(r.headers['content-type'])}`);
  const e = parseExposition(r.body);
  if (e.problems.length > 0) throw new Error(`GET ${url}: invalid exposition:\n${e.problems.join('\n')}`);
  return e;
}
