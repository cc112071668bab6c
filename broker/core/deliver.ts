/**
 * Routing an application message to the sessions it reaches, and the per-session outgoing flow: send now within the
 * in-flight window, else queue (bounded by max_queued_messages / max_queued_bytes), park when full (flow.ts), resend
 * on reconnect.
 *
 * A fan-out encodes each packet variant (protocol family, QoS, retain) once per message and copies the bytes to the
 * other targets, patching only the packet id.
 */
import { copyPublish, encodePublish, lastPublish, writeAck, PUBREL } from './encode.js';
import type { Env } from './env.js';
import { dropMessage, newTicket, park, queueFull, unpark } from './flow.js';
import type { Msg } from './message.js';
import { ConnState, type AckTicket, type Outlet } from './outlet.js';
import type { SharedGroup } from './router.js';
import { Outgoing, type Session, type Subscription } from './session.js';

/** QoS 0 messages to a client are dropped while this many bytes wait to be written to it. */
export const QOS0_BACKLOG_LIMIT = 8 * 1024 * 1024;

/** What deliver() did with a message. */
export const Delivery = {
  /** Sent, or queued for the session. */
  Taken: 0,
  /** Not for this session (QoS 0 to an offline session, an ended session) or dropped: its queue was full. */
  NotTaken: 1,
  /** The session is connected but its queue is full: the caller decides between parking and dropping. */
  Full: 2,
} as const;
export type Delivery = (typeof Delivery)[keyof typeof Delivery];

/**
 * Deliver `m` to every session whose subscriptions match its topic. Returns how many sessions it reached
 * (shared groups count once), for v5's "no matching subscribers" reason code.
 *
 * A connected subscriber whose queue is full parks the message when it went to nobody else, and the publisher's
 * acknowledgement waits for it (`m.ticket`, see flow.ts): fan-in to a busy subscriber loses nothing. When other
 * subscribers took it, the full one drops it, as Mosquitto does, so one slow subscriber does not slow the others.
 */
export function route(env: Env, m: Msg, now: number): number {
  const r = env.router.match(m.topic);
  if (r.targets.length === 0 && r.groups.length === 0) return 0;
  const f = env.fanout;
  f.begin(m);
  let reached = 0;
  let taken = 0;
  const upgrade = env.options.upgradeOutgoingQos;
  const targets = r.targets;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    // [MQTT-3.8.3-3] no local: not sent back to the session that published it, nor through such a subscription.
    const local = m.origin === t.session;
    let qos = local ? t.qosLocal : t.qos;
    if (qos < 0 || t.session.ended) continue;
    reached++;
    // acl_file: a subscriber without read access to the topic is not sent it. The answer is kept in the cached
    // routing result, so only the first message to a topic asks the ACL.
    const acl = t.session.acl;
    if (acl !== null) {
      if (t.aclView !== acl) {
        t.aclView = acl;
        t.aclRead = acl.canRead(m.topic);
      }
      if (!t.aclRead) continue;
    }
    // [MQTT-3.8.4-8] delivered at the lower of the publish and subscription QoS (upgrade_outgoing_qos: at the
    // subscription's, as Mosquitto offers).
    if (m.qos < qos && !upgrade) qos = m.qos;
    // [MQTT-3.3.1-9] forwarded with retain 0, unless the subscription asked for retain-as-published [MQTT-3.3.1-13].
    const retain = (local ? t.retainAsPublishedLocal : t.retainAsPublished) && m.retain;
    // [MQTT-3.3.4-3] the identifiers of the subscriptions that took it.
    const subIds = local ? t.subIdsLocal : t.subIds;
    const d = deliver(env, t.session, m, qos, retain, subIds, now);
    if (d === Delivery.Taken) taken++;
    else if (d === Delivery.Full) f.noteFull(t.session, qos, retain, subIds);
  }
  const groups = r.groups;
  for (let i = 0; i < groups.length; i++) {
    const sub = pickMember(groups[i]);
    if (sub === undefined) continue;
    reached++;
    // The member whose turn it is gets it or, without read access, nobody in the group does (as Mosquitto).
    const acl = sub.session.acl;
    if (acl !== null && !acl.canRead(m.topic)) continue;
    const qos = upgrade ? sub.qos : Math.min(m.qos, sub.qos);
    const retain = sub.retainAsPublished && m.retain;
    const d = deliver(env, sub.session, m, qos, retain, sub.subIds, now);
    if (d === Delivery.Taken) taken++;
    else if (d === Delivery.Full) f.noteFull(sub.session, qos, retain, sub.subIds);
  }
  const full = f.fullSessions;
  if (full.length > 0) {
    const publisher = m.origin !== null ? m.origin.conn : null;
    let ticket: AckTicket | null = null;
    for (let i = 0; i < full.length; i++) {
      const session = full[i];
      if (taken === 0 && publisher !== null && publisher.state === ConnState.Connected) {
        const out = new Outgoing(f.storedCopy(m), f.fullQos[i], f.fullRetain[i], f.fullSubIds[i]);
        ticket ??= newTicket(publisher);
        if (park(env, session, out, ticket, now)) continue;
      }
      dropMessage(env, session);
    }
    full.length = 0;
    if (ticket !== null && ticket.waiting > 0) m.ticket = ticket;
  }
  return reached;
}

