/**
 * `mqbench run scenario.yaml`: load and validate the scenario, run it against its broker, follow it live, and
 * write the reports.
 */
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
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
import type { FaultRun } from '../../run/result.js';
import { BrokerUnreachableError, runScenario, type RunProgress } from '../../run/run.js';
import { formatProblems, loadScenarioFile, resolveWorkerCount, type Scenario } from '../../scenario/index.js';
import { parseCommandArgs } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import { openTarget } from '../target.js';
import { BrokerStartError } from '../../launch/local-broker.js';
import { MosquittoNotFoundError } from '../../launch/mosquitto.js';
import { FD_OVERHEAD, fdShortfall, raiseFdLimit } from '../../util/fd-limit.js';
import { METRICS_OPTIONS, METRICS_USAGE, RunMetrics, readMetricsOptions, shardLabel, type MetricsSettings } from '../run-metrics.js';

export const usage = `Usage: mqbench run <scenario.yaml> [options]

Runs a scenario: simulated MQTT clients in worker threads against the bundled broker (the default) or any broker,
then writes summary.json, report.md, report.html, results.jtl and *.hgrm to reports/<scenario>-<time>/.

Options (each overrides the scenario):
  --broker <b>              bundled (in this process; a process of its own when the scenario has faults or
                            persistence), mosquitto or aedes (started for the run), or a URL:
                            mqtt://host:1883, mqtts://host:8883, ws://host:9001/mqtt (not with faults: mqbench
                            stops and starts only a broker it started)
  --reply-timeout <time>    how long to wait for any answer the broker owes (default 10s)
  --duration <time>         run length, e.g. 30s, 2m
  --clients <n|g=n,...>     clients: a count (one group) or per group, e.g. publishers=10,subscribers=2
  --workers <n|auto>        worker threads (default: one per CPU, no more than clients)
  --out <dir>               report folder
${METRICS_USAGE}
  --no-progress             no live line while running
  -h, --help                show this help

Ctrl-C or SIGTERM stops the run as its end would: clients stop, subscribers receive for the drain time, and the
reports are written; a broker stopped by a fault is not started again then, and is stopped for good. Exit codes:
0 passed, 1 a threshold failed, 2 invalid scenario or options (or too few file descriptors for the run), 3 broker
unreachable, or it did not come back after a fault (the reports are written), 130 stopped by Ctrl-C, 143 stopped
by SIGTERM.
The scenario format is described in docs/scenarios.md.`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      broker: { type: 'string' },
      duration: { type: 'string' },
      clients: { type: 'string' },
      workers: { type: 'string' },
      out: { type: 'string' },
      'reply-timeout': { type: 'string' },
      ...METRICS_OPTIONS,
      progress: { type: 'boolean', default: true },
      'no-progress': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
    usage,
  );
  if (values.help) {
    process.stdout.write(usage + '\n');
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new CliError(`expected one scenario file, got ${positionals.length}\n\n${usage}`);
  const metrics = readMetricsOptions(values);
  const file = positionals[0];
  const loaded = loadScenarioFile(file, {
    overrides: {
      broker: values.broker,
      duration: values.duration,
      clients: values.clients,
      workers: values.workers,
      out: values.out,
      replyTimeout: values['reply-timeout'],
    },
  });
  if ('problems' in loaded) throw new CliError(`${formatProblems(loaded.problems)}`, EXIT.usage);
  const scenario = loaded.scenario;
  const showProgress = values.progress && !values['no-progress'];
  return execute(scenario, showProgress, metrics && { settings: metrics, shard: shardLabel(values) });
}

