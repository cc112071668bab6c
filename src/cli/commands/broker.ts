/**
 * `mqbench broker`: run the bundled broker in the foreground, with Mosquitto's flags and config file.
 */
import { ConfigError, FileProblemsError, loadConfigFile, startBroker, type RunningBroker, type StartBrokerOptions } from '../../../broker/index.js';
import { brokerVersion, lineWriter } from '../../../broker/index.js';
import { parseCommandArgs } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import { FD_OVERHEAD, fdShortfall, raiseFdLimit } from '../../util/fd-limit.js';

export const usage = `Usage: mqbench broker [--host 127.0.0.1] [--port 1883] [-v] [-c mosquitto.conf] [--metrics-port 9234]

Runs the bundled MQTT 3.1/3.1.1/5.0 broker until interrupted (Ctrl-C).

Options:
  --host <addr>      address to listen on (default 127.0.0.1)
  -p, --port <n>     port to listen on; 0 picks a free port (default 1883)
  -c, --config <f>   read the supported mosquitto.conf options from <f>; SIGHUP reads it again and applies
                     the security and log settings (password and ACL files, TLS certificates), as Mosquitto
  -v, --verbose      log every packet, like mosquitto -v
  --metrics-port <n> serve GET /metrics (Prometheus text format) on this port; 0 picks a free port
                     (config file: metrics_port)
  --metrics-host <a> address for the metrics (default 127.0.0.1; config file: metrics_host)
  -h, --help         show this help`;

export async function brokerCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      config: { type: 'string', short: 'c' },
      verbose: { type: 'boolean', short: 'v' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
    usage,
  );
  if (values.help) {
    process.stdout.write(usage + '\n');
    return EXIT.ok;
  }
  const options: StartBrokerOptions = {};
  if (values.config) {
    let parsed;
    try {
      parsed = loadConfigFile(values.config);
    } catch (err) {
      // An unreadable file: say which and why, as for a line in it.
      if (err instanceof ConfigError) throw new CliError(err.message, EXIT.usage);
      throw err;
    }
    if (parsed.problems.length > 0) throw new CliError(new ConfigError(parsed.problems).message, EXIT.usage);
    Object.assign(options, parsed.options);
    for (const n of parsed.notices) say(`${Math.floor(Date.now() / 1000)}: ${n}`);
  }
  if (values.host !== undefined || values.port !== undefined) {
    const port = values.port === undefined ? 1883 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be 0-65535, got "${values.port}"`);
    const first = options.listeners?.[0];
    // The first listener keeps its protocol, TLS and security settings; only its address and port change.
    const listener = { ...first, host: values.host ?? first?.host ?? '127.0.0.1', port: values.port === undefined && first ? first.port : port };
    options.listeners = [listener, ...(options.listeners?.slice(1) ?? [])];
  }
  if (values['metrics-port'] !== undefined || values['metrics-host'] !== undefined) {
    const text = values['metrics-port'];
    const port = text === undefined ? options.metrics?.port : /^\d+$/.test(text) ? Number(text) : NaN;
    if (port === undefined) throw new CliError('--metrics-host needs --metrics-port (or metrics_port in the config file)');
    if (!(port >= 0 && port <= 65535)) throw new CliError(`--metrics-port must be 0-65535, got "${text}"`);
    options.metrics = { host: values['metrics-host'] ?? options.metrics?.host ?? '127.0.0.1', port };
  }
  options.verbose = values.verbose;
  // Each client is a file descriptor: raise the soft limit to the hard one, and refuse a max_connections it cannot hold.
  const limits = raiseFdLimit();
  const perListener = options.listeners?.map((l) => l.maxConnections ?? -1) ?? [];
  const max = options.maxConnections !== undefined && options.maxConnections >= 0 ? options.maxConnections : perListener.length > 0 && perListener.every((m) => m >= 0) ? perListener.reduce((a, b) => a + b, 0) : -1;
  if (max > 0) {
    const problem = fdShortfall(max + FD_OVERHEAD, limits, `max_connections ${max}`);
    if (problem) throw new CliError(problem, EXIT.usage);
  }
  const stamp = () => `${Math.floor(Date.now() / 1000)}:`;
  const version = `mqbench version ${brokerVersion()}`;
  say(`${stamp()} ${version} starting`);
  if (values.config) say(`${stamp()} Config loaded from ${values.config}.`);
  let broker;
  try {
    broker = await startBroker(options);
  } catch (err) {
    // Password or ACL file problems are the configuration's, like a bad line.
    if (err instanceof FileProblemsError) throw new CliError(err.message, EXIT.usage);
    throw new CliError((err as Error).message, EXIT.unavailable);
  }
  for (const l of broker.listeners) say(`${stamp()} Listening on ${l.host}:${l.port}`);
  const running = broker;
  const onHangUp = (): void => {
    void reloadConfig(running, values.config, values.verbose === true);
  };
  process.on('SIGHUP', onHangUp);
  if (broker.metrics) say(`${stamp()} Metrics on ${broker.metrics.url}`);
  say(`${stamp()} ${version} running`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      // A second signal while shutting down ends the process at once.
      process.once('SIGINT', () => process.exit(EXIT.interrupted));
      process.once('SIGTERM', () => process.exit(EXIT.interrupted));
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  say(`${stamp()} ${version} terminating`);
  await broker.close();
  // The log goes out unless nobody reads it: a stuck standard error does not keep the process alive.
  await stderrLines.flush(2_000);
  process.exit(EXIT.ok);
}

/**
 * SIGHUP: read the config file again and apply what Mosquitto applies on reload; a file with problems changes
 * nothing (each problem is logged with file:line). Reloads do not overlap: one asked for during another follows it.
 */
let reloading: Promise<void> = Promise.resolve();

function reloadConfig(broker: RunningBroker, file: string | undefined, verbose: boolean): Promise<void> {
  reloading = reloading.then(async () => {
    broker.logLine('information', 'Reloading config.');
    if (file === undefined) return;
    let parsed;
    try {
      parsed = loadConfigFile(file);
    } catch (err) {
      broker.logLine('error', `Error: ${(err as Error).message}`);
      return;
    }
    if (parsed.problems.length > 0) {
      for (const p of parsed.problems) broker.logLine('error', `Error: ${p.line > 0 ? `${p.file}:${p.line}` : p.file}: ${p.message}`);
      broker.logLine('error', 'Error: the config file has problems: nothing was reloaded.');
      return;
    }
    try {
      await broker.reload({ ...parsed.options, verbose });
    } catch (err) {
      broker.logLine('error', `Error: reload failed: ${(err as Error).message}`);
    }
  });
  return reloading;
}

/** Standard error as the broker's log writes it: the same order, and never blocking the event loop. */
const stderrLines = lineWriter(2);

function say(line: string): void {
  stderrLines.write(line);
}
