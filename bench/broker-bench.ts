/**
 * `npm run bench:broker`: the bundled broker against Mosquitto, row by row, alternating brokers within each round,
 * each measurement with a fresh broker process and a fresh load generator process.
 */
import { execFileSync, fork } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findMosquitto, mosquittoVersion } from '../src/launch/mosquitto.js';
import {
  DEFAULT_CONF,
  MARKDOWN_BEGIN,
  MARKDOWN_END,
  USAGE,
  UsageError,
  parseBenchArgs,
  rowBrokers,
  rowConf,
  type BenchOptions,
} from './args.js';
import { BrokerStartError, describeBrokerFailure, NODELAY_LINE, startBrokerProcess, type BrokerKind } from './broker-process.js';
import { readOpenFileLimit } from './engine-fd-limit.js';
import { replaceMarkdownBlock, writeMarkdownBlock } from './markdown-block.js';
import type { FromGenerator, GeneratorJob, GeneratorResult, ToGenerator } from './messages.js';
import { connectTable, formatTable, idleTable, messageTable, nagleVerdicts, runTables, significant, type Format } from './render.js';
import { IDLE_FIRST_READING_MS, type BenchRow } from './rows.js';
import { rowRatios, summariseRuns, type BrokerSummary, type Ratio, type RunRecord } from './summary.js';

