/**
 * Session state (§4.1): subscriptions, outgoing QoS 1/2 messages in flight, queued and parked, incoming QoS 2
 * packet ids awaiting PUBREL, the will, and expiry. A session outlives its connection when it is persistent.
 */
import type { AclView } from '../auth/acl.js';
import type { ClientIdentity } from '../auth/security.js';
import type { Msg } from './message.js';
import type { AckTicket, Outlet } from './outlet.js';
import type { Timer } from '../../src/util/timers.js';

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

/** What a SUBSCRIBE (or a restored session) asks for, per filter. */
export interface SubscriptionOptions {
  qos: number;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
}

/**
 * A subscription of `session` to `key` (a `$share/group/filter` as `shared` parsed it; null or undefined for a plain filter),
 * with `subId` the v5 subscription identifier (0: none).
 */
export function newSubscription(
  session: Session,
  key: string,
  shared: { group: string; filter: string } | null | undefined,
  o: SubscriptionOptions,
  subId: number,
): Subscription {
  return {
    session,
    key,
    filter: shared ? shared.filter : key,
    share: shared ? shared.group : null,
    qos: o.qos,
    noLocal: o.noLocal,
    retainAsPublished: o.retainAsPublished,
    retainHandling: o.retainHandling,
    subId,
    subIds: subId !== 0 ? [subId] : null,
  };
}

/** An outgoing QoS 1/2 message for one session: parked, queued, or in flight under a packet id. */
export class Outgoing {
  packetId = 0;
  /** 0: PUBLISH sent, awaiting PUBACK/PUBREC. 1: PUBREL sent, awaiting PUBCOMP. */
  state = 0;
  /** While parked: the publisher's acknowledgement that waits for this copy (see flow.ts). */
  ticket: AckTicket | null = null;
  /** The persistent store's id of this delivery (0: not written). */
  storeId = 0;
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

/**
 * Where a session that outlives its connection reports each change, while persistence is on: the persistent store
 * (see durable.ts).
 */
export interface SessionLog {
  subscribed(session: Session, sub: Subscription): void;
  unsubscribed(session: Session, key: string): void;
  /** A new outgoing message: queued (packetId 0) or in flight. */
  outgoingAdded(session: Session, out: Outgoing): void;
  /** A queued message went in flight under `out.packetId`. */
  outgoingSent(out: Outgoing): void;
  /** PUBREC received: PUBREL is about to be sent (`out.state` is 1). */
  outgoingReleased(out: Outgoing): void;
  /** Acknowledged, expired, refused, or too large for the client: gone from the session. */
  outgoingDone(out: Outgoing): void;
  inboundAdded(session: Session, packetId: number): void;
  inboundReleased(session: Session, packetId: number): void;
}

/** Session expiry "never" (v5 0xFFFFFFFF; 3.1.1 persistent sessions without persistent_client_expiration). */
export const NEVER = 0xffffffff;

const NO_OUTGOING: ReadonlyMap<number, Outgoing> = new Map();

/**
 * The collections a session may never need (most clients of a large test subscribe once and publish at QoS 0) are
 * made on first use: reads see a shared empty one until then.
 */
export class Session {
  /** The live connection, when there is one. */
  conn: Outlet | null = null;
  /** Subscriptions by filter as subscribed: most sessions have one, kept without a map. */
  private oneSub: Subscription | null = null;
  private subMap: Map<string, Subscription> | null = null;
  private inflightMap: Map<number, Outgoing> | null = null;
  private inbound: Set<number> | null = null;
  /** Queued outgoing messages; the live part is queue[queueHead...]. Made when first needed (most sessions idle). */
  private queue: Outgoing[] | null = null;
  private queueHead = 0;
  /** Payload bytes of the queued messages (for max_queued_bytes). */
  queuedBytes = 0;
  /** Payload bytes of the messages in flight (for max_inflight_bytes). */
  inflightBytes = 0;
  private nextId = 1;
  /** Seconds the session lives after disconnection; 0 ends it with the connection; NEVER keeps it. */
  expiryInterval = 0;
  expiryTimer: Timer | null = null;
  will: Will | null = null;
  willTimer: Timer | null = null;
  /** Protocol level of the last connection, for encoding what is queued meanwhile. */
  protocolVersion = 4;
  /** Messages dropped because the queue was full. */
  dropped = 0;
  /** Dropping has been logged; cleared when the queue has room again (one log line per episode, as Mosquitto). */
  dropping = false;
  /**
   * Messages that met a full queue while their publishers' acknowledgements could be withheld: they join the queue as
   * it drains, or are dropped if the client stops acknowledging (see flow.ts). The live part is parked[parkedHead...];
   * null when none.
   */
  parked: Outgoing[] | null = null;
  parkedHead = 0;
  parkedBytes = 0;
  /** When the current run of parking began, ms. */
  heldSince = 0;
  /** Last time the client acknowledged a message, or connected, ms. */
  lastProgress = 0;
  /** The client stopped acknowledging: a full queue drops until its next acknowledgement, as Mosquitto does. */
  stalled = false;
  /** Ended: nothing is delivered to it any more (its subscriptions may still be leaving the router). */
  ended = false;
  /** Who its client is, for ACL checks (the last connection's; null without one). */
  identity: ClientIdentity | null = null;
  /** Its ACL in force, read on every delivery; null when no ACL file applies. */
  acl: AclView | null = null;
  /**
   * The persistent store, while this session outlives its connection and persistence is on: every change below is
   * reported to it. `storeId` is the store's id of the session (0: not stored).
   */
  durable: SessionLog | null = null;
  storeId = 0;

