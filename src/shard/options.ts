/**
 * The options of a sharded run as written on the command line: `--shard I/N`, `--shards N` with I from the
 * environment (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX), and `--start-at`. Each parser returns the value
 * or an error with a hint; the CLI turns errors into exit code 2.
 */
import { MAX_SHARDS, type ShardSpec } from '../scenario/plan.js';
import { parseDuration } from '../scenario/units.js';

export type Parsed<T> = { value: T } | { error: string; hint?: string };

/** The environment variable a Kubernetes Indexed Job sets to each pod's index. */
export const SHARD_INDEX_ENV = 'JOB_COMPLETION_INDEX';

/** How far in the past a start time may be and still be taken (it starts at once, late): a human's typing. */
export const START_AT_PAST_TOLERANCE_MS = 1_000;

const WHOLE = /^\d+$/;

/** `I/N`, I zero-based. */
export function parseShard(text: string): Parsed<ShardSpec> {
  const m = /^\s*([^/]*)\/([^/]*)\s*$/.exec(text);
  if (m === null) return { error: `--shard ${JSON.stringify(text)} is not I/N`, hint: 'write the shard index and the number of shards, e.g. --shard 0/4 (indexes start at 0)' };
  const count = parseCount(m[2].trim(), '--shard');
  if ('error' in count) return count;
  const index = m[1].trim();
  if (!WHOLE.test(index)) return { error: `--shard ${text}: the index "${index}" is not a whole number`, hint: `an index from 0 to ${count.value - 1}` };
  return checkIndex(Number(index), count.value, `--shard ${text}`);
}

/** `--shards N`, the index from `env[SHARD_INDEX_ENV]`. */
export function parseShards(text: string, env: NodeJS.ProcessEnv): Parsed<ShardSpec> {
  const count = parseCount(text.trim(), '--shards');
  if ('error' in count) return count;
  const raw = env[SHARD_INDEX_ENV];
  if (raw === undefined || raw.trim() === '') {
    return {
      error: `--shards ${count.value} takes this shard's index from ${SHARD_INDEX_ENV}, which is not set`,
      hint: `a Kubernetes Indexed Job sets it for each pod; elsewhere give the index: --shard I/${count.value}`,
    };
  }
  if (!WHOLE.test(raw.trim())) return { error: `${SHARD_INDEX_ENV}=${JSON.stringify(raw)} is not a whole number`, hint: `an index from 0 to ${count.value - 1}` };
  return checkIndex(Number(raw.trim()), count.value, `${SHARD_INDEX_ENV}=${raw.trim()} with --shards ${count.value}`);
}

function parseCount(text: string, option: string): Parsed<number> {
  if (!WHOLE.test(text)) return { error: `${option}: the number of shards "${text}" is not a whole number`, hint: `from 1 to ${MAX_SHARDS}` };
  const n = Number(text);
  if (n < 1 || n > MAX_SHARDS) return { error: `${option}: the number of shards must be from 1 to ${MAX_SHARDS}, got ${n}` };
  return { value: n };
}

function checkIndex(index: number, count: number, what: string): Parsed<ShardSpec> {
  if (index >= count) return { error: `${what}: the shard index must be from 0 to ${count - 1}, got ${index}`, hint: 'shard indexes start at 0' };
  return { value: { index, count } };
}

/**
 * A start time: ISO-8601 (`2025-06-01T12:00:00Z`; without a zone, local time), Unix milliseconds
 * (`1748779200000`), or `+<duration>` from now (`+30s`). `nowMs` is this host's clock. A time more than
 * START_AT_PAST_TOLERANCE_MS in the past is refused.
 */
export function parseStartAt(text: string, nowMs: number): Parsed<number> {
  const t = text.trim();
  let at: number;
  if (t.startsWith('+')) {
    const d = parseDuration(t.slice(1));
    if ('error' in d) return { error: `--start-at ${t}: ${d.error}`, hint: 'write e.g. +30s or +2m (from now), an ISO-8601 time or Unix milliseconds' };
    at = nowMs + d.value;
  } else if (WHOLE.test(t)) {
    at = Number(t);
    // Unix seconds are ten digits until 2286; milliseconds thirteen.
    if (t.length <= 11) {
      return { error: `--start-at ${t} looks like Unix seconds`, hint: `give Unix milliseconds (${t}000) or an ISO-8601 time` };
    }
  } else {
    at = Date.parse(t);
    if (!Number.isFinite(at) || !/^\d{4}-\d{2}-\d{2}/.test(t)) {
      return { error: `--start-at ${JSON.stringify(t)} is not a time`, hint: 'write an ISO-8601 time (2025-06-01T12:00:00Z), Unix milliseconds, or +30s from now' };
    }
  }
  const late = nowMs - at;
  if (late > START_AT_PAST_TOLERANCE_MS) {
    return {
      error: `--start-at ${t} is ${(late / 1000).toFixed(1)} s in the past (${new Date(at).toISOString()}; now ${new Date(nowMs).toISOString()})`,
      hint: 'give a time far enough ahead for every shard to start and connect, e.g. +30s, or a later absolute time',
    };
  }
  return { value: at };
}
