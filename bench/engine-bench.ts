/**
 * `npm run bench:engine`: shows mqbench's own engine is not the bottleneck. QoS 0 fan-in through Mosquitto, measured
 * alternately by the raw-socket generator and by mqbench, each with a fresh Mosquitto; then many concurrent mqbench
 * clients against the bundled broker; then the memory an idle mqbench client costs, beside Node's floor. Broker,
 * load and this process never share a process.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { findMosquitto, mosquittoVersion } from '../src/launch/mosquitto.js';
import { DEFAULT_CONF, UsageError } from './args.js';
import { BrokerStartError, describeBrokerFailure, startBrokerProcess, type BrokerProcess } from './broker-process.js';
import {
  ENGINE_USAGE,
  FAN_IN_GOAL,
  IDLE_CONNECT_RATE,
  IDLE_KEEPALIVE_SECONDS,
  IDLE_SETTLE_SECONDS,
  parseEngineBenchArgs,
  type EngineBenchOptions,
} from './engine-args.js';
import { ensureOpenFiles } from './engine-fd-limit.js';
import { forkJob } from './engine-fork.js';
import { measureIdleRow } from './engine-idle.js';
import { IDLE_GOAL_BYTES_PER_CLIENT, judgeIdle, type IdleRecord, type IdleVerdict } from './idle-memory.js';
import { IDLE_TOOL_LABEL, renderIdleFailures, renderIdlePerClient, renderIdleReadings, renderIdleVerdict } from './idle-render.js';
import type { EngineJob, EngineJobResult, ToEngineChild } from './engine-messages.js';
import {
  fanInMeasurementOfMqbench,
  fanInMeasurementOfRaw,
  judgeFanIn,
  judgeScale,
  type FanInRecord,
  type FanInVerdict,
  type LoadTool,
  type ScaleRecord,
  type ScaleVerdict,
} from './engine-records.js';
import { TOOL_LABEL, renderFanInRuns, renderFanInSummary, renderGoals, renderScale } from './engine-render.js';
import {
  FAN_IN_PUBLISHERS,
  FAN_IN_RAW_TOPIC,
  SCALE_PAYLOAD_BYTES,
  SCALE_TALKER_RATE,
  fanInScenario,
  scaleScenario,
  scaleTalkers,
} from './engine-scenarios.js';
import type { MessageJob, MessageResult, ToGenerator } from './messages.js';
import { ROWS, type MessageRow } from './rows.js';

const EXIT_GOAL_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_NO_MOSQUITTO = 3;
const EXIT_BROKER_START = 4;

const FAN_IN_ROW = ROWS.find((r): r is MessageRow => r.name === 'qos0-fan-in' && r.kind === 'messages')!;
const FAN_IN_PAYLOAD_BYTES = 64;
/** bench:broker's defaults for the raw generator. */
const RAW_DRAIN_SECONDS = 10;
const RAW_WINDOW = 128;
const RAW_MAX_UNDELIVERED = 65_536;
/** Beyond the scenario's own time: thread start-up, connecting on a busy machine, draining, disconnecting. */
const CHILD_SLACK_MS = 60_000;
/** Per client beyond that, for connecting and disconnecting thousands of clients on a busy machine. */
const SCALE_SLACK_MS_PER_CLIENT = 5;
/** Files a process needs beyond one per client: its listening socket, pipes, libraries, worker threads. */
const OPEN_FILES_MARGIN = 256;

