/**
 * Connection jobs of the load generator: many idle subscribed clients (the broker's memory per connection), and many
 * short connections a few at a time (the broker's CPU per connect, CONNACK and DISCONNECT). Sockets are spread over
 * several loopback source addresses, each of which has its own ~28k ephemeral ports towards the broker.
 */
import { connect as netConnect } from 'node:net';
import { readProcessCpuSeconds, readProcessRssBytes } from '../src/launch/proc.js';
import { LoadClient } from './load-client.js';
import type { ConnectJob, ConnectResult, IdleJob, IdleResult } from './messages.js';
import { DISCONNECT, encodeConnect } from './mqtt-wire.js';

const READ_BUFFER_BYTES = 64 * 1024;
/** Longest wait for one short connection's CONNACK, and then for the broker to close it after DISCONNECT. */
const CONNECTION_TIMEOUT_MS = 10_000;
/** After the last short connection closed, the broker's CPU is read once more after this long (cleanup it defers). */
const CONNECT_SETTLE_MS = 250;

/** A client that connects and subscribes, then sends nothing; anything but CONNACK and SUBACK is unexpected. */
class IdleClient extends LoadClient {
  onPacket(first: number, buf: Buffer, body: number, length: number): void {
    this.onControl(first, buf, body, length);
  }
}

export async function runIdleJob(job: IdleJob): Promise<IdleResult> {
  const pid = requirePid(job.brokerPid);
  const rssBefore = await settledRss(pid, job.baselineSettleMs);
  const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const clients: IdleClient[] = [];
  const started = process.hrtime.bigint();
  try {
    await forEachLimited(job.connections, job.concurrency, async (i) => {
      const client = new IdleClient(`${job.clientIdPrefix}-i${i}`);
      clients.push(client);
      await client.connect(job.host, job.port, readBuffer, job.sourceAddresses[i % job.sourceAddresses.length]);
      await client.subscribe(`mqbench/idle/${i}`, 0);
    });
    const connectSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    await sleep(job.settleMs);
    const rssAfter = readRssOfAllOpen(pid, clients);
    let rssIdle: number | null = null;
    if (job.idleMs > job.settleMs) {
      await sleep(job.idleMs - job.settleMs);
      rssIdle = readRssOfAllOpen(pid, clients);
    }
    return {
      kind: 'idle',
      connections: job.connections,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      bytesPerConnection: (rssAfter - rssBefore) / job.connections,
      rssIdleBytes: rssIdle,
      idleBytesPerConnection: rssIdle === null ? null : (rssIdle - rssBefore) / job.connections,
      connectSeconds,
    };
  } finally {
    for (const c of clients) c.reset();
  }
}

