/**
 * Reading the persistence file back: the header is checked (a file of another format names itself and stops the
 * start), then records are replayed in order into an image of the state. The first record that is cut short, fails
 * its CRC or does not decode ends the replay: it and everything after it are dropped, and the caller logs where and
 * why. A crash can only leave such a tail (records are appended, and a batch is acknowledged once written), so what
 * comes before it is a state the broker was in.
 */
import { describeError, closeFile, fileSize, openFile, readAt } from './files.js';
import { crc32 } from './crc32.js';
import {
  FORMAT_VERSION,
  HEADER_BYTES,
  MAGIC,
  MAX_BODY,
  MOSQUITTO_MAGIC,
  RECORD_HEAD,
  R,
  RecordError,
  decodeRecord,
  type MsgRecord,
  type OutRecord,
  type SessionRecord,
  type SubRecord,
  type StoreRecord,
} from './records.js';

export interface SessionImage {
  record: SessionRecord;
  subs: Map<string, SubRecord>;
  inbound: Set<number>;
}

export interface Image {
  sessions: Map<number, SessionImage>;
  /** Deliveries by their id; replaying in id order gives each session's queue in order. */
  outs: Map<number, OutRecord>;
  msgs: Map<number, MsgRecord>;
  /** Retained messages by topic. */
  retained: Map<string, number>;
  maxSid: number;
  maxOid: number;
  maxMid: number;
  records: number;
}

/** What reading found: the image, the file's size, and the dropped tail when there was one. */
export interface ReadResult {
  image: Image;
  exists: boolean;
  fileBytes: number;
  /** Bytes of good records (the header included). */
  goodBytes: number;
  dropped: { offset: number; bytes: number; reason: string } | null;
}

/** The file cannot be used at all: another format, or unreadable. The broker does not start. */
export class PersistenceFileError extends Error {
  readonly code = 'PERSISTENCE_FILE';
}

const CHUNK = 1024 * 1024;

export function emptyImage(): Image {
  return { sessions: new Map(), outs: new Map(), msgs: new Map(), retained: new Map(), maxSid: 0, maxOid: 0, maxMid: 0, records: 0 };
}

export async function readStoreFile(path: string): Promise<ReadResult> {
  let fd: number;
  try {
    fd = await openFile(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { image: emptyImage(), exists: false, fileBytes: 0, goodBytes: 0, dropped: null };
    }
    throw new PersistenceFileError(`cannot read persistence file ${path}: ${describeError(err)}`);
  }
  try {
    return await readFrom(fd, path);
  } finally {
    await closeFile(fd);
  }
}

async function readFrom(fd: number, path: string): Promise<ReadResult> {
  const image = emptyImage();
  let buf = Buffer.allocUnsafe(CHUNK);
  let have = 0;
  /** File offset of buf[0]. */
  let base = 0;
  let eof = false;
  const fill = async (): Promise<void> => {
    while (!eof && have < buf.length) {
      let n: number;
      try {
        n = await readAt(fd, buf, have, buf.length - have, base + have);
      } catch (err) {
        throw new PersistenceFileError(`cannot read persistence file ${path}: ${describeError(err)}`);
      }
      if (n === 0) eof = true;
      have += n;
    }
  };
  await fill();
  const result = (goodBytes: number, dropped: ReadResult['dropped']): ReadResult => ({
    image,
    exists: true,
    fileBytes: dropped === null ? goodBytes : dropped.offset + dropped.bytes,
    goodBytes,
    dropped,
  });

  if (have === 0) return result(0, null);
  checkHeader(buf, have, path);
  if (have < HEADER_BYTES) return result(0, { offset: 0, bytes: have, reason: 'the header is cut short' });

  let p = HEADER_BYTES;
  /** The records of the batch being read, applied once its Commit is read; where that batch began. */
  let batch: StoreRecord[] = [];
  let batchAt = HEADER_BYTES;
  const cut = async (reason: string): Promise<ReadResult> => {
    return result(batchAt, await tail(fd, batchAt, reason));
  };
  for (;;) {
    if (!eof) {
      // Have the whole next record in the buffer, when the file has it: move what is left to the front (into a
      // bigger buffer for a record larger than this one) and read on.
      const need = have - p >= RECORD_HEAD ? RECORD_HEAD + buf.readUInt32LE(p) : RECORD_HEAD;
      if (have - p < need && need <= RECORD_HEAD + MAX_BODY) {
        const next = need > buf.length ? Buffer.allocUnsafe(need) : buf;
        buf.copy(next, 0, p, have);
        buf = next;
        base += p;
        have -= p;
        p = 0;
        await fill();
        continue;
      }
    }
    const offset = base + p;
    const left = have - p;
    if (left === 0) return batch.length === 0 ? result(offset, null) : cut('the last batch has no end');
    if (left < RECORD_HEAD) return cut(`a record header at offset ${offset} is cut short`);
    const len = buf.readUInt32LE(p);
    if (len === 0 || len > MAX_BODY) return cut(`a record at offset ${offset} announces ${len} bytes`);
    if (RECORD_HEAD + len > left) return cut(`a record of ${len} bytes at offset ${offset} is cut short`);
    const body = p + RECORD_HEAD;
    if (crc32(buf, body, body + len) !== buf.readUInt32LE(p + 4)) return cut(`a record at offset ${offset} fails its CRC`);
    let r: StoreRecord;
    try {
      r = decodeRecord(buf, body, body + len);
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      return cut(`a record at offset ${offset} does not decode: ${err.message}`);
    }
    p = body + len;
    if (r.type === R.Commit) {
      for (const each of batch) apply(image, each);
      image.records += batch.length;
      batch = [];
      batchAt = base + p;
    } else {
      batch.push(r);
    }
  }
}

