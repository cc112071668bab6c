/**
 * The broker's core: sessions and their lifecycle (connect, take-over, resume, will, expiry, end), subscriptions,
 * retained messages, delivery and its flow control, counters and timers. Connections and handlers call into it;
 * it imports nothing above it. Every entry that does not come from a packet (a timer, a will, a session expiry, a
 * socket closing) runs through the same guard as packets do: an exception while serving one client closes that
 * client, is logged and counted, and never reaches the process.
 */
import { RC } from '../../src/protocol/reason-codes.js';
import type { ClientIdentity } from '../auth/security.js';
import type { Log } from '../log.js';
import type { BrokerOptions } from '../options.js';
import type { Client } from './client.js';
import { route } from './deliver.js';
import type { Durable } from './durable.js';
import type { Env } from './env.js';
import { Fanout } from './fanout.js';
import { checkStalls, releaseParked } from './flow.js';
import type { Msg } from './message.js';
import { CloseReason, ConnState, type Outlet } from './outlet.js';
import { RetainStore } from './retain.js';
import { Router } from './router.js';
import { NEVER, Session, type Subscription, type Will } from './session.js';
import { BrokerStats } from './stats.js';
import { Timer, Timers } from '../../src/util/timers.js';
import { TurnBudget } from './turn.js';

/** An ended session with at most this many subscriptions leaves the router at once; more, over several turns. */
const CLEANUP_AT_ONCE = 2_000;

export interface SessionRequest {
  clientId: string;
  /** Clean session (3.1.1) / clean start (5.0). */
  clean: boolean;
  /** Seconds the session outlives its connection; 0 ends it with the connection; NEVER keeps it. */
  expiryInterval: number;
  will: Will | null;
  protocolVersion: number;
}

export class Core implements Env {
  readonly stats = new BrokerStats();
  readonly router = new Router();
  readonly retained = new RetainStore();
  readonly sessions = new Map<string, Session>();
  readonly parking = new Set<Session>();
  readonly fanout = new Fanout();
  /** check_retain_source: the publisher of each retained message, whose write access is checked when it is sent. */
  readonly retainSources = new WeakMap<Msg, ClientIdentity>();
  readonly timers: Timers;
  /** Spreadable work per turn of the event loop, for all clients together. */
  readonly turn = new TurnBudget();
  readonly startedAt = Date.now();
  /** Receive Maximum the broker declares to v5 clients (QoS 1/2 it accepts unacknowledged). */
  readonly receiveMaximum: number;
  /**
   * The broker's clock, ms: read once per socket read and per timer rather than per message, since a clock read
   * costs as much as routing a small message.
   */
  clock = Date.now();
  /** The persistent store when persistence is on (attached once its state is restored), else null. */
  durable: Durable | null = null;

  /** Subscriptions of ended sessions still to be removed from the router, a slice per turn. */
  private cleanup: Subscription[] = [];
  private cleanupScheduled = false;
  private closed = false;

  constructor(
    readonly options: BrokerOptions,
    readonly log: Log,
  ) {
    const mi = options.maxInflightMessages;
    this.receiveMaximum = mi > 0 && mi < 65535 ? mi : 65535;
    this.timers = new Timers((err, timer) => this.timerFault(timer.owner, err));
  }

  now(): number {
    return this.clock;
  }

  /** Refresh the cached clock (timers call this; socket reads set it directly). */
  tick(): number {
    return (this.clock = Date.now());
  }

  // ---- the guard --------------------------------------------------------------------------------------------

  /**
   * An exception while serving `who` (a connection, a session, or nothing in particular): logged, counted, and the
   * client it concerns is closed. Never rethrows.
   */
  fault(who: unknown, err: unknown, where: string): void {
    this.stats.faults++;
    const conn = who instanceof Session ? who.conn : isOutlet(who) ? who : null;
    const id = conn !== null ? conn.logId : who instanceof Session ? who.clientId : '<none>';
    let alsoFailed = '';
    try {
      if (conn !== null && conn.state !== ConnState.Closed) {
        if (conn.state === ConnState.Connected && conn.protocolVersion === 5) conn.sendDisconnect(RC.ImplementationSpecificError);
        conn.close(CloseReason.Fault);
      }
    } catch (again) {
      // Closing failed too: the client is left to its socket's own end. Nothing may escape the guard.
      alsoFailed = ` (closing it failed too: ${String(again)})`;
    }
    try {
      if (this.log.error) {
        const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
        this.log.line(`Internal error in ${where} serving client ${id}, closing it: ${detail.replace(/\s*\n\s*/g, ' | ')}${alsoFailed}`);
      }
    } catch {
      // The log itself failed: the error is counted in stats().faults all the same.
    }
  }

