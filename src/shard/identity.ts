/**
 * What makes shards parts of one run: the scenario they run (as loaded, overrides applied), how many shards there
 * are, and an optional run id. The broker's address, the report folder and the number of worker threads may differ
 * between shards (each host may reach the broker by another name, and has its own disk and CPUs); nothing else may.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { Scenario } from '../scenario/schema.js';

/** A hash of everything in the scenario that decides what the clients do and how the run is judged. */
export function scenarioFingerprint(scenario: Scenario): string {
  const identity = {
    name: scenario.name,
    description: scenario.description,
    protocolVersion: scenario.broker.protocolVersion,
    durationMs: scenario.durationMs ?? null,
    drainMs: scenario.drainMs,
    replyTimeoutMs: scenario.replyTimeoutMs,
    thresholds: scenario.thresholds.map((t) => t.text),
    groups: scenario.groups,
  };
  // A payload file is known by its name and size: the same file may sit in another folder on another host.
  const text = JSON.stringify(identity, (key, value: unknown) => (key === 'path' && typeof value === 'string' ? basename(value) : value));
  return createHash('sha256').update(text).digest('hex');
}

/** The key of a run's coordination topics: the same for every shard of the run, and only for them. */
export function runKey(fingerprint: string, shards: number, runId: string | undefined): string {
  return createHash('sha256').update(`${fingerprint}/${shards}/${runId ?? ''}`).digest('hex').slice(0, 16);
}

/** A source of numbers in [0, 1) that every shard of a run draws alike (mulberry32 seeded by the run key). */
export function runRandom(key: string): () => number {
  let a = Number.parseInt(key.slice(0, 8), 16) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