const EXIT_FAILED_RUNS = 1;
const EXIT_USAGE = 2;
const EXIT_NO_MOSQUITTO = 3;
const EXIT_BROKER_START = 4;
/** Beyond warm-up, window and drain: connecting 100 subscribers on a busy machine, and disconnecting. */
const GENERATOR_SLACK_MS = 60_000;
/** Connection rows: the generator is given this long per connection on top of the slack (200 connections/s). */
const GENERATOR_MS_PER_CONNECTION = 5;
/** Sockets per loopback source address: below the ~28k ephemeral ports Linux has for each. */
const CONNECTIONS_PER_SOURCE_ADDRESS = 20_000;
/** Open files a process needs beyond its sockets (libraries, pipes, the listener, /proc reads). */
const FILE_MARGIN = 1_024;
/** Handshakes in progress at once while the idle connections are made. */
const IDLE_CONCURRENCY = 200;
/** Idle time after a broker starts, at least, before its memory is first read (see IdleJob.baselineSettleMs). */
const IDLE_BASELINE_SETTLE_MS = 12_000;

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
  const markdownProblem = checkMarkdownFile(options.markdownFile);
  if (markdownProblem) {
    process.stderr.write(`${markdownProblem}\n`);
    return EXIT_USAGE;
  }
  const fileProblem = raiseOpenFiles(options.rows);
  if (fileProblem) {
    process.stderr.write(`${fileProblem}\n`);
    return EXIT_USAGE;
  }

  const startedAt = new Date();
  process.stdout.write(renderHeader(options));
  const records: RunRecord[] = [];
  const addresses = new SourceAddresses();
  try {
    for (const row of options.rows) {
      const brokers = rowBrokers(row, options.brokers, options.nodelay);
      for (let round = 1; round <= options.rounds; round++) {
        for (const broker of brokers) {
          const record = await measure(options, row, broker, round, addresses);
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
  process.stdout.write('\n' + renderResults(options, summaries, ratios, 'text'));
  process.stdout.write('\nEvery run\n\n');
  process.stdout.write(runTables(records).map((t) => formatTable(t, 'text')).join('\n'));
  if (options.jsonFile) {
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      environment: environment(),
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
        mosquittoNodelay: options.nodelay,
      },
      summary: summaries,
      ratios,
      runs: records,
    };
    mkdirSync(dirname(options.jsonFile), { recursive: true });
    writeFileSync(options.jsonFile, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`\nWrote ${options.jsonFile}\n`);
  }
  if (options.markdownFile) {
    const block = renderMarkdownBlock(options, argv, startedAt, mosquittoLabel, summaries, ratios);
    writeMarkdownBlock(options.markdownFile, block, MARKDOWN_BEGIN, MARKDOWN_END);
    process.stdout.write(`\nWrote the results into ${options.markdownFile}\n`);
  }
  const failed = records.filter((r) => r.error !== undefined).length;
  if (failed > 0) {
    process.stderr.write(`${failed} run(s) failed; see the note column.\n`);
    return EXIT_FAILED_RUNS;
  }
  return 0;
}

/** One measurement: a fresh broker process, a fresh generator process, and the broker stopped afterwards. */
async function measure(
  options: BenchOptions,
  row: BenchRow,
  kind: BrokerKind,
  round: number,
  addresses: SourceAddresses,
): Promise<RunRecord> {
  // A persistence row gets a directory of its own for every measurement (writable by Mosquitto's own user).
  const store = row.kind === 'messages' && row.persistence ? mkdtempSync(join(tmpdir(), 'mqbench-bench-persist-')) : undefined;
  if (store !== undefined) chmodSync(store, 0o777);
  const conf = store === undefined ? rowConf(row, options.conf) : [...rowConf(row, options.conf), 'persistence true', `persistence_location ${store}/`];
  let broker;
  try {
    broker = await startBrokerProcess(kind, conf);
  } catch (err) {
    if (store !== undefined) rmSync(store, { recursive: true, force: true });
    throw err;
  }
  const record: RunRecord = { row: row.name, broker: kind, brokerLabel: broker.label, round };
  try {
    const base = { host: broker.host, port: broker.port, brokerPid: broker.pid, row: row.name, clientIdPrefix: `mqbench-${row.name}-${round}` };
    let job: GeneratorJob;
    if (row.kind === 'messages') {
      job = {
        ...base,
        kind: 'messages',
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
        persistentSessions: row.persistence === true,
      };
    } else if (row.kind === 'idle') {
      job = {
        ...base,
        kind: 'idle',
        connections: row.connections,
        sourceAddresses: addresses.take(row.connections),
        concurrency: IDLE_CONCURRENCY,
        baselineSettleMs: IDLE_BASELINE_SETTLE_MS,
        settleMs: IDLE_FIRST_READING_MS,
        idleMs: Math.max(IDLE_FIRST_READING_MS, options.idleSeconds * 1000),
      };
    } else {
      job = {
        ...base,
        kind: 'connect',
        connections: row.connections,
        sourceAddresses: addresses.take(row.connections),
        concurrency: row.concurrency,
      };
    }
    record.result = await runGenerator(job, generatorLimitMs(job));
  } catch (err) {
    record.error = describeBrokerFailure(err as Error, broker);
  } finally {
    await broker.stop();
    if (store !== undefined) rmSync(store, { recursive: true, force: true });
  }
  return record;
}

function generatorLimitMs(job: GeneratorJob): number {
  if (job.kind === 'messages') return (job.warmupSeconds + job.durationSeconds + job.drainSeconds) * 1000 + GENERATOR_SLACK_MS;
  const idle = job.kind === 'idle' ? job.baselineSettleMs + 30_000 + job.idleMs : 0;
  return job.connections * GENERATOR_MS_PER_CONNECTION + idle + GENERATOR_SLACK_MS;
}

/**
 * Loopback source addresses for the connection rows, a fresh set for every measurement: 127.0.1.1, 127.0.1.2, … (all
 * of 127/8 is loopback on Linux), so that no measurement meets ports a previous one left in TIME_WAIT.
 */
class SourceAddresses {
  private next = 0;

  take(connections: number): string[] {
    const count = Math.ceil(connections / CONNECTIONS_PER_SOURCE_ADDRESS);
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const k = this.next++;
      out.push(`127.0.${1 + Math.floor(k / 254) % 254}.${1 + (k % 254)}`);
    }
    return out;
  }
}

/**
 * The connection rows hold up to 100,000 sockets in the generator and in the broker; both are children of this
 * process and inherit its open-file limit, so it is raised here (the hard limit too, which needs root). Returns the
 * problem when it cannot be.
 */
