/**
 * The shards of a merged run (mqbench merge), phrased once for every report: one line for the console, the
 * clock-error sentence that goes with end-to-end latencies, and a row per shard.
 */
import type { RunResult } from '../run/result.js';
import { indexRanges } from '../util/index-ranges.js';
import { formatCount } from './format.js';

const ms = (us: number): string => `${(us / 1000).toFixed(3)} ms`;
const signedMs = (us: number): string => `${us >= 0 ? '+' : '−'}${ms(Math.abs(us))}`;

/** "4 of 4 shards merged · cross-shard e2e … good to ± 0.392 ms"; undefined for a run that was not merged. */
export function shardsLine(r: RunResult): string | undefined {
  const s = r.shards;
  if (s === undefined) return undefined;
  const absent = partialText(r);
  return `${s.merged.length} of ${s.count} shards merged${absent === undefined ? '' : ` (${absent})`} · ${e2eClockText(r) ?? 'no clock bound'}`;
}

/** "PARTIAL: shard 3 missing, shard 1 failed"; undefined for a complete merge or a run that was not merged. */
export function partialText(r: RunResult): string | undefined {
  const s = r.shards;
  if (s === undefined || !s.partial) return undefined;
  const parts: string[] = [];
  if (s.missing.length > 0) parts.push(`shard${s.missing.length === 1 ? '' : 's'} ${indexRanges(s.missing)} missing`);
  if (s.failed.length > 0) parts.push(`shard${s.failed.length === 1 ? '' : 's'} ${s.failed.map((f) => f.index).join(', ')} failed`);
  return `PARTIAL: ${parts.join(', ')}`;
}

/** Each line of the clocks of the shards, for the console: "shard 2: +250.012 ms ± 0.310 ms (drift +0.004 ms)". */
export function shardClockLines(r: RunResult): string[] {
  const s = r.shards;
  if (s === undefined) return [];
  return shardRows(r)
    .filter((row) => row[0] !== '0')
    .map((row) => {
      const [index, , , offset, bound, drift, late, stopped] = row;
      if (offset === 'missing') return `shard ${index}: missing`;
      if (offset === 'failed') return `shard ${index}: ${stopped}`;
      const extra = [drift === '–' ? '' : `drift ${drift}`, late === 'on time' ? '' : `started ${late} late`, stopped === 'interrupted' ? 'interrupted' : '']
        .filter((t) => t !== '')
        .join(', ');
      return `shard ${index}: clock ${offset}${bound === '–' ? '' : ` ${bound}`} against shard 0${extra === '' ? '' : ` (${extra})`}`;
    });
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
  // A run of missing shards is one row ("8–65534"): a merge of a few shards of many stays readable.
  for (const m of indexRanges(s.missing).split(', ').filter((t) => t !== '')) rows.push([m, '–', '–', 'missing', '–', '–', '–', '–']);
  for (const f of s.failed) rows.push([String(f.index), '–', '–', 'failed', '–', '–', '–', `failed (exit ${f.exitCode}): ${f.message}`]);
  return rows.sort((a, b) => parseInt(a[0], 10) - parseInt(b[0], 10));
}
