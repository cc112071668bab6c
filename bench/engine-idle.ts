/**
 * The idle-clients row of `npm run bench:engine`: at each of two sizes, mqbench and then Node's floor, each in a
 * process of its own against a fresh bundled broker process, each reading its own memory once its clients are idle.
 */
import { DEFAULT_CONF } from './args.js';
import { describeBrokerFailure, startBrokerProcess } from './broker-process.js';
import { IDLE_CONNECT_RATE, IDLE_KEEPALIVE_SECONDS, IDLE_SETTLE_SECONDS, type EngineBenchOptions } from './engine-args.js';
import { ensureOpenFiles } from './engine-fd-limit.js';
import { forkJob } from './engine-fork.js';
import type { IdleJob, IdleReading, IdleRecord, IdleTool, ToIdleChild } from './idle-memory.js';

/** Beyond connecting at the set rate: a busy machine's slower connects and SUBACKs. */
const CONNECT_SLACK_MS = 30_000;
/** Beyond the connect deadline and the settle: thread start-up, the heap reading, disconnecting every client. */
const CHILD_SLACK_MS = 90_000;
/** Per client beyond that, for connecting and disconnecting thousands of clients on a busy machine. */
const SLACK_MS_PER_CLIENT = 5;
/** Files a process needs beyond one per client: its listening socket, pipes, libraries, worker threads. */
const OPEN_FILES_MARGIN = 256;

const WHO: Record<IdleTool, string> = { mqbench: 'mqbench', floor: "Node's floor" };

/**
 * Every measurement of the row, smaller size first; one that fails leaves its error in its record and the others
 * still run. `onRecord` sees each as it is made.
 */
export async function measureIdleRow(options: EngineBenchOptions, onRecord: (r: IdleRecord) => void): Promise<IdleRecord[]> {
  const records: IdleRecord[] = [];
  for (const clients of [options.idleBase, options.idleClients]) {
    for (const tool of ['mqbench', 'floor'] as const) {
      const record = await measureIdle(tool, clients, options.workers);
      records.push(record);
      onRecord(record);
    }
  }
  return records;
}

async function measureIdle(tool: IdleTool, clients: number, workers: number): Promise<IdleRecord> {
  const broker = await startBrokerProcess('bundled', [...DEFAULT_CONF]);
  const record: IdleRecord = { tool, clients, brokerLabel: broker.label === 'bundled' ? 'bundled broker' : broker.label };
  try {
    const needed = clients + OPEN_FILES_MARGIN;
    const files = ensureOpenFiles(broker.pid, needed, 'the bundled broker process');
    if (files.problem !== undefined) {
      record.error = files.problem;
      return record;
    }
    const job: IdleJob = {
      tool,
      host: broker.host,
      port: broker.port,
      clients,
      connectRate: IDLE_CONNECT_RATE,
      keepAliveSeconds: IDLE_KEEPALIVE_SECONDS,
      settleMs: IDLE_SETTLE_SECONDS * 1000,
      connectDeadlineMs: Math.ceil((clients / IDLE_CONNECT_RATE) * 1000) + CONNECT_SLACK_MS,
      workers,
      openFilesNeeded: needed,
    };
    const limitMs = job.connectDeadlineMs + job.settleMs + CHILD_SLACK_MS + clients * SLACK_MS_PER_CLIENT;
    const message: ToIdleChild = { type: 'run', job };
    record.reading = await forkJob<IdleReading>('idle-child.js', message, limitMs, WHO[tool], ['--expose-gc']);
  } catch (err) {
    record.error = describeBrokerFailure(err as Error, broker);
  } finally {
    await broker.stop();
  }
  return record;
}
