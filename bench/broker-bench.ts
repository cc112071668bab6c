/**
 * `npm run bench:broker`: the bundled broker against Mosquitto, row by row, alternating brokers within each round,
 * each measurement with a fresh broker process and a fresh load generator process.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findMosquitto, mosquittoVersion } from '../src/launch/mosquitto.js';
import { DEFAULT_CONF, USAGE, UsageError, parseBenchArgs, type BenchOptions } from './args.js';
import { BrokerStartError, startBrokerProcess, type BrokerKind } from './broker-process.js';
import type { FromGenerator, GeneratorJob, GeneratorResult, ToGenerator } from './messages.js';
import { renderRuns, renderSummary } from './render.js';
import type { BenchRow } from './rows.js';
import { rowRatios, summariseRuns, type RunRecord } from './summary.js';

const EXIT_FAILED_RUNS = 1;
const EXIT_USAGE = 2;
const EXIT_NO_MOSQUITTO = 3;
const EXIT_BROKER_START = 4;
/** Beyond warm-up, window and drain: connecting 100 subscribers on a busy machine, and disconnecting. */
const GENERATOR_SLACK_MS = 60_000;

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let mosquittoLabel: string | undefined;
  if (options.brokers.includes('mosquitto')) {
    const binary = findMosquitto();
    if (!binary) {
      const where = process.env.MQBENCH_MOSQUITTO
        ? `MQBENCH_MOSQUITTO=${process.env.MQBENCH_MOSQUITTO} does not exist`
        : 'mosquitto was not found on PATH or in /usr/sbin, /usr/local/sbin, /opt/homebrew/sbin';
      process.stderr.write(
        `${where}.\n` +
          'Install it (Debian/Ubuntu: sudo apt-get install -y mosquitto; macOS: brew install mosquitto),\n' +
          'set MQBENCH_MOSQUITTO to its path, or leave it out with --brokers bundled.\n',
      );
      return EXIT_NO_MOSQUITTO;
    }
    mosquittoLabel = `mosquitto ${mosquittoVersion(binary)}`;
  }

  const startedAt = new Date();
  process.stdout.write(renderHeader(options));
  const records: RunRecord[] = [];
  try {
    for (const row of options.rows) {
      for (let round = 1; round <= options.rounds; round++) {
        for (const broker of options.brokers) {
          const record = await measure(options, row, broker, round);
          records.push(record);
          process.stderr.write(renderProgress(options, record));
        }
      }
    }
  } catch (err) {
    if (!(err instanceof BrokerStartError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT_BROKER_START;
  }

  const summaries = summariseRuns(records);
  const ratios = rowRatios(summaries);
  process.stdout.write(`\nMessages received by subscribers per second (median of ${options.rounds} round${options.rounds === 1 ? '' : 's'})\n\n`);
  process.stdout.write(renderSummary(summaries, ratios));
  process.stdout.write('\nEvery run\n\n');
  process.stdout.write(renderRuns(records));
  if (options.jsonFile) {
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      environment: { node: process.version, platform: process.platform, cpus: cpus().length, cpuModel: cpus()[0]?.model },
      mosquitto: mosquittoLabel,
      options: {
        brokers: options.brokers,
        rows: options.rows.map((r) => r.name),
        rounds: options.rounds,
        durationSeconds: options.durationSeconds,
        warmupSeconds: options.warmupSeconds,
        drainSeconds: options.drainSeconds,
        window: options.window,
        maxUndelivered: options.maxUndelivered,
        payloadBytes: options.payloadBytes,
        conf: options.conf,
      },
      summary: summaries,
      ratios,
      runs: records,
    };
    mkdirSync(dirname(options.jsonFile), { recursive: true });
    writeFileSync(options.jsonFile, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`\nWrote ${options.jsonFile}\n`);
  }
  const failed = records.filter((r) => r.error !== undefined).length;
  if (failed > 0) {
    process.stderr.write(`${failed} run(s) failed; see the note column.\n`);
    return EXIT_FAILED_RUNS;
  }
  return 0;
}

