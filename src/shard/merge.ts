/**
 * `mqbench merge`: the shards of a split run → one result, as if one process had run the whole scenario.
 *
 * A pure function of the shard files. Each shard's times are moved onto one timeline — time zero is the run's start
 * instant on shard 0's clock — by the shard's measured clock offset; then the workers' reports of every shard go
 * through the single run's own aggregation (run/aggregate.ts): histograms merge exactly, series add up second by
 * second, and delivery accounting joins every subscriber's received sequences with every publisher's sent ones,
 * whichever shards they ran in. Thresholds are evaluated once, on the merged result.
 *
 * End-to-end latency from a publisher in shard A to a subscriber in shard B is the subscriber's arrival time minus
 * the send time in the payload, each on its own shard's timeline; it is corrected by the difference of the two time
 * zeros on shard 0's clock (E_B − E_A), kept apart by source shard for that purpose (GroupReport.e2eBySource). Its
 * error is at most the two shards' clock error bounds added; above `maxClockErrorUs` the e2e figures are withheld.
 */
import { join } from 'node:path';
import { indexRanges } from '../util/index-ranges.js';
import { LatencyHistogram } from '../metrics/histogram.js';
import type { CounterSeries, IntervalSample } from '../metrics/series.js';
import { aggregate, type Aggregated } from '../run/aggregate.js';
import type { RunResult, ShardRow, ShardsResult } from '../run/result.js';
import type { EngineReport } from '../engine/engine.js';
import type { GroupReport } from '../engine/group-metrics.js';
import { combineOffsets, type RunOffset } from './clock-offset.js';
import { formatOffset } from './coordinator.js';
import { isFailedShard, type AnyShardFile, type ShardFile } from './shard-file.js';

export interface MergeInput {
  /** The shard's folder, as given (for messages). */
  dir: string;
  file: AnyShardFile;
}

/** A shard that left word that it failed (FailedShardFile). */
export interface ShardFailure {
  index: number;
  dir: string;
  exitCode: number;
  message: string;
}

export interface MergeOptions {
  /** Merge although shards are missing or failed (the result is marked partial and lists them). */
  allowPartial: boolean;
  /** Cross-shard e2e latencies with a larger clock error bound are withheld, µs. */
  maxClockErrorUs: number;
  version: string;
}

/** A shard's results.jtl and how to put its timestamps on the merged timeline. */
export interface JtlSource {
  path: string;
  /** Add to each row's timestamp, ms. */
  correctionMs: number;
}

export interface MergeOutcome extends Aggregated {
  /** results.jtl of each shard, in shard order (shards without one are left out). */
  jtl: JtlSource[];
  /** Clients of the whole run (results.jtl's thread columns). */
  clients: number;
}

export class MergeError extends Error {}

/** The most a shard's time zero may be from the run's start instant (µs): beyond, its clock fields are damaged. */
const MAX_SHIFT_US = 24 * 3600e6;

/** The shard set a merge works on: the shards that ran, and which of the run's shards did not. */
export interface ShardSet {
  count: number;
  /** Shards that ran, in index order. */
  ran: Array<{ dir: string; file: ShardFile }>;
  /** Indexes of no folder given. */
  missing: number[];
  /** Shards whose folder says they failed. */
  failed: ShardFailure[];
}

/**
 * Refuses shards that are not the parts of one run (another scenario, another number of shards, another run, a
 * shard given twice), and, unless `allowPartial`, a run with shards missing or failed; each is named.
 */
