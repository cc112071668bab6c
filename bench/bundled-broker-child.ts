/**
 * The bundled broker as a process of its own, so it is measured like Mosquitto: one process, its own core.
 * argv[2] is a JSON array of mosquitto.conf lines; it listens on a free loopback port and prints that port on stdout.
 */
import { parseConfig } from '../broker/config.js';
import { startBroker } from '../broker/index.js';
import type { LogType } from '../broker/options.js';

async function main(): Promise<void> {
  const lines = JSON.parse(process.argv[2] ?? '[]') as string[];
  const parsed = parseConfig(lines.join('\n'), 'bench.conf');
  if (parsed.problems.length > 0) {
    process.stderr.write(parsed.problems.map((p) => `${p.file}:${p.line}: ${p.message}\n`).join(''));
    process.exit(2);
  }
  const broker = await startBroker({
    ...parsed.options,
    // As the generated Mosquitto config: loopback only, anonymous clients, errors logged to stderr.
    listeners: [{ host: '127.0.0.1', port: 0 }],
    allowAnonymous: parsed.options.allowAnonymous ?? true,
    logTypes: parsed.options.logTypes ?? new Set<LogType>(['error']),
  });
  const stop = (): void => {
    broker.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`${broker.port}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`bundled broker failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