function raiseOpenFiles(rows: readonly BenchRow[]): string | undefined {
  const most = Math.max(0, ...rows.map(socketsHeld));
  const needed = most + FILE_MARGIN;
  const limit = readOpenFileLimit('self');
  if (limit === undefined || limit.soft >= needed) return undefined;
  const hard = Math.max(limit.hard, needed);
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${needed}:${hard}`], { stdio: 'pipe' });
  } catch (err) {
    const why = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim().split('\n')[0];
    const rowsNeeding = rows.filter((r) => socketsHeld(r) + FILE_MARGIN > limit.hard).map((r) => r.name);
    return (
      `${rowsNeeding.join(', ')} need${rowsNeeding.length === 1 ? 's' : ''} ${needed.toLocaleString('en-US')} open files in the generator and in ` +
      `the broker (${most} sockets and a margin); ulimit -n is ${limit.soft} (hard ${limit.hard}) and raising it ` +
      `failed: ${why}.\nRaising the hard limit takes root with CAP_SYS_RESOURCE: run the benchmark from a shell with ` +
      `ulimit -Hn ${needed}; ulimit -n ${needed} (or a nofile line in /etc/security/limits.conf), or leave ` +
      `${rowsNeeding.length === 1 ? 'that row' : 'those rows'} out with --only.`
    );
  }
  const raised = readOpenFileLimit('self');
  if (raised === undefined || raised.soft < needed) {
    return `ulimit -n stayed at ${raised?.soft ?? limit.soft} after prlimit; the connection rows need ${needed}.`;
  }
  return undefined;
}

/** Sockets a row holds open at once in the generator, and in the broker. */
function socketsHeld(row: BenchRow): number {
  if (row.kind === 'idle') return row.connections;
  if (row.kind === 'connect') return row.concurrency;
  return row.publishers + row.subscribers;
}


function runGenerator(job: GeneratorJob, limitMs: number): Promise<GeneratorResult> {
  const entry = fileURLToPath(new URL('./generator-child.js', import.meta.url));
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
    '\n' +
    `rows: ${options.rows.map((r) => r.name).join(', ')}\n`
  );
}

function renderProgress(options: BenchOptions, r: RunRecord): string {
  const where = `${r.row} ${r.brokerLabel} round ${r.round}/${options.rounds}`;
  const res = r.result;
  if (!res) return `${where}: failed: ${r.error}\n`;
  switch (res.kind) {
    case 'messages': {
      const cpu = res.brokerCpuMicrosPerMessage === null ? 'n/a' : `${significant(res.brokerCpuMicrosPerMessage)} µs/msg`;
      return (
        `${where}: ${Math.round(res.receivedPerSecond)} msg/s, broker CPU ${cpu}, lost ${res.lost}, ` +
        `dup ${res.duplicates}, out of order ${res.outOfOrder}, generator CPU ${res.generatorCpuPercent.toFixed(0)}%\n`
      );
    }
    case 'idle': {
      const idle = res.idleBytesPerConnection === null ? '' : `, ${Math.round(res.idleBytesPerConnection)} once idle`;
      return `${where}: ${Math.round(res.bytesPerConnection)} bytes per idle connection at 1 s${idle}, connected in ${res.connectSeconds.toFixed(1)} s\n`;
    }
    case 'connect': {
      const cpu = res.brokerCpuMicrosPerConnection === null ? 'n/a' : `${significant(res.brokerCpuMicrosPerConnection)} µs`;
      return (
        `${where}: ${Math.round(res.connectionsPerSecond)} conn/s, broker CPU ${cpu} per connection, ` +
        `CONNACK p50 ${significant(res.connackP50Ms)} ms p99 ${significant(res.connackP99Ms)} ms\n`
      );
    }
  }
}

/** The three result tables with what they measure; the same words for the console and the docs. */
function renderResults(options: BenchOptions, summaries: readonly BrokerSummary[], ratios: readonly Ratio[], format: Format): string {
  const rounds = `median of ${options.rounds} round${options.rounds === 1 ? '' : 's'}, brokers alternating, min – max over the rounds`;
  const parts: string[] = [];
  const title = (text: string): string => (format === 'markdown' ? `**${text}**\n\n` : `${text}\n\n`);
  if (options.rows.some((r) => r.kind === 'messages')) {
    parts.push(
      title(`Messages received by subscribers per second and broker CPU per message (${rounds})`) +
        formatTable(messageTable(summaries, ratios), format) +
        '\n' +
        `CPU µs/msg: the broker process's user + system CPU time over the measured window (/proc/PID/stat) ÷ messages ` +
        'received in it. lost / dup / out of order: summed over the rounds, exact per (subscriber, publisher) from the ' +
        'sequence numbers in the payloads. ' +
        `"nodelay": Mosquitto with \`${NODELAY_LINE}\`; without it Mosquitto leaves Nagle's algorithm on (its default). ` +
        'The bundled broker always turns Nagle off. ' +
        nagleVerdicts(summaries).join(' ') +
        '\n',
    );
  }
  if (options.rows.some((r) => r.kind === 'idle')) {
    parts.push(
      title(`Broker memory per idle subscribed connection (${rounds})`) +
        formatTable(idleTable(summaries, ratios, options.idleSeconds), format) +
        '\n' +
        'Each client connects and subscribes to a topic of its own, then sends nothing. Bytes per connection: growth of ' +
        `the broker process's resident memory (VmRSS) from before the first connection (read once the broker has sat ` +
        `idle at least ${IDLE_BASELINE_SETTLE_MS / 1000} s and its memory has stopped falling: a Node.js process gives ` +
        'back its start-up garbage 8–10 s after it starts) to ' +
        `${IDLE_FIRST_READING_MS / 1000} s ` +
        'after the last SUBACK, ÷ connections' +
        (options.idleSeconds * 1000 > IDLE_FIRST_READING_MS
          ? `, and again after ${options.idleSeconds} s of idleness (\`--idle\`): a Node.js process's young ` +
            'generation grows during a burst of connections and V8 gives it back only once allocation has been low ' +
            'for a while (its memory reducer, 8 s steps), so the first reading holds up to ~30 MiB that no connection ' +
            'keeps. '
          : '. ') +
        'The floor is a bare Node.js `net` server in its own process that keeps ' +
        'the sockets and answers CONNECT and SUBSCRIBE with no state of its own: what a Node.js broker cannot go below.\n',
    );
  }
  if (options.rows.some((r) => r.kind === 'connect')) {
    parts.push(
      title(`Broker CPU per connection: connect, CONNECT, CONNACK, DISCONNECT, close (${rounds})`) +
        formatTable(connectTable(summaries, ratios), format) +
        '\n' +
        'CPU µs/connection: the broker process\'s CPU time from before the first connection to after the last one ' +
        'closed ÷ connections. CONNACK p50 / p99: from the CONNECT written on an open socket to the CONNACK read. The ' +
        'floor answers any packet but DISCONNECT with a CONNACK and closes on DISCONNECT.\n',
    );
  }
  return parts.join('\n');
}

