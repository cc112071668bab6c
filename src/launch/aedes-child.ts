/**
 * Aedes (the Node.js MQTT broker on npm) as a process of its own, for comparisons: listens on the loopback port given
 * as its argument (a free one without) and prints "LISTENING <port> <version>" on stdout. Aedes is a development
 * dependency of mqbench: a clone after `npm install` has it, an installed package does not.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

async function main(): Promise<void> {
  let Aedes: { createBroker(): Promise<{ handle: (s: unknown) => void; close(cb: () => void): void }> };
  try {
    ({ Aedes } = (await import('aedes' as string)) as { Aedes: typeof Aedes });
  } catch {
    process.stderr.write('aedes is not installed: it is a development dependency (run "npm install" in a clone of mqbench)\n');
    process.exit(3);
  }
  // Aedes does not export its package.json; read it from the package's folder.
  const main = createRequire(import.meta.url).resolve('aedes');
  const version = (JSON.parse(readFileSync(join(dirname(main), 'package.json'), 'utf8')) as { version: string }).version;
  const broker = await Aedes.createBroker();
  const server = createServer((socket) => broker.handle(socket));
  // The port to listen on may be given (a restart keeps its port); 0 picks a free one.
  const port = Number(process.argv[2] ?? 0);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number.isInteger(port) && port >= 0 && port <= 65535 ? port : 0, '127.0.0.1', () => resolve());
  }).catch((err: Error) => {
    process.stderr.write(`aedes cannot listen: ${err.message}\n`);
    process.exit(1);
  });
  const address = server.address();
  process.stdout.write(`LISTENING ${typeof address === 'object' && address ? address.port : 0} ${version}\n`);
  const stop = (): void => {
    server.close();
    broker.close(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
