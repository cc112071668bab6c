/**
 * mqbench's run engine as a process of its own: loads the scenario it is sent, runs it against the broker with
 * `runScenario` (worker threads and all, as `mqbench run` does), and reports rates over the steady window, CPU of
 * itself and of the broker from /proc, and peak memory.
 */
import { readProcessCpuSeconds, readProcessPeakRssMiB } from '../src/launch/proc.js';
import { ensureOpenFiles, readOpenFileLimit } from './engine-fd-limit.js';
import type { EngineJob, EngineJobResult, FromEngineChild, ToEngineChild } from './engine-messages.js';
import { cpuPercent, cutWindow, peakOf, rateOver, type ClosedSecond } from './engine-window.js';
import { formatProblems, loadScenarioText } from '../src/scenario/index.js';
import { runScenario, type RunProgress } from '../src/run/run.js';

interface Reading {
  at: bigint;
  broker: number | undefined;
  load: number | undefined;
}

/** A progress report of the run, with the CPU readings taken as it arrived. */
interface Report extends Reading, ClosedSecond {}

function read(job: EngineJob): Reading {
  return {
    at: process.hrtime.bigint(),
    broker: job.brokerPid === undefined ? undefined : readProcessCpuSeconds(job.brokerPid),
    load: readProcessCpuSeconds(process.pid),
  };
}

function secondsBetween(a: Reading, b: Reading): number {
  return Number(b.at - a.at) / 1e9;
}

export async function runEngineJob(job: EngineJob): Promise<EngineJobResult> {
  const loaded = loadScenarioText(job.scenarioYaml, `bench-${job.kind}.yaml`);
  if ('problems' in loaded) throw new Error(`the benchmark's scenario does not load:\n${formatProblems(loaded.problems)}`);
  const { scenario } = loaded;
  const files = ensureOpenFiles(process.pid, job.openFilesNeeded, 'the mqbench process');
  if (files.problem !== undefined) throw new Error(files.problem);
  const url = `mqtt://${job.host}:${job.port}`;
  const reports: Report[] = [];
  const runStart = read(job);
  const onProgress = (p: RunProgress): void => {
    const r = read(job);
    reports.push({ ...r, second: p.elapsedSec - 1, atSeconds: Number(r.at - runStart.at) / 1e9 });
  };
  const { result } = await runScenario(
    {
      scenario,
      endpoint: { transport: 'mqtt', hosts: [{ host: job.host, port: job.port }], path: '', tls: undefined },
      target: { kind: 'remote', url, protocol: '3.1.1' },
      workers: job.workers,
      version: 'bench',
    },
    { onProgress },
  );
  const runEnd = read(job);
  const cut = cutWindow(reports, job.window);
  if (cut === undefined) {
    const seen = reports.map((r) => r.second).join(', ') || 'none';
    throw new Error(
      `mqbench reported no progress around seconds ${job.window.firstSecond}–${job.window.firstSecond + job.window.seconds - 1} ` +
        `of the run (seconds reported: ${seen}; the run ${result.stoppedBy === 'completed' ? 'completed' : 'stopped'} after ` +
        `${(result.durationMs / 1000).toFixed(1)} s)`,
    );
  }
  const counters = result.series.counters;
  const runSeconds = secondsBetween(runStart, runEnd);
  const limit = readOpenFileLimit('self');
  return {
    windowSeconds: cut.lengthSeconds,
    windowSeriesSeconds: [cut.fromSecond, cut.toSecond],
    receivedPerSecond: rateOver(counters.messagesReceived, cut),
    sentPerSecond: rateOver(counters.messagesSent, cut),
    sent: result.totals.counters.messagesSent,
    received: result.totals.counters.messagesReceived,
    lost: result.delivery.total.lost,
    brokerCpuPercent: cpuPercent(cut.start.broker, cut.end.broker, cut.lengthSeconds),
    loadCpuPercent: cpuPercent(cut.start.load, cut.end.load, cut.lengthSeconds),
    brokerRunCpuPercent: cpuPercent(runStart.broker, runEnd.broker, runSeconds),
    loadRunCpuPercent: cpuPercent(runStart.load, runEnd.load, runSeconds),
    brokerPeakRssMiB: (job.brokerPid === undefined ? undefined : readProcessPeakRssMiB(job.brokerPid)) ?? null,
    loadPeakRssMiB: readProcessPeakRssMiB(process.pid) ?? null,
    peakConnections: peakOf(result.series.gauges.connectionsOpen),
    openFileLimit: limit === undefined ? null : limit.soft === Infinity ? 'unlimited' : limit.soft,
    openFileLimitRaisedFrom: files.raisedFrom ?? null,
    run: result,
  };
}

function reply(message: FromEngineChild): void {
  process.send!(message, () => process.exit(message.type === 'result' ? 0 : 1));
}

if (process.send) {
  process.on('uncaughtException', (err) => reply({ type: 'error', message: err.stack ?? String(err) }));
  process.once('message', (message: ToEngineChild) => {
    runEngineJob(message.job).then(
      (result) => reply({ type: 'result', result }),
      (err: Error) => reply({ type: 'error', message: err.message }),
    );
  });
}
