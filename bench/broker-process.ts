/**
 * Starts a broker under test as a process of its own (the bundled broker, Mosquitto with Nagle's algorithm on, as it
 * is by default, or off, the generator-ceiling sink, or Node's bare-socket floor) and stops it; every kind is
 * configured by the same mosquitto.conf lines where they apply.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BrokerStartError, startLocalBroker } from '../src/launch/local-broker.js';

export { BrokerStartError };

export type BrokerKind = 'bundled' | 'mosquitto' | 'mosquitto-nodelay' | 'sink' | 'floor';

/** Kinds `--brokers` accepts; the nodelay variant and the floor are added per row (see rowBrokers). */
export const BROKER_KINDS: readonly BrokerKind[] = ['bundled', 'mosquitto', 'sink'];

/** Mosquitto leaves Nagle's algorithm on unless told otherwise; the bundled broker always turns it off. */
export const NODELAY_LINE = 'set_tcp_nodelay true';

export interface BrokerProcess {
  kind: BrokerKind;
  /** e.g. "mosquitto 2.0.11". */
  label: string;
  host: string;
  port: number;
  pid: number;
  /** What the broker printed so far (its log lines). */
  output(): string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;

/** A measurement's failure with what the broker last said, and whether its process had exited. */
export function describeBrokerFailure(err: Error, broker: BrokerProcess): string {
  const said = broker.output().trim().split('\n').slice(-10).join('\n');
  const gone = isAlive(broker.pid) ? '' : ` (the ${broker.label} process had exited)`;
  return err.message + gone + (said ? `\n${broker.label} said:\n${said}` : '');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
export async function startBrokerProcess(kind: BrokerKind, conf: readonly string[]): Promise<BrokerProcess> {
  switch (kind) {
    case 'sink':
      return startScript(kind, './sink-server.js', [JSON.stringify(conf)]);
    case 'floor':
      return startScript(kind, './floor-server.js', []);
    case 'mosquitto-nodelay': {
      const b = await startLocalBroker('mosquitto', [...conf, NODELAY_LINE]);
      return { kind, label: `${b.label} nodelay`, host: b.host, port: b.port, pid: b.pid, output: b.output, stop: b.stop };
    }
    case 'bundled':
    case 'mosquitto': {
      const b = await startLocalBroker(kind, conf);
      return { kind, label: b.label, host: b.host, port: b.port, pid: b.pid, output: b.output, stop: b.stop };
    }
  }
}

/** A stand-in of this folder (the sink or the floor), run with Node; it prints its port as its first line. */
function startScript(kind: 'sink' | 'floor', script: string, args: string[]): Promise<BrokerProcess> {
  const entry = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-100_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      const said = stderr.trim().split('\n').slice(-15).join('\n');
      reject(new BrokerStartError(`${kind} broker failed to start: ${why}${said ? `\n${said}` : ''}`));
    };
    const timer = setTimeout(() => fail(`no port printed within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.once('error', (err) => fail(err.message));
    const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(`exited with ${signal ?? `code ${code}`}`);
    child.once('exit', onEarlyExit);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      const port = Number(stdout.slice(0, newline));
      if (!Number.isInteger(port) || port <= 0) {
        fail(`expected a port as the first line, got "${stdout.slice(0, newline)}"`);
        return;
      }
      clearTimeout(timer);
      child.off('exit', onEarlyExit);
      child.stdout.removeAllListeners('data');
      // Keep reading so a chatty child never blocks on a full pipe.
      child.stdout.resume();
      resolve({
        kind,
        label: kind === 'floor' ? 'floor (Node net)' : kind,
        host: '127.0.0.1',
        port,
        pid: child.pid!,
        output: () => stderr,
        stop,
      });
    });
  });
}
