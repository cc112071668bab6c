/**
 * `mqbench merge DIR...`: the shards of a split run (each `mqbench run --shard I/N`'s report folder) → the reports
 * of the whole run, thresholds judged once, with the run's exit codes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { brokerVersion } from '../../../broker/index.js';
import { hgrmFiles, renderHtml, renderJson, renderMarkdown, renderSummary } from '../../report/index.js';
import { parseDuration } from '../../scenario/units.js';
import { mergeJtlFiles, JtlMergeError } from '../../shard/jtl-merge.js';
import { MergeError, mergeShards, type MergeInput } from '../../shard/merge.js';
import { readShardFile, ShardFileError } from '../../shard/shard-file.js';
import { parseCommandArgs } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';

/** Default --max-clock-error. */
export const DEFAULT_MAX_CLOCK_ERROR_MS = 5;

export const usage = `Usage: mqbench merge <shard-folder>... [options]

Merges the shards of a run split with mqbench run --shard I/N (or --shards N): reads shard.json in each folder and
writes the whole run's summary.json, report.md, report.html, results.jtl and *.hgrm, as one run would have.
Histograms merge exactly, per-second series line up on the shards' common clock, delivery is accounted across
shards (a subscriber in one shard, its publisher in another), and the thresholds are evaluated once.

Options:
  --out <dir>               report folder (default reports/<scenario>-merged-<time>/)
  --allow-partial           merge the shards that ran although others are missing or failed; the report is marked
                            partial and names them
  --max-clock-error <time>  end-to-end latencies across shards are withheld when the shards' clocks are not known
                            to within this (default ${DEFAULT_MAX_CLOCK_ERROR_MS}ms)
  -h, --help                show this help

Exit codes, as mqbench run: 0 passed, 1 a threshold failed (or a shard was interrupted), 2 the folders are not the
shards of one run (another scenario or run, a shard given twice, a shard missing or failed) or not shard folders.
How sharded runs work: docs/distributed.md.`;

export async function mergeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      out: { type: 'string' },
      'allow-partial': { type: 'boolean' },
      'max-clock-error': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
    usage,
  );
  if (values.help) {
    process.stdout.write(usage + '\n');
    return EXIT.ok;
  }
  if (positionals.length === 0) throw new CliError(`give the report folder of every shard\n\n${usage}`);
  let maxClockErrorUs = DEFAULT_MAX_CLOCK_ERROR_MS * 1000;
  if (values['max-clock-error'] !== undefined) {
    const d = parseDuration(values['max-clock-error']);
    if ('error' in d) throw new CliError(`--max-clock-error: ${d.error}${d.hint ? `\n  hint: ${d.hint}` : ''}`);
    maxClockErrorUs = d.value * 1000;
  }

  const inputs: MergeInput[] = [];
  const unreadable: string[] = [];
  for (const dir of positionals) {
    try {
      inputs.push({ dir, file: readShardFile(dir) });
    } catch (err) {
      if (!(err instanceof ShardFileError)) throw err;
      unreadable.push(err.message);
    }
  }
  if (unreadable.length > 0) throw new CliError(unreadable.join('\n'));

  let outcome;
  try {
    outcome = mergeShards(inputs, { allowPartial: values['allow-partial'] === true, maxClockErrorUs, version: brokerVersion() });
  } catch (err) {
    if (err instanceof MergeError) throw new CliError(err.message);
    throw err;
  }
  const { result, histograms } = outcome;
  const outDir = resolve(values.out ?? join('reports', `${safeName(result.scenario.name)}-merged-${timestamp(new Date())}`));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'summary.json'), renderJson(result));
  writeFileSync(join(outDir, 'report.md'), renderMarkdown(result));
  writeFileSync(join(outDir, 'report.html'), renderHtml(result));
  for (const h of hgrmFiles(histograms)) writeFileSync(join(outDir, h.fileName), h.text);
  try {
    mergeJtlFiles(outcome.jtl, join(outDir, 'results.jtl'), outcome.clients);
  } catch (err) {
    if (err instanceof JtlMergeError) throw new CliError(err.message);
    throw err;
  }
  process.stdout.write(renderSummary(result, { color: process.stdout.isTTY === true }));
  process.stdout.write(`\nReports: ${outDir}\n`);
  return result.passed ? EXIT.ok : EXIT.failed;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
}

/** 20261123-174512: sortable, and safe in file names everywhere. */
function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
