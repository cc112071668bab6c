/**
 * Scenario text → a validated, fully defaulted Scenario, or every problem found, each with file:line:col. Reads the
 * top level here; broker, faults, groups and steps have their own readers. Command-line overrides are applied while reading,
 * so they are validated exactly like the file.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { parseThreshold } from '../metrics/thresholds.js';
import { suggest } from '../util/suggest.js';
import { COMMAND_LINE, sortProblems, type ScenarioProblem } from './errors.js';
import type { Env } from './interpolate.js';
import { readBroker } from './read-broker.js';
import { readFaults } from './read-faults.js';
import { readGroups } from './read-groups.js';
import { describe, flagged, labelOf, Problems, ValueReader, type ReadContext } from './reader.js';
import { DEFAULTS, type ClientGroup, type Scenario, type ScenarioThreshold } from './schema.js';
import { commandLineScalar, parseSource, type Place, type RawNode, type RawScalar } from './source-tree.js';

/** Values from command-line flags, as typed there; each replaces the scenario's own. */
export interface ScenarioOverrides {
  /** `--broker`: "bundled" or a URL. */
  broker?: string;
  /** `--duration`: e.g. "30s". */
  duration?: string;
  /** `--clients`: a count (scenarios with one group) or "group=count[,group=count…]". */
  clients?: string | number;
  /** `--out`: the report folder. */
  out?: string;
  /** `--workers`: a count or "auto". */
  workers?: string | number;
  /** `--reply-timeout`: e.g. "10s". */
  replyTimeout?: string;
  /** `--source-ip`: addresses, ranges and interfaces clients connect from, e.g. "127.0.0.2-127.0.0.9". */
  sourceIp?: string;
}

export interface LoadOptions {
  /** For `${NAME}`; default process.env. */
  env?: Env;
  /** Where relative file names start; default the scenario file's folder. */
  baseDir?: string;
  overrides?: ScenarioOverrides;
}

export type LoadResult = { scenario: Scenario } | { problems: ScenarioProblem[] };

/** How each loaded scenario was loaded, so overrides can load it again the same way. */
const origins = new WeakMap<Scenario, LoadOptions>();

export function loadScenarioFile(path: string, options: LoadOptions = {}): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT' ? 'scenario file not found' : code === 'EISDIR' ? 'is a folder, not a scenario file' : `cannot read the scenario: ${(err as Error).message}`;
    return { problems: [{ file: path, line: 0, col: 0, message }] };
  }
  return loadScenarioText(text, path, options);
}

export function loadScenarioText(text: string, fileName: string, options: LoadOptions = {}): LoadResult {
  const opts: LoadOptions = {
    env: options.env ?? process.env,
    baseDir: options.baseDir ?? dirname(resolve(fileName)),
    overrides: options.overrides ?? {},
  };
  const problems = new Problems();
  const parsed = parseSource(text, fileName, opts.env!);
  problems.list.push(...parsed.problems);
  if (parsed.root === undefined) {
    if (problems.count === 0) problems.at({ file: fileName, line: 1, col: 1 }, 'the scenario is empty', 'a scenario needs at least groups:');
    return { problems: sortProblems(problems.list) };
  }
  const ctx: ReadContext = { r: new ValueReader(problems), problems, baseDir: opts.baseDir! };
  const scenario = readScenario(ctx, parsed.root, text, fileName, opts.overrides!);
  if (problems.count > 0 || scenario === undefined) return { problems: sortProblems(problems.list) };
  origins.set(scenario, opts);
  return { scenario };
}

/** The scenario again with command-line values in place of its own, validated again from its source. */
export function applyOverrides(scenario: Scenario, overrides: ScenarioOverrides): LoadResult {
  const before = origins.get(scenario) ?? { baseDir: dirname(resolve(scenario.source.file)) };
  const merged: ScenarioOverrides = { ...before.overrides };
  for (const [k, v] of Object.entries(overrides) as [keyof ScenarioOverrides, string | number | undefined][]) {
    if (v !== undefined) (merged as Record<string, string | number>)[k] = v;
  }
  return loadScenarioText(scenario.source.text, scenario.source.file, { ...before, overrides: merged });
}

const TOP_KEYS = ['name', 'description', 'broker', 'duration', 'drain', 'replyTimeout', 'sysTopics', 'workers', 'out', 'thresholds', 'faults', 'groups'];
const TOP_SYNONYMS: Record<string, string> = {
  target: 'broker',
  server: 'broker',
  url: 'broker',
  scenarios: 'groups',
  clients: 'groups',
  threshold: 'thresholds',
  checks: 'thresholds',
  gracefulstop: 'drain',
  grace: 'drain',
  timeout: 'replyTimeout',
  replytimeout: 'replyTimeout',
  output: 'out',
  outdir: 'out',
  threads: 'workers',
  sys: 'sysTopics',
  $sys: 'sysTopics',
  fault: 'faults',
  chaos: 'faults',
};

