/** Typed messages between the benchmark process and its load generator child. */
import type { Qos } from './mqtt-wire.js';
import type { RowName } from './rows.js';

interface JobBase {
  host: string;
  port: number;
  /** The broker process, whose CPU time and memory are read from /proc; undefined to skip. */
  brokerPid: number | undefined;
  row: RowName;
  clientIdPrefix: string;
}

/** Publishers and subscribers on one topic. */
export interface MessageJob extends JobBase {
  kind: 'messages';
  topic: string;
  publishers: number;
  subscribers: number;
  qos: Qos;
  /** At least SEQ_HEADER_BYTES: every payload starts with its publisher index and sequence number. */
  payloadBytes: number;
  /** Unacknowledged packet ids per QoS 1/2 publisher. */
  window: number;
  /** Publishers pause while this many deliveries are outstanding (sent × subscribers − received); 0: no bound. */
  maxUndelivered: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Longest wait after publishing stops for the deliveries still on their way. */
  drainSeconds: number;
  /** Clients connect with clean session 0 (their sessions outlive them); default false. */
  persistentSessions?: boolean;
}

/** Loopback source addresses the generator binds its sockets to, so that it is not limited to ~28k ports. */
interface ManyConnections {
  connections: number;
  sourceAddresses: string[];
}

/** N clients connect and subscribe, each to a topic of its own, and stay idle while the broker's memory is read. */
export interface IdleJob extends JobBase, ManyConnections {
  kind: 'idle';
  /** Handshakes (connect, CONNACK, SUBSCRIBE, SUBACK) in progress at once. */
  concurrency: number;
  /**
   * Before the first reading, the broker is left idle at least this long and until its memory has stopped falling:
   * a Node.js process gives back its start-up garbage (young generation) some 8–10 s after it starts, which would
   * otherwise count as negative memory for the connections. 0 reads at once.
   */
  baselineSettleMs: number;
  /** Wait after the last SUBACK before reading the broker's memory. */
  settleMs: number;
  /**
   * Idle time after the last SUBACK before the second reading, once the broker's runtime has had time to give back
   * what the connect burst grew (V8's young generation); 0 leaves the second reading out.
   */
  idleMs: number;
}

/** N connections, `concurrency` at a time, each CONNECT → CONNACK → DISCONNECT → closed by the broker. */
export interface ConnectJob extends JobBase, ManyConnections {
  kind: 'connect';
  concurrency: number;
}

export type GeneratorJob = MessageJob | IdleJob | ConnectJob;

export interface MessageResult {
  kind: 'messages';
  /** Measured window length, from the counter snapshots. */
  windowSeconds: number;
  /** Messages received by subscribers per second over the window, summed over subscribers (duplicates included). */
  receivedPerSecond: number;
  /** PUBLISH packets sent per second over the window, summed over publishers. */
  sentPerSecond: number;
  /** Totals over the whole run (warm-up, window and drain). */
  sent: number;
  /** PUBLISH packets received by subscribers, duplicates included. */
  received: number;
  /** sent × subscribers: what the subscribers should have received. */
  expected: number;
  /** Different messages received, summed over subscribers. */
  distinct: number;
  /** Messages that never reached a subscriber, summed over (subscriber, publisher) pairs: exact. */
  lost: number;
  /** Deliveries of a message the subscriber already had, with or without DUP. */
  duplicates: number;
  /** Messages that reached a subscriber after a later one of the same publisher. */
  outOfOrder: number;
  /** Deliveries older than the sequence window: not classified; 0 means the three counts above are exact. */
  beyondWindow: number;
  /** Bits of each (subscriber, publisher) sequence window. */
  windowBits: number;
  /** QoS 1/2 flows the broker had not completed when the drain ended. */
  unacknowledged: number;
  /** Packets the generator did not expect (acks for unknown ids, payloads not from this run, and the like). */
  unexpected: number;
  /** Broker process CPU seconds (utime + stime) over the window; null when it could not be read. */
  brokerCpuSeconds: number | null;
  /** Broker CPU per message received over the window, µs; null when it could not be read. */
  brokerCpuMicrosPerMessage: number | null;
  /** Broker process CPU over the window, % of one core; null when it could not be read. */
  brokerCpuPercent: number | null;
  /** Generator process CPU over the window, % of one core: near 100 means the generator may be the limit. */
  generatorCpuPercent: number;
  /** Broker process peak resident memory (VmHWM) at the end of the drain, MiB; null when it could not be read. */
  brokerPeakRssMiB: number | null;
  drainSeconds: number;
  /** The drain ended at its time limit with deliveries still arriving. */
  drainTimedOut: boolean;
}

export interface IdleResult {
  kind: 'idle';
  connections: number;
  /** Broker resident memory before the first connection and after the last SUBACK (plus the settle time). */
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** (after − before) / connections. */
  bytesPerConnection: number;
  /** Broker resident memory `idleMs` after the last SUBACK, and (that − before) / connections; null when not read. */
  rssIdleBytes: number | null;
  idleBytesPerConnection: number | null;
  /** From the first connect to the last SUBACK. */
  connectSeconds: number;
}

export interface ConnectResult {
  kind: 'connect';
  connections: number;
  seconds: number;
  connectionsPerSecond: number;
  /** Broker CPU seconds from before the first connection to after the last close; null when unreadable. */
  brokerCpuSeconds: number | null;
  brokerCpuMicrosPerConnection: number | null;
  /** CONNECT written → CONNACK read, ms. */
  connackP50Ms: number;
  connackP99Ms: number;
  connackMaxMs: number;
}

export type GeneratorResult = MessageResult | IdleResult | ConnectResult;

export type ToGenerator = { type: 'run'; job: GeneratorJob };

export type FromGenerator = { type: 'result'; result: GeneratorResult } | { type: 'error'; message: string };
