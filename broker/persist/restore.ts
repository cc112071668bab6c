/**
 * The replayed image made into the core's own objects: messages, offline sessions with their subscriptions, deliveries
 * (in flight under their packet ids, then queued in order) and incoming QoS 2 packet ids, and the retained messages.
 * Runs before the store is attached, so nothing restored is written again; anything inconsistent (a delivery of a
 * message the file does not hold) is left out and counted.
 */
import { parseSharedFilter, topicFilterProblem } from '../../src/protocol/topic.js';
import type { Core } from '../core/core.js';
import { Msg } from '../core/message.js';
import { NEVER, Outgoing, Session, newSubscription } from '../core/session.js';
import type { MsgRecord } from './records.js';
import type { Image } from './replay.js';

export interface Restored {
  sessions: number;
  subscriptions: number;
  deliveries: number;
  retained: number;
  /** Sessions whose expiry passed while the broker was down. */
  expired: number;
  /** Records that made no sense together (left out). */
  inconsistent: number;
  /** When each restored session that expires ends (Date.now() ms). */
  deadlines: Map<Session, number>;
}

export function restore(core: Core, image: Image, gen: number, now: number): Restored {
  const counts: Restored = { sessions: 0, subscriptions: 0, deliveries: 0, retained: 0, expired: 0, inconsistent: 0, deadlines: new Map() };
  const msgs = new Map<number, Msg>();
  const msgOf = (mid: number): Msg | undefined => {
    let m = msgs.get(mid);
    if (m === undefined) {
      const r = image.msgs.get(mid);
      if (r === undefined) return undefined;
      m = toMsg(r, gen);
      msgs.set(mid, m);
    }
    return m;
  };

  // One session per client id: a later session of the same id replaces an earlier one (sids only grow).
  const byClient = new Map<string, number>();
  for (const [sid, s] of image.sessions) {
    const prev = byClient.get(s.record.clientId);
    if (prev === undefined || prev < sid) byClient.set(s.record.clientId, sid);
    if (prev !== undefined) counts.inconsistent++;
  }
  const sessions = new Map<number, Session>();
  for (const [clientId, sid] of byClient) {
    const img = image.sessions.get(sid)!;
    const rec = img.record;
    let expiresIn: number | null = null;
    if (rec.expiryInterval !== NEVER) {
      // Offline when saved: its deadline holds; connected when the broker stopped: it went offline now.
      expiresIn = rec.expiresAt > 0 ? rec.expiresAt - now : rec.expiryInterval * 1000;
      if (expiresIn <= 0 || rec.expiryInterval === 0) {
        counts.expired++;
        continue;
      }
    }
    const session = new Session(clientId);
    session.storeId = sid;
    session.expiryInterval = rec.expiryInterval;
    session.protocolVersion = rec.protocolVersion;
    for (const sub of img.subs.values()) {
      if (topicFilterProblem(sub.key) !== undefined) {
        counts.inconsistent++;
        continue;
      }
      const shared = parseSharedFilter(sub.key);
      if (shared === null) {
        counts.inconsistent++;
        continue;
      }
      const s = newSubscription(session, sub.key, shared, sub, sub.subId);
      session.setSub(s);
      counts.subscriptions++;
    }
    for (const id of img.inbound) session.addInbound(id);
    sessions.set(sid, session);
    core.adoptSession(session, expiresIn);
    if (expiresIn !== null) counts.deadlines.set(session, now + expiresIn);
    counts.sessions++;
  }

  // Deliveries in id order: in flight ones keep their packet ids; queued ones keep their order.
  const oids = [...image.outs.keys()].sort((a, b) => a - b);
  for (const oid of oids) {
    const o = image.outs.get(oid)!;
    const session = sessions.get(o.sid);
    if (session === undefined) continue;
    const msg = msgOf(o.mid);
    if (msg === undefined || o.qos < 1 || o.qos > 2) {
      counts.inconsistent++;
      continue;
    }
    const out = new Outgoing(msg, o.qos, o.retain, o.subIds);
    out.storeId = oid;
    if (o.packetId !== 0 && !session.inflight.has(o.packetId)) {
      out.packetId = o.packetId;
      out.state = o.state;
      session.setInflight(out);
    } else {
      session.enqueue(out);
    }
    counts.deliveries++;
  }

  for (const mid of image.retained.values()) {
    const msg = msgOf(mid);
    if (msg === undefined) {
      counts.inconsistent++;
      continue;
    }
    if (msg.expired(now) || msg.pLen === 0) continue;
    core.retained.set(msg);
    counts.retained++;
  }
  return counts;
}

function toMsg(r: MsgRecord, gen: number): Msg {
  const m = new Msg();
  const all = Buffer.concat([r.topic, r.props, r.payload]);
  m.topic = r.topic.toString('utf8');
  m.tBuf = m.xBuf = m.pBuf = all;
  m.tOff = 0;
  m.tLen = r.topic.length;
  m.xOff = r.topic.length;
  m.xLen = r.props.length;
  m.pOff = r.topic.length + r.props.length;
  m.pLen = r.payload.length;
  m.qos = r.qos;
  m.retain = r.retain;
  m.expiryAt = r.expiryAt;
  m.stored = true;
  m.storeId = r.mid;
  m.storeGen = gen;
  return m;
}
