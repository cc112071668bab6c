/**
 * One mosquitto.conf, both brokers: a test writes a config file (with its own listeners, password file, ACL file,
 * certificates) into a directory, and starts the bundled broker — in this process, or as `mqbench broker -c` when it
 * must take signals — or Mosquitto on that very file. Ports are chosen free beforehand and put into the text.
 *
 * Mosquitto started as root drops to the "mosquitto" user before it reads password, ACL and certificate files and
 * opens its log file: the directory is made readable (and writable) to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { loadConfigFile } from '../../broker/config.js';
import { startBroker, type RunningBroker } from '../../broker/index.js';
import { freePort, startMosquitto } from '../../src/launch/mosquitto.js';
import type { BrokerKind } from './brokers.js';

export type Ports = Record<string, number>;

export interface ConfiguredBroker {
  kind: BrokerKind;
  ports: Ports;
  /** The config file both brokers read. */
  file: string;
  /** Log lines so far. */
  logs(): string;
  /** Send a signal (SIGHUP: reload); only for brokers in a process of their own. */
  signal(sig: NodeJS.Signals): void;
  /** The in-process broker, when started that way. */
  running: RunningBroker | undefined;
  stop(): Promise<void>;
}

/** A scratch directory for a test's config, password, ACL and certificate files. */
export class ConfigDir {
  readonly path = mkdtempSync(join(tmpdir(), 'mqbench-conf-'));

  file(name: string, text: string | Buffer): string {
    const p = join(this.path, name);
    writeFileSync(p, text);
    return p;
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export interface StartOptions {
  /** The bundled broker as `mqbench broker -c` (a process of its own, to send it signals). */
  process?: boolean;
  /** The port the broker is ready on (default: the first name). */
  readyPort?: string;
  /**
   * Ports not to probe for readiness: a probe is a connection, which Mosquitto 2.0.11 miscounts for
   * max_connections (it lets one more client in afterwards). List such a listener before a probed one.
   */
  unprobed?: string[];
}

/**
 * Start `kind` on the config `text(ports)`, written to `<dir>/<kind>.conf`, with a free port for each of
 * `portNames`.
 */
export async function startConfiguredBroker(
  kind: BrokerKind,
  dir: ConfigDir,
  portNames: string[],
  text: (ports: Ports) => string,
  opts: StartOptions = {},
): Promise<ConfiguredBroker> {
  let lastError: unknown;
  // A port chosen free may be taken before the broker binds it: try again with others.
  for (let attempt = 0; attempt < 3; attempt++) {
    const ports: Ports = {};
    for (const name of portNames) ports[name] = await freePort();
    const file = dir.file(`${kind}-${attempt}.conf`, text(ports));
    const ready = ports[opts.readyPort ?? portNames[0]];
    try {
      const b = kind === 'mosquitto' ? await mosquitto(dir, file, ports, ready) : opts.process ? await bundledProcess(file, ports) : await bundledInProcess(file, ports);
      // Listeners open one after the other (Mosquitto's WebSocket ones take a while): wait for all of them.
      await waitForPorts(portNames.filter((n) => !opts.unprobed?.includes(n)).map((n) => ports[n])).catch(async (err: unknown) => {
        await b.stop();
        throw err;
      });
      return b;
    } catch (err) {
      lastError = err;
      if (!/address already in use|EADDRINUSE|did not open|Address in use/i.test(String(err))) throw err;
    }
  }
  throw lastError;
}

async function waitForPorts(ports: number[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (const port of ports) {
    while (!(await canConnect(port))) {
      if (Date.now() > deadline) throw new Error(`port ${port} did not open within 10 s`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolveConnect(true);
    });
    s.once('error', () => resolveConnect(false));
  });
}

async function mosquitto(dir: ConfigDir, file: string, ports: Ports, ready: number): Promise<ConfiguredBroker> {
  if (process.getuid?.() === 0) openToAll(dir.path);
  const m = await startMosquitto({ configFile: { path: file, port: ready } });
  return {
    kind: 'mosquitto',
    ports,
    file,
    logs: m.output,
    signal: (sig) => process.kill(m.pid, sig),
    running: undefined,
    stop: m.stop,
  };
}

/** Let another user read every file under `path` and write in it (test files only). */
function openToAll(path: string): void {
  chmodSync(path, 0o777);
  for (const name of readdirSync(path)) {
    const p = join(path, name);
    if (statSync(p).isDirectory()) openToAll(p);
    else chmodSync(p, 0o666);
  }
}

async function bundledInProcess(file: string, ports: Ports): Promise<ConfiguredBroker> {
  const parsed = loadConfigFile(file);
  if (parsed.problems.length > 0) throw new Error(parsed.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n'));
  const lines: string[] = [];
  const running = await startBroker({
    ...parsed.options,
    logSink: (line) => {
      lines.push(line);
      if (lines.length > 20_000) lines.splice(0, 10_000);
    },
  });
  return {
    kind: 'bundled',
    ports,
    file,
    logs: () => lines.join('\n'),
    signal: () => {
      throw new Error('an in-process broker takes no signals: start it with { process: true }');
    },
    running,
    stop: () => running.close(),
  };
}

const MAIN = resolve(import.meta.dirname, '../../dist/src/cli/main.js');

async function bundledProcess(file: string, ports: Ports): Promise<ConfiguredBroker> {
  const child = spawn(process.execPath, [MAIN, 'broker', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (s: string): void => {
    output = (output + s).slice(-500_000);
  };
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => fail('not running within 15 s'), 15_000);
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`bundled broker failed to start: ${why}\n${output.trim().split('\n').slice(-15).join('\n')}`));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited with ${signal ?? `code ${code}`}`);
    child.once('exit', onExit);
    const watch = (): void => {
      if (/mqbench version \S+ running/.test(output)) {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.stderr!.off('data', watch);
        resolveReady();
      }
    };
    child.stderr!.on('data', watch);
  });
  return {
    kind: 'bundled',
    ports,
    file,
    logs: () => output,
    signal: (sig) => child.kill(sig),
    running: undefined,
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}
