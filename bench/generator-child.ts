/** The load generator as a child process of `npm run bench:broker`: one job in, one result (or error) out. */
import type { FromGenerator, ToGenerator } from './messages.js';
import { runJob } from './generator.js';

function reply(message: FromGenerator): void {
  process.send!(message, () => process.exit(message.type === 'result' ? 0 : 1));
}

if (!process.send) {
  process.stderr.write('generator-child is started by bench/broker-bench.ts with an IPC channel\n');
  process.exit(2);
}
process.on('uncaughtException', (err) => reply({ type: 'error', message: err.stack ?? String(err) }));
process.once('message', (message: ToGenerator) => {
  runJob(message.job).then(
    (result) => reply({ type: 'result', result }),
    (err: Error) => reply({ type: 'error', message: err.message }),
  );
});
