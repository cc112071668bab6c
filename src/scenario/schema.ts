/**
 * The validated, fully defaulted scenario the engine runs. Plain data only (no functions, no class instances), so a
 * scenario crosses worker threads by structured clone. Times are integer milliseconds (`…Ms`) or whole seconds
 * where MQTT carries seconds on the wire (`…Sec`); rates are events per second (`…PerSec`).
 */
import type { Threshold } from '../metrics/thresholds.js';
import type { Template } from './templates.js';

/** Protocol level on the wire: 3 = MQTT 3.1, 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export type ProtocolVersion = 3 | 4 | 5;
export type QoS = 0 | 1 | 2;
export type Transport = 'mqtt' | 'mqtts' | 'ws' | 'wss';

/**
 * Bytes the engine puts at the start of a timestamped payload: publisher id, sequence number and send time, from
 * which subscribers measure end-to-end latency and account for loss, duplicates and order.
 */
export const TIMESTAMP_HEADER_BYTES = 24;
/** Largest PUBLISH payload the protocol can carry (the remaining-length maximum, less the smallest header). */
export const MAX_PAYLOAD_BYTES = 268_435_455 - 4;
/** Session expiry that means "never expires" in MQTT 5 [MQTT-3.1.2.11.2]. */
export const SESSION_NEVER_EXPIRES = 0xffff_ffff;
/** Largest clients count of one group. */
export const MAX_GROUP_CLIENTS = 1_000_000;

export const DEFAULTS = {
  protocolVersion: 4 as ProtocolVersion,
  drainMs: 1_000,
  replyTimeoutMs: 10_000,
  clients: 1,
  clientId: '{group}-{i}',
  /** Characters in a random client id suffix when `randomSuffix: true`. */
  randomSuffixLength: 8,
  keepaliveSec: 60,
  connectTimeoutMs: 10_000,
  connectAttempts: 1,
  reconnectAttempts: 0,
  backoffMs: 1_000,
  maxBackoffMs: 30_000,
  sampleEveryMs: 1_000,
  /** Mosquitto's own default autosave_interval, seconds. */
  autosaveSec: 1_800,
} as const;

/** Most faults one scenario may have. */
export const MAX_FAULTS = 100;

export interface Scenario {
  name: string;
  description: string;
  broker: BrokerSettings;
  /** Run length; undefined: until every client has finished its steps. */
  durationMs: number | undefined;
  /** After the clients stop, how long subscribers keep receiving before missing messages count as lost. */
  drainMs: number;
  /**
   * How long a client waits for any answer the broker owes it (SUBACK, UNSUBACK, PUBACK/PUBREC/PUBCOMP, PINGRESP, the
   * rest of a packet that started arriving, the close after DISCONNECT) before counting a timeout.
   */
  replyTimeoutMs: number;
  /**
   * Read the broker's own figures from `$SYS/broker/...` during the run, over one extra connection of the main
   * thread (see run/sys-observer.ts); false opens no such connection.
   */
  sysTopics: boolean;
  /** Worker threads; 'auto' leaves the choice to the runner. */
  workers: number | 'auto';
  /** Report folder; undefined: the runner's default. */
  out: string | undefined;
  thresholds: ScenarioThreshold[];
  groups: ClientGroup[];
  /** Broker faults, in time order (only for a broker mqbench starts). */
  faults: Fault[];
  /** Where the scenario came from; `applyOverrides` loads it again from here. */
  source: { file: string; text: string };
}

export interface ScenarioThreshold {
  /** As written, e.g. "e2e.p99 < 20ms". */
  text: string;
  threshold: Threshold;
}

export interface BrokerSettings {
  target: BundledTarget | LocalTarget | RemoteTarget;
  protocolVersion: ProtocolVersion;
  username: string | undefined;
  password: string | undefined;
  /** Present for mqtts:// and wss:// targets only. */
  tls: TlsSettings | undefined;
  /** Local addresses clients connect from, spread evenly (client n uses address n mod length); empty: the system's choice. */
  sourceAddresses: string[];
  /** Sessions and messages kept on disk by a broker mqbench starts; undefined: in memory (Mosquitto's default). */
  persistence: Persistence | undefined;
}

/** mosquitto.conf `persistence true`, in a directory of the run's own, saved every `autosaveSec` (0: on exit only). */
export interface Persistence {
  autosaveSec: number;
}

/**
 * One broker-wide event of a run: at `atMs`, the broker mqbench started is stopped — `kill-broker` with SIGKILL (kill
 * -9: nothing saved that was not already), `restart-broker` with SIGTERM (it shuts down as it would for an operator)
 * — and, `downMs` after it has exited, started again with the same config, data directory and port.
 */
export interface Fault {
  action: FaultAction;
  atMs: number;
  downMs: number;
  /** Where it was written. */
  at: StepAt;
}

export type FaultAction = 'kill-broker' | 'restart-broker';
export const FAULT_ACTIONS: readonly FaultAction[] = ['kill-broker', 'restart-broker'];

/** The signal each fault sends. */
export function faultSignal(action: FaultAction): 'SIGKILL' | 'SIGTERM' {
  return action === 'kill-broker' ? 'SIGKILL' : 'SIGTERM';
}

export interface BundledTarget {
  kind: 'bundled';
}

/**
 * A broker mqbench starts as a process of its own for the run, with its defaults (as `mqbench compare` does), except
 * that it publishes $SYS every second when the run reads it (`sysTopics`).
 */
export interface LocalTarget {
  kind: 'local';
  broker: 'mosquitto' | 'aedes';
}

