/**
 * The load generator: runs one measurement against a broker (generator-child.ts runs it in a process, hence on a core,
 * of its own). A message job connects, warms up, measures a window, drains and disconnects; connection jobs are in
 * connection-load.ts.
 */
import { readProcessCpuSeconds, readProcessPeakRssMiB } from '../src/launch/proc.js';
import { runConnectJob, runIdleJob } from './connection-load.js';
import { DeliveryGate } from './delivery-gate.js';
import type { LoadClient } from './load-client.js';
import type { GeneratorJob, GeneratorResult, MessageJob, MessageResult } from './messages.js';
import { StreamPublisher, WindowedPublisher, type Publisher } from './publishers.js';
import { ledgerWindowBits } from './sequence-ledger.js';
import { Subscriber } from './subscriber.js';

const READ_BUFFER_BYTES = 256 * 1024;
/** Every (subscriber, publisher) sequence bitmap together; each gets a power-of-two share of up to 2^24 bits. */
const LEDGER_BUDGET_BYTES = 64 * 1024 * 1024;
const DRAIN_POLL_MS = 50;
/** No delivery or ack for this long after publishing stopped: the broker has nothing more to give. */
const DRAIN_QUIET_MS = 500;

interface Snapshot {
  at: bigint;
  sent: number;
  received: number;
  brokerCpu: number | undefined;
  generatorCpu: NodeJS.CpuUsage;
}

export function runJob(job: GeneratorJob): Promise<GeneratorResult> {
  switch (job.kind) {
    case 'messages':
      return runMessageJob(job);
    case 'idle':
      return runIdleJob(job);
    case 'connect':
      return runConnectJob(job);
  }
}

export async function runMessageJob(job: MessageJob): Promise<MessageResult> {
  const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const gate = new DeliveryGate(job.maxUndelivered, job.subscribers);
  const windowBits = ledgerWindowBits(job.subscribers * job.publishers, LEDGER_BUDGET_BYTES);
  const subscribers: Subscriber[] = [];
  for (let i = 0; i < job.subscribers; i++) {
    subscribers.push(new Subscriber(`${job.clientIdPrefix}-s${i}`, gate, job.publishers, windowBits));
  }
  const publishers = createPublishers(job, gate);
  const everyone: LoadClient[] = [...subscribers, ...publishers];
  for (const c of everyone) c.clean = !job.persistentSessions;
  try {
    await Promise.all(subscribers.map((s) => s.connect(job.host, job.port, readBuffer)));
    await Promise.all(subscribers.map((s) => s.subscribe(job.topic, job.qos)));
    await Promise.all(publishers.map((p) => p.connect(job.host, job.port, readBuffer)));

    for (const p of publishers) p.start();
    await sleep(job.warmupSeconds * 1000);
    const first = snapshot(job, publishers, subscribers);
    await sleep(job.durationSeconds * 1000);
    const last = snapshot(job, publishers, subscribers);
    for (const p of publishers) p.stop();
    checkConnections(everyone);

    const drain = await drainDeliveries(job, publishers, subscribers);
    checkConnections(everyone);
    return summarise(job, publishers, subscribers, first, last, drain, windowBits);
  } finally {
    gate.close();
    await Promise.all(everyone.map((c) => c.disconnect()));
  }
}

function createPublishers(job: MessageJob, gate: DeliveryGate): Publisher[] {
  const publishers: Publisher[] = [];
  for (let i = 0; i < job.publishers; i++) {
    const clientId = `${job.clientIdPrefix}-p${i}`;
    publishers.push(
      job.qos === 0
        ? new StreamPublisher(clientId, i, job.topic, job.payloadBytes, gate)
        : new WindowedPublisher(clientId, i, job.topic, job.payloadBytes, job.qos, job.window, gate),
    );
  }
  return publishers;
}

function snapshot(job: MessageJob, publishers: Publisher[], subscribers: Subscriber[]): Snapshot {
  return {
    at: process.hrtime.bigint(),
    sent: totalSent(publishers),
    received: totalReceived(subscribers),
    brokerCpu: job.brokerPid === undefined ? undefined : readProcessCpuSeconds(job.brokerPid),
    generatorCpu: process.cpuUsage(),
  };
}

