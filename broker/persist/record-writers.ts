/** Each record of the persistence file written from the core's own objects (formats in records.ts). */
import type { Msg } from '../core/message.js';
import type { Outgoing, Session, Subscription } from '../core/session.js';
import { R, maxUtf8, type RecordBuffer } from './records.js';

export function writeMsg(b: RecordBuffer, m: Msg): void {
  b.begin(R.Msg, 6 + 1 + 8 + 2 + m.tLen + 4 + m.xLen + m.pLen);
  b.u48(m.storeId);
  b.u8(m.qos | (m.retain ? 4 : 0) | (m.expiryAt !== 0 ? 8 : 0));
  if (m.expiryAt !== 0) b.f64(m.expiryAt);
  b.u16(m.tLen);
  b.bytes(m.tBuf, m.tOff, m.tOff + m.tLen);
  b.u32(m.xLen);
  b.bytes(m.xBuf, m.xOff, m.xOff + m.xLen);
  b.bytes(m.pBuf, m.pOff, m.pOff + m.pLen);
  b.end();
}

export function writeRetain(b: RecordBuffer, mid: number): void {
  b.begin(R.Retain, 6);
  b.u48(mid);
  b.end();
}

export function writeRetainClear(b: RecordBuffer, topic: string): void {
  b.begin(R.RetainClear, maxUtf8(topic));
  b.rest(topic);
  b.end();
}

export function writeSession(b: RecordBuffer, s: Session, expiresAt: number): void {
  b.begin(R.Session, 4 + 4 + 1 + 8 + maxUtf8(s.clientId));
  b.u32(s.storeId);
  b.u32(s.expiryInterval);
  b.u8(s.protocolVersion);
  b.f64(expiresAt);
  b.rest(s.clientId);
  b.end();
}

export function writeSessionEnd(b: RecordBuffer, sid: number): void {
  b.begin(R.SessionEnd, 4);
  b.u32(sid);
  b.end();
}

export function writeSub(b: RecordBuffer, sid: number, sub: Subscription): void {
  b.begin(R.Sub, 4 + 1 + 4 + maxUtf8(sub.key));
  b.u32(sid);
  b.u8(sub.qos | (sub.noLocal ? 4 : 0) | (sub.retainAsPublished ? 8 : 0) | (sub.retainHandling << 4));
  b.u32(sub.subId);
  b.rest(sub.key);
  b.end();
}

export function writeUnsub(b: RecordBuffer, sid: number, key: string): void {
  b.begin(R.Unsub, 4 + maxUtf8(key));
  b.u32(sid);
  b.rest(key);
  b.end();
}

export function writeOut(b: RecordBuffer, sid: number, out: Outgoing): void {
  const subIds = out.subIds;
  const n = subIds === null ? 0 : subIds.length;
  b.begin(R.Out, 4 + 6 + 6 + 1 + 2 + 2 + 4 * n);
  b.u32(sid);
  b.u48(out.storeId);
  b.u48(out.msg.storeId);
  b.u8(out.qos | (out.retain ? 4 : 0) | (out.state << 3));
  b.u16(out.packetId);
  b.u16(n);
  for (let i = 0; i < n; i++) b.u32(subIds![i]);
  b.end();
}

export function writeOutSent(b: RecordBuffer, out: Outgoing): void {
  b.begin(R.OutSent, 8);
  b.u48(out.storeId);
  b.u16(out.packetId);
  b.end();
}

/** OutReleased or OutDone. */
export function writeOutStep(b: RecordBuffer, type: typeof R.OutReleased | typeof R.OutDone, oid: number): void {
  b.begin(type, 6);
  b.u48(oid);
  b.end();
}

/** InAdd or InDel. */
export function writeInbound(b: RecordBuffer, type: typeof R.InAdd | typeof R.InDel, sid: number, packetId: number): void {
  b.begin(type, 6);
  b.u32(sid);
  b.u16(packetId);
  b.end();
}
