/**
 * Splits a scenario's clients across worker threads. Each group is dealt round-robin, so every worker gets an even
 * share of every group and of every moment of its ramp-up; clients keep their global index within the group (the
 * templates' {i}), and rates stay per client, whatever the number of workers.
 */
import type { Arrival, ClientGroup, PublishStep, SampleEvery, Scenario, Step } from './schema.js';
import { renderTemplate } from './templates.js';

export interface PlannedClient {
  /** Index of the client's group in scenario.groups. */
  group: number;
  /** Global index within the group, 0-based. */
  index: number;
  clientId: string;
  /** When the client starts, from the start of the run. */
  startOffsetMs: number;
}

export interface WorkerPlan {
  worker: number;
  /** In order of start offset. */
  clients: PlannedClient[];
}

export interface RunPlan {
  workers: WorkerPlan[];
  /** Clients planned: the whole scenario's, or one shard's share. */
  totalClients: number;
  /** For a shard's plan: the shard of every client of the scenario, by slot (see `assignShards`). */
  shardOfSlot?: Uint16Array;
}

export interface PlanOptions {
  /** Source of random client id parts, in [0, 1); default Math.random. */
  random?: () => number;
  /** Plan only this shard's share of the clients (see `assignShards`); every other client is left out. */
  shard?: ShardSpec;
}

/** Shard `index` (0-based) of a run split into `count` shards. */
export interface ShardSpec {
  index: number;
  count: number;
}

/** Most shards a run can be split into (a client's shard is kept in 16 bits). */
export const MAX_SHARDS = 65_535;

const SUFFIX_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
/** Redraws of a random id that clashes with one already given, before giving up. */
const MAX_REDRAWS = 1000;

