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
import { BrokerUnreachableError, SourceAddressError, runScenario, type RunProgress } from '../../run/run.js';
import { formatProblems, loadScenarioFile, planRun, resolveWorkerCount, type Scenario } from '../../scenario/index.js';
import { parseCommandArgs } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import { openTarget } from '../target.js';
import { BrokerStartError } from '../../launch/local-broker.js';
import { MosquittoNotFoundError } from '../../launch/mosquitto.js';
import { FD_OVERHEAD, fdShortfall, raiseFdLimit } from '../../util/fd-limit.js';
import { portShortfall } from '../../util/source-addresses.js';
import { METRICS_OPTIONS, METRICS_USAGE, RunMetrics, readMetricsOptions, shardLabel, type MetricsSettings } from '../run-metrics.js';
import type { EngineReport } from '../../engine/engine.js';
import type { RunFacts } from '../../run/aggregate.js';
import { ControlLinkError } from '../../shard/control-link.js';
import { ShardCoordinator, ShardStartError, type ShardClock } from '../../shard/coordinator.js';
import { runKey, scenarioFingerprint } from '../../shard/identity.js';
import { SHARD_INDEX_ENV } from '../../shard/options.js';
import { SHARD_FILE } from '../../shard/shard-file.js';
import { readSharding, recordShardFailure, recordShardResults, type Sharding } from '../sharding.js';
import type { ShardSpec } from '../../scenario/plan.js';

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
  --source-ip <list>        local addresses clients connect from, spread evenly: 127.0.0.2-127.0.0.9, 10.0.0.5,
                            eth0 (its addresses); each address has its own range of local ports
${METRICS_USAGE}
  --no-progress             no live line while running
  -h, --help                show this help

One run across several machines (see docs/distributed.md):
  --shard <I/N>             run shard I (from 0) of N: its share of every group's clients; writes shard.json
                            beside the reports, for mqbench merge
  --shards <N>              the same, I taken from ${SHARD_INDEX_ENV} (set by a Kubernetes Indexed Job)
  --start-at <time>         every shard starts at this instant: ISO-8601, Unix milliseconds, or +30s from now
                            (needed with --shard/--shards; shard 0's start time is the run's)
  --run-id <text>           tells apart runs of the same scenario on one broker at the same time

Ctrl-C or SIGTERM stops the run as its end would: clients stop, subscribers receive for the drain time, and the
reports are written; a broker stopped by a fault is not started again then, and is stopped for good. Exit codes:
0 passed, 1 a threshold failed, 2 invalid scenario or options (or too few file descriptors or local ports for the
run), 3 broker unreachable, or it did not come back after a fault (the reports are written), 130 stopped by Ctrl-C,
143 stopped by SIGTERM. A shard exits 0 when it ran; its thresholds are evaluated by mqbench merge.
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
      'source-ip': { type: 'string' },
      ...METRICS_OPTIONS,
      progress: { type: 'boolean', default: true },
      'no-progress': { type: 'boolean' },
      shard: { type: 'string' },
      shards: { type: 'string' },
      'start-at': { type: 'string' },
      'run-id': { type: 'string' },
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
  // Sharding options are checked before the scenario is read: a mistake there is as plain as a mistyped option.
  const sharding = readSharding(values.shard, values.shards, values['start-at'], values['run-id']);
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
      sourceIp: values['source-ip'],
    },
  });
  if ('problems' in loaded) throw new CliError(`${formatProblems(loaded.problems)}`, EXIT.usage);
  const scenario = loaded.scenario;
  const showProgress = values.progress && !values['no-progress'];
  if (sharding !== undefined && sharding.spec.count > 1 && scenario.broker.target.kind !== 'remote') {
    throw new CliError(
      `a run split into ${sharding.spec.count} shards needs one broker that every shard reaches, given by URL ` +
        `(--broker mqtt://host:1883); the ${scenario.broker.target.kind === 'bundled' ? 'bundled broker' : `${scenario.broker.target.broker} started for the run`} ` +
        'would be a broker of its own in each shard\'s process (start one with "mqbench broker --host 0.0.0.0 --port 1883")',
      EXIT.usage,
    );
  }
  if (sharding !== undefined && scenario.faults.length > 0) {
    throw new CliError('a sharded run cannot have faults: they stop and start a broker mqbench started for one process (run it unsharded)', EXIT.usage);
  }
  return execute(scenario, showProgress, sharding, metrics && { settings: metrics, shard: shardLabel(sharding?.spec) });
}

