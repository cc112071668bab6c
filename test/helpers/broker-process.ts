/**
 * The bundled broker (or Mosquitto) as a process of its own, for tests that must survive what they test: a crash
 * is observed (the process exits) rather than suffered, and memory is read from /proc. The bundled broker runs
 * from the build (`npm test` builds first), as `mqbench broker -c` does.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { readProcessRssBytes } from '../../src/launch/proc.js';

type Launch = typeof import('../../src/launch/local-broker.js');

export interface BrokerProcess {
  port: number;
  pid: number;
  /** Resident memory now, bytes. */
  rss(): number;
  /** undefined while it runs; how it ended otherwise ("killed by SIGABRT", ...). */
  exitStatus(): string | undefined;
  output(): string;
  stop(): Promise<void>;
}

export async function startBrokerProcess(kind: 'bundled' | 'mosquitto', conf: string[] = []): Promise<BrokerProcess> {
  const built = pathToFileURL(resolve(import.meta.dirname, '../../dist/src/launch/local-broker.js')).href;
  const { startLocalBroker } = (await import(built)) as Launch;
  const b = await startLocalBroker(kind, conf);
  return {
    port: b.port,
    pid: b.pid,
    rss: () => readProcessRssBytes(b.pid) ?? 0,
    exitStatus: b.exitStatus,
    output: b.output,
    stop: b.stop,
  };
}