  constructor(readonly clientId: string) {}

  getSub(key: string): Subscription | undefined {
    if (this.subMap !== null) return this.subMap.get(key);
    return this.oneSub !== null && this.oneSub.key === key ? this.oneSub : undefined;
  }

  get subCount(): number {
    return this.subMap !== null ? this.subMap.size : this.oneSub !== null ? 1 : 0;
  }

  /** Every subscription (a new array). */
  subList(): Subscription[] {
    if (this.subMap !== null) return [...this.subMap.values()];
    return this.oneSub !== null ? [this.oneSub] : [];
  }

  /** Add or replace the subscription with `sub.key`. */
  setSub(sub: Subscription): void {
    if (this.durable !== null) this.durable.subscribed(this, sub);
    if (this.subMap !== null) {
      this.subMap.set(sub.key, sub);
    } else if (this.oneSub === null || this.oneSub.key === sub.key) {
      this.oneSub = sub;
    } else {
      this.subMap = new Map([
        [this.oneSub.key, this.oneSub],
        [sub.key, sub],
      ]);
      this.oneSub = null;
    }
  }

  deleteSub(key: string): void {
    if (this.durable !== null) this.durable.unsubscribed(this, key);
    if (this.subMap !== null) this.subMap.delete(key);
    else if (this.oneSub !== null && this.oneSub.key === key) this.oneSub = null;
  }

  clearSubs(): void {
    this.oneSub = null;
    this.subMap = null;
  }

  /** Outgoing QoS 1/2 messages in flight, by packet id. */
  get inflight(): ReadonlyMap<number, Outgoing> {
    return this.inflightMap ?? NO_OUTGOING;
  }

  /** `out` goes in flight under `out.packetId`: a new message, or one from the queue. */
  setInflight(out: Outgoing): void {
    (this.inflightMap ??= new Map()).set(out.packetId, out);
    this.inflightBytes += out.msg.pLen;
    if (this.durable !== null) {
      if (out.storeId === 0) this.durable.outgoingAdded(this, out);
      else this.durable.outgoingSent(out);
    }
  }

  deleteInflight(packetId: number): void {
    const map = this.inflightMap;
    if (map === null) return;
    const out = map.get(packetId);
    if (out === undefined) return;
    map.delete(packetId);
    this.inflightBytes -= out.msg.pLen;
    if (this.durable !== null) this.durable.outgoingDone(out);
  }

  /** PUBREC received for `out`, in flight: PUBREL follows. */
  released(out: Outgoing): void {
    out.state = 1;
    if (this.durable !== null) this.durable.outgoingReleased(out);
  }

  /** A message taken from the queue that will not be sent (expired, or too large for the client). */
  discard(out: Outgoing): void {
    if (this.durable !== null) this.durable.outgoingDone(out);
  }

  clearInflight(): void {
    this.inflightMap = null;
    this.inflightBytes = 0;
  }

  /** Incoming QoS 2 packet ids received (and delivered) whose PUBREL has not arrived [MQTT-4.3.3-2]. */
  hasInbound(packetId: number): boolean {
    return this.inbound !== null && this.inbound.has(packetId);
  }

  get inboundCount(): number {
    return this.inbound === null ? 0 : this.inbound.size;
  }

  addInbound(packetId: number): void {
    (this.inbound ??= new Set()).add(packetId);
    if (this.durable !== null) this.durable.inboundAdded(this, packetId);
  }

  /** Returns whether the packet id was awaiting its PUBREL. */
  deleteInbound(packetId: number): boolean {
    const known = this.inbound !== null && this.inbound.delete(packetId);
    if (known && this.durable !== null) this.durable.inboundReleased(this, packetId);
    return known;
  }

  /** Incoming QoS 2 packet ids awaiting PUBREL (a new array). */
  inboundList(): number[] {
    return this.inbound === null ? [] : [...this.inbound];
  }

  get queued(): number {
    return this.queue === null ? 0 : this.queue.length - this.queueHead;
  }

  enqueue(out: Outgoing): void {
    (this.queue ??= []).push(out);
    this.queuedBytes += out.msg.pLen;
    if (this.durable !== null) this.durable.outgoingAdded(this, out);
  }

  /** The queued messages, oldest first (a new array). */
  queuedList(): Outgoing[] {
    return this.queue === null ? [] : this.queue.slice(this.queueHead);
  }

  shiftQueued(): Outgoing | undefined {
    const queue = this.queue;
    if (queue === null || this.queueHead >= queue.length) return undefined;
    const out = queue[this.queueHead];
    queue[this.queueHead++] = undefined as unknown as Outgoing;
    this.queuedBytes -= out.msg.pLen;
    if (this.queueHead === queue.length) {
      queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > queue.length) {
      this.queue = queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return out;
  }

  clearQueue(): void {
    this.queue = null;
    this.queueHead = 0;
    this.queuedBytes = 0;
  }

  /** A packet id not in use by an outgoing message of this session [MQTT-2.3.1-4]; 0 when all 65535 are taken. */
  allocatePacketId(): number {
    if (this.inflight.size >= 65535) return 0;
    let id = this.nextId;
    while (this.inflight.has(id)) id = id === 65535 ? 1 : id + 1;
    this.nextId = id === 65535 ? 1 : id + 1;
    return id;
  }
}