async function execute(scenario: Scenario, showProgress: boolean, sharding?: Sharding, metrics?: Metrics): Promise<number> {
  const totalClients = scenario.groups.reduce((n, g) => n + g.clients, 0);
  const fingerprint = sharding === undefined ? '' : scenarioFingerprint(scenario);
  const key = sharding === undefined ? '' : runKey(fingerprint, sharding.spec.count, sharding.runId);
  // A shard runs its share of the clients: every count below is the shard's.
  const clients = sharding === undefined ? totalClients : shareOf(scenario, sharding.spec);
  const workers = resolveWorkerCount(scenario.workers, clients, availableParallelism());
  const shardPart = sharding === undefined || sharding.spec.count === 1 ? '' : `-shard${sharding.spec.index}of${sharding.spec.count}`;
  const outDir = resolve(scenario.out ?? join('reports', `${safeName(scenario.name)}${shardPart}-${timestamp(new Date())}`));
  if (sharding === undefined) return executeIn({ scenario, showProgress, clients, totalClients, workers, outDir, fingerprint, key, metrics });
  try {
    return await executeIn({ scenario, showProgress, clients, totalClients, workers, outDir, fingerprint, key, sharding, metrics });
  } catch (err) {
    // A shard that did not run says so in its folder: the merge then names it and its reason, not only its absence.
    recordShardFailure(outDir, err, { scenario, clients, identity: { fingerprint, key, sharding, startAtMs: sharding.startAtMs } });
    throw err;
  }
}

interface Execution {
  scenario: Scenario;
  showProgress: boolean;
  /** This process's clients, and the scenario's (the same unless this is a shard). */
  clients: number;
  totalClients: number;
  workers: number;
  outDir: string;
  fingerprint: string;
  key: string;
  sharding?: Sharding;
  metrics?: Metrics;
}

/** --metrics-port and its settings, with the shard label of this process. */
interface Metrics {
  settings: MetricsSettings;
  shard: string;
}