async function execute(scenario: Scenario, showProgress: boolean, metrics?: { settings: MetricsSettings; shard: string }): Promise<number> {
  const totalClients = scenario.groups.reduce((n, g) => n + g.clients, 0);
  const workers = resolveWorkerCount(scenario.workers, totalClients, availableParallelism());
  const outDir = resolve(scenario.out ?? join('reports', `${safeName(scenario.name)}-${timestamp(new Date())}`));
  checkDescriptors(scenario, totalClients);
  // Listening first: a metrics port that cannot be had stops the run before any broker starts.
  const runMetrics =
    metrics && (await RunMetrics.start(metrics.settings, scenario.groups.map((g) => g.name), { scenario: scenario.name, shard: metrics.shard }));
  if (runMetrics) process.stderr.write(`mqbench: metrics at ${runMetrics.url}\n`);
  const metricsHooks = runMetrics?.hooks();
  let target;
  try {
    target = await openTarget(scenario);
  } catch (err) {
    await runMetrics?.close();
    if (err instanceof BrokerStartError || err instanceof MosquittoNotFoundError) throw new CliError(err.message, EXIT.unavailable);
    throw err;
  }
  const tty = process.stderr.isTTY === true;
  const abort = new AbortController();
  // Ctrl-C and SIGTERM (timeout, CI cancelling, docker stop) end the run as its end would, reports included; a
  // second one quits at once.
  let stoppedBySignal: NodeJS.Signals | undefined;
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // `timeout` sends SIGTERM to the process and again to its group: a repeat within a second is the same request.
    if (stoppedBySignal !== undefined && Date.now() - firstSignalAt < 1_000) return;
    if (stoppedBySignal === undefined) {
      stoppedBySignal = signal;
      firstSignalAt = Date.now();
      const how = signal === 'SIGINT' ? 'Ctrl-C' : signal;
      process.stderr.write(`${tty ? '\n' : ''}mqbench: ${how}: stopping (again to quit at once); the reports are still written\n`);
      abort.abort();
    } else {
      process.exit(signal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let jtl: WriteStream | undefined;
  try {
    const jtlContext = { url: target.target.url, activeClients: totalClients };
    process.stderr.write(
      `mqbench: ${scenario.name}: ${totalClients} client${totalClients === 1 ? '' : 's'} in ${workers} worker${workers === 1 ? '' : 's'} ` +
        `against ${target.label === target.target.url ? target.label : `${target.label} at ${target.target.url}`}, MQTT ${target.target.protocol}\n`,
    );
    let outcome;
    try {
      outcome = await runScenario(
        { scenario, endpoint: target.endpoint, target: target.target, workers, version: brokerVersion(), broker: target.process },
        {
          signal: abort.signal,
          onFault: (phase, fault) => process.stderr.write(`${tty && showProgress ? '\n' : ''}mqbench: ${faultEvent(phase, fault)}\n`),
          ...metricsHooks,
          // The report folder is made once the broker has answered: a run that never started leaves none behind.
          onStart: () => {
            metricsHooks?.onStart();
            mkdirSync(outDir, { recursive: true });
            jtl = createWriteStream(join(outDir, 'results.jtl'));
            jtl.write(JTL_HEADER);
          },
          onJtl: (rows: JtlRow[]) => jtl?.write(renderJtlRows(rows, jtlContext)),
          onProgress: showProgress ? (p: RunProgress) => printProgress(p, tty) : undefined,
        },
      );
    } catch (err) {
      if (err instanceof BrokerUnreachableError) throw new CliError(err.message, EXIT.unavailable);
      throw err;
    }
    if (showProgress && tty) process.stderr.write('\n');
    runMetrics?.finish(outcome);
    const { result, histograms } = outcome;
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'summary.json'), renderJson(result));
    writeFileSync(join(outDir, 'report.md'), renderMarkdown(result));
    writeFileSync(join(outDir, 'report.html'), renderHtml(result));
    for (const h of hgrmFiles(histograms)) writeFileSync(join(outDir, h.fileName), h.text);
    const stream = jtl;
    if (stream !== undefined) await new Promise<void>((done) => stream.end(done));
    jtl = undefined;
    process.stdout.write(renderSummary(result, { color: process.stdout.isTTY === true }));
    process.stdout.write(`\nReports: ${outDir}\n`);
    if (stoppedBySignal !== undefined) return stoppedBySignal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated;
    if (result.stoppedBy === 'broker-lost') {
      const lost = result.faults.find((f) => f.error !== null);
      process.stderr.write(`mqbench: ${lost?.error ?? 'the broker did not come back after a fault'}\n`);
      return EXIT.unavailable;
    }
    const code = result.passed ? EXIT.ok : EXIT.failed;
    // A signal while the final totals wait for their scrape ends the wait; the run itself had completed.
    await runMetrics?.linger(abort.signal, (line) => process.stderr.write(line + '\n'));
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    jtl?.end();
    await runMetrics?.close();
    await target.close();
  }
}

/** One line per fault step, on standard error as it happens. */
function faultEvent(phase: 'down' | 'up' | 'failed', f: FaultRun): string {
  const at = (ms: number | null) => (ms === null ? '?' : `${(ms / 1000).toFixed(2)} s`);
  const head = `fault ${f.index} (${f.action}) at ${at(f.firedAtMs)}`;
  if (phase === 'down') return `${head}: broker pid ${f.pidBefore} ${f.brokerExit}${f.downForMs > 0 ? `; starting it again in ${at(f.downForMs)}` : '; starting it again'}`;
  if (phase === 'up') return `${head}: broker back at ${at(f.backAtMs)} (pid ${f.pidAfter})`;
  return `${head}: ${f.error}`;
}

/**
 * Refuse up front, with the numbers, a run that would run out of file descriptors halfway (each client is a socket;
 * the bundled broker in this process holds the other end of each). The soft limit is raised to the hard limit first.
 */
function checkDescriptors(scenario: Scenario, clients: number): void {
  const limits = raiseFdLimit();
  const bundled = scenario.broker.target.kind === 'bundled' && scenario.faults.length === 0 && scenario.broker.persistence === undefined;
  const needed = clients * (bundled ? 2 : 1) + FD_OVERHEAD;
  const problem = fdShortfall(needed, limits, `${clients} client${clients === 1 ? '' : 's'}${bundled ? ' and the bundled broker in this process' : ''}`);
  if (problem) throw new CliError(problem, EXIT.usage);
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
