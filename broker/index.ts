/**
 * The bundled MQTT 3.1 / 3.1.1 / 5.0 broker, in process: `startBroker(options) → { port, close(), stats() }`.
 */
import { createRequire } from 'node:module';
import { parkedCount } from './core/flow.js';
import { brokerFamilies, renderExposition, startMetricsServer } from './metrics-http.js';
import { ALL_LOG_TYPES, defaultBrokerOptions, defaultPersistenceOptions, type BrokerOptions, type LogType, type PersistenceOptions } from './options.js';
import { PersistentStore, type PersistenceStats } from './persist/store.js';
import { Broker } from './server.js';

export type { AuthRequest, Authenticate, BrokerOptions, FsyncPolicy, ListenerOptions, ListenerTls, LogType, PersistenceOptions, SecuritySettings } from './options.js';
export { PersistenceFileError, type PersistenceStats } from './persist/store.js';
export { ConfigError, loadConfigFile, parseConfig } from './config.js';
export { FileProblemsError } from './auth/problems.js';
export { lineWriter } from './log.js';
export { MetricsListenError } from './metrics-http.js';

export interface StartBrokerOptions extends Partial<Omit<BrokerOptions, 'persistence'>> {
  /** Log everything, like `mosquitto -v` (overrides logTypes). */
  verbose?: boolean;
  /** `persistence` and its options; those left out take Mosquitto's defaults (`enabled: true` turns it on). */
  persistence?: Partial<PersistenceOptions>;
}

export interface BrokerStatsSnapshot {
  clientsConnected: number;
  /** Sessions held, connected or not. */
  sessions: number;
  subscriptions: number;
  retained: number;
  messagesReceived: number;
  messagesSent: number;
  publishReceived: number;
  publishSent: number;
  publishDropped: number;
  bytesReceived: number;
  bytesSent: number;
  /** Exceptions while serving a client; each closed that client and was logged. */
  faults: number;
  /** Estimated bytes held by the router's match cache (bounded). */
  matchCacheBytes: number;
  /** Bytes held in packets still arriving, beyond each connection's first 64 KiB (bounded by partial_packet_budget). */
  partialPacketBytes: number;
  uptimeSeconds: number;
  clientsMaximum: number;
  /** Persistent sessions ended by their expiry. */
  clientsExpired: number;
  sharedSubscriptions: number;
  /** Payload bytes of the retained messages. */
  retainedBytes: number;
  /** Queued messages whose v5 expiry passed before they could be sent. */
  publishExpired: number;
  /** Payload bytes of PUBLISH packets received / sent. */
  publishBytesReceived: number;
  publishBytesSent: number;
  socketsAccepted: number;
  connectsAccepted: number;
  /**
   * Outgoing QoS 1/2 messages over all sessions: queued beyond the in-flight window (and their payload bytes), in
   * flight, and parked (see core/flow.ts). Counted on each call, by a walk over every session.
   */
  queuedMessages: number;
  queuedBytes: number;
  inflightMessages: number;
  parkedMessages: number;
  parkedBytes: number;
  /** Password checks made (PBKDF2 or SHA-512), waiting, and skipped because their client left before its turn. */
  passwordChecks: number;
  passwordChecksWaiting: number;
  passwordChecksSkipped: number;
  /** The persistent store's figures, null without persistence. */
  persistence: PersistenceStats | null;
}

export interface RunningBroker {
  /** Host and port of the first listener. */
  host: string;
  port: number;
  listeners: { host: string; port: number }[];
  /** Where `GET /metrics` is served, when the `metrics` option asked for it. */
  metrics: { host: string; port: number; url: string } | undefined;
  stats(): BrokerStatsSnapshot;
  /**
   * Apply settings read again (SIGHUP): security settings and their files, log settings, TLS certificates, as
   * Mosquitto reloads them; options not given take their defaults, except the log destination and `-v`, which stay
   * as started. Resolves once clients no longer allowed are disconnected.
   */
  reload(options: StartBrokerOptions): Promise<void>;
  /** A line in the broker's log (its destinations, its time format), when lines of `type` are logged. */
  logLine(type: LogType, text: string): void;
  close(): Promise<void>;
}

export function brokerVersion(): string {
  const require = createRequire(import.meta.url);
  for (const path of ['../package.json', '../../package.json']) {
    try {
      return (require(path) as { version: string }).version;
    } catch {
      // Compiled (dist/broker) and source (broker/) sit at different depths.
    }
  }
  return 'unknown';
}