/** `workers` threads, each with its share of the clients (a worker may get none when there are few clients). */
export function planRun(scenario: Scenario, workers: number, options: PlanOptions = {}): RunPlan {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be a whole number from 1, got ${workers}`);
  const shard = options.shard;
  if (shard !== undefined) checkShard(shard);
  const random = options.random ?? Math.random;
  const plans: WorkerPlan[] = [];
  for (let w = 0; w < workers; w++) plans.push({ worker: w, clients: [] });
  // Fixed ids first, so that no random id can take one a later group was given.
  const ids: string[][] = scenario.groups.map((group) => (hasRandomId(group) ? [] : fixedIds(group)));
  const used = new Set<string>(ids.flat());
  scenario.groups.forEach((group, g) => {
    if (!hasRandomId(group)) return;
    for (let i = 0; i < group.clients; i++) {
      const id = uniqueRandomId(group, i, random, used);
      used.add(id);
      ids[g].push(id);
    }
  });
  const owner = shard === undefined ? undefined : assignShards(scenario, shard.count, ids);
  let next = 0;
  let total = 0;
  let slot = 0;
  scenario.groups.forEach((group, g) => {
    for (let i = 0; i < group.clients; i++) {
      if (owner !== undefined && owner[slot++] !== shard!.index) continue;
      plans[next].clients.push({ group: g, index: i, clientId: ids[g][i], startOffsetMs: clientStartOffsetMs(group, i) });
      // Carrying the position over from one group to the next keeps totals level as well as each group.
      next = next + 1 === workers ? 0 : next + 1;
      total++;
    }
  });
  for (const p of plans) p.clients.sort((a, b) => a.startOffsetMs - b.startOffsetMs || a.group - b.group || a.index - b.index);
  return owner === undefined ? { workers: plans, totalClients: total } : { workers: plans, totalClients: total, shardOfSlot: owner };
}

/**
 * The shard of every client of a run split into `count` shards, by slot (the clients of all groups in order: group
 * 0's clients 0..n-1, then group 1's, ...). Clients are dealt round-robin over the slots, carried over from one group
 * to the next, as planRun deals them to workers: each shard gets an even share of every group and of every moment of
 * its ramp-up, and the totals stay level when groups are small. A client keeps its index in its group, hence its
 * client id, topics, rates and start offset (a start time depends on the index alone); a group with fewer clients
 * than shards leaves some shards without any. Clients that share a client id (take-over scenarios) run in the shard
 * of the first of them, so one process sees every connection of that id; an empty id (the broker assigns one) is
 * not shared.
 */
export function assignShards(scenario: Scenario, count: number, ids: readonly (readonly string[])[]): Uint16Array {
  checkShard({ index: 0, count });
  const total = scenario.groups.reduce((n, g) => n + g.clients, 0);
  const owner = new Uint16Array(total);
  const first = new Map<string, number>();
  let slot = 0;
  scenario.groups.forEach((group, g) => {
    for (let i = 0; i < group.clients; i++, slot++) {
      let shard = slot % count;
      if (group.allowDuplicateClientIds) {
        const id = ids[g][i];
        const home = id === '' ? undefined : first.get(id);
        if (home !== undefined) shard = home;
        else if (id !== '') first.set(id, shard);
      }
      owner[slot] = shard;
    }
  });
  return owner;
}

function checkShard(shard: ShardSpec): void {
  if (!Number.isInteger(shard.count) || shard.count < 1 || shard.count > MAX_SHARDS) {
    throw new RangeError(`shards must be a whole number from 1 to ${MAX_SHARDS}, got ${shard.count}`);
  }
  if (!Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new RangeError(`shard index must be a whole number from 0 to ${shard.count - 1}, got ${shard.index}`);
  }
}

function hasRandomId(group: ClientGroup): boolean {
  return group.randomSuffix > 0 || group.clientId.parts.some((p) => p.kind === 'rand');
}

function fixedIds(group: ClientGroup): string[] {
  const ids: string[] = [];
  for (let i = 0; i < group.clients; i++) ids.push(renderTemplate(group.clientId, { clientId: '', group: group.name, index: i }, Math.random));
  return ids;
}

function uniqueRandomId(group: ClientGroup, index: number, random: () => number, used: Set<string>): string {
  for (let attempt = 0; attempt < MAX_REDRAWS; attempt++) {
    let id = renderTemplate(group.clientId, { clientId: '', group: group.name, index }, random);
    for (let k = 0; k < group.randomSuffix; k++) id += SUFFIX_ALPHABET[Math.floor(random() * SUFFIX_ALPHABET.length)];
    if (!used.has(id)) return id;
  }
  throw new Error(
    `group ${group.name}: could not draw a client id not already in use after ${MAX_REDRAWS} tries; ` +
      'make the random part longer (randomSuffix, or a larger N in {rand:N})',
  );
}

/** Start offset of client `index` of a group, from the start of the run. */
export function clientStartOffsetMs(group: ClientGroup, index: number): number {
  return group.startTimeMs + arrivalOffsetMs(group.arrival, index, group.clients);
}

function arrivalOffsetMs(arrival: Arrival, index: number, clients: number): number {
  switch (arrival.kind) {
    case 'all-at-once':
      return 0;
    case 'rate':
      return Math.floor((index * 1000) / arrival.perSec);
    case 'ramp-up':
      return Math.floor((index * arrival.durationMs) / clients);
  }
}

/** Messages per second one client of `group` publishes in `step` (undefined: unpaced). */
export function clientRatePerSec(step: PublishStep, group: ClientGroup): number | undefined {
  if (!step.rate) return undefined;
  return step.rate.per === 'client' ? step.rate.perSec : step.rate.perSec / group.clients;
}

/** `workers: auto` → one worker per CPU, but no more workers than clients. */
export function resolveWorkerCount(setting: number | 'auto', totalClients: number, cpus: number): number {
  if (setting !== 'auto') return setting;
  return Math.max(1, Math.min(cpus, totalClients));
}

/** The interval setting of a group's first subscribe step (its subscribers' interval statistics), if it subscribes. */
export function groupSampleEvery(group: ClientGroup): SampleEvery | undefined {
  const visit = (steps: Step[]): SampleEvery | undefined => {
    for (const s of steps) {
      if (s.kind === 'subscribe') return s.sampleEvery;
      if (s.kind === 'repeat') {
        const inner = visit(s.steps);
        if (inner) return inner;
      }
    }
    return undefined;
  };
  return visit(group.steps);
}
