/**
 * `mqbench compare`: the same scenarios against several brokers, side by side.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { brokerVersion } from '../../../broker/index.js';
import { CompareError, compare, type SaturationOptions } from '../../compare/compare.js';
import { BrokerStartError } from '../../launch/local-broker.js';
import { MosquittoNotFoundError } from '../../launch/mosquitto.js';
import { renderBenchmarksMarkdown, renderCompareHtml, renderCompareJson, renderCompareTable } from '../../report/compare.js';
import { BrokerUnreachableError } from '../../run/run.js';
import { formatProblems, loadScenarioFile, resolveWorkerCount, type Scenario } from '../../scenario/index.js';
import { parseCommandArgs } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';

export const usage = `Usage: mqbench compare <scenario.yaml ...> --broker <b> --broker <b> [options]

Runs every scenario against every broker, alternating between brokers in each round (A B A B), and reports medians,
spread, the brokers' own CPU and memory (for brokers mqbench starts) and the ratio of the bundled broker to each other.

Brokers (repeat --broker; at least one):
  bundled      the bundled broker, started as its own process
  mosquitto    Mosquitto, found on PATH (or MQBENCH_MOSQUITTO), started on a free port with a generated config
  aedes        Aedes, the Node.js broker (a development dependency: available in a clone after npm install)
  <url>        a broker already running: mqtt://host:1883, mqtts://…, ws://…, wss://…

Options:
  --rounds <n>        rounds per scenario (default 3)
  --conf <line>       a mosquitto.conf line for the bundled broker and Mosquitto, e.g. "max_queued_messages 10000";
                      repeatable (both start from their defaults otherwise)
  --workers <n>       mqbench worker threads (default: one per CPU, no more than clients)
  --saturate          also raise each paced scenario's publish rates step by step (x1.5) until a limit is crossed
                      (p99, loss, errors, or publishers unable to send the offered rate), and report the highest
                      rate that held
  --max-p99 <time>    saturation limit on end-to-end p99 (default 50ms)
  --max-lost <n>      saturation limit on lost messages (default 0)
  --out <dir>         where compare.json and compare.html go (default reports/compare-<time>)
  --markdown <file>   also write the results as Markdown (e.g. docs/benchmarks.md)
  -h, --help          show this help

A broker that dies during a round loses that round (listed under incidents) and is started again for the next.

Exit codes: 0 done, 2 invalid options or scenario, 3 a broker could not be started or reached.`;

export async function compareCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      broker: { type: 'string', multiple: true },
      rounds: { type: 'string' },
      conf: { type: 'string', multiple: true },
      workers: { type: 'string' },
      saturate: { type: 'boolean' },
      'max-p99': { type: 'string' },
      'max-lost': { type: 'string' },
      out: { type: 'string' },
      markdown: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
    usage,
  );
  if (values.help) {
    process.stdout.write(usage + '\n');
    return EXIT.ok;
  }
  if (positionals.length === 0) throw new CliError(`no scenario given\n\n${usage}`);
  const brokers = values.broker ?? [];
  if (brokers.length === 0) throw new CliError('name at least one --broker (e.g. --broker bundled --broker mosquitto)');
  const rounds = wholeNumber(values.rounds ?? '3', '--rounds', 1, 100);
  const scenarios: Scenario[] = [];
  const problems: string[] = [];
  for (const file of positionals) {
    const loaded = loadScenarioFile(file);
    if ('problems' in loaded) problems.push(formatProblems(loaded.problems));
    else scenarios.push(loaded.scenario);
  }
  if (problems.length > 0) throw new CliError(problems.join('\n'), EXIT.usage);
  const clients = Math.max(...scenarios.map((s) => s.groups.reduce((n, g) => n + g.clients, 0)));
  const workers = values.workers === undefined ? resolveWorkerCount('auto', clients, availableParallelism()) : wholeNumber(values.workers, '--workers', 1, 64);
  const saturate: SaturationOptions | undefined = values.saturate
    ? { p99Us: duration(values['max-p99'] ?? '50ms', '--max-p99'), lost: wholeNumber(values['max-lost'] ?? '0', '--max-lost', 0, 1e12), errors: 0, factor: 1.5, maxSteps: 12 }
    : undefined;
  const outDir = resolve(values.out ?? join('reports', `compare-${stamp(new Date())}`));
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  let result;
  try {
    result = await compare({
      scenarios,
      brokers,
      rounds,
      conf: values.conf ?? [],
      workers,
      saturate,
      version: brokerVersion(),
      command: `mqbench compare ${argv.map(hidePassword).join(' ')}`,
      signal: abort.signal,
      onStatus: (text) => process.stderr.write(`mqbench: ${text}\n`),
    });
  } catch (err) {
    if (err instanceof MosquittoNotFoundError || err instanceof BrokerStartError || err instanceof BrokerUnreachableError) {
      throw new CliError(err.message, EXIT.unavailable);
    }
    if (err instanceof CompareError) throw new CliError(err.message, EXIT.usage);
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'compare.json'), renderCompareJson(result));
  writeFileSync(join(outDir, 'compare.html'), renderCompareHtml(result));
  if (values.markdown) writeFileSync(resolve(values.markdown), renderBenchmarksMarkdown(result));
  process.stdout.write(renderCompareTable(result, { color: process.stdout.isTTY === true }));
  process.stdout.write(`\nReports: ${outDir}${values.markdown ? ` and ${values.markdown}` : ''}\n`);
  return abort.signal.aborted ? EXIT.interrupted : EXIT.ok;
}

/** A URL's password is never written to a report: mqtt://user:secret@host → mqtt://user:***@host. */
function hidePassword(arg: string): string {
  return arg.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

function wholeNumber(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}

/** "50ms", "2s", "750us" → µs. */
function duration(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|µs|ms|s)$/.exec(text);
  if (!m) throw new CliError(`${name} must be a time like 50ms or 1s, got "${text}"`);
  const n = Number(m[1]);
  return Math.round(m[2] === 's' ? n * 1e6 : m[2] === 'ms' ? n * 1e3 : n);
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
