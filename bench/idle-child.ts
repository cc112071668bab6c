/**
 * One idle-clients measurement as a child process of `npm run bench:engine` (started with --expose-gc): one job in,
 * one reading (or error) out. Only the chosen load's code is loaded, so the floor's process stays minimal.
 */
import type { ChildReply } from './engine-fork.js';
import type { IdleJob, IdleReading, ToIdleChild } from './idle-memory.js';

async function run(job: IdleJob): Promise<IdleReading> {
  if (job.tool === 'floor') return (await import('./idle-floor.js')).runIdleFloor(job);
  return (await import('./idle-mqbench.js')).runIdleMqbench(job);
}

function reply(message: ChildReply<IdleReading>): void {
  process.send!(message, () => process.exit(message.type === 'result' ? 0 : 1));
}

if (!process.send) {
  process.stderr.write('idle-child is started by bench/engine-bench.ts with an IPC channel\n');
  process.exit(2);
}
process.on('uncaughtException', (err) => reply({ type: 'error', message: err.stack ?? String(err) }));
process.once('message', (message: ToIdleChild) => {
  run(message.job).then(
    (result) => reply({ type: 'result', result }),
    (err: Error) => reply({ type: 'error', message: err.message }),
  );
});
