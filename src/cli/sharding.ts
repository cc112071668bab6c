/**
 * The command line's side of one shard of a split run: the sharding options read into a `Sharding`, and what the
 * shard leaves in its report folder for `mqbench merge` (shard.json with its results, or with why it failed).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { brokerVersion } from '../../broker/index.js';
import type { EngineReport } from '../engine/engine.js';
import type { RunFacts } from '../run/aggregate.js';
import type { RunResult } from '../run/result.js';
import type { ShardSpec } from '../scenario/plan.js';
import type { Scenario } from '../scenario/schema.js';
import type { ShardClock } from '../shard/coordinator.js';
import { parseShard, parseShards, parseStartAt, type Parsed } from '../shard/options.js';
import { SHARD_FILE, SHARD_FORMAT, SHARD_FORMAT_VERSION, writeShardFile, type ShardRunIdentity } from '../shard/shard-file.js';
import { WallClock, clockSkewFromEnv } from '../shard/wall-clock.js';
import { CliError, EXIT } from './exit-codes.js';

/** A shard of a split run, as the command line gave it. */
export interface Sharding {
  spec: ShardSpec;
  startAtMs: number;
  runId: string | undefined;
  clock: WallClock;
}

/** What makes a shard part of its run (shard-file.ts ShardRunIdentity), before it is written down. */
export interface ShardIdentity {
  fingerprint: string;
  key: string;
  sharding: Sharding;
  /** The start instant: shard 0's once the shard has heard from it, else the one given. */
  startAtMs: number;
}


export function readSharding(shard: string | undefined, shards: string | undefined, startAt: string | undefined, runId: string | undefined): Sharding | undefined {
  const fail = <T>(p: Parsed<T>): T => {
    if ('error' in p) throw new CliError(`${p.error}${p.hint ? `\n  hint: ${p.hint}` : ''}`, EXIT.usage);
    return p.value;
  };
  if (shard !== undefined && shards !== undefined) throw new CliError('--shard and --shards both given: use one (--shards takes the index from the environment)', EXIT.usage);
  let spec: ShardSpec | undefined;
  if (shard !== undefined) spec = fail(parseShard(shard));
  else if (shards !== undefined) spec = fail(parseShards(shards, process.env));
  if (spec === undefined && startAt === undefined) {
    if (runId !== undefined) throw new CliError('--run-id names the run of a sharded run: give --shard or --shards with it', EXIT.usage);
    return undefined;
  }
  let skew: number;
  try {
    skew = clockSkewFromEnv(process.env);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
  const clock = new WallClock(skew);
  if (startAt === undefined) {
    throw new CliError(
      `a sharded run needs --start-at: every shard starts its clients at that instant (e.g. --start-at +30s, or an absolute ` +
        'time such as 2025-06-01T12:00:00Z for shards started at different moments)',
      EXIT.usage,
    );
  }
  const startAtMs = fail(parseStartAt(startAt, clock.nowUs() / 1000));
  // --start-at alone: one process, started at that instant (a run of one shard).
  return { spec: spec ?? { index: 0, count: 1 }, startAtMs, runId, clock };
}

/** Writes the shard's results (ShardFile) beside its reports, for mqbench merge. */
export function recordShardResults(
  outDir: string,
  s: {
    scenario: Scenario;
    identity: ShardIdentity;
    clients: number;
    target: RunResult['target'];
    clock: ShardClock;
    reports: EngineReport[];
    facts: RunFacts;
    result: RunResult;
  },
): void {
  const { facts } = s;
  writeShardFile(outDir, {
    format: SHARD_FORMAT,
    version: SHARD_FORMAT_VERSION,
    tool: { name: 'mqbench', version: brokerVersion() },
    run: runIdentity(s.scenario, s.identity),
    shard: { index: s.identity.sharding.spec.index, clients: s.clients, workers: facts.workers, target: s.target },
    scenario: s.scenario,
    facts: {
      startedAt: facts.startedAt.toISOString(),
      endedAt: facts.endedAt.toISOString(),
      durationMs: facts.durationMs,
      stoppedBy: facts.stoppedBy,
      workers: facts.workers,
      engineEpochWallMs: facts.startedAt.getTime(),
    },
    clock: s.clock,
    // The rows are in results.jtl already.
    reports: s.reports.map((r) => ({ ...r, jtl: [] })),
    jtl: existsSync(join(outDir, 'results.jtl')) ? 'results.jtl' : null,
    summary: s.result,
  });
}

/**
 * Writes a FailedShardFile into the shard's folder, unless the shard's results are there already: the merge then
 * names this shard and why it failed, rather than only its absence.
 */
export function recordShardFailure(outDir: string, err: unknown, s: { scenario: Scenario; clients: number; identity: ShardIdentity }): void {
  if (existsSync(join(outDir, SHARD_FILE))) return;
  const exitCode = err instanceof CliError ? err.exitCode : EXIT.failed;
  const message = err instanceof CliError ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
  try {
    mkdirSync(outDir, { recursive: true });
    writeShardFile(outDir, {
      format: SHARD_FORMAT,
      version: SHARD_FORMAT_VERSION,
      tool: { name: 'mqbench', version: brokerVersion() },
      run: runIdentity(s.scenario, s.identity),
      shard: { index: s.identity.sharding.spec.index, clients: s.clients },
      // The first line: the reason; a hint below it is for the shard's own log.
      failure: { exitCode, message: message.split('\n')[0], at: new Date().toISOString() },
    });
  } catch (writeErr) {
    process.stderr.write(`mqbench: could not leave word of the failure in ${outDir}: ${writeErr instanceof Error ? writeErr.message : String(writeErr)}\n`);
  }
}

function runIdentity(scenario: Scenario, id: ShardIdentity): ShardRunIdentity {
  return {
    key: id.key,
    id: id.sharding.runId ?? null,
    scenario: scenario.name,
    fingerprint: id.fingerprint,
    shards: id.sharding.spec.count,
    startAt: new Date(id.startAtMs).toISOString(),
    startAtMs: id.startAtMs,
  };
}