async function executeIn(x: Execution): Promise<number> {
  const { scenario, showProgress, clients, totalClients, workers, outDir, fingerprint, key, sharding, metrics } = x;
  checkDescriptors(scenario, clients);
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
  let coordinator: ShardCoordinator | undefined;
  if (sharding !== undefined) {
    const b = scenario.broker;
    try {
      coordinator = await ShardCoordinator.open({
        shard: sharding.spec,
        runKey: key,
        startAtMs: sharding.startAtMs,
        endpoint: target.endpoint,
        protocolVersion: b.protocolVersion,
        username: b.username,
        password: b.password,
        replyTimeoutMs: Math.min(scenario.replyTimeoutMs, 10_000),
        clock: sharding.clock,
        log: (line) => process.stderr.write(`mqbench: ${line}\n`),
      });
    } catch (err) {
      await target.close();
      await runMetrics?.close();
      if (err instanceof ControlLinkError) throw new CliError(`cannot reach the broker at ${target.target.url}: ${err.message}`, EXIT.unavailable);
      throw err;
    }
    const inMs = sharding.startAtMs - sharding.clock.nowUs() / 1000;
    process.stderr.write(
      `mqbench: shard ${sharding.spec.index} of ${sharding.spec.count} (run ${sharding.runId ?? key}): starts at ` +
        `${new Date(sharding.startAtMs).toISOString()} (in ${(Math.max(0, inMs) / 1000).toFixed(1)} s)\n`,
    );
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
  let shardReports: { reports: EngineReport[]; facts: RunFacts } | undefined;
  let coordinatorOpen = coordinator !== undefined;
  try {
    const jtlContext = { url: target.target.url, activeClients: clients };
    process.stderr.write(
      `mqbench: ${scenario.name}: ${clients} client${clients === 1 ? '' : 's'} in ${workers} worker${workers === 1 ? '' : 's'} ` +
        `against ${target.label === target.target.url ? target.label : `${target.label} at ${target.target.url}`}, MQTT ${target.target.protocol}\n`,
    );
    let outcome;
    try {
      outcome = await runScenario(
        {
          // A shard's own report judges no threshold: a share of the clients cannot hold the run's limits.
          // Shard 0 alone reads the broker's $SYS figures: one reader, on the run's timeline.
          scenario: coordinator === undefined ? scenario : { ...scenario, thresholds: [], sysTopics: scenario.sysTopics && coordinator.isReference },
          endpoint: target.endpoint,
          target: target.target,
          workers,
          version: brokerVersion(),
          coordinator,
          broker: target.process,
        },
        {
          signal: abort.signal,
          onFault: (phase, fault) => process.stderr.write(`${tty && showProgress ? '\n' : ''}mqbench: ${faultEvent(phase, fault)}\n`),
          ...metricsHooks,
          onReports: (reports, facts) => {
            metricsHooks?.onReports?.(reports, facts);
            // A shard keeps the workers' reports for shard.json.
            if (coordinator !== undefined) shardReports = { reports: [...reports], facts };
          },
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
      if (err instanceof ShardStartError) throw new CliError(err.message, EXIT.usage);
      if (err instanceof SourceAddressError) throw new CliError(err.message, EXIT.usage);
      throw err;
    }
    if (showProgress && tty) process.stderr.write('\n');
    runMetrics?.finish(outcome);
    const { result, histograms } = outcome;
    let shardClock: ShardClock | undefined;
    if (coordinator !== undefined) {
      coordinatorOpen = false;
      shardClock = await coordinator.finish();
      result.notes.unshift(
        `This is shard ${sharding!.spec.index} of ${sharding!.spec.count}: ${clients} of the scenario's ${totalClients} clients. Its delivery accounting ` +
          'sees only its own publishers, and no threshold is evaluated here: merge every shard with mqbench merge for the run\'s results.',
      );
    }
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'summary.json'), renderJson(result));
    writeFileSync(join(outDir, 'report.md'), renderMarkdown(result));
    writeFileSync(join(outDir, 'report.html'), renderHtml(result));
    for (const h of hgrmFiles(histograms)) writeFileSync(join(outDir, h.fileName), h.text);
    const stream = jtl;
    if (stream !== undefined) await new Promise<void>((done) => stream.end(done));
    jtl = undefined;
    if (sharding !== undefined && shardClock !== undefined && shardReports !== undefined) {
      recordShardResults(outDir, {
        scenario,
        identity: { fingerprint, key, sharding, startAtMs: coordinator!.startAtMs },
        clients,
        target: target.target,
        clock: shardClock,
        ...shardReports,
        result,
      });
    }
    process.stdout.write(renderSummary(result, { color: process.stdout.isTTY === true }));
    process.stdout.write(`\nReports: ${outDir}\n`);
    if (stoppedBySignal !== undefined) return stoppedBySignal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated;
    if (result.stoppedBy === 'broker-lost') {
      const lost = result.faults.find((f) => f.error !== null);
      process.stderr.write(`mqbench: ${lost?.error ?? 'the broker did not come back after a fault'}\n`);
      return EXIT.unavailable;
    }
    if (sharding !== undefined) {
      process.stdout.write(`Shard ${sharding.spec.index} of ${sharding.spec.count}: ${join(outDir, SHARD_FILE)}; merge every shard's folder with mqbench merge.\n`);
    }
    // A shard's figures are judged by the merge: it ran, whatever they are.
    const code = sharding !== undefined || result.passed ? EXIT.ok : EXIT.failed;
    // A signal while the final totals wait for their scrape ends the wait; the run itself had completed.
    await runMetrics?.linger(abort.signal, (line) => process.stderr.write(line + '\n'));
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    jtl?.end();
    if (coordinatorOpen) await coordinator?.abandon().catch(() => undefined);
    await runMetrics?.close();
    await target.close();
  }
}

/** How many of the scenario's clients shard `spec` runs. */
function shareOf(scenario: Scenario, spec: ShardSpec): number {
  return planRun(scenario, 1, { shard: spec }).totalClients;
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
 * the bundled broker in this process holds the other end of each) or of local ports (each client holds one on its
 * source address). The soft limit is raised to the hard limit first. Both shortfalls are named at once.
 */
function checkDescriptors(scenario: Scenario, clients: number): void {
  const limits = raiseFdLimit();
  const bundled = scenario.broker.target.kind === 'bundled' && scenario.faults.length === 0 && scenario.broker.persistence === undefined;
  const needed = clients * (bundled ? 2 : 1) + FD_OVERHEAD;
  const problems = [
    fdShortfall(needed, limits, `${clients} client${clients === 1 ? '' : 's'}${bundled ? ' and the bundled broker in this process' : ''}`),
    portShortfall(clients, scenario.broker.sourceAddresses, targetLabel(scenario)),
  ].filter((p) => p !== undefined);
  if (problems.length > 0) throw new CliError(problems.join('\n'), EXIT.usage);
}

function targetLabel(scenario: Scenario): string {
  const t = scenario.broker.target;
  return t.kind === 'remote' ? `${t.hosts[0].host}:${t.hosts[0].port}` : t.kind === 'bundled' ? 'the bundled broker' : t.broker;
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
