/**
 * The fuzzing process: runs the lanes of fuzz connections against the broker it is sent, reports its counters every
 * second and once more when the last lane has hung up. It runs apart from the probes, so that its own busy event
 * loop does not count as the broker's delay.
 */
import { runLanes, emptyStats } from './lanes.js';
import type { FromFuzzChild, FuzzJob, ToFuzzChild } from './messages.js';
import { Prng } from './prng.js';

/** Often enough that the run notices 40% of the packets written soon after it happens. */
const PROGRESS_EVERY_MS = 250;

let stopRequested = false;

function send(message: FromFuzzChild): void {
  process.send?.(message);
}

async function run(job: FuzzJob): Promise<void> {
  const stats = emptyStats();
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const progress = setInterval(() => send({ type: 'progress', stats, elapsedMs: elapsed() }), PROGRESS_EVERY_MS);
  await runLanes(
    {
      host: job.host,
      port: job.port,
      root: new Prng(job.seed),
      kinds: job.kinds,
      stats,
      done: () => stopRequested || stats.packetsWritten >= job.packets || elapsed() >= job.limitMs,
    },
    job.lanes,
  );
  clearInterval(progress);
  process.send?.({ type: 'done', stats, elapsedMs: elapsed() } satisfies FromFuzzChild, () => process.exit(0));
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message: ToFuzzChild) => {
  if (message.type === 'stop') stopRequested = true;
  else run(message.job).catch((err: Error) => send({ type: 'error', message: err.stack ?? err.message }));
});