function renderMarkdownBlock(
  options: BenchOptions,
  argv: readonly string[],
  startedAt: Date,
  mosquittoLabel: string | undefined,
  summaries: readonly BrokerSummary[],
  ratios: readonly Ratio[],
): string {
  const env = environment();
  const command = ['npm run bench:broker', ...(argv.length > 0 ? ['--', ...argv.map(shellQuote)] : [])].join(' ');
  return (
    `${MARKDOWN_BEGIN}\n` +
    '<!-- Written by the command below; it replaces everything between these two marker lines. -->\n\n' +
    `\`${command}\` on ${startedAt.toISOString().slice(0, 10)}: Node ${env.node}, ${mosquittoLabel ?? 'no Mosquitto'}, ` +
    `${env.cpus} × ${env.cpuModel ?? 'unknown CPU'}. ${options.rounds} round${options.rounds === 1 ? '' : 's'}; every measurement has a fresh broker ` +
    'process and a fresh generator process. Message rows: ' +
    `${options.durationSeconds} s windows after ${options.warmupSeconds} s of warm-up, ${options.payloadBytes}-byte ` +
    `payloads, QoS 1/2 window ${options.window} per publisher, mosquitto.conf for both brokers: ` +
    `\`${options.conf.join('`, `')}\` unless the row says otherwise.\n\n` +
    renderResults(options, summaries, ratios, 'markdown') +
    `\n${MARKDOWN_END}\n`
  );
}

/** A --markdown file that could not take the results is reported before anything runs, not after. */
function checkMarkdownFile(file: string | undefined): string | undefined {
  if (file === undefined || !existsSync(file)) return undefined;
  try {
    replaceMarkdownBlock(readFileSync(file, 'utf8'), '', MARKDOWN_BEGIN, MARKDOWN_END);
    return undefined;
  } catch (err) {
    return `--markdown ${file}: ${(err as Error).message}`;
  }
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function environment(): { node: string; platform: string; cpus: number; cpuModel: string | undefined } {
  return { node: process.version, platform: process.platform, cpus: cpus().length, cpuModel: cpus()[0]?.model };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench:broker failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
