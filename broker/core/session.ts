/**
 * Session state (§4.1): subscriptions, outgoing QoS 1/2 messages in flight, queued and parked, incoming QoS 2
 * packet ids awaiting PUBREL, the will, and expiry. A session outlives its connection when it is persistent.
 */
import type { AclView } from '../auth/acl.js';
import type { ClientIdentity, SecurityDomain } from '../auth/security.js';
import type { Msg } from './message.js';
import type { AckTicket, Outlet } from './outlet.js';
import type { Timer } from '../../src/util/timers.js';

/**
 * One subscription of a session. Its options are kept in one small integer, in the bit layout of SUBSCRIBE's
 * Subscription Options byte (QoS in bits 0-1, No Local 2, Retain As Published 3, Retain Handling 4-5).
 */
export class Subscription {
  private readonly options: number;

  constructor(
    readonly session: Session,
    /** The filter as subscribed, `$share/group/...` included: the key within the session. */
    readonly key: string,
    /** The filter matched against topics (without the `$share/group/` prefix). */
    readonly filter: string,
    /** Shared subscription group, or null. */
    readonly share: string | null,
    o: SubscriptionOptions,
    /** v5 subscription identifier, 0 when none. */
    readonly subId: number,
  ) {
    this.options = o.qos | (o.noLocal ? 4 : 0) | (o.retainAsPublished ? 8 : 0) | (o.retainHandling << 4);
    this.subIds = subId !== 0 ? [subId] : null;
  }

  /** [subId] when there is one: what a delivery through this subscription alone carries. */
  readonly subIds: number[] | null;

  get qos(): number {
    return this.options & 3;
  }

  get noLocal(): boolean {
    return (this.options & 4) !== 0;
  }

  get retainAsPublished(): boolean {
    return (this.options & 8) !== 0;
  }

