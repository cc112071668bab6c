/**
 * The persistence file's records: each written from the core's objects and read back field for field, the CRC
 * against zlib's, and the blind-write replay that compaction relies on (a record applied twice changes nothing).
 */
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeMessage } from '../../../broker/core/message.js';
import { Outgoing, Session, newSubscription } from '../../../broker/core/session.js';
import { crc32 } from '../../../broker/persist/crc32.js';
import {
  writeInbound,
  writeMsg,
  writeOut,
  writeOutSent,
  writeOutStep,
  writeRetain,
  writeRetainClear,
  writeSession,
  writeSessionEnd,
  writeSub,
  writeUnsub,
} from '../../../broker/persist/record-writers.js';
import { R, RECORD_HEAD, RecordBuffer, RecordError, decodeRecord, type StoreRecord } from '../../../broker/persist/records.js';
import { apply, emptyImage } from '../../../broker/persist/replay.js';
import { propertyParams } from '../../helpers/property.js';

/** Every record in `b`, checking each one's length and CRC on the way. */
function readAll(b: RecordBuffer): StoreRecord[] {
  const out: StoreRecord[] = [];
  let p = 0;
  while (p < b.length) {
    const len = b.buf.readUInt32LE(p);
    const body = p + RECORD_HEAD;
    expect(b.buf.readUInt32LE(p + 4)).toBe(zlib.crc32(b.buf.subarray(body, body + len)));
    out.push(decodeRecord(b.buf, body, body + len));
    p = body + len;
  }
  expect(p).toBe(b.length);
  return out;
}

describe('persistence records', () => {
  it('reads back every kind of record as written, numbers at their limits included', () => {
    const b = new RecordBuffer(16);
    const props = Buffer.from([0x01, 0x01, 0x03, 0x00, 0x02, 0x61, 0x62]);
    const m = makeMessage('a/ü/€', Buffer.from('payload'), 2, true, props, 1_799_999_999_123, null);
    m.storeId = 2 ** 48 - 1;
    writeMsg(b, m);
    const plain = makeMessage('t', Buffer.alloc(0), 1, false, null, 0, null);
    plain.storeId = 1;
    writeMsg(b, plain);
    writeRetain(b, 123_456_789_012);
    writeRetainClear(b, 'gone/ü');
    const s = new Session('client-ü');
    s.storeId = 0xffff_ffff;
    s.expiryInterval = 0xffff_ffff;
    s.protocolVersion = 5;
    writeSession(b, s, 1_799_999_999_999);
    writeSessionEnd(b, 7);
    const sub = newSubscription(s, '$share/g/x/#', { group: 'g', filter: 'x/#' }, { qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 2 }, 268_435_455);
    writeSub(b, 9, sub);
    writeUnsub(b, 9, 'x/+');
    const out = new Outgoing(m, 2, true, [1, 268_435_455]);
    out.storeId = 2 ** 40 + 5;
    out.packetId = 65535;
    out.state = 1;
    writeOut(b, 9, out);
    writeOutSent(b, out);
    writeOutStep(b, R.OutReleased, 3);
    writeOutStep(b, R.OutDone, 4);
    writeInbound(b, R.InAdd, 9, 65535);
    writeInbound(b, R.InDel, 9, 1);
    b.commit();
    const records = readAll(b);
    expect(records.map((r) => r.type)).toEqual([1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(records[0]).toEqual({
      type: R.Msg,
      mid: 2 ** 48 - 1,
      qos: 2,
      retain: true,
      expiryAt: 1_799_999_999_123,
      topic: Buffer.from('a/ü/€'),
      props,
      payload: Buffer.from('payload'),
    });
    expect(records[1]).toMatchObject({ mid: 1, qos: 1, retain: false, expiryAt: 0, payload: Buffer.alloc(0) });
    expect(records[2]).toEqual({ type: R.Retain, mid: 123_456_789_012 });
    expect(records[3]).toEqual({ type: R.RetainClear, topic: 'gone/ü' });
    expect(records[4]).toEqual({
      type: R.Session,
      sid: 0xffff_ffff,
      expiryInterval: 0xffff_ffff,
      protocolVersion: 5,
      expiresAt: 1_799_999_999_999,
      clientId: 'client-ü',
    });
    expect(records[6]).toEqual({
      type: R.Sub,
      sid: 9,
      key: '$share/g/x/#',
      qos: 2,
      noLocal: false,
      retainAsPublished: true,
      retainHandling: 2,
      subId: 268_435_455,
    });
    expect(records[8]).toEqual({
      type: R.Out,
      sid: 9,
      oid: 2 ** 40 + 5,
      mid: 2 ** 48 - 1,
      qos: 2,
      retain: true,
      state: 1,
      packetId: 65535,
      subIds: [1, 268_435_455],
    });
    expect(records[9]).toEqual({ type: R.OutSent, oid: 2 ** 40 + 5, packetId: 65535 });
    expect(records[12]).toEqual({ type: R.InAdd, sid: 9, packetId: 65535 });
  });

  it('refuses a body whose fields do not fit it, and an unknown type', () => {
    const b = new RecordBuffer();
    writeSessionEnd(b, 1);
    const body = b.buf.subarray(RECORD_HEAD, b.length);
    expect(() => decodeRecord(body, 0, body.length - 1)).toThrow(RecordError);
    expect(() => decodeRecord(Buffer.concat([body, Buffer.from([0])]), 0, body.length + 1)).toThrow(/longer than its fields/);
    expect(() => decodeRecord(Buffer.from([99]), 0, 1)).toThrow(/unknown record type 99/);
  });

  it('computes the CRC-32 zlib computes, over any range, short or long', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.nat(), (bytes, a, z) => {
        const buf = Buffer.from(bytes);
        const start = buf.length === 0 ? 0 : a % buf.length;
        const end = start + (buf.length - start === 0 ? 0 : z % (buf.length - start + 1));
        expect(crc32(buf, start, end)).toBe(zlib.crc32(buf.subarray(start, end)));
      }),
      propertyParams({ numRuns: 300 }),
    );
  });

  it('replays a record twice, or a change on top of a state that already has it, to the same state', () => {
    const b = new RecordBuffer();
    const m = makeMessage('r', Buffer.from('x'), 1, true, null, 0, null);
    m.storeId = 5;
    writeMsg(b, m);
    writeRetain(b, 5);
    const s = new Session('c');
    s.storeId = 3;
    s.expiryInterval = 60;
    writeSession(b, s, 0);
    const out = new Outgoing(m, 1, false, null);
    out.storeId = 8;
    writeOut(b, 3, out);
    writeOutSent(b, Object.assign(out, { packetId: 4 }));
    writeInbound(b, R.InAdd, 3, 9);
    writeOutStep(b, R.OutDone, 8);
    writeRetainClear(b, 'r');
    const records = readAll(b);
    const once = emptyImage();
    for (const r of records) apply(once, r);
    // The same changes again, from every starting point: what a fuzzy snapshot followed by the log gives.
    for (let from = 0; from < records.length; from++) {
      const twice = emptyImage();
      for (const r of records) apply(twice, r);
      for (const r of records.slice(from)) apply(twice, r);
      expect(twice).toEqual(once);
    }
    expect(once.outs.size).toBe(0);
    expect(once.retained.size).toBe(0);
    expect(once.sessions.get(3)?.inbound).toEqual(new Set([9]));
  });
});