export function checkShardSet(inputs: readonly MergeInput[], allowPartial: boolean): ShardSet {
  if (inputs.length === 0) throw new MergeError('no shard folders given');
  // Compare against a shard that ran, when there is one: its start time is shard 0's.
  const first = inputs.find((i) => !isFailedShard(i.file)) ?? inputs[0];
  const problems: string[] = [];
  for (const { dir, file } of inputs) {
    if (file === first.file) continue;
    const r = file.run;
    const f = first.file.run;
    if (r.fingerprint !== f.fingerprint) {
      problems.push(`${dir} ran scenario "${r.scenario}" (${r.fingerprint.slice(0, 12)}), ${first.dir} ran "${f.scenario}" (${f.fingerprint.slice(0, 12)}): not the same scenario`);
    } else if (r.shards !== f.shards) {
      problems.push(`${dir} is a shard of ${r.shards}, ${first.dir} of ${f.shards}`);
    } else if (r.key !== f.key || (r.startAtMs !== f.startAtMs && !isFailedShard(file) && !isFailedShard(first.file))) {
      // A shard that failed before it reached shard 0 never learned the run's start time: its key must match.
      problems.push(`${dir} is from another run (run ${r.id ?? r.key}, started ${r.startAt}) than ${first.dir} (run ${f.id ?? f.key}, started ${f.startAt})`);
    }
  }
  if (problems.length > 0) throw new MergeError(`these shards are not parts of one run:\n  ${problems.join('\n  ')}`);
  const byIndex = new Map<number, string[]>();
  for (const { dir, file } of inputs) byIndex.set(file.shard.index, [...(byIndex.get(file.shard.index) ?? []), dir]);
  const dups = [...byIndex].filter(([, dirs]) => dirs.length > 1);
  if (dups.length > 0) {
    throw new MergeError(`a shard given more than once: ${dups.map(([i, dirs]) => `shard ${i} in ${dirs.join(' and ')}`).join('; ')}`);
  }
  const count = first.file.run.shards;
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!byIndex.has(i)) missing.push(i);
  const failed: ShardFailure[] = [];
  const ran: ShardSet['ran'] = [];
  for (const { dir, file } of inputs) {
    if (isFailedShard(file)) failed.push({ index: file.shard.index, dir, exitCode: file.failure.exitCode, message: file.failure.message });
    else ran.push({ dir, file });
  }
  failed.sort((a, b) => a.index - b.index);
  ran.sort((a, b) => a.file.shard.index - b.file.shard.index);
  const ranText = ran.length === 0 ? 'none ran' : `merging ${indexRanges(ran.map((r) => r.file.shard.index))}`;
  const lines: string[] = [];
  for (const f of failed) lines.push(`shard ${f.index} of ${count} failed (exit ${f.exitCode}, ${f.dir}): ${f.message}`);
  if (missing.length > 0) lines.push(`shard${missing.length === 1 ? '' : 's'} ${indexRanges(missing)} of ${count} missing (${ranText})`);
  if (ran.length === 0) throw new MergeError(`no shard of the run ran: nothing to merge\n  ${lines.join('\n  ')}`);
  if (lines.length > 0 && !allowPartial) {
    throw new MergeError(
      `${lines.join('\n')}\n  hint: give every shard's folder, or --allow-partial to merge the shards that ran (the report is marked partial and names the others)`,
    );
  }
  return { count, ran, missing, failed };
}

/** Each shard's clock against shard 0 over the run; shard 0 is the reference. */
function runOffset(file: ShardFile): RunOffset | null {
  if (file.shard.index === 0) return { offsetUs: 0, errorUs: 0, driftUs: null, basis: 'before and after' };
  return combineOffsets(file.clock.before, file.clock.after);
}

