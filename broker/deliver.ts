/**
 * Routing an application message to the sessions it reaches, and the per-session outgoing flow: send now within the
 * in-flight window, else queue (bounded by max_queued_messages), resend on reconnect.
 *
 * A fan-out encodes each packet variant (protocol family, QoS, retain) once per message and copies the bytes to the
 * other targets, patching only the packet id.
 */
import type { Broker } from './server.js';
import { ConnState, type Connection } from './connection.js';
import { copyPublish, encodePublish, lastPublish, writeAck, PUBREL } from './encode.js';
import type { Msg } from './message.js';
import type { SharedGroup } from './router.js';
import { Outgoing, type Session, type Subscription } from './session.js';

/** QoS 0 messages to a client are dropped while this many bytes wait to be written to it. */
export const QOS0_BACKLOG_LIMIT = 8 * 1024 * 1024;

// Memo of encoded variants for the current message: index = (v5 ? 6 : 0) + qos * 2 + retain.
let pass = 0;
const memoPass = new Int32Array(12);
const memoBuf: Buffer[] = new Array<Buffer>(12).fill(Buffer.alloc(0));
const memoOff = new Int32Array(12);
const memoLen = new Int32Array(12);
const memoPid = new Int32Array(12);
/** The stored copy of the message being routed, made on first need. */
let routed: Msg | null = null;
let routedSource: Msg | null = null;

function beginMessage(m: Msg): void {
  pass++;
  routed = m.stored ? m : null;
  routedSource = m;
}

function storedCopy(m: Msg): Msg {
  if (routedSource !== m) beginMessage(m);
  return (routed ??= m.store());
}

/** What deliver() did with a message. */
export const Delivery = {
  /** Sent, or queued for the session. */
  Taken: 0,
  /** Not for this session (QoS 0 to an offline session) or dropped: its queue was full. */
  NotTaken: 1,
  /** The session is connected but its queue is full: the caller decides between holding the publisher and dropping. */
  Full: 2,
} as const;
export type Delivery = (typeof Delivery)[keyof typeof Delivery];

// Sessions whose queue was full for the message being routed, with what each was to get (reused: no allocation).
const fullSessions: Session[] = [];
const fullQos: number[] = [];
const fullRetain: boolean[] = [];
const fullSubIds: (readonly number[] | null)[] = [];

/**
 * Deliver `m` to every session whose subscriptions match its topic. Returns how many sessions it reached
 * (shared groups count once), for v5's "no matching subscribers" reason code.
 *
 * A connected subscriber whose queue is full holds the publisher back only when the message went to nobody else:
 * then it waits, parked, for the queue to drain (fan-in to a busy subscriber loses nothing). When other subscribers
 * took it, the full one drops it, as Mosquitto does, so one slow subscriber does not slow the others down.
 */
export function route(broker: Broker, m: Msg, now: number): number {
  const r = broker.router.match(m.topic);
  if (r.targets.length === 0 && r.groups.length === 0) return 0;
  beginMessage(m);
  let reached = 0;
  let taken = 0;
  fullSessions.length = 0;
  const targets = r.targets;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    // [MQTT-3.8.3-3] no local: not sent back to the session that published it.
    let qos = m.origin === t.session ? t.qosLocal : t.qos;
    if (qos < 0) continue;
    reached++;
    // [MQTT-3.8.4-?] delivered at the lower of the publish and subscription QoS.
    if (m.qos < qos) qos = m.qos;
    // [MQTT-3.3.1-9] forwarded with retain 0, unless the subscription asked for retain-as-published [MQTT-3.3.1-13].
    const retain = t.retainAsPublished && m.retain;
    const d = deliver(broker, t.session, m, qos, retain, t.subIds, now);
    if (d === Delivery.Taken) taken++;
    else if (d === Delivery.Full) noteFull(t.session, qos, retain, t.subIds);
  }
  const groups = r.groups;
  for (let i = 0; i < groups.length; i++) {
    const sub = pickMember(groups[i]);
    if (sub === undefined) continue;
    reached++;
    const qos = Math.min(m.qos, sub.qos);
    const retain = sub.retainAsPublished && m.retain;
    const d = deliver(broker, sub.session, m, qos, retain, sub.subIds, now);
    if (d === Delivery.Taken) taken++;
    else if (d === Delivery.Full) noteFull(sub.session, qos, retain, sub.subIds);
  }
  if (fullSessions.length > 0) {
    for (let i = 0; i < fullSessions.length; i++) {
      if (taken === 0) park(broker, fullSessions[i], m, fullQos[i], fullRetain[i], fullSubIds[i], now);
      else drop(broker, fullSessions[i]);
    }
    fullSessions.length = 0;
  }
  return reached;
}

