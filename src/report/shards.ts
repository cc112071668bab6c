/**
 * The shards of a merged run (mqbench merge), phrased once for every report: one line for the console, the
 * clock-error sentence that goes with end-to-end latencies, and a row per shard.
 */
import type { RunResult } from '../run/result.js';
import { formatCount } from './format.js';

const ms = (us: number): string => `${(us / 1000).toFixed(3)} ms`;
const signedMs = (us: number): string => `${us >= 0 ? '+' : '−'}${ms(Math.abs(us))}`;

/** "4 of 4 shards merged · cross-shard e2e good to ± 0.392 ms"; undefined for a run that was not merged. */
export function shardsLine(r: RunResult): string | undefined {
  const s = r.shards;
  if (s === undefined) return undefined;
  const missing = s.missing.length > 0 ? ` (missing: ${s.missing.join(', ')})` : '';
  return `${s.merged.length} of ${s.count} shards merged${missing} · ${e2eClockText(r) ?? 'no clock bound'}`;
}

/** How far cross-shard end-to-end latencies can be trusted; undefined for a run that was not merged. */
export function e2eClockText(r: RunResult): string | undefined {
  const s = r.shards;
  if (s === undefined) return undefined;
  if (s.crossShardDeliveries === 0) return 'no message crossed shards';
  if (s.e2eWithheld) {
    const bound = s.crossShardErrorUs === null ? 'unknown' : `± ${ms(s.crossShardErrorUs)}`;
    return `cross-shard e2e withheld: clock error ${bound} above ${ms(s.maxClockErrorUs)}`;
  }
  return `cross-shard e2e (${formatCount(s.crossShardDeliveries)} of ${formatCount(s.crossShardDeliveries + s.sameShardDeliveries)}) corrected for clock offsets, good to ± ${ms(s.crossShardErrorUs ?? 0)}`;
}

export const SHARD_COLUMNS = ['shard', 'clients', 'host', 'clock vs shard 0', 'error bound', 'drift', 'late start', 'stopped by'] as const;

/** One row of plain text per shard, in SHARD_COLUMNS order. */
export function shardRows(r: RunResult): string[][] {
  const s = r.shards;
  if (s === undefined) return [];
  const rows = s.shards.map((row) => [
    String(row.index),
    formatCount(row.clients),
    row.host,
    row.index === 0 ? 'reference' : row.offsetUs === null ? 'not measured' : signedMs(row.offsetUs),
    row.index === 0 ? '–' : row.errorUs === null ? '–' : `± ${ms(row.errorUs)}`,
    row.driftUs === null ? '–' : signedMs(row.driftUs),
    row.lateStartUs > 0 ? ms(row.lateStartUs) : 'on time',
    row.stoppedBy,
  ]);
  for (const m of s.missing) rows.push([String(m), '–', '–', 'missing', '–', '–', '–', '–']);
  return rows.sort((a, b) => Number(a[0]) - Number(b[0]));
}
