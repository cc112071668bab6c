/**
 * One fuzz run: the broker in a process of its own, the fuzzing lanes in another, and in this one the well-behaved
 * QoS 1 pair, a CONNECT probe every second and a PINGREQ probe every 20 ms. Ends with a report of what was sent and
 * everything that went wrong: a crash, a lost acknowledged message, a probe slower than the limit.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { crashExcerpt, firstErrorLine, startWatchedBroker, type WatchedBroker, type WatchedBrokerKind } from '../harness/broker.js';
import { forget, remember } from '../harness/children.js';
import { compiledEntry } from '../harness/compiled.js';
import { PingProbe } from '../harness/ping-probe.js';
import { RssWatch } from '../harness/rss.js';
import type { PlanKind } from './connection-plans.js';
import { emptyStats, type FuzzStats } from './lanes.js';
import type { FromFuzzChild, FuzzJob, ToFuzzChild } from './messages.js';
import { Prng } from './prng.js';
import { ConnectProbe, SteadyPublisher, SteadySubscriber, steadyNames, type ConnectProbeResult } from './steady.js';

export interface FuzzOptions {
  broker: WatchedBrokerKind;
  seed: string;
  packets: number;
  /** Fuzz connections open at once. */
  connections: number;
  /** Longest time the fuzzers get to write `packets`; running short of them is a failure. */
  limitSeconds: number;
  kinds: PlanKind[];
  /** mosquitto.conf lines for the broker. */
  conf: string[];
  /** A probe answer slower than this is a failure. */
  probeLimitMs: number;
  /** Called with a line of progress about once a second. */
  onProgress?: (line: string) => void;
}

export interface SteadyReport {
  sent: number;
  acknowledged: number;
  received: number;
  /** Deliveries of a message the subscriber already had (QoS 1 allows them; they are counted, not failed). */
  duplicated: number;
  /** Acknowledged sequence numbers the subscriber never got. */
  lost: number;
  lostExamples: number[];
  /** Messages acknowledged while the subscriber was away (they had to wait in its session). */
  acknowledgedWhileAway: number;
}

export interface FuzzReport {
  options: Omit<FuzzOptions, 'onProgress'>;
  brokerLabel: string;
  stats: FuzzStats;
  fuzzSeconds: number;
  packetsPerSecond: number;
  brokerPeakRssBytes: number;
  /** The broker's own longest event-loop delay (the bundled broker only), ms. */
  brokerLoopMaxMs: number | undefined;
  /** Longest PINGREQ → PINGRESP, ms. */
  pingLongestMs: number;
  pingAnswered: number;
  connectProbe: ConnectProbeResult;
  steady: SteadyReport | undefined;
  /** How the broker process ended on its own, and what it printed about it. */
  crash: { status: string; excerpt: string } | undefined;
  /** This process's own longest event-loop delay: a probe cannot be more precise than this, ms. */
  probeProcessLoopMaxMs: number;
  /** Everything that makes the run fail; empty when it passed. */
  failures: string[];
}

