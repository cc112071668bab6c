/**
 * The persistence file's format: a 16-byte header, then records, each `[u32 body length][u32 CRC-32 of the body]
 * [body]`, the body starting with its type. Numbers are little-endian. RecordBuffer encodes records into one growing
 * buffer without allocating per record; decodeRecord reads one body back.
 *
 * Records are blind writes keyed by id (a session, a subscription, a delivery, a message, a retained topic), so that
 * replaying a record twice, or replaying changes on top of a snapshot that already holds some of them, gives the
 * same state: compaction (snapshot.ts) relies on it.
 */
import { crc32 } from './crc32.js';

/** "MQBENCH-DB\n", the format version, four reserved bytes. */
export const MAGIC = Buffer.from('MQBENCH-DB\n', 'latin1');
export const FORMAT_VERSION = 1;
export const HEADER_BYTES = 16;
/** Length and CRC before each body. */
export const RECORD_HEAD = 8;
/** A body longer than this is corruption: the largest message (256 MiB payload, 64 KiB topic and properties) fits. */
export const MAX_BODY = 268_435_455 + 262_144;

/** Mosquitto's own database files begin with these 15 bytes, then a CRC and the format version (big-endian u32s). */
export const MOSQUITTO_MAGIC = Buffer.from([0x00, 0xb5, 0x00, ...Buffer.from('mosquitto db', 'latin1')]);

export function fileHeader(): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(h, 0);
  h[MAGIC.length] = FORMAT_VERSION;
  return h;
}

export const R = {
  /** A message's content, written once however many deliveries and retained topics refer to it. */
  Msg: 1,
  Retain: 2,
  RetainClear: 3,
  Session: 4,
  SessionEnd: 5,
  Sub: 6,
  Unsub: 7,
  /** A delivery to a session: queued (packet id 0) or in flight. */
  Out: 8,
  OutSent: 9,
  OutReleased: 10,
  OutDone: 11,
  InAdd: 12,
  InDel: 13,
  /**
   * Ends a batch. Replay applies a batch's records only once it reads this: a batch cut short by a crash is dropped
   * whole (nothing in it was acknowledged), never applied in part.
   */
  Commit: 14,
} as const;

export type MsgRecord = {
  type: typeof R.Msg;
  mid: number;
  qos: number;
  retain: boolean;
  expiryAt: number;
  topic: Buffer;
  props: Buffer;
  payload: Buffer;
};
export type SessionRecord = {
  type: typeof R.Session;
  sid: number;
  expiryInterval: number;
  protocolVersion: number;
  /** When an offline session ends (Date.now() ms); 0 while it was connected, or never. */
  expiresAt: number;
  clientId: string;
};
export type SubRecord = {
  type: typeof R.Sub;
  sid: number;
  key: string;
  qos: number;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  subId: number;
};
export type OutRecord = {
  type: typeof R.Out;
  sid: number;
  oid: number;
  mid: number;
  qos: number;
  retain: boolean;
  state: number;
  packetId: number;
  subIds: number[] | null;
};

export type StoreRecord =
  | MsgRecord
  | { type: typeof R.Retain; mid: number }
  | { type: typeof R.RetainClear; topic: string }
  | SessionRecord
  | { type: typeof R.SessionEnd; sid: number }
  | SubRecord
  | { type: typeof R.Unsub; sid: number; key: string }
  | OutRecord
  | { type: typeof R.OutSent; oid: number; packetId: number }
  | { type: typeof R.OutReleased; oid: number }
  | { type: typeof R.OutDone; oid: number }
  | { type: typeof R.InAdd; sid: number; packetId: number }
  | { type: typeof R.InDel; sid: number; packetId: number }
  | { type: typeof R.Commit };

const INITIAL_BYTES = 64 * 1024;

/** Records being encoded: `buf[0, length)`. The caller begins a record, writes its fields, and ends it. */
export class RecordBuffer {
  buf: Buffer;
  length = 0;
  /** Records encoded since the last reset. */
  count = 0;
  private start = 0;

  constructor(initial = INITIAL_BYTES) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  reset(): void {
    this.length = 0;
    this.count = 0;
  }

  /** Make room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  /** Start a record of `type` whose fields take at most `max` bytes. */
  begin(type: number, max: number): void {
    this.ensure(RECORD_HEAD + 1 + max);
    this.start = this.length;
    this.length += RECORD_HEAD;
    this.buf[this.length++] = type;
  }

  end(): void {
    const body = this.start + RECORD_HEAD;
    const end = this.length;
    this.length = this.start;
    this.u32(end - body);
    this.u32(crc32(this.buf, body, end));
    this.length = end;
    this.count++;
  }

  u8(v: number): void {
    this.buf[this.length++] = v;
  }

  // Byte by byte: these run several times per message, and Buffer's checked writers cost more than the bytes.
  u16(v: number): void {
    const b = this.buf;
    const p = this.length;
    b[p] = v;
    b[p + 1] = v >>> 8;
    this.length = p + 2;
  }

  u32(v: number): void {
    const b = this.buf;
    const p = this.length;
    b[p] = v;
    b[p + 1] = v >>> 8;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 24;
    this.length = p + 4;
  }

