/**
 * `$SYS/broker/store/messages/count` and `store/messages/bytes` as Mosquitto 2.0.11 reports them: retained messages
 * plus the messages held for sessions, each stored message once however many sessions hold it (Mosquitto keeps one
 * reference-counted copy; observed with three offline durable subscribers: ten messages add ten, not thirty).
 */
import { describe, expect, it } from 'vitest';
import { makeMessage, type Msg } from '../../../broker/core/message.js';
import { RetainStore } from '../../../broker/core/retain.js';
import { Outgoing, Parked, Session } from '../../../broker/core/session.js';
import { messageStore } from '../../../broker/sys.js';

const message = (topic: string, payload: string, retain = false): Msg => makeMessage(topic, Buffer.from(payload), 1, retain, null, 0, null);

let nextId = 1;
function inflight(session: Session, m: Msg, state = 0): void {
  const out = new Outgoing(m, 1, false, null);
  out.packetId = nextId++;
  out.state = state;
  session.setInflight(out);
}

function queue(session: Session, m: Msg): void {
  session.enqueue(new Outgoing(m, 1, false, null));
}

function park(session: Session, m: Msg): void {
  const parked = (session.parked ??= new Parked(0));
  parked.list.push(new Outgoing(m, 1, false, null));
  parked.bytes += m.pLen;
}

describe('the message store $SYS reports', () => {
  it('is the retained messages when no session holds anything', () => {
    const retained = new RetainStore();
    retained.set(message('$SYS/broker/uptime', '12 seconds', true));
    retained.set(message('a/b', 'hello', true));
    const idle = new Session('idle');
    expect(messageStore(retained, [idle], 0)).toEqual({ count: 2, bytes: 15 });
  });

  it('adds the messages held for sessions: in flight (awaiting PUBACK, PUBREC or PUBCOMP), queued and parked', () => {
    const retained = new RetainStore();
    retained.set(message('r', 'kept', true));
    const s = new Session('slow');
    inflight(s, message('t', 'one'));
    inflight(s, message('t', 'two'), 1);
    queue(s, message('t', 'three'));
    queue(s, message('t', 'four'));
    park(s, message('t', 'fivefive'));
    expect(messageStore(retained, [s], 0)).toEqual({ count: 1 + 5, bytes: 4 + 3 + 3 + 5 + 4 + 8 });
  });

  it('counts a message in flight to three sessions once, as Mosquitto does', () => {
    const retained = new RetainStore();
    const shared = message('fan/out', 'same');
    const sessions = ['a', 'b', 'c'].map((id) => new Session(id));
    for (const s of sessions) inflight(s, shared);
    expect(messageStore(retained, sessions, 0)).toEqual({ count: 1, bytes: 4 });
  });

  it('counts a message parked for one session and in flight to another once', () => {
    const retained = new RetainStore();
    const shared = message('fan/out', 'same');
    const busy = new Session('busy');
    const full = new Session('full');
    inflight(busy, shared);
    park(full, shared);
    expect(messageStore(retained, [busy, full], 0)).toEqual({ count: 1, bytes: 4 });
  });

  it('counts a retained message that is also held once, and a replaced retained message still held as held', () => {
    const retained = new RetainStore();
    const first = message('state', 'old', true);
    retained.set(first);
    const s = new Session('durable');
    inflight(s, first);
    expect(messageStore(retained, [s], 0)).toEqual({ count: 1, bytes: 3 });
    const second = message('state', 'newer', true);
    retained.set(second);
    inflight(s, second);
    // The new retained message (once, though also in flight) and the old one the session still holds.
    expect(messageStore(retained, [s], 0)).toEqual({ count: 2, bytes: 8 });
  });

  it('counts a message queued for several sessions once per session (a session offers no read-only view of its queue)', () => {
    const retained = new RetainStore();
    const shared = message('fan/out', 'same');
    const sessions = ['a', 'b', 'c'].map((id) => new Session(id));
    for (const s of sessions) queue(s, shared);
    expect(messageStore(retained, sessions, 0)).toEqual({ count: 3, bytes: 12 });
  });

  it('forgets what a session handed over: acknowledged and dequeued messages no longer count', () => {
    const retained = new RetainStore();
    const s = new Session('caught-up');
    inflight(s, message('t', 'abc'));
    queue(s, message('t', 'defg'));
    expect(messageStore(retained, [s], 0)).toEqual({ count: 2, bytes: 7 });
    for (const id of [...s.inflight.keys()]) s.deleteInflight(id);
    s.shiftQueued();
    expect(messageStore(retained, [s], 0)).toEqual({ count: 0, bytes: 0 });
  });
});
