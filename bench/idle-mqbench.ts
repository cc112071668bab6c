/**
 * mqbench's idle clients: runs the idle scenario with `runScenario` (worker threads and all, as `mqbench run` does),
 * and once every client is connected and subscribed and has been idle for the settle time, collects garbage in every
 * thread and reads the process's resident memory and each thread's heap (idle-child.ts runs it in a process of its
 * own, with --expose-gc).
 */
import { ensureOpenFiles } from './engine-fd-limit.js';
import { idleScenario } from './engine-scenarios.js';
import type { IdleJob, IdleReading } from './idle-memory.js';
import { collectedHeap, selfRssBytes, sleep } from './idle-self.js';
import { formatProblems, loadScenarioText } from '../src/scenario/index.js';
import { runScenario, type RunControl, type RunProgress } from '../src/run/run.js';

/** Longest wait for every worker thread to collect its garbage and report its heap. */
const HEAP_TIMEOUT_MS = 30_000;
/** The run's own end, beyond the connect deadline, settle and heap reading: it is normally stopped long before. */
const RUN_MARGIN_MS = 5_000;

type Outcome = { reading: IdleReading } | { error: Error };

export async function runIdleMqbench(job: IdleJob): Promise<IdleReading> {
  const files = ensureOpenFiles(process.pid, job.openFilesNeeded, 'the mqbench process');
  if (files.problem !== undefined) throw new Error(files.problem);
  const yaml = idleScenario({
    clients: job.clients,
    connectRate: job.connectRate,
    keepAliveSeconds: job.keepAliveSeconds,
    durationMs: job.connectDeadlineMs + job.settleMs + HEAP_TIMEOUT_MS + RUN_MARGIN_MS,
  });
  const loaded = loadScenarioText(yaml, 'bench-idle.yaml');
  if ('problems' in loaded) throw new Error(`the benchmark's scenario does not load:\n${formatProblems(loaded.problems)}`);

  const stop = new AbortController();
  let control: RunControl | undefined;
  let startedAt = 0;
  let last: RunProgress | undefined;
  let problem: string | undefined;
  let outcome: Promise<Outcome> | undefined;
  const onProgress = (p: RunProgress): void => {
    last = p;
    if (outcome !== undefined || problem !== undefined) return;
    const elapsedMs = performance.now() - startedAt;
    if (p.errors > 0) {
      problem = `${p.errors} error(s) while connecting and subscribing (${p.connected} of ${job.clients} connected)`;
    } else if (p.connected === job.clients && p.finishedClients === job.clients) {
      outcome = readIdle(control!, job, () => last!).then(
        (reading) => ({ reading }),
        (error: Error) => ({ error }),
      );
      void outcome.finally(() => stop.abort());
      return;
    } else if (elapsedMs > job.connectDeadlineMs) {
      problem =
        `after ${(job.connectDeadlineMs / 1000).toFixed(0)} s, ${p.connected} of ${job.clients} clients were connected ` +
        `and ${p.finishedClients} had subscribed`;
    }
    if (problem !== undefined) stop.abort();
  };
  const { result } = await runScenario(
    {
      scenario: loaded.scenario,
      endpoint: { transport: 'mqtt', hosts: [{ host: job.host, port: job.port }], path: '', tls: undefined },
      target: { kind: 'remote', url: `mqtt://${job.host}:${job.port}`, protocol: '3.1.1' },
      workers: job.workers,
      version: 'bench',
    },
    {
      onStart: (run) => {
        control = run;
        startedAt = performance.now();
      },
      onProgress,
      signal: stop.signal,
    },
  );
  if (problem !== undefined) throw new Error(`${problem}${errorSummary(result.errorExamples)}`);
  if (outcome === undefined) {
    const seen = last ? `${last.connected} of ${job.clients} connected, ${last.finishedClients} subscribed` : 'no progress reported';
    throw new Error(`the run ended (${result.stoppedBy}) before every client was connected and subscribed: ${seen}`);
  }
  const settled = await outcome;
  if ('error' in settled) throw new Error(`${settled.error.message}${errorSummary(result.errorExamples)}`);
  return settled.reading;
}

/**
 * After the settle: a full collection in every worker thread and in this one, then the readings. Fails when the run's
 * latest progress (at most a second old) shows a client gone or an error while idle: the reading would be one of
 * fewer clients. What happens once the run is stopped afterwards (disconnecting everyone) does not count.
 */
async function readIdle(control: RunControl, job: IdleJob, progress: () => RunProgress): Promise<IdleReading> {
  await sleep(job.settleMs);
  const idle = progress();
  if (idle.errors > 0 || idle.connected !== job.clients) {
    throw new Error(`while idle, ${idle.errors} error(s) and ${job.clients - idle.connected} client(s) disconnected`);
  }
  const workers = await control.workerHeaps(true, HEAP_TIMEOUT_MS);
  const uncollected = workers.filter((w) => !w.collected).map((w) => w.worker);
  if (uncollected.length > 0) {
    throw new Error(`worker thread(s) ${uncollected.join(', ')} could not collect garbage: run Node with --expose-gc`);
  }
  const main = collectedHeap();
  const threads = [main, ...workers];
  const sum = (f: (h: { usedBytes: number; youngGenerationBytes: number }) => number) => threads.reduce((n, h) => n + f(h), 0);
  return {
    tool: 'mqbench',
    clients: job.clients,
    rssBytes: selfRssBytes(),
    youngGenerationBytes: sum((h) => h.youngGenerationBytes),
    heapUsedBytes: sum((h) => h.usedBytes),
    threadHeapBytes: threads.map((h) => h.usedBytes),
  };
}

function errorSummary(errors: readonly { kind: string; clientId: string; detail: string }[]): string {
  const first = errors[0];
  return first === undefined ? '' : `; first: ${first.kind} ${first.clientId}: ${first.detail}`;
}
