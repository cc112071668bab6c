/**
 * The persistent store: what the core reports (core/durable.ts) becomes records in the log (log-writer.ts); the file
 * is read back and restored at start (replay.ts, restore.ts) and compacted now and then (snapshot.ts). Kept: retained
 * messages (but `$SYS`, as Mosquitto), and the sessions that outlive their connections with their subscriptions,
 * deliveries queued and in flight, and incoming QoS 2 packet ids awaiting PUBREL.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Core } from '../core/core.js';
import type { Durable, DurableWatcher } from '../core/durable.js';
import type { Msg } from '../core/message.js';
import { NEVER, type Outgoing, type Session, type Subscription } from '../core/session.js';
import type { Log } from '../log.js';
import type { PersistenceOptions } from '../options.js';
import { closeFile, describeError, removeFile } from './files.js';
import { LogWriter } from './log-writer.js';
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
} from './record-writers.js';
import { R, type RecordBuffer } from './records.js';
import { PersistenceFileError, readStoreFile } from './replay.js';
import { restore } from './restore.js';
import { writeSnapshot, type SnapshotSource } from './snapshot.js';

/** The log is compacted once it holds this many bytes beyond the last snapshot, and twice the snapshot's size. */
export const COMPACT_MIN_BYTES = 64 * 1024 * 1024;
/** How often the time-based autosave is checked. */
const AUTOSAVE_CHECK_MS = 1_000;
/** Longest wait at shutdown for records to reach the disk; shorter while writes are failing. */
const SHUTDOWN_WAIT_MS = 10_000;
const SHUTDOWN_WAIT_FAILING_MS = 2_000;
/** A compaction that failed is not tried again sooner than this. */
const RETRY_COMPACT_MS = 10_000;

export { PersistenceFileError };

/** Figures for stats(). */
export interface PersistenceStats {
  path: string;
  fileBytes: number;
  bytesWritten: number;
  batches: number;
  compactions: number;
  /** Bytes of records waiting for the disk. */
  waitingBytes: number;
  /** The write error being retried, or null. */
  failing: string | null;
}

export class PersistentStore implements Durable, SnapshotSource {
  private writer: LogWriter | null = null;
  /** The file's generation: a message is written again in a new one (see ensureMsg). */
  private gen = 0;
  private nextSid = 1;
  private nextOid = 1;
  private nextMid = 1;
  private readonly watchers = new Set<DurableWatcher>();
  private drainWaiters: (() => void)[] = [];
  private readonly offlineUntil = new WeakMap<Session, number>();
  /** Subscription changes, retained messages and queued messages since the last compaction (autosave_on_changes). */
  private changes = 0;
  /** Size of the file right after the last compaction, and of its snapshot part. */
  private compactedBytes = 0;
  private snapshotBytes = 0;
  private compactedAt = Date.now();
  private compacting: Promise<void> | null = null;
  private compactAfter = 0;
  private compactions = 0;
  /** Records appended since the start (see Durable.appended). */
  appended = 0;
  private autosaveTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** A wait at shutdown ran out: later ones do not wait again. */
  private gaveUp = false;
  readonly path: string;

  private constructor(
    private readonly core: Core,
    private readonly options: PersistenceOptions,
    readonly log: Log,
  ) {
    this.path = resolve(options.location, options.file);
  }

  /**
   * Read the file (if any), restore its state into `core`, write it afresh, and attach the store to the core.
   * Throws PersistenceFileError with the reason when the file or its directory cannot be used.
   */
  static async open(core: Core, options: PersistenceOptions, log: Log): Promise<PersistentStore> {
    const store = new PersistentStore(core, options, log);
    await store.start();
    return store;
  }