/** Waits until every delivery arrived and every QoS flow completed, or nothing moved for a while, or time ran out. */
async function drainDeliveries(
  job: MessageJob,
  publishers: Publisher[],
  subscribers: Subscriber[],
): Promise<{ seconds: number; timedOut: boolean }> {
  const start = Date.now();
  const deadline = start + job.drainSeconds * 1000;
  let lastReceived = -1;
  let lastOutstanding = -1;
  let lastChange = start;
  for (;;) {
    const now = Date.now();
    const received = totalReceived(subscribers);
    const outstanding = publishers.reduce((n, p) => n + p.outstanding, 0);
    if (outstanding === 0 && totalDistinct(subscribers) >= totalSent(publishers) * job.subscribers) {
      return { seconds: (now - start) / 1000, timedOut: false };
    }
    if (received !== lastReceived || outstanding !== lastOutstanding) {
      lastReceived = received;
      lastOutstanding = outstanding;
      lastChange = now;
    } else if (now - lastChange >= DRAIN_QUIET_MS) {
      return { seconds: (now - start) / 1000, timedOut: false };
    }
    if (now >= deadline) return { seconds: (now - start) / 1000, timedOut: true };
    await sleep(DRAIN_POLL_MS);
  }
}

function summarise(
  job: MessageJob,
  publishers: Publisher[],
  subscribers: Subscriber[],
  first: Snapshot,
  last: Snapshot,
  drain: { seconds: number; timedOut: boolean },
  windowBits: number,
): MessageResult {
  const windowSeconds = Number(last.at - first.at) / 1e9;
  const sent = totalSent(publishers);
  let lost = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let beyondWindow = 0;
  let distinct = 0;
  for (const s of subscribers) {
    for (const p of publishers) {
      const ledger = s.ledgers[p.index];
      lost += ledger.lost(p.sent);
      duplicates += ledger.duplicates;
      outOfOrder += ledger.outOfOrder;
      beyondWindow += ledger.beyondWindow;
      distinct += ledger.distinct;
    }
  }
  const windowReceived = last.received - first.received;
  // Without the first reading there is no delta, so both are needed for a CPU figure.
  const brokerCpu =
    first.brokerCpu === undefined || last.brokerCpu === undefined ? null : last.brokerCpu - first.brokerCpu;
  const generatorMicros =
    last.generatorCpu.user + last.generatorCpu.system - first.generatorCpu.user - first.generatorCpu.system;
  return {
    kind: 'messages',
    windowSeconds,
    receivedPerSecond: windowReceived / windowSeconds,
    sentPerSecond: (last.sent - first.sent) / windowSeconds,
    sent,
    received: totalReceived(subscribers),
    expected: sent * job.subscribers,
    distinct,
    lost,
    duplicates,
    outOfOrder,
    beyondWindow,
    windowBits,
    unacknowledged: publishers.reduce((n, p) => n + p.outstanding, 0),
    unexpected: [...publishers, ...subscribers].reduce((n, c) => n + c.unexpected, 0),
    brokerCpuSeconds: brokerCpu,
    brokerCpuMicrosPerMessage: brokerCpu === null || windowReceived === 0 ? null : (brokerCpu / windowReceived) * 1e6,
    brokerCpuPercent: brokerCpu === null ? null : (brokerCpu / windowSeconds) * 100,
    generatorCpuPercent: (generatorMicros / 1e6 / windowSeconds) * 100,
    brokerPeakRssMiB: (job.brokerPid === undefined ? undefined : readProcessPeakRssMiB(job.brokerPid)) ?? null,
    drainSeconds: drain.seconds,
    drainTimedOut: drain.timedOut,
  };
}

function checkConnections(clients: LoadClient[]): void {
  const lost = clients.filter((c) => c.lost !== undefined);
  if (lost.length > 0) {
    const shown = lost.slice(0, 3).map((c) => `${c.clientId}: ${c.lost}`);
    const more = lost.length > 3 ? ` (and ${lost.length - 3} more)` : '';
    throw new Error(`${lost.length} connection(s) lost during the run: ${shown.join('; ')}${more}`);
  }
}

function totalSent(publishers: Publisher[]): number {
  let n = 0;
  for (const p of publishers) n += p.sent;
  return n;
}

function totalReceived(subscribers: Subscriber[]): number {
  let n = 0;
  for (const s of subscribers) n += s.received;
  return n;
}

function totalDistinct(subscribers: Subscriber[]): number {
  let n = 0;
  for (const s of subscribers) n += s.distinct;
  return n;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