/** One measurement: a fresh broker process, a fresh generator process, and the broker stopped afterwards. */
async function measure(options: BenchOptions, row: BenchRow, kind: BrokerKind, round: number): Promise<RunRecord> {
  const broker = await startBrokerProcess(kind, options.conf);
  const record: RunRecord = { row: row.name, broker: kind, brokerLabel: broker.label, round };
  try {
    record.result = await runGenerator({
      host: broker.host,
      port: broker.port,
      brokerPid: broker.pid,
      row: row.name,
      topic: `mqbench/${row.name}`,
      publishers: row.publishers,
      subscribers: row.subscribers,
      qos: row.qos,
      payloadBytes: options.payloadBytes,
      window: options.window,
      maxUndelivered: options.maxUndelivered,
      warmupSeconds: options.warmupSeconds,
      durationSeconds: options.durationSeconds,
      drainSeconds: options.drainSeconds,
      clientIdPrefix: `mqbench-${row.name}-${round}`,
    });
  } catch (err) {
    const said = broker.output().trim().split('\n').slice(-10).join('\n');
    const gone = isAlive(broker.pid) ? '' : ` (the ${kind} process had exited)`;
    record.error = (err as Error).message + gone + (said ? `\n${kind} said:\n${said}` : '');
  } finally {
    await broker.stop();
  }
  return record;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runGenerator(job: GeneratorJob): Promise<GeneratorResult> {
  const entry = fileURLToPath(new URL('./generator.js', import.meta.url));
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const limitMs = (job.warmupSeconds + job.durationSeconds + job.drainSeconds) * 1000 + GENERATOR_SLACK_MS;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | undefined, result?: GeneratorResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else {
        resolve(result!);
      }
    };
    const timer = setTimeout(() => settle(new Error(`load generator did not finish within ${limitMs / 1000} s`)), limitMs);
    child.on('message', (message: FromGenerator) => {
      if (message.type === 'result') settle(undefined, message.result);
      else settle(new Error(message.message));
    });
    child.once('error', (err) => settle(err));
    child.once('exit', (code, signal) => settle(new Error(`load generator exited with ${signal ?? `code ${code}`} before reporting`)));
    child.send({ type: 'run', job } satisfies ToGenerator);
  });
}

function renderHeader(options: BenchOptions): string {
  const extraConf = options.conf.slice(DEFAULT_CONF.length);
  return (
    `mqbench broker benchmark: ${options.brokers.join(' vs ')}; ${options.rounds} round(s) of ` +
    `${options.durationSeconds} s windows after ${options.warmupSeconds} s warm-up\n` +
    `payload ${options.payloadBytes} bytes, QoS 1/2 window ${options.window} per publisher, ` +
    `at most ${options.maxUndelivered || 'unbounded'} deliveries outstanding, MQTT 3.1.1, ` +
    `Node ${process.version}, ${cpus().length} CPUs\n` +
    `mosquitto.conf for every broker: ${options.conf.join('; ')}` +
    (extraConf.length > 0 ? ' (later lines win)' : '') +
    '\n'
  );
}

function renderProgress(options: BenchOptions, r: RunRecord): string {
  const where = `${r.row} ${r.brokerLabel} round ${r.round}/${options.rounds}`;
  if (!r.result) return `${where}: failed: ${r.error}\n`;
  const res = r.result;
  const cpu = res.brokerCpuPercent === null ? 'n/a' : `${res.brokerCpuPercent.toFixed(0)}%`;
  return (
    `${where}: ${Math.round(res.receivedPerSecond)} msg/s, lost ${res.lost}, ` +
    `broker CPU ${cpu}, generator CPU ${res.generatorCpuPercent.toFixed(0)}%\n`
  );
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench:broker failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