/** Round-robin within a shared group, skipping members that are offline while some member is online. */
function pickMember(g: SharedGroup): Subscription | undefined {
  const n = g.members.length;
  if (n === 0) return undefined;
  for (let k = 0; k < n; k++) {
    const idx = (g.next + k) % n;
    const s = g.members[idx];
    if (!s.session.ended && s.session.conn !== null && s.session.conn.state === ConnState.Connected) {
      g.next = (idx + 1) % n;
      return s;
    }
  }
  const s = g.members[g.next % n];
  g.next = (g.next + 1) % n;
  return s.session.ended ? undefined : s;
}

/**
 * Send retained messages to a new subscription, each with the retain flag set [MQTT-3.3.1-8]: those the subscriber
 * may read, and with check_retain_source, only those whose publisher may still write their topic.
 */
export function deliverRetained(env: Env, sub: Subscription, msgs: readonly Msg[], now: number): void {
  const f = env.fanout;
  const acl = sub.session.acl;
  const checkSource = env.options.checkRetainSource;
  const upgrade = env.options.upgradeOutgoingQos;
  for (const m of msgs) {
    if (acl !== null && !acl.canRead(m.topic)) continue;
    if (checkSource) {
      const source = env.retainSources.get(m);
      const sourceAcl = source === undefined ? null : source.acl;
      if (sourceAcl !== null && !sourceAcl.canWrite(m.topic)) continue;
    }
    f.begin(m);
    // A retained message has no publisher to hold back: with the queue full, it is dropped.
    const qos = upgrade ? sub.qos : Math.min(m.qos, sub.qos);
    if (deliver(env, sub.session, m, qos, true, sub.subIds, now) === Delivery.Full) dropMessage(env, sub.session);
  }
}

/** One message to one session at `qos`. */
export function deliver(
  env: Env,
  session: Session,
  m: Msg,
  qos: number,
  retain: boolean,
  subIds: readonly number[] | null,
  now: number,
): Delivery {
  if (session.ended) return Delivery.NotTaken;
  const conn = session.conn;
  const online = conn !== null && conn.state === ConnState.Connected;
  if (qos === 0) {
    // QoS 0 is not kept for an offline session (Mosquitto's queue_qos0_messages false).
    if (!online) return Delivery.NotTaken;
    if (conn.backlog > QOS0_BACKLOG_LIMIT) {
      env.stats.pubDropped++;
      return Delivery.NotTaken;
    }
    sendPublish(env, conn, m, 0, retain, 0, subIds, now);
    return Delivery.Taken;
  }
  // Behind parked messages: parked too, or dropped, never ahead of them (order per topic is kept).
  if (session.parked !== null) return online && !session.stalled ? Delivery.Full : drop(env, session);
  if (online && session.queued === 0 && session.inflight.size < conn.inflightLimit && inflightRoom(env, session)) {
    // In flight before it is sent: a persistent session records it first, so that the PUBLISH can wait for that
    // record to be on disk (see durable.ts).
    const out = new Outgoing(env.fanout.storedCopy(m), qos, retain, subIds);
    out.packetId = session.allocatePacketId();
    session.setInflight(out);
    // A packet too large for the client is discarded as if delivered [MQTT-3.1.2-25].
    if (sendPublish(env, conn, m, qos, retain, out.packetId, subIds, now) === 0) session.deleteInflight(out.packetId);
    return Delivery.Taken;
  }
  if (queueFull(env, session)) {
    // A connected subscriber that keeps acknowledging may have the message parked (see route()); one that
    // acknowledges nothing for STALL_MS, or an offline session, gets Mosquitto's behaviour: the excess is dropped.
    return online && !session.stalled ? Delivery.Full : drop(env, session);
  }
  session.dropping = false;
  session.enqueue(new Outgoing(env.fanout.storedCopy(m), qos, retain, subIds));
  return Delivery.Taken;
}