function readScenario(ctx: ReadContext, root: RawNode, text: string, file: string, overrides: ScenarioOverrides): Scenario | undefined {
  const { r, problems } = ctx;
  if (root.kind !== 'map') {
    problems.at(root.place, `a scenario is a mapping of keys (name, broker, groups, …), got ${describe(root)}`);
    return undefined;
  }
  const top = r.map(root, 'the scenario', TOP_KEYS, 'at the top of the scenario', TOP_SYNONYMS)!;
  const cli = (flag: string, value: string | number | undefined, asText = false): RawScalar | undefined =>
    value === undefined ? undefined : flagged(commandLineScalar(value, COMMAND_LINE, asText), flag);

  const nameNode = top.take('name');
  const name = nameNode ? r.string(nameNode, 'name', { nonEmpty: true }) : undefined;
  const descriptionNode = top.take('description');
  const description = descriptionNode ? r.string(descriptionNode, 'description') : undefined;

  const brokerNode = top.take('broker');
  const broker = readBroker(ctx, brokerNode, cli('--broker', overrides.broker, true), cli('--source-ip', overrides.sourceIp, true));

  const durationNode = cli('--duration', overrides.duration) ?? top.take('duration');
  const durationMs = durationNode ? readRunDuration(ctx, durationNode) : undefined;
  const drainNode = top.take('drain');
  const drainMs = drainNode ? r.duration(drainNode, 'drain') ?? DEFAULTS.drainMs : DEFAULTS.drainMs;
  const replyNode = cli('--reply-timeout', overrides.replyTimeout) ?? top.take('replyTimeout');
  const replyTimeoutMs = replyNode ? readReplyTimeout(ctx, replyNode) : DEFAULTS.replyTimeoutMs;

  const sysNode = top.take('sysTopics');
  const sysTopics = sysNode ? r.boolean(sysNode, 'sysTopics') ?? true : true;

  const workersNode = cli('--workers', overrides.workers) ?? top.take('workers');
  const workers = workersNode ? readWorkers(ctx, workersNode) : 'auto';
  const outNode = cli('--out', overrides.out, true) ?? top.take('out');
  const out = outNode ? r.string(outNode, labelOf(outNode, 'out'), { nonEmpty: true }) : undefined;

  const thresholdsNode = top.take('thresholds');
  const thresholds = thresholdsNode ? readThresholds(ctx, thresholdsNode) : [];
  const faultsNode = top.take('faults');
  const faults = faultsNode ? readFaults(ctx, faultsNode, top.keyPlace('faults'), broker, durationMs, overrides.broker !== undefined) : [];

  const groupsNode = top.take('groups');
  top.finish();
  let groups: ClientGroup[] = [];
  if (!groupsNode) {
    problems.at(root.place, 'the scenario needs groups: a list of client groups', 'e.g. groups: [{ name: pub, clients: 1, steps: [connect, { publish: { topic: t, count: 10 } }] }]');
  } else {
    // A duration that is written but wrong still bounds the run: "would never end" would only repeat the mistake.
    const bounded = durationNode !== undefined;
    groups = readGroups(ctx, groupsNode, broker, durationMs, bounded, cli('--clients', overrides.clients, true));
    checkThresholdGroups(ctx, thresholds, groups);
  }
  return {
    name: name ?? defaultName(file),
    description: description ?? '',
    broker,
    durationMs,
    drainMs,
    replyTimeoutMs,
    sysTopics,
    workers: workers ?? 'auto',
    out,
    thresholds: thresholds.map((t) => t.threshold),
    groups,
    faults,
    source: { file, text },
  };
}

function defaultName(file: string): string {
  const base = basename(file, extname(file));
  return base === '' || base.startsWith('<') ? 'scenario' : base;
}

function readRunDuration(ctx: ReadContext, node: RawNode): number | undefined {
  const label = labelOf(node, 'duration');
  const ms = ctx.r.duration(node, label);
  if (ms === 0) {
    ctx.problems.at(node.place, `${label} must be longer than 0`, 'leave duration out to run until every client has finished its steps');
    return undefined;
  }
  return ms;
}

function readReplyTimeout(ctx: ReadContext, node: RawNode): number {
  const label = labelOf(node, 'replyTimeout');
  const ms = ctx.r.duration(node, label);
  if (ms === undefined) return DEFAULTS.replyTimeoutMs;
  if (ms < 100) {
    ctx.problems.at(node.place, `${label} must be at least 100ms`, 'it bounds every wait for the broker: SUBACK, PUBACK, PINGRESP, …');
    return DEFAULTS.replyTimeoutMs;
  }
  return ms;
}

function readWorkers(ctx: ReadContext, node: RawNode): number | 'auto' | undefined {
  if (node.kind === 'scalar' && node.value === 'auto') return 'auto';
  return ctx.r.integer(node, labelOf(node, 'workers'), 1, 1024, 'a number of worker threads, or auto');
}

function readThresholds(ctx: ReadContext, node: RawNode): { threshold: ScenarioThreshold; place: Place }[] {
  const items = ctx.r.list(node, 'thresholds');
  if (!items) return [];
  const out: { threshold: ScenarioThreshold; place: Place }[] = [];
  for (const item of items) {
    const text = ctx.r.string(item, 'a threshold', { nonEmpty: true });
    if (text === undefined) continue;
    const parsed = parseThreshold(text);
    if ('error' in parsed) ctx.problems.at(item.place, `threshold "${text}": ${parsed.error}`, parsed.hint);
    else out.push({ threshold: { text, threshold: parsed.threshold }, place: item.place });
  }
  return out;
}

/** A threshold on one group (`group(name).…`) must name a group of this scenario. */
function checkThresholdGroups(ctx: ReadContext, thresholds: { threshold: ScenarioThreshold; place: Place }[], groups: ClientGroup[]): void {
  const names = groups.map((g) => g.name);
  for (const { threshold, place } of thresholds) {
    const name = threshold.threshold.group;
    if (name === undefined || names.includes(name)) continue;
    const guess = suggest(name, names);
    ctx.problems.at(place, `threshold "${threshold.text}" names group "${name}", which this scenario does not have`, guess ? `did you mean "${guess}"?` : `groups: ${names.join(', ')}`);
  }
}
