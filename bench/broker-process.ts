/**
 * Starts a broker under test as a process of its own (Mosquitto, the bundled broker, or the generator-ceiling sink)
 * and stops it; every kind is configured by the same mosquitto.conf lines.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BrokerStartError, startLocalBroker } from '../src/launch/local-broker.js';

export { BrokerStartError };

export type BrokerKind = 'bundled' | 'mosquitto' | 'sink';

export const BROKER_KINDS: readonly BrokerKind[] = ['bundled', 'mosquitto', 'sink'];

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
export async function startBrokerProcess(kind: BrokerKind, conf: string[]): Promise<BrokerProcess> {
  if (kind === 'sink') return startSink(conf);
  const b = await startLocalBroker(kind, conf);
  return { kind, label: b.label, host: b.host, port: b.port, pid: b.pid, output: b.output, stop: b.stop };
}

/** The generator-ceiling sink of this folder, run with Node; it prints its port as its first line. */
function startSink(conf: string[]): Promise<BrokerProcess> {
  const kind = 'sink' as const;
  const entry = fileURLToPath(new URL('./sink-server.js', import.meta.url));
  const child = spawn(process.execPath, [entry, JSON.stringify(conf)], { stdio: ['ignore', 'pipe', 'pipe'] });
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
        label: kind,
        host: '127.0.0.1',
        port,
        pid: child.pid!,
        output: () => stderr,
        stop,
      });
    });
  });
}
