/**
 * shard.json: what one shard of a split run leaves for `mqbench merge`, next to its own reports. The format is
 * described field by field in docs/distributed.md ("Merging"); `version` changes whenever a reader of the previous
 * version would misread a file.
 *
 * A shard that failed (the broker unreachable, the start missed, an internal error) leaves a shard.json too, with
 * `failure` and no results, so that the merge names it and says why rather than only missing it.
 *
 * JSON has no Infinity or NaN; a number that is one (a subscription still in force at the end has `toUs: Infinity`,
 * `reconnects: unlimited` is Infinity) is written as {"$number": "Infinity"} and read back as the number.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineReport } from '../engine/engine.js';
import type { RunResult } from '../run/result.js';
import { MAX_SHARDS } from '../scenario/plan.js';
import type { Scenario } from '../scenario/schema.js';
import type { ShardClock } from './coordinator.js';

export const SHARD_FILE = 'shard.json';
export const SHARD_FORMAT = 'mqbench-shard';
export const SHARD_FORMAT_VERSION = 1;

/** Which run a shard belongs to: the same in every shard of the run. */
export interface ShardRunIdentity {
  /** The coordination key: the same for every shard of the run (identity.ts). */
  key: string;
  /** --run-id, when given. */
  id: string | null;
  /** The scenario's name, and the hash of everything in it that decides what the clients do. */
  scenario: string;
  fingerprint: string;
  shards: number;
  /** The start instant on shard 0's clock. */
  startAt: string;
  startAtMs: number;
}

export interface ShardFile {
  format: typeof SHARD_FORMAT;
  version: typeof SHARD_FORMAT_VERSION;
  tool: { name: 'mqbench'; version: string };
  run: ShardRunIdentity;
  shard: {
    index: number;
    /** Clients this shard ran. */
    clients: number;
    workers: number;
    target: RunResult['target'];
  };
  /** The scenario as loaded, command-line overrides applied (thresholds included: merge evaluates them). */
  scenario: Scenario;
  facts: {
    startedAt: string;
    endedAt: string;
    durationMs: number;
    stoppedBy: RunResult['stoppedBy'];
    workers: number;
    /** Date.now() at time zero, as the engine stamped results.jtl rows (ms since 1970, this host's system clock). */
    engineEpochWallMs: number;
  };
  clock: ShardClock;
  /**
   * The workers' reports: per group encoded HDR histograms (and e2e by the publisher's shard), per-second counter
   * series indexed by seconds since time zero, subscriber intervals, per receiver and stream the sequences received
   * (highest, gaps), per publisher and stream the sequences sent and acknowledged, subscription coverage, traffic
   * spans, errors. Times are µs (or ms, or whole seconds) since this shard's time zero.
   */
  reports: EngineReport[];
  /** results.jtl beside this file (its name), or null when the shard wrote none. */
  jtl: string | null;
  /** This shard's own result, as its summary.json has it (its thresholds are not evaluated: merge does that). */
  summary: RunResult;
}

/** What a shard that did not run leaves: who it was, and why it stopped. */
export interface FailedShardFile {
  format: typeof SHARD_FORMAT;
  version: typeof SHARD_FORMAT_VERSION;
  tool: { name: 'mqbench'; version: string };
  /** As the shard was given it: `startAt` is its own --start-at (it may never have learned shard 0's). */
  run: ShardRunIdentity;
  shard: { index: number; clients: number };
  failure: {
    /** The shard's exit code. */
    exitCode: number;
    message: string;
    /** When it failed, this host's clock. */
    at: string;
  };
}

export type AnyShardFile = ShardFile | FailedShardFile;

export function isFailedShard(f: AnyShardFile): f is FailedShardFile {
  return 'failure' in f && f.failure !== undefined && f.failure !== null;
}

export class ShardFileError extends Error {}

export function writeShardFile(dir: string, file: AnyShardFile): void {
  writeFileSync(join(dir, SHARD_FILE), JSON.stringify(file, encodeNumbers) + '\n');
}

/** Reads and checks a shard folder's shard.json; the error names the folder and what is wrong. */
export function readShardFile(dir: string): AnyShardFile {
  const path = join(dir, SHARD_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ShardFileError(`${dir}: no ${SHARD_FILE} here (is it the --out folder of a shard, run with --shard or --shards?)`);
    throw new ShardFileError(`${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text, decodeNumbers);
  } catch (err) {
    throw new ShardFileError(`${path}: not valid JSON (${err instanceof Error ? err.message : String(err)}); was the shard stopped while writing it?`);
  }
  const f = data as Partial<ShardFile> | null;
  if (f === null || typeof f !== 'object' || f.format !== SHARD_FORMAT) throw new ShardFileError(`${path}: not a shard file (format is not "${SHARD_FORMAT}")`);
  if (f.version !== SHARD_FORMAT_VERSION) {
    throw new ShardFileError(`${path}: shard file version ${String(f.version)}; this mqbench reads version ${SHARD_FORMAT_VERSION} (merge with the mqbench version that ran the shards)`);
  }
  const failed = (f as Partial<FailedShardFile>).failure;
  const needed = failed !== undefined && failed !== null ? (['tool', 'run', 'shard'] as const) : (['tool', 'run', 'shard', 'scenario', 'facts', 'clock', 'reports', 'summary'] as const);
  const missing = needed.filter((k) => f[k] === undefined || f[k] === null || typeof f[k] !== 'object');
  if (missing.length > 0) throw new ShardFileError(`${path}: incomplete shard file (no ${missing.join(', ')})`);
  const problem = identityProblem(f.run!, f.shard!);
  if (problem !== null) throw new ShardFileError(`${path}: ${problem}`);
  if (failed !== undefined && failed !== null) {
    if (typeof failed !== 'object' || typeof failed.exitCode !== 'number' || typeof failed.message !== 'string') {
      throw new ShardFileError(`${path}: "failure" needs an exitCode and a message`);
    }
    return f as unknown as FailedShardFile;
  }
  if (!Array.isArray(f.reports)) throw new ShardFileError(`${path}: "reports" is not a list`);
  return f as ShardFile;
}

/** The fields the merge sorts and matches shards by, checked: a hand-edited file fails here, not halfway through. */
function identityProblem(run: Partial<ShardRunIdentity>, shard: Partial<ShardFile['shard']>): string | null {
  if (typeof run.key !== 'string' || typeof run.fingerprint !== 'string' || typeof run.scenario !== 'string') return 'run.key, run.fingerprint and run.scenario must be text';
  if (!Number.isSafeInteger(run.shards) || run.shards! < 1 || run.shards! > MAX_SHARDS) {
    return `run.shards must be a whole number from 1 to ${MAX_SHARDS}, got ${JSON.stringify(run.shards)}`;
  }
  if (typeof run.startAtMs !== 'number' || !Number.isFinite(run.startAtMs)) return 'run.startAtMs must be a number';
  if (!Number.isSafeInteger(shard.index) || shard.index! < 0 || shard.index! >= run.shards!) {
    return `shard.index must be from 0 to ${run.shards! - 1}, got ${JSON.stringify(shard.index)}`;
  }
  return null;
}

function encodeNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return { $number: String(value) };
  if (value instanceof Uint16Array) return Array.from(value);
  return value;
}

function decodeNumbers(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$number') {
      const n = Number((value as { $number: unknown }).$number);
      return Number.isNaN(n) && (value as { $number: unknown }).$number !== 'NaN' ? value : n;
    }
  }
  return value;
}