async function main(argv: readonly string[]): Promise<number> {
  let options: EngineBenchOptions;
  try {
    options = parseEngineBenchArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${ENGINE_USAGE}`);
    return EXIT_USAGE;
  }
  if (options.help) {
    process.stdout.write(ENGINE_USAGE);
    return 0;
  }
  const fanIn = options.rows.some((r) => r.name === 'fan-in');
  const scale = options.rows.some((r) => r.name === 'scale');
  const idle = options.rows.some((r) => r.name === 'idle');
  let mosquittoLabel: string | undefined;
  if (fanIn) {
    const binary = findMosquitto();
    if (!binary) {
      const where = process.env.MQBENCH_MOSQUITTO
        ? `MQBENCH_MOSQUITTO=${process.env.MQBENCH_MOSQUITTO} does not exist`
        : 'mosquitto was not found on PATH or in /usr/sbin, /usr/local/sbin, /opt/homebrew/sbin';
      process.stderr.write(
        `${where}.\n` +
          'The fan-in row measures through Mosquitto. Install it (Debian/Ubuntu: sudo apt-get install -y mosquitto; ' +
          'macOS: brew install mosquitto),\nset MQBENCH_MOSQUITTO to its path, or run only the other row with --only scale.\n',
      );
      return EXIT_NO_MOSQUITTO;
    }
    mosquittoLabel = `mosquitto ${mosquittoVersion(binary)}`;
  }

  const startedAt = new Date();
  process.stdout.write(renderHeader(options, mosquittoLabel));
  const fanInRecords: FanInRecord[] = [];
  let scaleRecord: ScaleRecord | undefined;
  let idleRecords: IdleRecord[] = [];
  try {
    if (fanIn) {
      for (let round = 1; round <= options.rounds; round++) {
        for (const tool of ['raw', 'mqbench'] as const) {
          const record = await measureFanIn(options, tool, round);
          fanInRecords.push(record);
          process.stderr.write(renderFanInProgress(options, record));
        }
      }
    }
    if (scale) {
      scaleRecord = await measureScale(options);
      process.stderr.write(renderScaleProgress(scaleRecord));
    }
    if (idle) idleRecords = await measureIdleRow(options, (r) => process.stderr.write(renderIdleProgress(r)));
  } catch (err) {
    if (!(err instanceof BrokerStartError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT_BROKER_START;
  }

  const fanInVerdict: FanInVerdict | undefined = fanIn ? judgeFanIn(fanInRecords, FAN_IN_GOAL) : undefined;
  const scaleVerdict: ScaleVerdict | undefined = scaleRecord ? judgeScale(scaleRecord) : undefined;
  const idleVerdict: IdleVerdict | undefined = idle
    ? judgeIdle(idleRecords, options.idleBase, options.idleClients, IDLE_GOAL_BYTES_PER_CLIENT)
    : undefined;
  process.stdout.write('\nGoals\n\n');
  process.stdout.write(renderGoals(fanInVerdict, scaleVerdict, idleVerdict));
  if (fanInVerdict) {
    process.stdout.write(
      `\nQoS 0 fan-in through ${mosquittoLabel}: messages received per second over the same window ` +
        `(median of ${options.rounds} round${options.rounds === 1 ? '' : 's'})\n\n`,
    );
    process.stdout.write(renderFanInSummary(fanInVerdict));
    process.stdout.write(
      'CPU: % of one core over the window (load: the raw generator or mqbench process, all its threads); lost: over ' +
        "the whole run; e2e: mqbench's end-to-end latency over the whole run, warm-up included (the raw generator " +
        'does not time messages).\n',
    );
    process.stdout.write('\nEvery fan-in run\n\n');
    process.stdout.write(renderFanInRuns(fanInRecords));
  }
  if (scaleRecord && scaleVerdict) {
    process.stdout.write(`\n${scaleRecord.clients.toLocaleString('en-US')} clients against the bundled broker\n\n`);
    process.stdout.write(renderScale(scaleRecord, scaleVerdict));
  }
  if (idleVerdict) {
    process.stdout.write(
      `\nIdle clients against the bundled broker: memory of the load process with every client connected, ` +
        `subscribed and idle ${IDLE_SETTLE_SECONDS} s, after a full garbage collection in each of its threads\n\n`,
    );
    process.stdout.write(renderIdleReadings(idleRecords));
    process.stdout.write(
      `\nPer idle client: (value at ${idleVerdict.topClients.toLocaleString('en-US')} − value at ` +
        `${idleVerdict.baseClients.toLocaleString('en-US')}) ÷ ${(idleVerdict.topClients - idleVerdict.baseClients).toLocaleString('en-US')} ` +
        "clients, so threads and code do not count. RSS per client leaves out V8's young generation (the new space " +
        'of every thread, read with the RSS): it is capped per thread but stays as large as the connect burst grew ' +
        'it, longer for more clients; RSS as read keeps it in.\n\n',
    );
    process.stdout.write(renderIdlePerClient(idleVerdict));
    process.stdout.write(`\n${renderIdleVerdict(idleVerdict)}`);
    const failures = renderIdleFailures(idleRecords);
    if (failures) process.stdout.write(`\n${failures}`);
  }
  if (options.jsonFile) {
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      environment: { node: process.version, platform: process.platform, cpus: cpus().length, cpuModel: cpus()[0]?.model },
      mosquitto: mosquittoLabel,
      options: {
        rows: options.rows.map((r) => r.name),
        rounds: options.rounds,
        workers: options.workers,
        warmupSeconds: options.warmupSeconds,
        durationSeconds: options.durationSeconds,
        clients: options.clients,
        rampSeconds: options.rampSeconds,
        holdSeconds: options.holdSeconds,
        idleClients: options.idleClients,
        idleBase: options.idleBase,
        conf: DEFAULT_CONF,
      },
      goals: { fanIn: fanInVerdict, scale: scaleVerdict, idle: idleVerdict },
      fanInRuns: fanInRecords,
      scale: scaleRecord,
      idle: idleRecords,
    };
    mkdirSync(dirname(options.jsonFile), { recursive: true });
    writeFileSync(options.jsonFile, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`\nWrote ${options.jsonFile}\n`);
  }
  const failedGoals = [fanInVerdict, scaleVerdict, idleVerdict].filter((v) => v !== undefined && !v.passed).length;
  if (failedGoals > 0) {
    process.stderr.write(`${failedGoals} goal(s) not met; see the tables above.\n`);
    return EXIT_GOAL_FAILED;
  }
  return 0;
}

/** One fan-in measurement: a fresh Mosquitto, the tool in a process of its own, and Mosquitto stopped afterwards. */
async function measureFanIn(options: EngineBenchOptions, tool: LoadTool, round: number): Promise<FanInRecord> {
  const broker = await startBrokerProcess('mosquitto', [...DEFAULT_CONF]);
  const record: FanInRecord = { round, tool, brokerLabel: broker.label };
  try {
    if (tool === 'raw') {
      const result = await runRawGenerator(options, broker, round);
      record.raw = result;
      record.measurement = fanInMeasurementOfRaw(result);
    } else {
      const result = await runMqbenchFanIn(options, broker);
      record.mqbench = result;
      record.measurement = fanInMeasurementOfMqbench(result);
    }
  } catch (err) {
    record.error = describeBrokerFailure(err as Error, broker);
  } finally {
    await broker.stop();
  }
  return record;
}

function runRawGenerator(options: EngineBenchOptions, broker: BrokerProcess, round: number): Promise<MessageResult> {
  const job: MessageJob = {
    kind: 'messages',
    host: broker.host,
    port: broker.port,
    brokerPid: broker.pid,
    row: FAN_IN_ROW.name,
    topic: FAN_IN_RAW_TOPIC,
    publishers: FAN_IN_ROW.publishers,
    subscribers: FAN_IN_ROW.subscribers,
    qos: FAN_IN_ROW.qos,
    payloadBytes: FAN_IN_PAYLOAD_BYTES,
    window: RAW_WINDOW,
    maxUndelivered: RAW_MAX_UNDELIVERED,
    warmupSeconds: options.warmupSeconds,
    durationSeconds: options.durationSeconds,
    drainSeconds: RAW_DRAIN_SECONDS,
    clientIdPrefix: `mqbench-raw-${round}`,
  };
  const limitMs = (job.warmupSeconds + job.durationSeconds + job.drainSeconds) * 1000 + CHILD_SLACK_MS;
  return forkJob<MessageResult>('generator-child.js', { type: 'run', job } satisfies ToGenerator, limitMs, 'the raw generator');
}

function runMqbenchFanIn(options: EngineBenchOptions, broker: BrokerProcess): Promise<EngineJobResult> {
  const scenario = fanInScenario({
    warmupSeconds: options.warmupSeconds,
    windowSeconds: options.durationSeconds,
    payloadBytes: FAN_IN_PAYLOAD_BYTES,
  });
  const job: EngineJob = {
    kind: 'fan-in',
    scenarioYaml: scenario.yaml,
    host: broker.host,
    port: broker.port,
    brokerPid: broker.pid,
    openFilesNeeded: FAN_IN_PUBLISHERS + 1 + OPEN_FILES_MARGIN,
    workers: options.workers,
    window: scenario.window,
  };
  const limitMs = (scenario.window.firstSecond + scenario.window.seconds) * 1000 + CHILD_SLACK_MS;
  return forkJob<EngineJobResult>('engine-child.js', { type: 'run', job } satisfies ToEngineChild, limitMs, 'mqbench');
}

/** The bundled broker in its own process, many mqbench clients against it from another. */
async function measureScale(options: EngineBenchOptions): Promise<ScaleRecord> {
  const broker = await startBrokerProcess('bundled', [...DEFAULT_CONF]);
  const needed = options.clients + OPEN_FILES_MARGIN;
  const record: ScaleRecord = {
    brokerLabel: broker.label === 'bundled' ? 'bundled broker' : broker.label,
    clients: options.clients,
    talkers: scaleTalkers(options.clients),
    rampSeconds: options.rampSeconds,
    holdSeconds: options.holdSeconds,
    brokerOpenFiles: null,
    brokerOpenFilesRaisedFrom: null,
  };
  try {
    const files = ensureOpenFiles(broker.pid, needed, 'the bundled broker process');
    record.brokerOpenFiles = files.limit === undefined ? null : files.limit.soft === Infinity ? 'unlimited' : files.limit.soft;
    record.brokerOpenFilesRaisedFrom = files.raisedFrom ?? null;
    if (files.problem !== undefined) {
      record.error = files.problem;
      return record;
    }
    const scenario = scaleScenario({ clients: options.clients, rampSeconds: options.rampSeconds, holdSeconds: options.holdSeconds });
    const job: EngineJob = {
      kind: 'scale',
      scenarioYaml: scenario.yaml,
      host: broker.host,
      port: broker.port,
      brokerPid: broker.pid,
      openFilesNeeded: needed,
      workers: options.workers,
      window: scenario.window,
    };
    const limitMs =
      (options.rampSeconds + options.holdSeconds) * 1000 + CHILD_SLACK_MS + options.clients * SCALE_SLACK_MS_PER_CLIENT;
    record.result = await forkJob<EngineJobResult>('engine-child.js', { type: 'run', job } satisfies ToEngineChild, limitMs, 'mqbench');
  } catch (err) {
    record.error = describeBrokerFailure(err as Error, broker);
  } finally {
    await broker.stop();
  }
  return record;
}

function renderHeader(options: EngineBenchOptions, mosquittoLabel: string | undefined): string {
  const lines = [`mqbench engine benchmark: Node ${process.version}, ${cpus().length} CPUs, ${options.workers} mqbench worker thread(s)`];
  if (mosquittoLabel) {
    lines.push(
      `fan-in: ${FAN_IN_ROW.publishers} unpaced QoS 0 publishers → ${FAN_IN_ROW.subscribers} subscriber, ` +
        `${FAN_IN_PAYLOAD_BYTES}-byte payloads (mqbench's 24-byte latency header included), through ${mosquittoLabel}; ` +
        `${options.rounds} round(s) of raw generator then mqbench, ${options.durationSeconds} s windows after ` +
        `${options.warmupSeconds} s warm-up; mosquitto.conf: ${DEFAULT_CONF.join('; ')}`,
    );
  }
  if (options.rows.some((r) => r.name === 'scale')) {
    const talkers = scaleTalkers(options.clients);
    lines.push(
      `scale: ${options.clients} clients over ${options.rampSeconds} s against the bundled broker, held ` +
        `${options.holdSeconds} s; each subscribes to its own topic, ${talkers} publish ${SCALE_TALKER_RATE}/s ` +
        `at QoS 1 (${SCALE_PAYLOAD_BYTES} bytes)`,
    );
  }
  if (options.rows.some((r) => r.name === 'idle')) {
    lines.push(
      `idle: ${options.idleBase.toLocaleString('en-US')} then ${options.idleClients.toLocaleString('en-US')} clients at ` +
        `${IDLE_CONNECT_RATE.toLocaleString('en-US')}/s against the bundled broker, each subscribed to its own topic at QoS 1, ` +
        `keep alive ${IDLE_KEEPALIVE_SECONDS} s, idle ${IDLE_SETTLE_SECONDS} s; mqbench, then Node's floor (raw sockets)`,
    );
  }
  return lines.join('\n') + '\n';
}