export function mergeShards(inputs: readonly MergeInput[], options: MergeOptions): MergeOutcome {
  const { count, missing, failed, ran: shards } = checkShardSet(inputs, options.allowPartial);
  const head = shards[0].file;
  const scenario = head.scenario;
  const zeroUs = head.run.startAtMs * 1000;

  // Each shard's time zero on shard 0's clock (E), and how far it is from the run's start instant.
  const timing = shards.map(({ dir, file }) => {
    const offset = runOffset(file);
    const e = file.clock.epochWallUs - (offset?.offsetUs ?? 0);
    const shiftUs = e - zeroUs;
    // Time zeros agree to milliseconds, or to a clock stepped during the run; a day apart is a damaged file.
    if (!(Math.abs(shiftUs) <= MAX_SHIFT_US)) {
      throw new MergeError(`${dir}: shard ${file.shard.index}'s time zero is ${Number.isFinite(shiftUs) ? `${(shiftUs / 3.6e9).toFixed(1)} h` : 'not a time'} from the run's start on shard 0's clock: its shard.json clock fields are damaged`);
    }
    return { file, offset, epochUs: e, shiftUs, errorUs: offset === null ? Infinity : offset.errorUs };
  });
  const byIndex = new Map(timing.map((t) => [t.file.shard.index, t]));

  // Cross-shard e2e: correct each source shard's histogram, and find the widest bound of the pairs that spoke.
  let crossErrorUs: number | null = null;
  let cross = 0;
  let same = 0;
  let fromMissing = 0;
  for (const t of timing) {
    for (const report of t.file.reports) {
      for (const g of report.groups) {
        if (g.e2eBySource === undefined) continue;
        for (const [source, encoded] of Object.entries(g.e2eBySource)) {
          const from = byIndex.get(Number(source));
          const n = new LatencyHistogram();
          n.merge(encoded);
          if (Number(source) === t.file.shard.index || Number(source) < 0) same += n.count;
          else if (from === undefined) fromMissing += n.count;
          else {
            cross += n.count;
            if (n.count > 0) crossErrorUs = Math.max(crossErrorUs ?? 0, t.errorUs + from.errorUs);
          }
        }
      }
    }
  }
  const e2eWithheld = crossErrorUs !== null && !(crossErrorUs <= options.maxClockErrorUs);

  const reports: EngineReport[] = [];
  for (const t of timing) {
    const seconds = Math.round(t.shiftUs / 1e6);
    for (const r of t.file.reports) {
      reports.push({
        ...r,
        errors: r.errors.map((e) => ({ ...e, atMs: e.atMs + t.shiftUs / 1000 })),
        groups: r.groups.map((g) => moveGroup(correctE2e(g, t.file.shard.index, t.epochUs, byIndex), t.shiftUs, seconds)),
      });
    }
  }

  // The run's facts on shard 0's clock: results are stamped by each shard's system clock, moved by its correction.
  const toRef = (t: (typeof timing)[number], realMs: number) => realMs - t.file.facts.engineEpochWallMs + t.epochUs / 1000;
  const reference = timing.find((t) => t.file.shard.index === 0);
  const endedMs = Math.max(...timing.map((t) => toRef(t, Date.parse(t.file.facts.endedAt))));
  const stopped = timing.map((t) => t.file.facts.stoppedBy);
  const stoppedBy: RunResult['stoppedBy'] = stopped.includes('interrupted') ? 'interrupted' : stopped.includes('duration') ? 'duration' : 'completed';
  const aggregated = aggregate(
    {
      version: options.version,
      scenario,
      target: head.shard.target,
      startedAt: new Date(zeroUs / 1000),
      endedAt: new Date(endedMs),
      durationMs: Math.round(endedMs - zeroUs / 1000),
      stoppedBy,
      workers: timing.reduce((n, t) => n + t.file.facts.workers, 0),
      // The broker's $SYS figures are read by shard 0 alone (one reader, on the run's timeline: its shift is 0).
      brokerSys: reference?.file.summary.broker?.sys ?? null,
      // Faults stop a broker mqbench started; a sharded run tests a broker of its own (sharding refuses faults).
      faults: [],
    },
    reports,
  );

  const rows: ShardRow[] = timing.map((t) => ({
    index: t.file.shard.index,
    clients: t.file.shard.clients,
    host: t.file.clock.host?.name ?? '',
    offsetUs: t.offset?.offsetUs ?? null,
    errorUs: t.offset?.errorUs ?? null,
    driftUs: t.offset?.driftUs ?? null,
    lateStartUs: t.file.clock.lateStartUs,
    shiftUs: t.shiftUs,
    stoppedBy: t.file.facts.stoppedBy,
  }));
  const section: ShardsResult = {
    count,
    merged: rows.map((r) => r.index),
    missing,
    failed: failed.map(({ index, exitCode, message }) => ({ index, exitCode, message })),
    partial: missing.length > 0 || failed.length > 0,
    startAt: head.run.startAt,
    maxClockErrorUs: options.maxClockErrorUs,
    crossShardErrorUs: crossErrorUs === null || Number.isFinite(crossErrorUs) ? crossErrorUs : null,
    crossShardDeliveries: cross,
    sameShardDeliveries: same,
    e2eWithheld,
    sameHostStartSpreadUs: sameHostSpread(timing.map((t) => t.file)),
    shards: rows,
  };
  const result = aggregated.result;
  result.shards = section;
  result.notes.push(...shardNotes(section, timing));
  if (reference === undefined && scenario.sysTopics) result.notes.push("The broker's $SYS figures are read by shard 0, which is not merged: there are none here.");
  if (fromMissing > 0) {
    result.notes.push(
      `${fromMissing} end-to-end latenc${fromMissing === 1 ? 'y' : 'ies'} of messages from publishers of shards not merged ` +
        `${fromMissing === 1 ? 'is' : 'are'} left out of e2e: their clocks are not known here.`,
    );
  }
  if (e2eWithheld) withholdE2e(aggregated, crossErrorUs!, options.maxClockErrorUs);

  const jtl: JtlSource[] = [];
  for (const t of timing) {
    if (t.file.jtl === null) continue;
    jtl.push({ path: join(shards.find((s) => s.file === t.file)!.dir, t.file.jtl), correctionMs: t.epochUs / 1000 - t.file.facts.engineEpochWallMs });
  }
  return { ...aggregated, jtl, clients: scenario.groups.reduce((n, g) => n + g.clients, 0) };
}