  private async start(): Promise<void> {
    const path = this.path;
    const dir = resolve(this.options.location);
    let isDir: boolean;
    try {
      isDir = (await stat(dir)).isDirectory();
    } catch (err) {
      throw new PersistenceFileError(`persistence_location ${dir} cannot be used: ${describeError(err)}`);
    }
    if (!isDir) throw new PersistenceFileError(`persistence_location ${dir} is not a directory`);

    const read = await readStoreFile(path);
    const log = this.log;
    if (read.dropped !== null && log.warning) {
      const d = read.dropped;
      log.line(
        `Warning: persistence file ${path}: dropped ${d.bytes} byte${d.bytes === 1 ? '' : 's'} from offset ${d.offset} ` +
          `(${d.reason}); the state recorded before it was restored.`,
      );
    } else if (read.exists && read.fileBytes === 0 && log.warning) {
      log.line(`Warning: persistence file ${path} is empty; starting with no saved state.`);
    }
    const image = read.image;
    this.nextSid = image.maxSid + 1;
    this.nextOid = image.maxOid + 1;
    this.nextMid = image.maxMid + 1;
    this.gen = 1;
    const restored = restore(this.core, image, this.gen, Date.now());
    for (const session of this.core.sessions.values()) {
      session.durable = this;
      this.offlineUntil.set(session, restored.deadlines.get(session) ?? 0);
    }
    if (read.exists && log.notice) {
      log.line(
        `Restored ${restored.sessions} session${restored.sessions === 1 ? '' : 's'} (${restored.subscriptions} ` +
          `subscription${restored.subscriptions === 1 ? '' : 's'}, ${restored.deliveries} message${restored.deliveries === 1 ? '' : 's'} ` +
          `queued or in flight) and ${restored.retained} retained message${restored.retained === 1 ? '' : 's'} from ${path}` +
          (restored.expired > 0 ? `; ${restored.expired} session${restored.expired === 1 ? '' : 's'} expired while the broker was down` : '') +
          (restored.inconsistent > 0 ? `; ${restored.inconsistent} inconsistent record${restored.inconsistent === 1 ? '' : 's'} left out` : '') +
          '.',
      );
    }

    // A fresh file from the restored state: the log starts empty, a torn tail is gone, and the directory is known
    // to be writable before any client connects.
    await removeFile(`${path}.new`);
    this.gen++;
    let snap;
    try {
      snap = await writeSnapshot(path, this, null);
    } catch (err) {
      throw new PersistenceFileError(`cannot write persistence file ${path} in persistence_location ${dir}: ${describeError(err)}`);
    }
    this.compactedBytes = snap.bytes;
    this.snapshotBytes = snap.snapshotBytes;
    this.compactedAt = Date.now();
    this.writer = new LogWriter(snap.fd, snap.bytes, this.options.fsync, path, this);
    this.core.durable = this;
    this.autosaveTimer = setInterval(this.checkAutosave, AUTOSAVE_CHECK_MS);
    this.autosaveTimer.unref();
  }

  // ---- Durable: what the core reports --------------------------------------------------------------------

  sessionChanged(session: Session): void {
    if (session.expiryInterval === 0) {
      if (session.storeId !== 0) this.sessionEnded(session);
      return;
    }
    if (session.storeId === 0) {
      session.storeId = this.nextSid++;
      session.durable = this;
    }
    let until = 0;
    if (session.conn === null && session.expiryInterval !== NEVER) until = Date.now() + session.expiryInterval * 1000;
    this.offlineUntil.set(session, until);
    writeSession(this.records(), session, until);
  }

  sessionEnded(session: Session): void {
    if (session.storeId === 0) return;
    writeSessionEnd(this.records(), session.storeId);
    session.durable = null;
    session.storeId = 0;
  }

  retainChanged(msg: Msg): void {
    if (msg.topic.startsWith('$SYS')) return;
    this.changes++;
    if (msg.pLen === 0) {
      writeRetainClear(this.records(), msg.topic);
      return;
    }
    const b = this.records();
    this.ensureMsg(b, msg);
    writeRetain(b, msg.storeId);
  }

  subscribed(session: Session, sub: Subscription): void {
    this.changes++;
    writeSub(this.records(), session.storeId, sub);
  }

  unsubscribed(session: Session, key: string): void {
    this.changes++;
    writeUnsub(this.records(), session.storeId, key);
  }

  outgoingAdded(session: Session, out: Outgoing): void {
    this.changes++;
    const b = this.records();
    this.ensureMsg(b, out.msg);
    out.storeId = this.nextOid++;
    writeOut(b, session.storeId, out);
  }

  outgoingSent(out: Outgoing): void {
    writeOutSent(this.records(), out);
  }

  outgoingReleased(out: Outgoing): void {
    writeOutStep(this.records(), R.OutReleased, out.storeId);
  }

  outgoingDone(out: Outgoing): void {
    if (out.storeId !== 0) writeOutStep(this.records(), R.OutDone, out.storeId);
  }

  inboundAdded(session: Session, packetId: number): void {
    writeInbound(this.records(), R.InAdd, session.storeId, packetId);
  }

  inboundReleased(session: Session, packetId: number): void {
    writeInbound(this.records(), R.InDel, session.storeId, packetId);
  }

  pendingBatch(): number {
    return this.writer === null ? 0 : this.writer.pendingBatch();
  }

  watch(w: DurableWatcher): void {
    this.watchers.add(w);
  }

  unwatch(w: DurableWatcher): void {
    this.watchers.delete(w);
  }

  get congested(): boolean {
    return this.writer !== null && this.writer.congested;
  }

  whenDrained(resume: () => void): void {
    this.drainWaiters.push(resume);
  }

  // ---- from the log writer --------------------------------------------------------------------------------

  durable(batch: number): void {
    for (const w of this.watchers) {
      try {
        w.durable(batch);
      } catch (err) {
        this.core.fault(null, err, 'releasing output after a write');
      }
    }
    this.maybeCompact();
  }