function renderFanInProgress(options: EngineBenchOptions, r: FanInRecord): string {
  const where = `fan-in ${TOOL_LABEL[r.tool]} round ${r.round}/${options.rounds}`;
  const m = r.measurement;
  if (!m) return `${where}: failed: ${r.error}\n`;
  const cpu = (p: number | null): string => (p === null ? 'n/a' : `${p.toFixed(0)}%`);
  return (
    `${where}: ${Math.round(m.receivedPerSecond)} msg/s, lost ${m.lost}, ` +
    `broker CPU ${cpu(m.brokerCpuPercent)}, load CPU ${cpu(m.loadCpuPercent)}\n`
  );
}

function renderScaleProgress(r: ScaleRecord): string {
  if (!r.result) return `scale: failed: ${r.error}\n`;
  return `scale: ${r.result.peakConnections} of ${r.clients} clients connected at once, ${r.result.run.totals.errorsTotal} errors\n`;
}

function renderIdleProgress(r: IdleRecord): string {
  const where = `idle ${IDLE_TOOL_LABEL[r.tool]} ${r.clients.toLocaleString('en-US')} clients`;
  const m = r.reading;
  if (!m) return `${where}: failed: ${r.error}\n`;
  const mib = (b: number) => `${(b / (1024 * 1024)).toFixed(1)} MiB`;
  return `${where}: RSS ${mib(m.rssBytes)}, heap ${mib(m.heapUsedBytes)}\n`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench:engine failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
