/**
 * Brokers mqbench starts as processes of their own for runs, comparisons and benchmarks, so that each is measured the
 * same way (its own process, its CPU time and memory from /proc) and can be killed and started again by a scenario's
 * faults: the bundled broker (through `mqbench broker -c`), Mosquitto, and Aedes. The bundled broker and Mosquitto
 * are configured by the same mosquitto.conf lines.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrokerStartError, ChildBroker, type ChildSpec } from './child-broker.js';
import { findMosquitto, freePort, mosquittoCandidates, MosquittoNotFoundError, mosquittoVersion } from './mosquitto.js';

export { BrokerStartError } from './child-broker.js';

export type LocalBrokerKind = 'bundled' | 'mosquitto' | 'aedes';

export interface LocalBroker {
  kind: LocalBrokerKind;
  /** "bundled", "mosquitto 2.0.11", "aedes 1.2.0". */
  label: string;
  version: string;
  host: string;
  /** The same through restarts. */
  port: number;
  /** Of the current process: a restart changes it. */
  readonly pid: number;
  /** What the broker printed (its log), over all its starts. */
  output(): string;
  /** How the current process ended ("killed by SIGKILL", "exited with code 1"), or undefined while it runs. */
  exitStatus(): string | undefined;
  /**
   * Stop the process with `signal` and wait for it to end (SIGTERM turns into SIGKILL after `graceMs`); resolves with
   * how it ended. Its config file and data directory stay for restart().
   */
  kill(signal: 'SIGKILL' | 'SIGTERM', graceMs?: number): Promise<string>;
  /** Start it again after kill(): the same config file, data directory and port, within `timeoutMs`. */
  restart(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Stop for good and remove its files. */
  stop(): Promise<void>;
}

export interface LocalBrokerOptions {
  /**
   * Keep sessions and messages on disk, in a directory of this broker's own that lives until stop(): mosquitto.conf
   * `persistence true`, `persistence_location`, and `autosave_interval` (seconds; 0: saved only when it exits).
   */
  persistence?: { autosaveSec: number };
}

const START_TIMEOUT_MS = 15_000;
/** Start attempts, each on a newly chosen port: another process may take a free port before the broker binds it. */
const PORT_ATTEMPTS = 5;

/**
 * `conf`: mosquitto.conf lines for the bundled broker and Mosquitto (Aedes has no such options and ignores them, and
 * keeps nothing on disk).
 */
export async function startLocalBroker(kind: LocalBrokerKind, conf: readonly string[] = [], options: LocalBrokerOptions = {}): Promise<LocalBroker> {
  if (kind === 'aedes' && options.persistence) throw new BrokerStartError('aedes started by mqbench keeps everything in memory: it has no persistence');
  const mosquitto = kind === 'mosquitto' ? findMosquitto() : undefined;
  if (kind === 'mosquitto' && mosquitto === undefined) throw new MosquittoNotFoundError(mosquittoCandidates());
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), `mqbench-${kind}-`));
    const spec = specFor(kind, dir, port, conf, options, mosquitto);
    try {
      const child = await ChildBroker.start(spec, START_TIMEOUT_MS);
      return wrap(kind, child, kind === 'mosquitto' ? mosquittoVersion(mosquitto!) : versionIn(kind, child.output()));
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      if (!(err instanceof BrokerStartError)) throw err;
      lastError = err;
      // Only a port taken in between is worth another port; a broker that cannot start says why at once.
      if (!/in use|EADDRINUSE/i.test(err.message)) break;
    }
  }
  throw lastError ?? new BrokerStartError(`${kind} did not start`);
}

function wrap(kind: LocalBrokerKind, child: ChildBroker, version: string): LocalBroker {
  return {
    kind,
    label: kind === 'bundled' ? 'bundled' : `${kind} ${version}`,
    version,
    host: child.spec.host,
    port: child.spec.port,
    get pid() {
      return child.pid;
    },
    output: () => child.output(),
    exitStatus: () => child.exitStatus(),
    kill: (signal, graceMs) => child.kill(signal, graceMs),
    restart: (timeoutMs, signal) => child.restart(timeoutMs, signal),
    stop: () => child.stop(),
  };
}

function specFor(
  kind: LocalBrokerKind,
  dir: string,
  port: number,
  conf: readonly string[],
  options: LocalBrokerOptions,
  mosquitto: string | undefined,
): ChildSpec {
  const host = '127.0.0.1';
  const persistence = options.persistence ? persistenceLines(dir, options.persistence.autosaveSec) : [];
  switch (kind) {
    case 'mosquitto': {
      const file = join(dir, 'mosquitto.conf');
      const lines = [
        `listener ${port} ${host}`,
        'allow_anonymous true',
        ...(persistence.length > 0 ? persistence : ['persistence false']),
        // Started by root, Mosquitto would run as the user "mosquitto", which cannot write into this directory.
        ...(persistence.length > 0 && process.getuid?.() === 0 ? ['user root'] : []),
        'log_type error',
        // stderr: Mosquitto buffers its log when stdout is a pipe, so output() would lag until it exits.
        'log_dest stderr',
        'log_timestamp true',
        ...conf,
      ];
      writeFileSync(file, lines.join('\n') + '\n');
      return { name: 'mosquitto', command: mosquitto!, args: ['-c', file], host, port, ready: { kind: 'port' }, dir };
    }
    case 'bundled': {
      const file = join(dir, 'broker.conf');
      writeFileSync(file, [`listener ${port} ${host}`, 'allow_anonymous true', 'log_type error', ...persistence, ...conf].join('\n') + '\n');
      const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
      return {
        name: 'the bundled broker',
        command: process.execPath,
        args: [main, 'broker', '-c', file],
        host,
        port,
        ready: { kind: 'line', pattern: /mqbench version \S+ running/ },
        dir,
      };
    }
    case 'aedes': {
      const entry = fileURLToPath(new URL('./aedes-child.js', import.meta.url));
      return { name: 'aedes', command: process.execPath, args: [entry, String(port)], host, port, ready: { kind: 'line', pattern: /LISTENING \d+/ }, dir };
    }
  }
}

/** mosquitto.conf lines for a broker that keeps its sessions and messages in `dir`/data. */
function persistenceLines(dir: string, autosaveSec: number): string[] {
  const data = join(dir, 'data');
  mkdirSync(data);
  // Mosquitto joins the location and the file name as they are: the location must end with a slash.
  return ['persistence true', `persistence_location ${data}/`, `autosave_interval ${autosaveSec}`];
}

function versionIn(kind: LocalBrokerKind, output: string): string {
  const m = kind === 'bundled' ? /mqbench version (\S+) running/.exec(output) : /LISTENING \d+ (\S+)/.exec(output);
  return m?.[1] ?? 'unknown';
}