  /** A timer of `owner` threw. An offline session whose timer failed would otherwise never expire: it ends now. */
  private timerFault(owner: unknown, err: unknown): void {
    this.fault(owner, err, 'a timer');
    if (!(owner instanceof Session) || owner.conn !== null || owner.ended) return;
    try {
      this.endSession(owner);
    } catch (again) {
      this.fault(null, again, 'ending a session after a timer failed');
    }
  }

  // ---- sessions ---------------------------------------------------------------------------------------------

  /**
   * Bind `client` to its session after a CONNECT was accepted: take over a connected one [MQTT-3.1.4-2], discard
   * (clean) or resume an existing one, or create it. Returns whether a session was resumed (CONNACK's session
   * present).
   */
  openSession(client: Client, req: SessionRequest): boolean {
    let session = this.sessions.get(req.clientId);
    if (session !== undefined) {
      // A new connection for this client id: a will waiting out its delay is not sent [MQTT-3.1.2-8], [MQTT-3.1.3-9].
      if (session.conn === null) this.dropWill(session);
      else this.takeOver(session, req);
    }
    session = this.sessions.get(req.clientId);
    // [MQTT-3.1.2-4], [MQTT-3.1.2-6] clean start / clean session: any previous session is discarded.
    if (session !== undefined && req.clean) {
      this.endSession(session);
      session = undefined;
    }
    const present = session !== undefined;
    if (session === undefined) {
      session = new Session(req.clientId);
      this.sessions.set(req.clientId, session);
    } else {
      this.cancelTimers(session);
    }
    session.conn = client;
    session.stalled = false;
    session.protocolVersion = req.protocolVersion;
    session.expiryInterval = req.expiryInterval;
    session.will = req.will;
    client.session = session;
    if (this.durable !== null) this.durable.sessionChanged(session);
    const s = this.stats;
    s.connectsAccepted++;
    s.clientsConnected++;
    if (s.clientsConnected > s.clientsMaximum) s.clientsMaximum = s.clientsConnected;
    return present;
  }

  /**
   * The same client id connects again while connected: the old connection is closed (v5: told why) and its will
   * goes out as on any other close without DISCONNECT [MQTT-3.1.2-8] — except, in MQTT 5, when the new connection
   * continues the session or the will has a delay: the new connection came before the delay passed [MQTT-3.1.2-8]
   * (5.0's wording; Mosquitto does the same, and also skips a 3.1.1 will when the session continues).
   */
  private takeOver(session: Session, req: SessionRequest): void {
    const old = session.conn!;
    if (this.log.notice) this.log.line(`Client ${req.clientId} already connected, closing old connection.`);
    const resumes = !req.clean && session.expiryInterval !== 0;
    if (session.will !== null && old.protocolVersion === 5 && (resumes || session.will.delay > 0)) session.will = null;
    if (old.protocolVersion === 5) old.sendDisconnect(RC.SessionTakenOver);
    old.close(CloseReason.TakenOver);
  }

  /**
   * A connection ended. `session` is the one it was bound to (null before CONNECT was accepted). Publishes the will
   * (now or after its delay), and ends the session or starts its expiry.
   */
  detach(conn: Outlet, session: Session | null, reason: CloseReason): void {
    if (session === null || session.conn !== conn) return;
    this.stats.clientsConnected--;
    session.conn = null;
    conn.heldAcks = null;
    releaseParked(this, session, 'offline');
    if (reason === CloseReason.BrokerShutdown) return;
    const will = session.will;
    if (will !== null) {
      // [MQTT-3.1.2-8] the will goes out when the connection ends without DISCONNECT, after the v5 will delay
      // unless the session ends first [MQTT-3.1.3-9].
      if (will.delay > 0 && session.expiryInterval > 0) {
        session.willTimer ??= new Timer(this.willDue, session);
        this.timers.schedule(session.willTimer, Math.min(will.delay, session.expiryInterval) * 1000);
      } else {
        this.publishWill(session);
      }
    }
    if (session.expiryInterval === 0) {
      this.endSession(session);
      return;
    }
    if (session.expiryInterval !== NEVER) this.scheduleExpiry(session, session.expiryInterval * 1000);
    if (this.durable !== null) this.durable.sessionChanged(session);
  }

  /** End offline `session` in `ms` unless a client takes it up first. */
  private scheduleExpiry(session: Session, ms: number): void {
    session.expiryTimer ??= new Timer(this.expireSessionDue, session);
    this.timers.schedule(session.expiryTimer, ms);
  }

  /**
   * Take in an offline session restored from the persistent store, its subscriptions already set; it ends after
   * `expiresInMs` (null: never) unless a client takes it up first.
   */
  adoptSession(session: Session, expiresInMs: number | null): void {
    this.sessions.set(session.clientId, session);
    for (const sub of session.subList()) this.router.add(sub);
    if (expiresInMs !== null) this.scheduleExpiry(session, expiresInMs);
  }

  /** Session timers call these with their session: one function per broker, not a closure per session. */
  private readonly willDue = (session: Session): void => {
    this.tick();
    this.publishWill(session);
  };

