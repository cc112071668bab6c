/**
 * `mqbench run scenario.yaml`: load and validate the scenario, run it against its broker, follow it live, and
 * write the reports.
 */
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { brokerVersion } from '../../../broker/index.js';
import type { JtlRow } from '../../engine/engine.js';
import {
  JTL_HEADER,
  hgrmFiles,
  renderHtml,
  renderJson,
  renderJtlRows,
  renderMarkdown,
  renderProgressLine,
  renderProgressLog,
  renderSummary,
} from '../../report/index.js';
import { BrokerUnreachableError, runScenario, type RunProgress } from '../../run/run.js';
import { formatProblems, loadScenarioFile, resolveWorkerCount, type Scenario } from '../../scenario/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import { openTarget } from '../target.js';

export const usage = `Usage: mqbench run <scenario.yaml> [options]

Runs a scenario: simulated MQTT clients in worker threads against the bundled broker (the default) or any broker,
then writes summary.json, report.md, report.html, results.jtl and *.hgrm to reports/<scenario>-<time>/.

Options (each overrides the scenario):
  --broker <bundled|url>    target broker, e.g. mqtt://host:1883, mqtts://host:8883, ws://host:9001/mqtt
  --duration <time>         run length, e.g. 30s, 2m
  --clients <n|g=n,...>     clients: a count (one group) or per group, e.g. publishers=10,subscribers=2
  --workers <n|auto>        worker threads (default: one per CPU, no more than clients)
  --out <dir>               report folder
  --no-progress             no live line while running
  -h, --help                show this help

Exit codes: 0 passed, 1 a threshold failed, 2 invalid scenario or options, 3 broker unreachable, 130 interrupted.
The scenario format is described in docs/scenarios.md.`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      broker: { type: 'string' },
      duration: { type: 'string' },
      clients: { type: 'string' },
      workers: { type: 'string' },
      out: { type: 'string' },
      progress: { type: 'boolean', default: true },
      'no-progress': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage + '\n');
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new CliError(`expected one scenario file, got ${positionals.length}\n\n${usage}`);
  const file = positionals[0];
  const loaded = loadScenarioFile(file, {
    overrides: {
      broker: values.broker,
      duration: values.duration,
      clients: values.clients,
      workers: values.workers,
      out: values.out,
    },
  });
  if ('problems' in loaded) throw new CliError(`${formatProblems(loaded.problems)}`, EXIT.usage);
  const scenario = loaded.scenario;
  const showProgress = values.progress && !values['no-progress'];
  return execute(scenario, showProgress);
}

async function execute(scenario: Scenario, showProgress: boolean): Promise<number> {
  const totalClients = scenario.groups.reduce((n, g) => n + g.clients, 0);
  const workers = resolveWorkerCount(scenario.workers, totalClients, availableParallelism());
  const outDir = resolve(scenario.out ?? join('reports', `${safeName(scenario.name)}-${timestamp(new Date())}`));
  const target = await openTarget(scenario);
  const tty = process.stderr.isTTY === true;
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(`${tty ? '\n' : ''}mqbench: stopping (Ctrl-C again to quit at once); the report is still written\n`);
      abort.abort();
    } else {
      process.exit(EXIT.interrupted);
    }
  };
  process.on('SIGINT', onSigint);
  let jtl: WriteStream | undefined;
  try {
    mkdirSync(outDir, { recursive: true });
    jtl = createWriteStream(join(outDir, 'results.jtl'));
    jtl.write(JTL_HEADER);
    const jtlContext = { url: target.target.url, activeClients: totalClients };
    process.stderr.write(
      `mqbench: ${scenario.name}: ${totalClients} client${totalClients === 1 ? '' : 's'} in ${workers} worker${workers === 1 ? '' : 's'} ` +
        `against ${target.target.url}, MQTT ${target.target.protocol}\n`,
    );
    const stream = jtl;
    let outcome;
    try {
      outcome = await runScenario(
        { scenario, endpoint: target.endpoint, target: target.target, workers, version: brokerVersion() },
        {
          signal: abort.signal,
          onJtl: (rows: JtlRow[]) => stream.write(renderJtlRows(rows, jtlContext)),
          onProgress: showProgress ? (p: RunProgress) => printProgress(p, tty) : undefined,
        },
      );
    } catch (err) {
      if (err instanceof BrokerUnreachableError) throw new CliError(err.message, EXIT.unavailable);
      throw err;
    }
    if (showProgress && tty) process.stderr.write('\n');
    const { result, histograms } = outcome;
    writeFileSync(join(outDir, 'summary.json'), renderJson(result));
    writeFileSync(join(outDir, 'report.md'), renderMarkdown(result));
    writeFileSync(join(outDir, 'report.html'), renderHtml(result));
    for (const h of hgrmFiles(histograms)) writeFileSync(join(outDir, h.fileName), h.text);
    await new Promise<void>((done) => stream.end(done));
    jtl = undefined;
    process.stdout.write(renderSummary(result, { color: process.stdout.isTTY === true }));
    process.stdout.write(`\nReports: ${outDir}\n`);
    if (result.stoppedBy === 'interrupted') return EXIT.interrupted;
    return result.passed ? EXIT.ok : EXIT.failed;
  } finally {
    process.off('SIGINT', onSigint);
    jtl?.end();
    await target.close();
  }
}

function printProgress(p: RunProgress, tty: boolean): void {
  if (tty) process.stderr.write(`\r${renderProgressLine(p, { color: true })}`);
  else process.stderr.write(`${renderProgressLog(p)}\n`);
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
}

/** 20261123-174512: sortable, and safe in file names everywhere. */
function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