/**
 * The group's e2e histogram rebuilt from its per-source parts, each moved by E_B − E_A: the subscriber's time zero
 * minus the publisher's, on shard 0's clock (true latency = measured + E_B − E_A). A payload from outside the run
 * (source −1) and this shard's own publishers are not moved.
 */
function correctE2e(g: GroupReport, shard: number, epochUs: number, byIndex: Map<number, { epochUs: number }>): GroupReport {
  if (g.e2eBySource === undefined) return g;
  const e2e = new LatencyHistogram();
  for (const [source, encoded] of Object.entries(g.e2eBySource)) {
    const from = byIndex.get(Number(source));
    // A missing shard's clock was never measured: its publishers' latencies cannot be corrected, and are left out.
    if (from === undefined && Number(source) >= 0) continue;
    const delta = Number(source) === shard || from === undefined ? 0 : epochUs - from.epochUs;
    e2e.mergeShifted(encoded, delta);
  }
  return { ...g, latency: { ...g.latency, e2e: e2e.encode() } };
}

/** A group's times moved by `shiftUs` (µs fields) and `seconds` (per-second records) onto the merged timeline. */
function moveGroup(g: GroupReport, shiftUs: number, seconds: number): GroupReport {
  if (shiftUs === 0) return g;
  const us = (v: number) => (v < 0 || !Number.isFinite(v) ? v : v + shiftUs);
  const progress = (p: readonly number[] | undefined) => (p === undefined ? p : moveProgress(p, seconds));
  return {
    ...g,
    series: moveSeries(g.series, seconds),
    intervals: g.intervals.map((s: IntervalSample) => ({ ...s, second: Math.max(0, s.second + seconds) })),
    receivers: g.receivers.map((r) => ({ ...r, streams: r.streams.map((s) => ({ ...s, progress: moveProgress(s.progress, seconds) })) })),
    published: g.published.map((p) => ({ ...p, firstUs: us(p.firstUs), lastUs: us(p.lastUs), progress: progress(p.progress) })),
    coverage: g.coverage.map((c) => ({ ...c, fromUs: us(c.fromUs), toUs: us(c.toUs) })),
    received: { firstUs: us(g.received.firstUs), lastUs: us(g.received.lastUs) },
    retainedReceived: { firstUs: us(g.retainedReceived.firstUs), lastUs: us(g.retainedReceived.lastUs) },
    connected: { firstUs: us(g.connected.firstUs), lastUs: us(g.connected.lastUs) },
    progressCutAt: g.progressCutAt < 0 ? g.progressCutAt : Math.max(0, g.progressCutAt + seconds),
  };
}

/** [second, count] pairs moved by whole seconds; seconds before the merged time zero fold into second 0. */
function moveProgress(p: readonly number[], seconds: number): number[] {
  if (seconds === 0) return [...p];
  const out: number[] = [];
  for (let i = 0; i < p.length; i += 2) {
    const s = Math.max(0, p[i] + seconds);
    if (out.length > 0 && out[out.length - 2] === s) out[out.length - 1] = p[i + 1];
    else out.push(s, p[i + 1]);
  }
  return out;
}

/** A series moved by whole seconds: later by padding its start; earlier by folding the seconds before 0 into 0. */
function moveSeries(s: CounterSeries, seconds: number): CounterSeries {
  if (seconds === 0) return s;
  const move = (row: readonly number[], gauge: boolean): number[] => {
    if (seconds > 0) return [...new Array<number>(seconds).fill(0), ...row];
    const cut = Math.min(-seconds, Math.max(0, row.length - 1));
    const head = row.slice(0, cut + 1);
    const first = gauge ? (head[head.length - 1] ?? 0) : head.reduce((a, b) => a + b, 0);
    return [first, ...row.slice(cut + 1)];
  };
  const map = <K extends string>(rows: Record<K, number[]>, gauge: boolean) =>
    Object.fromEntries(Object.entries<number[]>(rows).map(([k, row]) => [k, move(row, gauge)])) as Record<K, number[]>;
  const counters = map(s.counters, false);
  return { seconds: Math.max(0, s.seconds + seconds), counters, gauges: map(s.gauges, true), errors: map(s.errors, false) };
}

