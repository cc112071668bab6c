/**
 * Compaction: a fresh file holding a snapshot of the state followed by the log records appended meanwhile, put in
 * the old file's place crash-safely (written to `<file>.new`, fdatasync'ed, renamed over the file, directory
 * fsync'ed). Until the rename the old file is whole, and from it on the new one is.
 *
 * The snapshot is written in slices over several turns of the event loop while clients go on changing the state, so
 * it is fuzzy: each session is written as it is when its slice runs. That is enough because every record appended
 * from the moment the snapshot began (`from`) is copied after it, and records are blind writes by key: replaying a
 * change the snapshot already holds gives the same state (see records.ts). Those records are read back from the old
 * file, not kept in memory; the writer is paused only for the last few of them, the sync and the rename.
 */
import type { Msg } from '../core/message.js';
import type { Session } from '../core/session.js';
import { closeFile, openFile, readAt, removeFile, renameFile, syncData, syncDirOf, writeAt } from './files.js';
import type { LogWriter } from './log-writer.js';
import { writeOut, writeRetain, writeSession, writeSub, writeInbound } from './record-writers.js';
import { R, RecordBuffer, fileHeader } from './records.js';

/** Bytes of snapshot encoded before they are written and the event loop gets a turn. */
const SLICE_BYTES = 1024 * 1024;
/** Records copied from the old file with the writer still running until fewer than this many bytes are left. */
const COPY_CHUNK = 1024 * 1024;

/** What a snapshot reads of the store. */
export interface SnapshotSource {
  /** The sessions the store keeps, and the retained messages, as they are when the snapshot begins. */
  sessions(): Session[];
  retained(): Msg[];
  /** When offline `session` ends (0: connected, or never). */
  expiresAt(session: Session): number;
  /** Is `session` still one the store keeps (not ended since the snapshot began)? */
  keeps(session: Session): boolean;
  /** Write `m`'s record into `b` unless the current generation of the file has it. */
  ensureMsg(b: RecordBuffer, m: Msg): void;
}

export interface SnapshotResult {
  fd: number;
  /** Size of the new file. */
  bytes: number;
  /** Bytes of it that are the snapshot (the rest: records copied from the old file). */
  snapshotBytes: number;
}

/**
 * Write the new file. With a writer (a running broker), the records it appended from offset `from` of `oldFd` on are
 * copied after the snapshot, and the writer continues in the new file. Without one (at start), the new file is the
 * snapshot alone. The caller bumped the generation before calling, so messages are written anew.
 */
export async function writeSnapshot(
  path: string,
  source: SnapshotSource,
  writer: { log: LogWriter; oldFd: number; from: number } | null,
): Promise<SnapshotResult> {
  const temp = `${path}.new`;
  // Readable by its owner only, as Mosquitto's database: it holds the messages.
  const fd = await openFile(temp, 'w+', 0o600);
  let renamed = false;
  let paused = false;
  let pos = 0;
  try {
    const header = fileHeader();
    await writeAt(fd, header, 0, header.length, 0);
    pos = header.length;

    const b = new RecordBuffer(SLICE_BYTES + 64 * 1024);
    const flush = async (): Promise<void> => {
      if (b.length === 0) return;
      b.commit();
      await writeAt(fd, b.buf, 0, b.length, pos);
      pos += b.length;
      b.reset();
    };
    for (const session of source.sessions()) {
      if (!source.keeps(session)) continue;
      writeSessionState(b, source, session);
      if (b.length >= SLICE_BYTES) await flush();
    }
    for (const m of source.retained()) {
      if (m.pLen === 0 || m.topic.startsWith('$SYS')) continue;
      source.ensureMsg(b, m);
      writeRetain(b, m.storeId);
      if (b.length >= SLICE_BYTES) await flush();
    }
    await flush();
    const snapshotBytes = pos;

    if (writer !== null) {
      // The records appended since the snapshot began: most of them while the writer goes on, the rest paused.
      let copied = writer.from;
      const copy = async (upTo: number): Promise<void> => {
        while (copied < upTo) {
          const n = await readAt(writer.oldFd, b.buf, 0, Math.min(COPY_CHUNK, upTo - copied), copied);
          if (n === 0) throw Object.assign(new Error('the log ended early'), { code: 'EIO' });
          await writeAt(fd, b.buf, 0, n, pos);
          pos += n;
          copied += n;
        }
      };
      while (writer.log.written - copied > COPY_CHUNK) await copy(writer.log.written);
      await writer.log.pause();
      paused = true;
      await copy(writer.log.written);
    }
    await syncData(fd);
    await renameFile(temp, path);
    renamed = true;
    await syncDirOf(path);
    if (writer !== null) {
      writer.log.switchFile(fd, pos);
      writer.log.resume();
      paused = false;
      await closeFile(writer.oldFd);
    }
    return { fd, bytes: pos, snapshotBytes };
  } catch (err) {
    if (!renamed) {
      await closeFile(fd);
      await removeFile(temp);
      if (paused) writer!.log.resume();
    } else if (writer !== null) {
      // Renamed, but the directory sync failed: the new file is the file now, so the log goes on in it.
      writer.log.switchFile(fd, pos);
      writer.log.resume();
      await closeFile(writer.oldFd);
    } else {
      await closeFile(fd);
    }
    throw err;
  }
}

/** One session: its record, subscriptions, incoming QoS 2 packet ids, and deliveries with their messages. */
function writeSessionState(b: RecordBuffer, source: SnapshotSource, s: Session): void {
  writeSession(b, s, source.expiresAt(s));
  const sid = s.storeId;
  for (const sub of s.subList()) writeSub(b, sid, sub);
  for (const id of s.inboundList()) writeInbound(b, R.InAdd, sid, id);
  for (const out of s.inflight.values()) {
    if (out.storeId === 0) continue;
    source.ensureMsg(b, out.msg);
    writeOut(b, sid, out);
  }
  for (const out of s.queuedList()) {
    if (out.storeId === 0) continue;
    source.ensureMsg(b, out.msg);
    writeOut(b, sid, out);
  }
}