/** Defaults, then the options given; `verbose` turns every log type on. */
function fullOptions(options: StartBrokerOptions): BrokerOptions {
  const { verbose, persistence, ...rest } = options;
  const opts: BrokerOptions = { ...defaultBrokerOptions(), version: `mqbench version ${brokerVersion()}` };
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined) (opts as unknown as Record<string, unknown>)[key] = value;
  }
  opts.persistence = { ...defaultPersistenceOptions(), ...persistence };
  if (verbose) opts.logTypes = new Set(ALL_LOG_TYPES);
  return opts;
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const opts = fullOptions(options);
  const broker = new Broker(opts);
  let store: PersistentStore | null = null;
  let bound: { host: string; port: number }[];
  try {
    // The saved state is back in the core before any client can connect.
    if (opts.persistence.enabled) store = await PersistentStore.open(broker.core, opts.persistence, broker.log);
    bound = await broker.listen();
  } catch (err) {
    await broker.close();
    await store?.close();
    throw err;
  }
  const closeBroker = async (): Promise<void> => {
    if (store === null) return broker.close();
    // Records reach the disk first, so that the acknowledgements they hold back go out before the sockets close.
    await store.settle();
    await broker.close();
    await store.close();
  };
  const running: RunningBroker = {
    host: bound[0].host,
    port: bound[0].port,
    listeners: bound,
    metrics: undefined,
    stats: () => {
      const core = broker.core;
      const s = core.stats;
      const queues = { queuedMessages: 0, queuedBytes: 0, inflightMessages: 0, parkedMessages: 0, parkedBytes: 0 };
      for (const session of core.sessions.values()) {
        queues.queuedMessages += session.queued;
        queues.queuedBytes += session.queuedBytes;
        queues.inflightMessages += session.inflight.size;
      }
      for (const session of core.parking) {
        queues.parkedMessages += parkedCount(session);
        queues.parkedBytes += session.parked === null ? 0 : session.parked.bytes;
      }
      return {
        clientsConnected: s.clientsConnected,
        sessions: core.sessions.size,
        subscriptions: core.router.count,
        retained: core.retained.count,
        messagesReceived: s.msgsReceived,
        messagesSent: s.msgsSent,
        publishReceived: s.pubReceived,
        publishSent: s.pubSent,
        publishDropped: s.pubDropped,
        bytesReceived: s.bytesReceived,
        bytesSent: s.bytesSent,
        faults: s.faults,
        matchCacheBytes: core.router.cachedBytes,
        partialPacketBytes: broker.partialBudget.used,
        uptimeSeconds: Math.floor((Date.now() - core.startedAt) / 1000),
        clientsMaximum: s.clientsMaximum,
        clientsExpired: s.clientsExpired,
        sharedSubscriptions: core.router.sharedSubscriptionCount,
        retainedBytes: core.retained.byteCount,
        publishExpired: s.pubExpired,
        publishBytesReceived: s.pubBytesReceived,
        publishBytesSent: s.pubBytesSent,
        socketsAccepted: s.socketsAccepted,
        connectsAccepted: s.connectsAccepted,
        ...queues,
        passwordChecks: broker.verifier.checked,
        passwordChecksWaiting: broker.verifier.waiting,
        passwordChecksSkipped: broker.verifier.skipped,
        persistence: store === null ? null : store.stats(),
      };
    },
    reload: (next) => {
      const full = fullOptions({ ...next, verbose: next.verbose ?? options.verbose });
      if (next.logSink === undefined) full.logSink = opts.logSink;
      // Persistence is read at start only (as Mosquitto): the store in use stays.
      full.persistence = opts.persistence;
      return broker.reload(full);
    },
    logLine: (type, text) => {
      const log = broker.log;
      const on = { error: log.error, warning: log.warning, notice: log.notice, information: log.info, subscribe: log.subscribe, unsubscribe: log.unsubscribe, debug: log.debug }[type];
      if (on) log.line(text);
    },
    close: closeBroker,
  };
  if (opts.metrics !== undefined) {
    const version = brokerVersion();
    let served;
    try {
      served = await startMetricsServer({ ...opts.metrics, render: () => renderExposition(brokerFamilies(running.stats(), version)) });
    } catch (err) {
      await closeBroker();
      throw err;
    }
    const metrics = served;
    running.metrics = { host: metrics.host, port: metrics.port, url: metrics.url };
    running.close = async () => {
      await metrics.close();
      await closeBroker();
    };
  }
  return running;
}