/** The steady publisher keeps going at least this long (in messages), however fast the fuzzers finish. */
const MIN_STEADY_MESSAGES = 200;
const DELIVERY_TIMEOUT_MS = 5_000;
const BOUNCE_AWAY_MS = 400;
/** The fuzzers start no connection after the limit; the ones open then may take this long to end. */
const FUZZ_WIND_DOWN_MS = 15_000;
const CRASH_GRACE_MS = 2_000;
/** A broker that leaves a ping unanswered this long has stopped; the fuzzers stop too. */
const UNRESPONSIVE_STOP_MS = 15_000;

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const say = options.onProgress ?? (() => {});
  const ownLoop = monitorEventLoopDelay({ resolution: 10 });
  ownLoop.enable();
  const broker = await startWatchedBroker(options.broker, options.conf);
  const rss = new RssWatch(broker.pid);
  const cleanups: Array<() => unknown> = [];
  try {
    const names = steadyNames(`mqbench-steady-${new Prng(options.seed).word(8)}`);
    const subscriber = new SteadySubscriber(broker.host, broker.port, names);
    await subscriber.start();
    cleanups.push(() => subscriber.stop());
    const publisher = await SteadyPublisher.start(broker.host, broker.port, names);
    cleanups.push(() => publisher.close());
    const ping = await PingProbe.start(broker.host, broker.port, `${names.probePrefix}-ping`);
    cleanups.push(() => ping.stop());
    const connectProbe = new ConnectProbe(broker.host, broker.port, names.probePrefix, options.probeLimitMs);
    cleanups.push(() => connectProbe.stop());

    const failures: string[] = [];
    let lastSecond = 0;
    const fuzz = await fuzzWhileWatching(options, broker, {
      progress: (stats, elapsedMs) => {
        // Reports come four times a second; a line a second is enough.
        const second = Math.floor(elapsedMs / 1000);
        if (second <= lastSecond) return;
        lastSecond = second;
        say(progressLine(stats, elapsedMs, options, broker, rss, ping));
      },
      midway: async () => {
        const ackedBefore = publisher.acked.size;
        try {
          await subscriber.bounce(BOUNCE_AWAY_MS);
        } catch (err) {
          failures.push(`steady subscriber could not come back to its session: ${(err as Error).message}`);
        }
        return publisher.acked.size - ackedBefore;
      },
      unansweredMs: () => ping.longestMs(),
    });
    if (fuzz.cutShort === 'unresponsive') failures.push(`the broker stopped answering for ${UNRESPONSIVE_STOP_MS / 1000} s; the fuzzers stopped`);
    if (fuzz.cutShort === 'timeout') failures.push(`the fuzzers had not hung up ${FUZZ_WIND_DOWN_MS / 1000} s after the time limit`);

    const crash = broker.crash();
    let steady: SteadyReport | undefined;
    if (crash === undefined) {
      const steadyDeadline = Date.now() + DELIVERY_TIMEOUT_MS;
      while (publisher.sent < MIN_STEADY_MESSAGES && Date.now() < steadyDeadline && publisher.problem === undefined) await sleep(20);
      await publisher.stop();
      steady = await deliveries(publisher, subscriber, fuzz.acknowledgedWhileAway);
      if (publisher.problem) failures.push(publisher.problem);
      if (subscriber.client?.closedReason) failures.push(subscriber.client.closedReason);
      if (steady.lost > 0) {
        failures.push(
          `${steady.lost} of ${steady.acknowledged} acknowledged QoS 1 messages never reached the persistent subscriber ` +
            `(first: ${steady.lostExamples.join(', ')})`,
        );
      }
    }
    const connectResult = await connectProbe.stop();
    const pingLongestMs = ping.longestMs();
    ping.stop();
    const stats = fuzz.stats;
    const brokerPeakRssBytes = rss.peak();
    const crashed = broker.crash();
    if (crashed !== undefined) {
      const why = firstErrorLine(broker.output());
      failures.unshift(`the broker process ${crashed}${why ? ` (${why})` : ''}`);
    }
    if (crashed === undefined) {
      for (const f of connectResult.failures) failures.push(`connect probe ${f}`);
      if (pingLongestMs > options.probeLimitMs) failures.push(`a PINGREQ waited ${Math.round(pingLongestMs)} ms for its PINGRESP (limit ${options.probeLimitMs} ms)`);
      if (stats.packetsWritten < options.packets && fuzz.cutShort === undefined) {
        failures.push(`the fuzzers wrote only ${stats.packetsWritten} of ${options.packets} packets within ${options.limitSeconds} s`);
      }
      if (stats.connectFailed > 0) {
        failures.push(`${stats.connectFailed} fuzz connections could not be opened (first: ${stats.connectFailures[0]})`);
      }
      // [MQTT-3.1.0-1] the first packet must be CONNECT; [MQTT-4.8.0-1] a protocol violation closes the connection.
      if (stats.garbageLeftOpenCount > 0) {
        failures.push(
          `${stats.garbageLeftOpenCount} connections whose first byte is not CONNECT were still open after 2 s ` +
            `(first: ${stats.garbageLeftOpen[0]})`,
        );
      }
    }
    return {
      options: withoutProgress(options),
      brokerLabel: broker.label,
      stats,
      fuzzSeconds: fuzz.elapsedMs / 1000,
      packetsPerSecond: fuzz.elapsedMs > 0 ? stats.packetsWritten / (fuzz.elapsedMs / 1000) : 0,
      brokerPeakRssBytes,
      brokerLoopMaxMs: broker.loopDelay?.maxMs,
      pingLongestMs,
      pingAnswered: ping.answered,
      connectProbe: connectResult,
      steady,
      crash: crashed === undefined ? undefined : { status: crashed, excerpt: crashExcerpt(broker.output()) },
      probeProcessLoopMaxMs: ownLoop.max / 1e6,
      failures,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Cleaning up after a broken broker: the connection is gone already.
      }
    }
    rss.stop();
    ownLoop.disable();
    await broker.stop();
  }
}

function withoutProgress(options: FuzzOptions): FuzzReport['options'] {
  const { onProgress: _ignored, ...rest } = options;
  return rest;
}

interface Watchers {
  progress: (stats: FuzzStats, elapsedMs: number) => void;
  /** Called once, when the fuzzers are 40% through; returns the messages acknowledged meanwhile. */
  midway: () => Promise<number>;
  /** How long the broker has left a probe unanswered, ms. */
  unansweredMs: () => number;
}