export async function runConnectJob(job: ConnectJob): Promise<ConnectResult> {
  const pid = job.brokerPid;
  const latencies = new Float64Array(job.connections);
  const cpuBefore = pid === undefined ? undefined : readProcessCpuSeconds(pid);
  const started = process.hrtime.bigint();
  await forEachLimited(job.connections, job.concurrency, async (i) => {
    latencies[i] = await connectOnce(
      job.host,
      job.port,
      job.sourceAddresses[i % job.sourceAddresses.length],
      `${job.clientIdPrefix}-c${i}`,
    );
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await sleep(CONNECT_SETTLE_MS);
  const cpuAfter = pid === undefined ? undefined : readProcessCpuSeconds(pid);
  const cpu = cpuBefore === undefined || cpuAfter === undefined ? null : cpuAfter - cpuBefore;
  latencies.sort();
  return {
    kind: 'connect',
    connections: job.connections,
    seconds,
    connectionsPerSecond: job.connections / seconds,
    brokerCpuSeconds: cpu,
    brokerCpuMicrosPerConnection: cpu === null ? null : (cpu / job.connections) * 1e6,
    connackP50Ms: quantile(latencies, 0.5),
    connackP99Ms: quantile(latencies, 0.99),
    connackMaxMs: latencies[latencies.length - 1],
  };
}

/**
 * One short connection: CONNECT once the socket is open, DISCONNECT (and our FIN, as a client does [MQTT-3.14.4-1])
 * once CONNACK is in, then wait for the broker to close. Resolves with CONNECT → CONNACK in ms.
 */
function connectOnce(host: string, port: number, localAddress: string, clientId: string): Promise<number> {
  const connectPacket = encodeConnect(clientId);
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, localAddress, noDelay: true });
    let sentAt = 0n;
    let latencyMs = -1;
    let head: Buffer | undefined;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = latencyMs < 0 ? `no CONNACK within ${CONNECTION_TIMEOUT_MS / 1000} s` : `not closed within ${CONNECTION_TIMEOUT_MS / 1000} s of DISCONNECT`;
      socket.destroy();
    }, CONNECTION_TIMEOUT_MS);
    socket.once('connect', () => {
      sentAt = process.hrtime.bigint();
      socket.write(connectPacket);
    });
    socket.on('data', (chunk: Buffer) => {
      if (latencyMs >= 0) return;
      head = head === undefined ? chunk : Buffer.concat([head, chunk]);
      if (head.length < 4) return;
      if (head[0] !== 0x20 || head[1] !== 0x02 || head[3] !== 0) {
        failure = `expected CONNACK accepting the connection, got ${head.subarray(0, 4).toString('hex')}`;
        socket.destroy();
        return;
      }
      latencyMs = Number(process.hrtime.bigint() - sentAt) / 1e6;
      socket.end(DISCONNECT);
    });
    socket.on('error', (err) => {
      // A reset after DISCONNECT is a broker's way of closing too; before CONNACK it is a failure.
      if (latencyMs < 0) failure ??= err.message;
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (failure === undefined && latencyMs < 0) failure = 'closed before CONNACK';
      if (failure === undefined) resolve(latencyMs);
      else reject(new Error(`${clientId}: ${failure}`));
    });
  });
}

/**
 * Runs `task(0..count-1)`, `concurrency` at a time. The first failure stops new tasks; once the running ones have
 * ended, it is thrown with the number of failures.
 */
export async function forEachLimited(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failures = 0;
  let first: Error | undefined;
  const worker = async (): Promise<void> => {
    while (next < count && first === undefined) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failures++;
        first ??= err as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (first !== undefined) {
    throw new Error(`${failures} of ${next} connections failed (none was started after the first failure); first: ${first.message}`);
  }
}

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function requirePid(pid: number | undefined): number {
  if (pid === undefined) throw new Error('memory per connection needs the broker process id');
  return pid;
}

function readRss(pid: number): number {
  const rss = readProcessRssBytes(pid);
  if (rss === undefined) throw new Error(`cannot read the resident memory of process ${pid} from /proc`);
  return rss;
}

/** The broker's RSS, read only while every idle connection is still open (a closed one would not be costing it). */
function readRssOfAllOpen(pid: number, clients: readonly IdleClient[]): number {
  const gone = clients.filter((c) => c.lost !== undefined);
  if (gone.length > 0) {
    throw new Error(`${gone.length} of ${clients.length} idle connections were closed: ${gone[0].clientId}: ${gone[0].lost}`);
  }
  return readRss(pid);
}

/** Readings this close (bytes) count as steady. */
const STEADY_BYTES = 512 * 1024;
/** Consecutive steady readings, a second apart, that end the wait for a settled baseline. */
const STEADY_READINGS = 3;

/**
 * The broker's RSS once it has been idle at least `minMs` and its last STEADY_READINGS readings, a second apart,
 * agree within STEADY_BYTES; at most `minMs` + 30 s. `minMs` 0 reads at once.
 */
async function settledRss(pid: number, minMs: number): Promise<number> {
  if (minMs <= 0) return readRss(pid);
  const started = Date.now();
  const readings: number[] = [readRss(pid)];
  for (;;) {
    await sleep(1_000);
    readings.push(readRss(pid));
    const recent = readings.slice(-STEADY_READINGS);
    const steady = recent.length === STEADY_READINGS && Math.max(...recent) - Math.min(...recent) <= STEADY_BYTES;
    const waited = Date.now() - started;
    if ((steady && waited >= minMs) || waited >= minMs + 30_000) return readings[readings.length - 1];
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