  private readonly expireSessionDue = (session: Session): void => this.expireSession(session);

  /** Publish `session`'s will now, once. A failure routing it is the session's fault, not the process's. */
  publishWill(session: Session): void {
    const will = session.will;
    if (will === null) return;
    session.will = null;
    if (session.willTimer) this.timers.cancel(session.willTimer);
    try {
      const now = this.tick();
      const msg = will.msg;
      // acl_file: checked when the will is sent, under the rules in force then (as Mosquitto).
      if (session.acl !== null && !session.acl.canWrite(msg.topic)) {
        if (this.log.debug) this.log.line(`Denied will message for client ${session.clientId} to '${msg.topic}'`);
        return;
      }
      if (will.expiry > 0) msg.expiryAt = now + will.expiry * 1000;
      if (this.log.debug) this.log.line(`Sending will message for client ${session.clientId} to '${msg.topic}'`);
      this.stats.pubReceived++;
      if (msg.retain && this.options.checkRetainSource && session.identity !== null) this.retainSources.set(msg, session.identity);
      this.publish(msg, now);
    } catch (err) {
      this.fault(session, err, 'publishing a will');
    }
  }

  /** Route a stored message the broker itself publishes (wills, $SYS), keeping it when it is retained. */
  publish(msg: Msg, now: number): void {
    if (msg.retain) this.retain(msg);
    route(this, msg, now);
  }

  /**
   * End a client its security settings no longer allow (after a reload): as Mosquitto does, without its will and
   * logged as "disconnected".
   */
  revoke(client: Client): void {
    const session = client.session;
    if (session !== null && session.conn === client) this.dropWill(session);
    client.close(CloseReason.Disconnect);
  }

  /** Keep stored `msg` as its topic's retained message, or clear the topic when its payload is empty. */
  retain(msg: Msg): void {
    this.retained.set(msg);
    if (this.durable !== null) this.durable.retainChanged(msg);
  }

  private dropWill(session: Session): void {
    session.will = null;
    if (session.willTimer) this.timers.cancel(session.willTimer);
  }

  private cancelTimers(session: Session): void {
    if (session.willTimer) this.timers.cancel(session.willTimer);
    if (session.expiryTimer) this.timers.cancel(session.expiryTimer);
  }

  private expireSession(session: Session): void {
    this.tick();
    if (session.conn !== null || session.ended) return;
    if (this.log.notice) this.log.line(`Expiring client ${session.clientId} due to timeout.`);
    this.stats.clientsExpired++;
    this.endSession(session);
  }

  /**
   * End a session: its pending will goes out [MQTT-3.1.3-9], its queued messages go away, and its subscriptions
   * leave the router — at once for a few, in slices for many, so that no client can stall the others. Meanwhile the
   * session is marked ended and receives nothing.
   */
  endSession(session: Session): void {
    if (session.ended) return;
    session.ended = true;
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    if (session.durable !== null && this.durable !== null) this.durable.sessionEnded(session);
    if (session.will !== null && session.conn === null) this.publishWill(session);
    this.cancelTimers(session);
    releaseParked(this, session, 'dropped');
    session.clearInflight();
    session.clearQueue();
    const subs = session.subList();
    if (subs.length <= CLEANUP_AT_ONCE && this.cleanup.length === 0) {
      for (const sub of subs) this.router.remove(sub);
      this.turn.spend(subs.length);
    } else {
      for (const sub of subs) this.cleanup.push(sub);
      this.scheduleCleanup();
    }
    session.clearSubs();
  }

  private scheduleCleanup(): void {
    if (this.cleanupScheduled || this.closed) return;
    this.cleanupScheduled = true;
    setImmediate(this.cleanupSlice);
  }

  private readonly cleanupSlice = (): void => {
    this.cleanupScheduled = false;
    try {
      const list = this.cleanup;
      // At least a little every turn, so that clean-up always progresses.
      const n = Math.min(list.length, Math.max(this.turn.left, 100));
      for (let i = 0; i < n; i++) this.router.remove(list[i]);
      this.turn.spend(n);
      this.cleanup = n === list.length ? [] : list.slice(n);
    } catch (err) {
      this.cleanup = [];
      this.fault(null, err, 'session clean-up');
    }
    if (this.cleanup.length > 0) this.scheduleCleanup();
  };

  /** Subscriptions still waiting to leave the router (sessions ended, cleanup in progress). */
  get pendingCleanup(): number {
    return this.cleanup.length;
  }

  /** Periodic work: sessions that stopped acknowledging lose their parked messages. */
  sweep(now: number): void {
    if (this.parking.size > 0) checkStalls(this, now);
  }

  close(): void {
    this.closed = true;
    this.timers.close();
  }
}

function isOutlet(x: unknown): x is Outlet {
  return typeof x === 'object' && x !== null && 'logId' in x && 'close' in x && 'state' in x;
}