interface FuzzOutcome {
  stats: FuzzStats;
  elapsedMs: number;
  acknowledgedWhileAway: number;
  /** Why the fuzzers were stopped before they were done, if they were. */
  cutShort: 'crash' | 'unresponsive' | 'timeout' | undefined;
}

/**
 * Runs the fuzzing process to its end, or until the broker crashes or stops answering; never waits longer than the
 * limit allows.
 */
async function fuzzWhileWatching(options: FuzzOptions, broker: WatchedBroker, watchers: Watchers): Promise<FuzzOutcome> {
  const child: ChildProcess = fork(compiledEntry('./fuzz-child.js', import.meta.url), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pid = child.pid!;
  remember(pid);
  let stats = emptyStats();
  let elapsedMs = 0;
  let midway: Promise<number> | undefined;
  const limitMs = options.limitSeconds * 1000;
  const started = performance.now();
  let watchdog: NodeJS.Timeout | undefined;
  try {
    const finished = new Promise<void>((resolve, reject) => {
      child.on('message', (message: FromFuzzChild) => {
        if (message.type === 'error') {
          reject(new Error(`the fuzzing process failed: ${message.message}`));
          return;
        }
        stats = message.stats;
        elapsedMs = message.elapsedMs;
        if (message.type === 'done') {
          resolve();
          return;
        }
        watchers.progress(stats, elapsedMs);
        if (midway === undefined && stats.packetsWritten >= options.packets * 0.4) midway = watchers.midway();
      });
      child.once('exit', (code, signal) => reject(new Error(`the fuzzing process exited with ${signal ?? `code ${code}`} before reporting`)));
    });
    const job: FuzzJob = {
      host: broker.host,
      port: broker.port,
      seed: options.seed,
      packets: options.packets,
      lanes: options.connections,
      limitMs,
      kinds: options.kinds,
    };
    child.send({ type: 'run', job } satisfies ToFuzzChild);
    const stuck = new Promise<'unresponsive' | 'timeout'>((resolve) => {
      watchdog = setInterval(() => {
        if (watchers.unansweredMs() > UNRESPONSIVE_STOP_MS) resolve('unresponsive');
        else if (performance.now() - started > limitMs + FUZZ_WIND_DOWN_MS) resolve('timeout');
      }, 500);
    });
    const outcome = await Promise.race([
      finished.then(() => undefined),
      broker.crashed.then(() => 'crash' as const),
      stuck,
    ]);
    if (outcome !== undefined) {
      // Let the fuzzers notice and say what they had done; then they go.
      if (child.connected) child.send({ type: 'stop' } satisfies ToFuzzChild);
      await Promise.race([finished.catch(() => undefined), sleep(CRASH_GRACE_MS)]);
    }
    return { stats, elapsedMs, acknowledgedWhileAway: midway ? await midway : 0, cutShort: outcome };
  } finally {
    clearInterval(watchdog);
    child.kill('SIGKILL');
    forget(pid);
  }
}

async function deliveries(publisher: SteadyPublisher, subscriber: SteadySubscriber, acknowledgedWhileAway: number): Promise<SteadyReport> {
  const owed = [...publisher.acked];
  const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
  const missing = (): number[] => owed.filter((seq) => !subscriber.received.has(seq));
  while (missing().length > 0 && subscriber.client?.open && Date.now() < deadline) await sleep(20);
  const lost = missing();
  return {
    sent: publisher.sent,
    acknowledged: owed.length,
    received: subscriber.received.size,
    duplicated: subscriber.duplicates,
    lost: lost.length,
    lostExamples: lost.slice(0, 20),
    acknowledgedWhileAway,
  };
}

const MIB = 1024 * 1024;

function progressLine(stats: FuzzStats, elapsedMs: number, options: FuzzOptions, broker: WatchedBroker, rss: RssWatch, ping: PingProbe): string {
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(stats.packetsWritten / seconds) : 0;
  const loop = broker.loopDelay ? `, loop max ${Math.round(broker.loopDelay.maxMs)} ms` : '';
  return (
    `${seconds.toFixed(0).padStart(4)} s  ${stats.packetsWritten.toLocaleString('en-US')} / ${options.packets.toLocaleString('en-US')} packets ` +
    `(${rate.toLocaleString('en-US')}/s), ${stats.connections.toLocaleString('en-US')} connections, ` +
    `broker RSS ${((rss.now() ?? 0) / MIB).toFixed(0)} MiB (peak ${(rss.peak() / MIB).toFixed(0)})${loop}, ping max ${Math.round(ping.longestMs())} ms`
  );
}