  drained(): void {
    if (this.drainWaiters.length === 0 || this.congested) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resume of waiters) {
      try {
        resume();
      } catch (err) {
        this.core.fault(null, err, 'resuming a client after a write');
      }
    }
  }

  // ---- SnapshotSource -------------------------------------------------------------------------------------

  sessions(): Session[] {
    const out: Session[] = [];
    for (const s of this.core.sessions.values()) if (s.durable === this) out.push(s);
    return out;
  }

  retained(): Msg[] {
    return this.core.retained.list();
  }

  expiresAt(session: Session): number {
    return this.offlineUntil.get(session) ?? 0;
  }

  keeps(session: Session): boolean {
    return session.durable === this && !session.ended;
  }

  /** A message is written once per file generation, before the first record that refers to it. */
  ensureMsg(b: RecordBuffer, m: Msg): void {
    if (m.storeGen === this.gen) return;
    if (m.storeId === 0) m.storeId = this.nextMid++;
    m.storeGen = this.gen;
    writeMsg(b, m);
  }

  // ---- compaction ------------------------------------------------------------------------------------------

  private records(): RecordBuffer {
    this.appended++;
    return this.writer!.records();
  }

  private readonly checkAutosave = (): void => {
    const o = this.options;
    if (o.autosaveOnChanges || o.autosaveInterval === 0 || this.writer === null) return;
    if (Date.now() - this.compactedAt >= o.autosaveInterval * 1000 && this.grown() > 0) this.compactSoon();
  };

  private grown(): number {
    return this.writer === null ? 0 : this.writer.written + this.writer.waitingBytes - this.compactedBytes;
  }

  private maybeCompact(): void {
    if (this.compacting !== null || this.closed) return;
    const o = this.options;
    const bySize = this.grown() >= Math.max(COMPACT_MIN_BYTES, 2 * this.snapshotBytes);
    const byChanges = o.autosaveOnChanges && o.autosaveInterval > 0 && this.changes >= o.autosaveInterval;
    if (bySize || byChanges) this.compactSoon();
  }

  private compactSoon(): void {
    if (this.compacting !== null || this.closed || Date.now() < this.compactAfter) return;
    this.compacting = this.compact().finally(() => (this.compacting = null));
  }

  /** A fresh file: the snapshot, then the records appended meanwhile. Failures are logged; the old file stays. */
  private async compact(): Promise<void> {
    const writer = this.writer!;
    if (this.log.info) this.log.line(`Saving in-memory database to ${this.path}.`);
    this.gen++;
    this.changes = 0;
    const from = writer.end;
    try {
      const snap = await writeSnapshot(this.path, this, { log: writer, oldFd: writer.fileDescriptor, from });
      this.compactedBytes = snap.bytes;
      this.snapshotBytes = snap.snapshotBytes;
      this.compactedAt = Date.now();
      this.compactions++;
    } catch (err) {
      this.compactAfter = Date.now() + RETRY_COMPACT_MS;
      if (this.log.error) this.log.line(`Error saving in-memory database to ${this.path}: ${describeError(err)}.`);
    }
  }

  // ---- shutdown -------------------------------------------------------------------------------------------

  /** Resolves once every record appended so far is durable (or after SHUTDOWN_WAIT_MS, logged). */
  async settle(): Promise<void> {
    const writer = this.writer;
    if (writer === null || this.gaveUp) return;
    let timer: NodeJS.Timeout | undefined;
    const wait = writer.failing === null ? SHUTDOWN_WAIT_MS : SHUTDOWN_WAIT_FAILING_MS;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), wait)));
    const timedOut = await Promise.race([writer.settle().then(() => false), late]);
    clearTimeout(timer);
    if (timedOut) this.gaveUp = true;
    if (timedOut && this.log.error) {
      this.log.line(
        `Error: ${writer.waitingBytes} bytes of persistence records could not be written to ${this.path} ` +
          `(${writer.failing ?? 'the disk did not answer'}); they are lost.`,
      );
    }
  }

  /** At shutdown: everything to disk, a last compaction when the log grew (as Mosquitto saves at exit), closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.autosaveTimer) clearInterval(this.autosaveTimer);
    if (this.compacting !== null) await this.compacting;
    await this.settle();
    const writer = this.writer;
    if (writer !== null && writer.failing === null && this.grown() > 0) {
      this.compactAfter = 0;
      this.compactSoon();
      if (this.compacting !== null) await this.compacting;
    }
    this.closed = true;
    if (writer !== null) {
      writer.close();
      await closeFile(writer.fileDescriptor);
    }
    this.core.durable = null;
  }

  stats(): PersistenceStats {
    const w = this.writer;
    return {
      path: this.path,
      fileBytes: w === null ? 0 : w.written,
      bytesWritten: w === null ? 0 : w.bytesWritten,
      batches: w === null ? 0 : w.batchesWritten,
      compactions: this.compactions,
      waitingBytes: w === null ? 0 : w.waitingBytes,
      failing: w === null ? null : w.failing,
    };
  }
}