  get retainHandling(): number {
    return (this.options >> 4) & 3;
  }
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
  return new Subscription(session, key, shared ? shared.filter : key, shared ? shared.group : null, o, subId);
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

/** Messages parked for a session in front of its full queue (see flow.ts). */
export class Parked {
  /** The live part is list[head...]. */
  list: Outgoing[] = [];
  head = 0;
  /** Payload bytes of the live part. */
  bytes = 0;
  constructor(
    /** When parking began, or the client last acknowledged something since, ms: a stall is timed from here. */
    public progress: number,
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
 * A session's QoS 1/2 traffic: outgoing messages in flight and queued, incoming QoS 2 packet ids awaiting PUBREL.
 * Made when the session first has any (a large test's clients mostly subscribe and wait), so an idle session carries
 * one null field instead of seven.
 */
class Traffic {
  inflight: Map<number, Outgoing> | null = null;
  /** Payload bytes of the messages in flight (for max_inflight_bytes). */
  inflightBytes = 0;
  nextId = 1;
  /** Queued outgoing messages; the live part is queue[queueHead...]. */
  queue: Outgoing[] | null = null;
  queueHead = 0;
  /** Payload bytes of the queued messages (for max_queued_bytes). */
  queuedBytes = 0;
  inbound: Set<number> | null = null;
}

const STALLED = 1;
const DROPPING = 2;
const ENDED = 4;

/**
 * The collections a session may never need (most clients of a large test subscribe once and publish at QoS 0) are
 * made on first use: reads see a shared empty one until then.
 */
export class Session {
  /** The live connection, when there is one. */
  conn: Outlet | null = null;
  /** Subscriptions by filter as subscribed: most sessions have one, kept as is; more in a map. */
  private subs: Subscription | Map<string, Subscription> | null = null;
  private traffic: Traffic | null = null;
  /** STALLED, DROPPING and ENDED, one word for the three. */
  private flags = 0;
  /** Seconds the session lives after disconnection; 0 ends it with the connection; NEVER keeps it. */
  expiryInterval = 0;
  expiryTimer: Timer | null = null;
  will: Will | null = null;
  willTimer: Timer | null = null;
  /** Protocol level of the last connection, for encoding what is queued meanwhile. */
  protocolVersion = 4;
  /**
   * Messages that met a full queue while their publishers' acknowledgements could be withheld: they join the queue as
   * it drains, or are dropped if the client stops acknowledging (see flow.ts). Null when none.
   */
  parked: Parked | null = null;
  /**
   * Who its client is, for ACL checks: the settings of the listener its last connection came through and the user
   * name it gave (null and undefined before any connection).
   */
  private domain: SecurityDomain | null = null;
  private username: string | undefined = undefined;
  /** The same as one object, made when an ACL applies or a retained message needs its source (see identity). */
  private id: ClientIdentity | null = null;
  /** Its ACL in force, read on every delivery; null when no ACL file applies. */
  acl: AclView | null = null;
  /**
   * The persistent store, while this session outlives its connection and persistence is on: every change below is
   * reported to it. `storeId` is the store's id of the session (0: not stored).
   */
  durable: SessionLog | null = null;
  storeId = 0;

  constructor(readonly clientId: string) {}

  /** Who its client is (the last connection's), made on first use; null before any connection. */
  get identity(): ClientIdentity | null {
    if (this.id === null && this.domain !== null) this.id = this.domain.identity(this.clientId, this.username);
    return this.id;
  }

  /** A connection was accepted for this session: its client is who `domain` and `username` say. */
  identify(domain: SecurityDomain, username: string | undefined): void {
    this.domain = domain;
    this.username = username;
    this.id = null;
    this.refreshAcl();
  }

  /** Look the ACL up again (the rules may have changed): none when no ACL file applies. */
  refreshAcl(): void {
    const domain = this.domain;
    this.acl = domain === null || (domain.acl === null && this.id === null) ? null : this.identity!.acl;
  }

  /** The client stopped acknowledging: a full queue drops until its next acknowledgement, as Mosquitto does. */
  get stalled(): boolean {
    return (this.flags & STALLED) !== 0;
  }

  set stalled(on: boolean) {
    this.flags = on ? this.flags | STALLED : this.flags & ~STALLED;
  }

  /** Dropping has been logged; cleared when the queue has room again (one log line per episode, as Mosquitto). */
  get dropping(): boolean {
    return (this.flags & DROPPING) !== 0;
  }

  set dropping(on: boolean) {
    this.flags = on ? this.flags | DROPPING : this.flags & ~DROPPING;
  }

  /** Ended: nothing is delivered to it any more (its subscriptions may still be leaving the router). */
  get ended(): boolean {
    return (this.flags & ENDED) !== 0;
  }

  set ended(on: boolean) {
    this.flags = on ? this.flags | ENDED : this.flags & ~ENDED;
  }

  private get t(): Traffic {
    return (this.traffic ??= new Traffic());
  }

  getSub(key: string): Subscription | undefined {
    const subs = this.subs;
    if (subs instanceof Map) return subs.get(key);
    return subs !== null && subs.key === key ? subs : undefined;
  }

  get subCount(): number {
    const subs = this.subs;
    return subs instanceof Map ? subs.size : subs !== null ? 1 : 0;
  }

  /** Every subscription (a new array). */
  subList(): Subscription[] {
    const subs = this.subs;
    if (subs instanceof Map) return [...subs.values()];
    return subs !== null ? [subs] : [];
  }

  /** Add or replace the subscription with `sub.key`. */
  setSub(sub: Subscription): void {
    if (this.durable !== null) this.durable.subscribed(this, sub);
    const subs = this.subs;
    if (subs instanceof Map) subs.set(sub.key, sub);
    else if (subs === null || subs.key === sub.key) this.subs = sub;
    else {
      this.subs = new Map([
        [subs.key, subs],
        [sub.key, sub],
      ]);
    }
  }

  deleteSub(key: string): void {
    if (this.durable !== null) this.durable.unsubscribed(this, key);
    const subs = this.subs;
    if (subs instanceof Map) subs.delete(key);
    else if (subs !== null && subs.key === key) this.subs = null;
  }

  clearSubs(): void {
    this.subs = null;
  }

  /** Outgoing QoS 1/2 messages in flight, by packet id. */
  get inflight(): ReadonlyMap<number, Outgoing> {
    const t = this.traffic;
    return t === null || t.inflight === null ? NO_OUTGOING : t.inflight;
  }

  /** Payload bytes of the messages in flight (for max_inflight_bytes). */
  get inflightBytes(): number {
    return this.traffic === null ? 0 : this.traffic.inflightBytes;
  }

  /** `out` goes in flight under `out.packetId`: a new message, or one from the queue. */
  setInflight(out: Outgoing): void {
    const t = this.t;
    (t.inflight ??= new Map()).set(out.packetId, out);
    t.inflightBytes += out.msg.pLen;
    if (this.durable !== null) {
      if (out.storeId === 0) this.durable.outgoingAdded(this, out);
      else this.durable.outgoingSent(out);
    }
  }

  deleteInflight(packetId: number): void {
    const t = this.traffic;
    const map = t === null ? null : t.inflight;
    if (map === null) return;
    const out = map.get(packetId);
    if (out === undefined) return;
    map.delete(packetId);
    t!.inflightBytes -= out.msg.pLen;
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
    const t = this.traffic;
    if (t === null) return;
    t.inflight = null;
    t.inflightBytes = 0;
  }

  /** Incoming QoS 2 packet ids received (and delivered) whose PUBREL has not arrived [MQTT-4.3.3-2]. */
  hasInbound(packetId: number): boolean {
    const t = this.traffic;
    return t !== null && t.inbound !== null && t.inbound.has(packetId);
  }

  get inboundCount(): number {
    const t = this.traffic;
    return t === null || t.inbound === null ? 0 : t.inbound.size;
  }

  addInbound(packetId: number): void {
    (this.t.inbound ??= new Set()).add(packetId);
    if (this.durable !== null) this.durable.inboundAdded(this, packetId);
  }

  /** Returns whether the packet id was awaiting its PUBREL. */
  deleteInbound(packetId: number): boolean {
    const t = this.traffic;
    const known = t !== null && t.inbound !== null && t.inbound.delete(packetId);
    if (known && this.durable !== null) this.durable.inboundReleased(this, packetId);
    return known;
  }

  /** Incoming QoS 2 packet ids awaiting PUBREL (a new array). */
  inboundList(): number[] {
    const t = this.traffic;
    return t === null || t.inbound === null ? [] : [...t.inbound];
  }

  get queued(): number {
    const t = this.traffic;
    return t === null || t.queue === null ? 0 : t.queue.length - t.queueHead;
  }

  /** Payload bytes of the queued messages (for max_queued_bytes). */
  get queuedBytes(): number {
    return this.traffic === null ? 0 : this.traffic.queuedBytes;
  }

  enqueue(out: Outgoing): void {
    const t = this.t;
    (t.queue ??= []).push(out);
    t.queuedBytes += out.msg.pLen;
    if (this.durable !== null) this.durable.outgoingAdded(this, out);
  }

  /** The queued messages, oldest first (a new array). */
  queuedList(): Outgoing[] {
    const t = this.traffic;
    return t === null || t.queue === null ? [] : t.queue.slice(t.queueHead);
  }

  shiftQueued(): Outgoing | undefined {
    const t = this.traffic;
    const queue = t === null ? null : t.queue;
    if (queue === null || t!.queueHead >= queue.length) return undefined;
    const tr = t!;
    const out = queue[tr.queueHead];
    queue[tr.queueHead++] = undefined as unknown as Outgoing;
    tr.queuedBytes -= out.msg.pLen;
    if (tr.queueHead === queue.length) {
      queue.length = 0;
      tr.queueHead = 0;
    } else if (tr.queueHead > 1024 && tr.queueHead * 2 > queue.length) {
      tr.queue = queue.slice(tr.queueHead);
      tr.queueHead = 0;
    }
    return out;
  }

  clearQueue(): void {
    const t = this.traffic;
    if (t === null) return;
    t.queue = null;
    t.queueHead = 0;
    t.queuedBytes = 0;
  }

  /** A packet id not in use by an outgoing message of this session [MQTT-2.3.1-4]; 0 when all 65535 are taken. */
  allocatePacketId(): number {
    const inflight = this.inflight;
    if (inflight.size >= 65535) return 0;
    const t = this.t;
    let id = t.nextId;
    while (inflight.has(id)) id = id === 65535 ? 1 : id + 1;
    t.nextId = id === 65535 ? 1 : id + 1;
    return id;
  }
}