function noteFull(session: Session, qos: number, retain: boolean, subIds: readonly number[] | null): void {
  const n = fullSessions.length;
  fullSessions.push(session);
  fullQos[n] = qos;
  fullRetain[n] = retain;
  fullSubIds[n] = subIds;
}

/** Stop reading the publisher and keep the message aside until the session's queue drains. */
function park(broker: Broker, session: Session, m: Msg, qos: number, retain: boolean, subIds: readonly number[] | null, now: number): void {
  broker.holdPublisher(m.origin!.conn!, session, now);
  (session.parked ??= []).push(new Outgoing(storedCopy(m), qos, retain, subIds));
}

function drop(broker: Broker, session: Session): void {
  session.dropped++;
  broker.stats.pubDropped++;
  if (broker.log.debug) broker.log.line(`Outgoing messages are being dropped for client ${session.clientId}.`);
}

/** Round-robin within a shared group, skipping members that are offline while some member is online. */
function pickMember(g: SharedGroup): Subscription | undefined {
  const n = g.members.length;
  if (n === 0) return undefined;
  for (let k = 0; k < n; k++) {
    const idx = (g.next + k) % n;
    const s = g.members[idx];
    if (s.session.conn !== null && s.session.conn.state === ConnState.Connected) {
      g.next = (idx + 1) % n;
      return s;
    }
  }
  const s = g.members[g.next % n];
  g.next = (g.next + 1) % n;
  return s;
}

/** Send retained messages to a new subscription, each with the retain flag set [MQTT-3.3.1-8]. */
export function deliverRetained(broker: Broker, sub: Subscription, msgs: readonly Msg[], now: number): void {
  for (const m of msgs) {
    beginMessage(m);
    // A retained message has no publisher to hold back: with the queue full, it is dropped.
    if (deliver(broker, sub.session, m, Math.min(m.qos, sub.qos), true, sub.subIds, now) === Delivery.Full) drop(broker, sub.session);
  }
}

/** One message to one session at `qos`. */
export function deliver(
  broker: Broker,
  session: Session,
  m: Msg,
  qos: number,
  retain: boolean,
  subIds: readonly number[] | null,
  now: number,
): Delivery {
  const conn = session.conn;
  const online = conn !== null && conn.state === ConnState.Connected;
  if (qos === 0) {
    // QoS 0 is not kept for an offline session (Mosquitto's queue_qos0_messages false).
    if (!online) return Delivery.NotTaken;
    if (conn.backlog > QOS0_BACKLOG_LIMIT) {
      broker.stats.pubDropped++;
      return Delivery.NotTaken;
    }
    sendPublish(broker, conn, m, 0, retain, 0, subIds, now);
    return Delivery.Taken;
  }
  if (online && session.queued === 0 && session.inflight.size < conn.inflightLimit) {
    const packetId = session.allocatePacketId();
    const sent = sendPublish(broker, conn, m, qos, retain, packetId, subIds, now);
    // A packet too large for the client is discarded as if delivered [MQTT-3.1.2-25].
    if (sent === 0) return Delivery.Taken;
    const out = new Outgoing(storedCopy(m), qos, retain, subIds);
    out.packetId = packetId;
    session.inflight.set(packetId, out);
    return Delivery.Taken;
  }
  const limit = broker.options.maxQueuedMessages;
  if (limit > 0 && session.queued >= limit) {
    // A connected subscriber that keeps acknowledging may hold the publisher back (see route()) rather than lose a
    // QoS 1/2 message its publisher was told is accepted. One that acknowledges nothing for STALL_MS, or an offline
    // session, gets Mosquitto's behaviour: the excess is dropped.
    const pub = m.origin !== null ? m.origin.conn : null;
    if (online && !session.stalled && pub !== null && pub !== conn && pub.state === ConnState.Connected) return Delivery.Full;
    drop(broker, session);
    return Delivery.NotTaken;
  }
  session.enqueue(new Outgoing(storedCopy(m), qos, retain, subIds));
  return Delivery.Taken;
}