  /** An id below 2^48. */
  u48(v: number): void {
    const lo = v % 0x1_0000_0000;
    const hi = (v - lo) / 0x1_0000_0000;
    this.u32(lo);
    this.u16(hi);
  }

  f64(v: number): void {
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }

  bytes(src: Buffer, start: number, end: number): void {
    if (end - start > 96) {
      this.length += src.copy(this.buf, this.length, start, end);
      return;
    }
    // A topic or a small payload: a loop beats Buffer.copy's call overhead.
    const b = this.buf;
    let p = this.length;
    for (let i = start; i < end; i++) b[p++] = src[i];
    this.length = p;
  }

  /** A string to the end of the record (room: 3 bytes per UTF-16 unit, counted by the caller in `max`). */
  rest(text: string): void {
    this.length += this.buf.write(text, this.length, 'utf8');
  }

  /** End the records so far as one batch (see R.Commit). */
  commit(): void {
    this.begin(R.Commit, 0);
    this.end();
  }

  /** Append already encoded records. */
  append(src: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    this.length += src.copy(this.buf, this.length, start, end);
  }
}

/** Room a string takes at most in UTF-8. */
export function maxUtf8(text: string): number {
  return text.length * 3;
}

export class RecordError extends Error {}

/** Reads the fields of one body, checking that each lies within it. */
class Fields {
  p = 1;
  constructor(
    readonly b: Buffer,
    readonly end: number,
  ) {}

  need(n: number): number {
    const at = this.p;
    if (at + n > this.end) throw new RecordError('record shorter than its fields');
    this.p += n;
    return at;
  }

  u8(): number {
    return this.b[this.need(1)];
  }

  u16(): number {
    return this.b.readUInt16LE(this.need(2));
  }

  u32(): number {
    return this.b.readUInt32LE(this.need(4));
  }

  u48(): number {
    const at = this.need(6);
    return this.b.readUInt32LE(at) + this.b.readUInt16LE(at + 4) * 0x1_0000_0000;
  }

  f64(): number {
    return this.b.readDoubleLE(this.need(8));
  }

  /** `n` bytes, copied: the source is a read buffer that is reused. */
  copy(n: number): Buffer {
    const at = this.need(n);
    return Buffer.from(this.b.subarray(at, at + n));
  }

  restString(): string {
    const s = this.b.toString('utf8', this.p, this.end);
    this.p = this.end;
    return s;
  }

  restCopy(): Buffer {
    return this.copy(this.end - this.p);
  }

  done(): void {
    if (this.p !== this.end) throw new RecordError('record longer than its fields');
  }
}

/** The record whose body is `b[start, end)`. Throws RecordError when its fields do not fit its length. */
export function decodeRecord(b: Buffer, start: number, end: number): StoreRecord {
  const f = new Fields(b, end);
  f.p = start + 1;
  const type = b[start];
  let r: StoreRecord;
  switch (type) {
    case R.Msg: {
      const mid = f.u48();
      const flags = f.u8();
      const expiryAt = flags & 8 ? f.f64() : 0;
      const topic = f.copy(f.u16());
      const props = f.copy(f.u32());
      const payload = f.restCopy();
      r = { type, mid, qos: flags & 3, retain: (flags & 4) !== 0, expiryAt, topic, props, payload };
      break;
    }
    case R.Retain:
      r = { type, mid: f.u48() };
      break;
    case R.RetainClear:
      r = { type, topic: f.restString() };
      break;
    case R.Session: {
      const sid = f.u32();
      const expiryInterval = f.u32();
      const protocolVersion = f.u8();
      const expiresAt = f.f64();
      r = { type, sid, expiryInterval, protocolVersion, expiresAt, clientId: f.restString() };
      break;
    }
    case R.SessionEnd:
      r = { type, sid: f.u32() };
      break;
    case R.Sub: {
      const sid = f.u32();
      const flags = f.u8();
      const subId = f.u32();
      r = {
        type,
        sid,
        qos: flags & 3,
        noLocal: (flags & 4) !== 0,
        retainAsPublished: (flags & 8) !== 0,
        retainHandling: (flags >> 4) & 3,
        subId,
        key: f.restString(),
      };
      break;
    }
    case R.Unsub: {
      const sid = f.u32();
      r = { type, sid, key: f.restString() };
      break;
    }
    case R.Out: {
      const sid = f.u32();
      const oid = f.u48();
      const mid = f.u48();
      const flags = f.u8();
      const packetId = f.u16();
      const n = f.u16();
      let subIds: number[] | null = null;
      if (n > 0) {
        subIds = [];
        for (let i = 0; i < n; i++) subIds.push(f.u32());
      }
      r = { type, sid, oid, mid, qos: flags & 3, retain: (flags & 4) !== 0, state: (flags >> 3) & 1, packetId, subIds };
      break;
    }
    case R.OutSent: {
      const oid = f.u48();
      r = { type, oid, packetId: f.u16() };
      break;
    }
    case R.OutReleased:
    case R.OutDone:
      r = { type, oid: f.u48() };
      break;
    case R.InAdd:
    case R.InDel: {
      const sid = f.u32();
      r = { type, sid, packetId: f.u16() };
      break;
    }
    case R.Commit:
      r = { type };
      break;
    default:
      throw new RecordError(`unknown record type ${type}`);
  }
  f.done();
  return r;
}
