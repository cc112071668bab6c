/**
 * Brokers that keep their state in a directory across restarts, each started again with the same mosquitto.conf
 * lines: the bundled broker in process (startBroker, stopped with close()), the bundled broker as `mqbench broker -c`
 * (stopped with SIGTERM, or killed with SIGKILL), and Mosquitto (SIGTERM). A restart gets a new port.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBrokerProcess } from './broker-process.js';
import { startTestBroker, testBrokerKinds } from './brokers.js';

export type RestartKind = 'bundled' | 'bundled-cli' | 'mosquitto';

export interface RestartableBroker {
  host: string;
  port: number;
  /** What it logged. */
  logs(): string;
  /** A clean stop: close() in process, SIGTERM for a process. */
  stop(): Promise<void>;
}

/** The kinds to test: both ways of running the bundled broker, and Mosquitto when it is there. */
export function restartKinds(): RestartKind[] {
  const kinds = testBrokerKinds();
  return [...(kinds.includes('bundled') ? (['bundled', 'bundled-cli'] as const) : []), ...(kinds.includes('mosquitto') ? (['mosquitto'] as const) : [])];
}

/**
 * A fresh directory for the persistence file, writable by everyone: Mosquitto started as root drops to its own user
 * before it saves.
 */
export function persistenceDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mqbench-persist-'));
  chmodSync(dir, 0o777);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The mosquitto.conf lines of a broker keeping its state in `dir`. */
export function persistenceConf(dir: string, extra: string[] = []): string[] {
  return ['persistence true', `persistence_location ${dir}/`, ...extra];
}

export async function startRestartable(kind: RestartKind, conf: string[]): Promise<RestartableBroker> {
  if (kind === 'bundled-cli') {
    const b = await startBrokerProcess('bundled', conf);
    return { host: '127.0.0.1', port: b.port, logs: b.output, stop: b.stop };
  }
  const b = await startTestBroker(kind, conf);
  return { host: b.host, port: b.port, logs: b.logs, stop: b.stop };
}