/** The largest difference of time zeros among shards that ran on one boot of one host (one monotonic clock). */
function sameHostSpread(files: readonly ShardFile[]): number | null {
  const byBoot = new Map<string, number[]>();
  for (const f of files) {
    const boot = f.clock.host?.bootId;
    if (!boot || f.clock.epochMonotonicNs === '0') continue;
    byBoot.set(boot, [...(byBoot.get(boot) ?? []), Number(BigInt(f.clock.epochMonotonicNs) / 1000n)]);
  }
  let spread: number | null = null;
  for (const list of byBoot.values()) {
    if (list.length < 2) continue;
    spread = Math.max(spread ?? 0, Math.max(...list) - Math.min(...list));
  }
  return spread;
}

function shardNotes(s: ShardsResult, timing: ReadonlyArray<{ file: ShardFile; offset: RunOffset | null }>): string[] {
  const notes: string[] = [];
  const ms = (us: number) => `${(us / 1000).toFixed(3)} ms`;
  notes.push(
    `Merged from ${s.merged.length} of ${s.count} shards, started together at ${s.startAt} (shard 0's clock). ` +
      (s.crossShardErrorUs !== null
        ? `End-to-end latencies across shards (${s.crossShardDeliveries} of ${s.crossShardDeliveries + s.sameShardDeliveries} deliveries) ` +
          `are corrected for the shards' clock offsets and are good to ± ${ms(s.crossShardErrorUs)}.`
        : s.crossShardDeliveries > 0
          ? `End-to-end latencies across shards (${s.crossShardDeliveries} deliveries) have no clock error bound: the clock offsets could not be measured.`
          : 'No message went from one shard to another.'),
  );
  const absent = [...s.missing, ...s.failed.map((f) => f.index)].sort((a, b) => a - b);
  if (absent.length > 0) {
    notes.push(
      `Partial: ${s.merged.length} of ${s.count} shards merged. ` +
        (s.missing.length > 0 ? `Shard${s.missing.length === 1 ? '' : 's'} ${indexRanges(s.missing)} missing (not given to the merge). ` : '') +
        s.failed.map((f) => `Shard ${f.index} failed (exit ${f.exitCode}): ${f.message}. `).join('') +
        `The clients of shard${absent.length === 1 ? '' : 's'} ${indexRanges(absent)} are not in these results, and messages from their publishers ` +
        'are counted as received but not judged for loss.',
    );
  }
  for (const { file, offset } of timing) {
    const i = file.shard.index;
    if (i !== 0 && offset === null) notes.push(`Shard ${i}: its clock offset against shard 0 could not be measured, before or after the run.`);
    else if (offset !== null && offset.driftUs === null && i !== 0) {
      notes.push(`Shard ${i}: its clock was measured ${offset.basis} the run only (${formatOffset(offset.offsetUs)}), so its drift during the run is not known.`);
    }
    if (file.facts.stoppedBy === 'interrupted') {
      notes.push(`Shard ${i} was interrupted (Ctrl-C or SIGTERM) before the run's end: its clients stopped early, so the merged run counts as interrupted.`);
    }
    if (file.clock.lateStartUs > 1000) {
      notes.push(`Shard ${i} was ready ${ms(file.clock.lateStartUs)} after the start time: its clients due before then started late.`);
    }
  }
  if (s.sameHostStartSpreadUs !== null) {
    notes.push(`Shards on one host started their time zero within ${ms(s.sameHostStartSpreadUs)} of each other (on its monotonic clock).`);
  }
  return notes;
}

/** Leaves e2e figures out of the result (and fails the thresholds on them) when the clocks cannot back them. */
function withholdE2e(a: Aggregated, boundUs: number, maxUs: number): void {
  const r = a.result;
  const bound = Number.isFinite(boundUs) ? `± ${(boundUs / 1000).toFixed(3)} ms` : 'unknown';
  const why = `e2e latencies across shards withheld: the shards' clock error bound (${bound}) is above --max-clock-error ${(maxUs / 1000).toFixed(3)} ms`;
  delete r.latency.e2e;
  delete r.curves.run.e2e;
  for (const g of r.groups) delete g.latency.e2e;
  for (const c of Object.values(r.curves.groups)) delete c.e2e;
  for (const g of r.groups) g.intervals = [];
  for (const name of [...a.histograms.keys()]) if (name === 'e2e' || name.endsWith('.e2e')) a.histograms.delete(name);
  for (const t of r.thresholds) {
    if (t.threshold.metric !== 'e2e') continue;
    t.passed = false;
    t.actual = null;
    t.describe = `${t.describe.split(' = ')[0].split(':')[0]}: ${why}`;
  }
  r.passed = r.stoppedBy !== 'interrupted' && r.thresholds.every((t) => t.passed);
  r.notes.unshift(`${why}. Same-shard and cross-shard figures are mixed, so none is shown; see docs/distributed.md#clocks.`);
}
