/** The benchmark's rows: the traffic shapes and connection loads each broker is measured under. */
import type { Qos } from './mqtt-wire.js';

export type RowName =
  | 'qos0-fan-in'
  | 'qos1-fan-in'
  | 'qos2-one-to-one'
  | 'fan-out'
  | 'qos1-fan-out'
  | 'qos1-fan-in-persist'
  | 'qos2-persist'
  | 'idle-10k'
  | 'idle-100k'
  | 'connect';

interface RowBase {
  name: RowName;
  title: string;
  /** Left out unless named by --only (it takes long, or needs more of the machine). */
  optional?: true;
}

/** Publishers and subscribers on one topic; measured in messages received per second and broker CPU per message. */
export interface MessageRow extends RowBase {
  kind: 'messages';
  publishers: number;
  subscribers: number;
  /** QoS of every PUBLISH and of every subscription. */
  qos: Qos;
  /** mosquitto.conf lines of this row, after the benchmark's defaults and before --conf lines. */
  conf: readonly string[];
  /** What the row's conf stands for, in the tables. */
  limits?: string;
  /**
   * `persistence true` for the broker, in a fresh directory per measurement, and persistent sessions (clean session
   * 0) for every client, so that the broker keeps every message until its subscriber acknowledges it.
   */
  persistence?: true;
}

/** Idle rows: the broker's memory is first read this long after the last SUBACK. */
export const IDLE_FIRST_READING_MS = 1_000;

/** N clients, each connected and subscribed to a topic of its own, then idle; measured in broker RSS per client. */
export interface IdleRow extends RowBase {
  kind: 'idle';
  connections: number;
}

/** N short connections, `concurrency` at a time: CONNECT, CONNACK, DISCONNECT; broker CPU per connection. */
export interface ConnectRow extends RowBase {
  kind: 'connect';
  connections: number;
  concurrency: number;
}

export type BenchRow = MessageRow | IdleRow | ConnectRow;

/** Mosquitto 2.0's limits on outgoing QoS 1/2 messages per client, written out so both brokers get the same. */
export const MOSQUITTO_DEFAULT_LIMITS: readonly string[] = [
  'max_inflight_messages 20',
  'max_queued_messages 1000',
  'max_queued_bytes 0',
];

export const ROWS: readonly BenchRow[] = [
  { kind: 'messages', name: 'qos0-fan-in', title: 'QoS 0 fan-in 4→1', publishers: 4, subscribers: 1, qos: 0, conf: [] },
  { kind: 'messages', name: 'qos1-fan-in', title: 'QoS 1 fan-in 4→1', publishers: 4, subscribers: 1, qos: 1, conf: [] },
  { kind: 'messages', name: 'qos2-one-to-one', title: 'QoS 2 one-to-one 1→1', publishers: 1, subscribers: 1, qos: 2, conf: [] },
  { kind: 'messages', name: 'fan-out', title: 'QoS 0 fan-out 1→100', publishers: 1, subscribers: 100, qos: 0, conf: [] },
  {
    kind: 'messages',
    name: 'qos1-fan-out',
    title: 'QoS 1 fan-out 1→100',
    publishers: 1,
    subscribers: 100,
    qos: 1,
    conf: MOSQUITTO_DEFAULT_LIMITS,
    limits: "Mosquitto's default limits",
  },
  {
    kind: 'messages',
    name: 'qos1-fan-in-persist',
    title: 'QoS 1 fan-in 4→1',
    publishers: 4,
    subscribers: 1,
    qos: 1,
    conf: [],
    limits: 'persistence true, persistent sessions',
    persistence: true,
  },
  {
    kind: 'messages',
    name: 'qos2-persist',
    title: 'QoS 2 one-to-one 1→1',
    publishers: 1,
    subscribers: 1,
    qos: 2,
    conf: [],
    limits: 'persistence true, persistent sessions',
    persistence: true,
  },
  { kind: 'idle', name: 'idle-10k', title: 'idle subscribed connections 10,000', connections: 10_000 },
  { kind: 'idle', name: 'idle-100k', title: 'idle subscribed connections 100,000', connections: 100_000, optional: true },
  { kind: 'connect', name: 'connect', title: 'connect + CONNACK + DISCONNECT ×20,000', connections: 20_000, concurrency: 50 },
];

export const DEFAULT_ROWS: readonly BenchRow[] = ROWS.filter((r) => !r.optional);