function sendPublish(
  broker: Broker,
  conn: Connection,
  m: Msg,
  qos: number,
  retain: boolean,
  packetId: number,
  subIds: readonly number[] | null,
  now: number,
): number {
  let n: number;
  if (subIds === null && conn.aliasOutMax === 0) {
    const key = (conn.protocolVersion === 5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
    if (memoPass[key] === pass) {
      n = memoLen[key];
      if (conn.protocolVersion === 5 && n > conn.maxPacketOut) return 0;
      copyPublish(conn, memoBuf[key], memoOff[key], n, memoPid[key], packetId);
    } else {
      n = encodePublish(conn, m, qos, retain, false, packetId, null, now);
      if (n === 0) return 0;
      memoPass[key] = pass;
      memoBuf[key] = lastPublish.buf;
      memoOff[key] = lastPublish.off;
      memoLen[key] = n;
      memoPid[key] = lastPublish.pidOff;
    }
  } else {
    n = encodePublish(conn, m, qos, retain, false, packetId, subIds, now);
    if (n === 0) return 0;
  }
  const stats = broker.stats;
  stats.pubSent++;
  stats.pubBytesSent += m.pLen;
  if (broker.log.debug) logSend(broker, conn, m, qos, retain, false, packetId);
  return n;
}

export function logSend(broker: Broker, conn: Connection, m: Msg, qos: number, retain: boolean, dup: boolean, packetId: number): void {
  broker.log.line(
    `Sending PUBLISH to ${conn.logId} (d${dup ? 1 : 0}, q${qos}, r${retain ? 1 : 0}, m${packetId}, '${m.topic}', ... (${m.pLen} bytes))`,
  );
}

/** Fill the in-flight window from the queue (after an acknowledgement or on reconnect). */
export function pumpQueue(broker: Broker, session: Session, now: number): void {
  const conn = session.conn;
  if (conn === null || conn.state !== ConnState.Connected) return;
  while (session.inflight.size < conn.inflightLimit) {
    const out = session.shiftQueued();
    if (out === undefined) return;
    // [MQTT-3.3.2-5] an expired message is not forwarded.
    if (out.msg.expired(now)) {
      broker.stats.pubExpired++;
      continue;
    }
    const packetId = session.allocatePacketId();
    const n = encodePublish(conn, out.msg, out.qos, out.retain, false, packetId, out.subIds, now);
    if (n === 0) continue;
    broker.stats.pubSent++;
    broker.stats.pubBytesSent += out.msg.pLen;
    if (broker.log.debug) logSend(broker, conn, out.msg, out.qos, out.retain, false, packetId);
    out.packetId = packetId;
    session.inflight.set(packetId, out);
  }
  if (session.waiters !== null && session.queued <= broker.options.maxQueuedMessages / 2) broker.releaseWaiters(session, 'drained');
}

/**
 * On a resumed session, resend what was in flight with the original packet ids: PUBLISH with DUP set, PUBREL for
 * those already received [MQTT-4.4.0-1].
 */
export function resendInflight(broker: Broker, session: Session, now: number): void {
  const conn = session.conn!;
  for (const out of session.inflight.values()) {
    if (out.state === 0) {
      const n = encodePublish(conn, out.msg, out.qos, out.retain, true, out.packetId, out.subIds, now);
      if (n === 0) {
        session.inflight.delete(out.packetId);
        continue;
      }
      broker.stats.pubSent++;
      if (broker.log.debug) logSend(broker, conn, out.msg, out.qos, out.retain, true, out.packetId);
    } else {
      writeAck(conn, PUBREL, out.packetId, 0);
      if (broker.log.debug) broker.log.line(`Sending PUBREL to ${conn.logId} (m${out.packetId})`);
    }
  }
}
