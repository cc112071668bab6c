/**
 * Back-pressure without loss and without ever stopping reads.
 *
 * A QoS 1/2 message that meets a full session queue, when no other session had room for it, is parked for that
 * session, in front of its queue, and its publisher's acknowledgement (PUBACK / PUBREC) is withheld until a parked
 * copy enters a queue. A publisher keeps a bounded window of unacknowledged messages, so it slows down to what its
 * subscribers take; the broker goes on reading every client, so a client that both publishes and subscribes keeps
 * acknowledging what it is sent. A session that acknowledges nothing for STALL_MS is stalled by its own client: its
 * parked messages are dropped (counted and logged, as Mosquitto drops beyond its queue) and the acknowledgements go.
 */
import { writeAck } from './encode.js';
import type { Env } from './env.js';
import { ConnState, type AckTicket, type Outlet } from './outlet.js';
import { Parked, type Outgoing, type Session } from './session.js';

/** A session with parked messages that has acknowledged nothing for this long no longer holds its publishers. */
export const STALL_MS = 1_000;
/** At most this many messages, and this many payload bytes, are parked per session; beyond, they are dropped. */
export const PARK_MESSAGES = 65_535;
export const PARK_BYTES = 64 * 1024 * 1024;

/** Park `out` for `session`, owed to `ticket`'s publisher. Returns false (nothing parked) beyond the park bounds. */
export function park(env: Env, session: Session, out: Outgoing, ticket: AckTicket, now: number): boolean {
  let p = session.parked;
  if (parkedCount(session) >= PARK_MESSAGES || (p === null ? 0 : p.bytes) + out.msg.pLen > PARK_BYTES) return false;
  if (p === null) {
    p = session.parked = new Parked(now);
    env.parking.add(session);
  }
  out.ticket = ticket;
  ticket.waiting++;
  p.list.push(out);
  p.bytes += out.msg.pLen;
  return true;
}

export function parkedCount(session: Session): number {
  const p = session.parked;
  return p === null ? 0 : p.list.length - p.head;
}

/** Move parked messages into `session`'s queue while it has room; returns how many moved. */
export function unpark(env: Env, session: Session): number {
  const p = session.parked;
  if (p === null) return 0;
  const list = p.list;
  let moved = 0;
  while (p.head < list.length && !queueFull(env, session)) {
    const out = list[p.head];
    list[p.head++] = undefined as unknown as Outgoing;
    p.bytes -= out.msg.pLen;
    session.enqueue(out);
    settle(out, true);
    moved++;
  }
  if (p.head === list.length) endParking(env, session);
  else if (p.head > 1024 && p.head * 2 > list.length) {
    p.list = list.slice(p.head);
    p.head = 0;
  }
  return moved;
}

/**
 * Settle all of `session`'s parked messages: `offline` queues what the queue limit allows and drops the rest (the
 * client left, its session stays); `dropped` drops them all (the client stalled, or the session ended). Either way
 * the publishers' acknowledgements waiting on them are released.
 */
export function releaseParked(env: Env, session: Session, how: 'offline' | 'dropped'): void {
  const p = session.parked;
  if (p === null) return;
  endParking(env, session);
  const list = p.list;
  for (let i = p.head; i < list.length; i++) {
    const out = list[i];
    const keep = how === 'offline' && !queueFull(env, session);
    if (keep) session.enqueue(out);
    else dropMessage(env, session);
    settle(out, keep);
  }
}

function endParking(env: Env, session: Session): void {
  session.parked = null;
  env.parking.delete(session);
}

/** Has `session` reached max_queued_messages or max_queued_bytes? */
export function queueFull(env: Env, session: Session): boolean {
  const o = env.options;
  return (o.maxQueuedMessages > 0 && session.queued >= o.maxQueuedMessages) || (o.maxQueuedBytes > 0 && session.queuedBytes >= o.maxQueuedBytes);
}

/** The client acknowledged something: it is making progress. */
export function noteProgress(session: Session, now: number): void {
  if (session.parked !== null) session.parked.progress = now;
  session.stalled = false;
}

/** Drop the parked messages of sessions whose clients acknowledged nothing for STALL_MS. */
export function checkStalls(env: Env, now: number): void {
  for (const session of env.parking) {
    if (now - session.parked!.progress <= STALL_MS) continue;
    session.stalled = true;
    releaseParked(env, session, 'dropped');
  }
}

/** A message not delivered to `session` because its queue is full: counted, and logged once per episode. */
export function dropMessage(env: Env, session: Session): void {
  env.stats.pubDropped++;
  if (!session.dropping) {
    session.dropping = true;
    if (env.log.notice) env.log.line(`Outgoing messages are being dropped for client ${session.clientId}.`);
  }
}

/** A new ticket for a message about to be parked on behalf of `owner`. */
export function newTicket(owner: Outlet): AckTicket {
  return { owner, type: 0, packetId: 0, rc: 0, waiting: 0, released: false };
}

/**
 * The publish handler owes `owner` an acknowledgement. It is written now unless `ticket` (from route()) is still
 * withheld, or an earlier acknowledgement is (they leave in order).
 */
export function owe(owner: Outlet, type: number, packetId: number, rc: number, ticket: AckTicket | null): void {
  if (ticket === null && owner.heldAcks === null) {
    writeAck(owner, type, packetId, rc);
    return;
  }
  const t = ticket ?? { owner, type, packetId, rc, waiting: 0, released: true };
  t.type = type;
  t.packetId = packetId;
  t.rc = rc;
  (owner.heldAcks ??= []).push(t);
  advance(owner);
}

/** A parked copy left the park: `queued` into its session's queue, or dropped. */
function settle(out: Outgoing, queued: boolean): void {
  const ticket = out.ticket;
  out.ticket = null;
  if (ticket === null || ticket.released) return;
  ticket.waiting--;
  if (!queued && ticket.waiting > 0) return;
  ticket.released = true;
  // type 0: the publish handler has not claimed the ticket yet; it will, and advance then.
  if (ticket.type !== 0) advance(ticket.owner);
}

/** Write the acknowledgements at the head of `owner`'s queue that wait for nothing any more. */
function advance(owner: Outlet): void {
  const q = owner.heldAcks;
  if (q === null) return;
  let i = 0;
  while (i < q.length && q[i].released) {
    const t = q[i++];
    if (owner.state === ConnState.Connected) writeAck(owner, t.type, t.packetId, t.rc);
  }
  if (i === q.length) owner.heldAcks = null;
  else if (i > 0) q.splice(0, i);
}