/** The dropped part: from `offset` to the end of the file. */
async function tail(fd: number, offset: number, reason: string): Promise<{ offset: number; bytes: number; reason: string }> {
  const size = await fileSize(fd);
  return { offset, bytes: Math.max(0, size - offset), reason };
}

function checkHeader(buf: Buffer, have: number, path: string): void {
  const n = Math.min(have, HEADER_BYTES);
  if (have >= MOSQUITTO_MAGIC.length && buf.subarray(0, MOSQUITTO_MAGIC.length).equals(MOSQUITTO_MAGIC)) {
    const version = have >= 23 ? ` (its format version ${buf.readUInt32BE(19)})` : '';
    throw new PersistenceFileError(
      `persistence file ${path} is a Mosquitto database${version}, which the mqbench broker cannot read: ` +
        'move it away, or set persistence_file or persistence_location to another file',
    );
  }
  const magic = Math.min(n, MAGIC.length);
  if (!buf.subarray(0, magic).equals(MAGIC.subarray(0, magic))) {
    const shown = JSON.stringify(buf.toString('latin1', 0, Math.min(have, 16)));
    throw new PersistenceFileError(
      `persistence file ${path} is not an mqbench persistence file (it begins with ${shown}): ` +
        'move it away, or set persistence_file or persistence_location to another file',
    );
  }
  if (have > MAGIC.length && buf[MAGIC.length] !== FORMAT_VERSION) {
    throw new PersistenceFileError(
      `persistence file ${path} has format version ${buf[MAGIC.length]}; this mqbench broker reads version ${FORMAT_VERSION}`,
    );
  }
}

/** Apply one record to the image: a blind write by key, so that applying it twice is harmless. */
export function apply(image: Image, r: StoreRecord): void {
  switch (r.type) {
    case R.Msg:
      image.msgs.set(r.mid, r);
      if (r.mid > image.maxMid) image.maxMid = r.mid;
      break;
    case R.Retain: {
      const m = image.msgs.get(r.mid);
      if (m !== undefined) image.retained.set(m.topic.toString('utf8'), r.mid);
      break;
    }
    case R.RetainClear:
      image.retained.delete(r.topic);
      break;
    case R.Session: {
      const s = image.sessions.get(r.sid);
      if (s !== undefined) s.record = r;
      else image.sessions.set(r.sid, { record: r, subs: new Map(), inbound: new Set() });
      if (r.sid > image.maxSid) image.maxSid = r.sid;
      break;
    }
    case R.SessionEnd:
      image.sessions.delete(r.sid);
      if (r.sid > image.maxSid) image.maxSid = r.sid;
      break;
    case R.Sub:
      image.sessions.get(r.sid)?.subs.set(r.key, r);
      break;
    case R.Unsub:
      image.sessions.get(r.sid)?.subs.delete(r.key);
      break;
    case R.Out:
      image.outs.set(r.oid, r);
      if (r.oid > image.maxOid) image.maxOid = r.oid;
      break;
    case R.OutSent: {
      const o = image.outs.get(r.oid);
      if (o !== undefined) o.packetId = r.packetId;
      break;
    }
    case R.OutReleased: {
      const o = image.outs.get(r.oid);
      if (o !== undefined) o.state = 1;
      break;
    }
    case R.OutDone:
      image.outs.delete(r.oid);
      break;
    case R.InAdd:
      image.sessions.get(r.sid)?.inbound.add(r.packetId);
      break;
    case R.InDel:
      image.sessions.get(r.sid)?.inbound.delete(r.packetId);
      break;
    case R.Commit:
      break;
  }
}
