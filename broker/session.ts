/**
 * Session state (§4.1): subscriptions, outgoing QoS 1/2 messages in flight and queued, incoming QoS 2 packet ids
 * awaiting PUBREL, the will, and expiry. A session outlives its connection when it is persistent.
 */
import type { Connection } from './connection.js';
import type { Msg } from './message.js';

export interface Subscription {
  session: Session;
  /** The filter as subscribed, `$share/group/...` included: the key within the session. */
  key: string;
  /** The filter matched against topics (without the `$share/group/` prefix). */
  filter: string;
  /** Shared subscription group, or null. */
  share: string | null;
  qos: number;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  /** v5 subscription identifier, 0 when none. */
  subId: number;
  /** [subId] when there is one: what a delivery through this subscription alone carries. */
  subIds: number[] | null;
}

/** An outgoing QoS 1/2 message for one session: queued, or in flight under a packet id. */
export class Outgoing {
  packetId = 0;
  /** 0: PUBLISH sent, awaiting PUBACK/PUBREC. 1: PUBREL sent, awaiting PUBCOMP. */
  state = 0;
  constructor(
    readonly msg: Msg,
    readonly qos: number,
    readonly retain: boolean,
    readonly subIds: readonly number[] | null,
  ) {}
}

export interface Will {
  msg: Msg;
  /** v5 Will Delay Interval, seconds. */
  delay: number;
  /** v5 Message Expiry Interval of the will, seconds from its publication; 0 for none. */
  expiry: number;
}

/** Session expiry "never" (v5 0xFFFFFFFF; 3.1.1 persistent sessions). */
export const NEVER = 0xffffffff;

export class Session {
  conn: Connection | null = null;
  readonly subs = new Map<string, Subscription>();
  readonly inflight = new Map<number, Outgoing>();
  /** Queued outgoing messages; the live part is queue[queueHead...]. */
  queue: Outgoing[] = [];
  queueHead = 0;
  /** Incoming QoS 2 packet ids received (and delivered) whose PUBREL has not arrived [MQTT-4.3.3-?]. */
  readonly inboundQos2 = new Set<number>();
  private nextId = 1;
  /** Seconds the session lives after disconnection; 0 ends it with the connection; NEVER keeps it. */
  expiryInterval = 0;
  expiryTimer: NodeJS.Timeout | null = null;
  will: Will | null = null;
  willTimer: NodeJS.Timeout | null = null;
  /** Protocol level of the last connection, for encoding what is queued meanwhile. */
  protocolVersion = 4;
  /** Messages dropped because the queue was full. */
  dropped = 0;
  /** Publisher connections whose reading is paused until this session's queue drains (see deliver.ts). */
  waiters: Connection[] | null = null;
  /**
   * Messages that met a full queue while their publishers were being held: queued once the queue drains, dropped
   * if the client stops acknowledging (see deliver.ts).
   */
  parked: Outgoing[] | null = null;
  /** When publishers were first held for this session, ms. */
  heldSince = 0;
  /** Last time the client acknowledged a message, or connected, ms. */
  lastProgress = 0;
  /** The client stopped acknowledging: a full queue drops until its next acknowledgement, as Mosquitto does. */
  stalled = false;
  ended = false;

  constructor(readonly clientId: string) {}

  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  enqueue(out: Outgoing): void {
    this.queue.push(out);
  }

  peekQueued(): Outgoing | undefined {
    return this.queueHead < this.queue.length ? this.queue[this.queueHead] : undefined;
  }

  shiftQueued(): Outgoing | undefined {
    if (this.queueHead >= this.queue.length) return undefined;
    const out = this.queue[this.queueHead];
    this.queue[this.queueHead++] = undefined as unknown as Outgoing;
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return out;
  }

  clearQueue(): void {
    this.queue = [];
    this.queueHead = 0;
  }

  /** A packet id not in use by an outgoing message of this session [MQTT-2.3.1-4]; 0 when all 65535 are taken. */
  allocatePacketId(): number {
    if (this.inflight.size >= 65535) return 0;
    let id = this.nextId;
    while (this.inflight.has(id)) id = id === 65535 ? 1 : id + 1;
    this.nextId = id === 65535 ? 1 : id + 1;
    return id;
  }

  clearTimers(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.willTimer) clearTimeout(this.willTimer);
    this.expiryTimer = null;
    this.willTimer = null;
  }
}