export interface RemoteTarget {
  kind: 'remote';
  transport: Transport;
  /** In the order tried: the URL's host first, then the failover hosts. */
  hosts: HostPort[];
  /** WebSocket path (ws/wss), e.g. "/mqtt"; "" for mqtt/mqtts. */
  path: string;
  /** The URL as written, without credentials, for reports. */
  url: string;
}

export interface HostPort {
  host: string;
  port: number;
}

export interface TlsSettings {
  /** Absolute file paths. */
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  /** PKCS#12 bundle (certificate, key and chain), with its passphrase. */
  pfx: string | undefined;
  passphrase: string | undefined;
  /** Check the server's certificate and name. */
  verify: boolean;
  /** Name sent in SNI and checked against the certificate; undefined: the host connected to. */
  serverName: string | undefined;
}

export interface ClientGroup {
  name: string;
  clients: number;
  /** Compiled with variables {group}, {i}, {rand:N}; rendered once per client by `planRun`. */
  clientId: Template;
  /** Random characters appended to each client id (0: none). */
  randomSuffix: number;
  /** Several clients may share a client id (for takeover tests); otherwise that is a validation error. */
  allowDuplicateClientIds: boolean;
  /** Resolved from the group or the broker section. */
  protocolVersion: ProtocolVersion;
  username: string | undefined;
  password: string | undefined;
  /** Offset of the group's first client from the start of the run. */
  startTimeMs: number;
  /** How the group's clients are spread in time; `planRun` turns this into per-client start offsets. */
  arrival: Arrival;
  steps: Step[];
}

export type Arrival =
  | { kind: 'all-at-once' }
  | { kind: 'rate'; perSec: number }
  | { kind: 'ramp-up'; durationMs: number };

/** Where a step was written, so runtime errors can point at it. */
export interface StepAt {
  line: number;
  col: number;
}

export type Step = ConnectStep | SubscribeStep | PublishStep | UnsubscribeStep | WaitStep | DisconnectStep | RepeatStep;

export interface ConnectStep {
  kind: 'connect';
  at: StepAt;
  keepaliveSec: number;
  /** Clean session (3.1/3.1.1) or clean start (5). */
  clean: boolean;
  /** MQTT 5 only; SESSION_NEVER_EXPIRES means never. */
  sessionExpirySec: number;
  /** How long to wait for CONNACK. */
  timeoutMs: number;
  /** Tries for this connection before the client gives up. */
  attempts: number;
  /** Reconnections after the connection is lost unexpectedly; Infinity: no limit. */
  reconnectAttempts: number;
  /** Wait before a retry; doubles after each failure, up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  will: WillMessage | undefined;
  /** Take at most this many messages per second off the connection (a slow consumer); undefined: no limit. */
  consumeRatePerSec: number | undefined;
}

export interface WillMessage {
  topic: Template;
  payload: Payload;
  qos: QoS;
  retain: boolean;
  /** MQTT 5 will delay interval. */
  delaySec: number;
}

export type Payload =
  | { kind: 'empty' }
  | { kind: 'text'; text: string }
  /** Lower-case hex digits, no spaces. */
  | { kind: 'hex'; hex: string }
  /** Random bytes; with a timestamp, the size includes the header. */
  | { kind: 'random'; sizeBytes: number }
  /** Absolute path; the size when the scenario was loaded. */
  | { kind: 'file'; path: string; sizeBytes: number };

export interface Subscription {
  filter: Template;
  qos: QoS;
  /** MQTT 5 subscription options. */
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
}

/** When a subscriber closes an interval of statistics: after a time, or after a number of messages. */
export type SampleEvery = { kind: 'time'; everyMs: number } | { kind: 'messages'; every: number };

export interface SubscribeStep {
  kind: 'subscribe';
  at: StepAt;
  subscriptions: Subscription[];
  /** MQTT 5 subscription identifier (1 to 268435455). */
  subscriptionId: number | undefined;
  sampleEvery: SampleEvery;
}

export interface PublishStep {
  kind: 'publish';
  at: StepAt;
  topic: Template;
  qos: QoS;
  retain: boolean;
  payload: Payload;
  /** Put the latency header (TIMESTAMP_HEADER_BYTES) at the start of the payload. */
  timestamp: boolean;
  /** As written: per client, or for the whole group (divided among its clients). undefined: unpaced. */
  rate: { perSec: number; per: 'client' | 'group' } | undefined;
  /** Time between one client's messages, in microseconds (0: unpaced). */
  clientIntervalUs: number;
  /** Messages per client. */
  count: number | undefined;
  durationMs: number | undefined;
}

export interface UnsubscribeStep {
  kind: 'unsubscribe';
  at: StepAt;
  /** Resolved: when none are written, every filter the client subscribed to before this step. */
  filters: Template[];
}

export interface WaitStep {
  kind: 'wait';
  at: StepAt;
  durationMs: number;
}

export interface DisconnectStep {
  kind: 'disconnect';
  at: StepAt;
  /** Close the socket without DISCONNECT, so the broker publishes the will. */
  abrupt: boolean;
  /** MQTT 5 DISCONNECT reason code (0 normal, 4 disconnect with will message). */
  reasonCode: number;
}

export interface RepeatStep {
  kind: 'repeat';
  at: StepAt;
  /** Neither times nor durationMs: until the run ends. */
  times: number | undefined;
  durationMs: number | undefined;
  steps: Step[];
}

export type StepKind = Step['kind'];
export const STEP_KINDS: readonly StepKind[] = ['connect', 'subscribe', 'publish', 'unsubscribe', 'wait', 'disconnect', 'repeat'];

/** "3.1", "3.1.1" or "5". */
export function protocolName(v: ProtocolVersion): string {
  return v === 3 ? '3.1' : v === 4 ? '3.1.1' : '5';
}