/** max_inflight_bytes: another message may go in flight while fewer payload bytes than that are (0: no limit). */
function inflightRoom(env: Env, session: Session): boolean {
  const max = env.options.maxInflightBytes;
  return max === 0 || session.inflightBytes < max;
}

function drop(env: Env, session: Session): Delivery {
  dropMessage(env, session);
  return Delivery.NotTaken;
}

function sendPublish(
  env: Env,
  conn: Outlet,
  m: Msg,
  qos: number,
  retain: boolean,
  packetId: number,
  subIds: readonly number[] | null,
  now: number,
): number {
  let n: number;
  if (subIds === null && conn.aliasOut === null) {
    const f = env.fanout;
    const key = (conn.protocolVersion === 5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
    if (f.memoPass[key] === f.pass) {
      n = f.memoLen[key];
      if (conn.protocolVersion === 5 && n > conn.maxPacketOut) return 0;
      if (qos === 2) conn.awaitDurable();
      copyPublish(conn, f.memoBuf[key], f.memoOff[key], n, f.memoPid[key], packetId);
    } else {
      n = encodePublish(conn, m, qos, retain, false, packetId, null, now);
      if (n === 0) return 0;
      f.memoPass[key] = f.pass;
      f.memoBuf[key] = lastPublish.buf;
      f.memoOff[key] = lastPublish.off;
      f.memoLen[key] = n;
      f.memoPid[key] = lastPublish.pidOff;
    }
  } else {
    n = encodePublish(conn, m, qos, retain, false, packetId, subIds, now);
    if (n === 0) return 0;
  }
  const stats = env.stats;
  stats.pubSent++;
  stats.pubBytesSent += m.pLen;
  if (env.log.debug) logSend(env, conn, m, qos, retain, false, packetId);
  return n;
}

export function logSend(env: Env, conn: Outlet, m: Msg, qos: number, retain: boolean, dup: boolean, packetId: number): void {
  env.log.line(
    `Sending PUBLISH to ${conn.logId} (d${dup ? 1 : 0}, q${qos}, r${retain ? 1 : 0}, m${packetId}, '${m.topic}', ... (${m.pLen} bytes))`,
  );
}

/** Fill the in-flight window from the queue (after an acknowledgement or on reconnect). */
export function pumpQueue(env: Env, session: Session, now: number): void {
  const conn = session.conn;
  if (conn === null || conn.state !== ConnState.Connected) return;
  for (;;) {
    while (session.inflight.size < conn.inflightLimit && inflightRoom(env, session)) {
      const out = session.shiftQueued();
      if (out === undefined) break;
      // [MQTT-3.3.2-5] an expired message is not forwarded.
      if (out.msg.expired(now)) {
        env.stats.pubExpired++;
        session.discard(out);
        continue;
      }
      const packetId = session.allocatePacketId();
      out.packetId = packetId;
      session.setInflight(out);
      const n = encodePublish(conn, out.msg, out.qos, out.retain, false, packetId, out.subIds, now);
      if (n === 0) {
        session.deleteInflight(packetId);
        continue;
      }
      env.stats.pubSent++;
      env.stats.pubBytesSent += out.msg.pLen;
      if (env.log.debug) logSend(env, conn, out.msg, out.qos, out.retain, false, packetId);
    }
    // Parked messages join the queue as it has room; then the window is filled again.
    if (session.parked === null || unpark(env, session) === 0) return;
  }
}

/**
 * On a resumed session, resend what was in flight with the original packet ids: PUBLISH with DUP set, PUBREL for
 * those already received [MQTT-4.4.0-1].
 */
export function resendInflight(env: Env, session: Session, now: number): void {
  const conn = session.conn!;
  for (const out of session.inflight.values()) {
    if (out.state === 0) {
      const n = encodePublish(conn, out.msg, out.qos, out.retain, true, out.packetId, out.subIds, now);
      if (n === 0) {
        session.deleteInflight(out.packetId);
        continue;
      }
      env.stats.pubSent++;
      if (env.log.debug) logSend(env, conn, out.msg, out.qos, out.retain, true, out.packetId);
    } else {
      writeAck(conn, PUBREL, out.packetId, 0);
      if (env.log.debug) env.log.line(`Sending PUBREL to ${conn.logId} (m${out.packetId})`);
    }
  }
}
