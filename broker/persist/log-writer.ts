/**
 * The append-only log with group commit. Records are encoded into the pending buffer as the core changes state; once
 * per turn of the event loop (or as soon as the previous batch is done) the pending buffer becomes a batch, written
 * at the end of the file with positional writes and, under `persistence_fsync batch`, fdatasync'ed. Only then is the
 * batch reported durable: the output waiting for it (acknowledgements, see output-gate.ts) leaves, one batch at a
 * time, while the next batch fills. Nothing here blocks the event loop: the writes and syncs run on libuv's pool.
 *
 * A failed write or sync (a full disk, an I/O error) is logged once, and the same batch is written again from memory
 * at the same place after a pause, as often as it takes: acknowledgements keep waiting meanwhile, and the pending
 * buffer's bound holds the publishers back. (Writing the batch again matters after a failed fsync, which may have
 * dropped the pages it could not write.)
 */
import { fdatasync, write } from 'node:fs';
import type { Log } from '../log.js';
import type { FsyncPolicy } from '../options.js';
import { describeError } from './files.js';
import { RecordBuffer } from './records.js';

/** Bytes of records waiting for the disk beyond which clients adding records are held back (see connection.ts). */
export const PENDING_LIMIT = 32 * 1024 * 1024;
const FIRST_BUFFER = 256 * 1024;
/** A buffer that grew beyond this for a burst is not kept once its batch is written. */
const KEEP_BUFFER = 4 * 1024 * 1024;
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

export interface LogWriterHost {
  readonly log: Log;
  /** Every batch up to `batch` is on disk (or handed to the system, as the policy says). */
  durable(batch: number): void;
  /** The pending buffer is below PENDING_LIMIT again. */
  drained(): void;
}

export class LogWriter {
  /** Records appended since the last batch started. */
  private pending = new RecordBuffer(FIRST_BUFFER);
  /** The batch being written, kept until it is durable (a failed write is retried from it). */
  private batch: RecordBuffer | null = null;
  private spare: RecordBuffer | null = new RecordBuffer(FIRST_BUFFER);
  /** Number of the batch the pending records will go out in. */
  private nextBatch = 1;
  private batchNumber = 0;
  durableBatch = 0;
  private scheduled = false;
  private paused = false;
  private idle: (() => void) | null = null;
  private waiters: { batch: number; done: () => void }[] = [];
  /** The error of the current failure episode, logged once; null while writes succeed. */
  private failure: string | null = null;
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Bytes and batches written (for stats). */
  bytesWritten = 0;
  batchesWritten = 0;

  constructor(
    private fd: number,
    /** File offset where the next batch goes. */
    private pos: number,
    private readonly policy: FsyncPolicy,
    private readonly path: string,
    private readonly host: LogWriterHost,
  ) {}

  /** The buffer to append records to; the writer sends them out in the next batch. */
  records(): RecordBuffer {
    if (!this.scheduled && this.batch === null && !this.paused) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return this.pending;
  }

  /** The batch output depending on what was appended so far waits for; 0 when nothing does (or `never`). */
  pendingBatch(): number {
    if (this.policy === 'never') return 0;
    if (this.pending.length > 0) return this.nextBatch;
    return this.batch !== null ? this.batchNumber : 0;
  }

  get congested(): boolean {
    return this.pending.length > PENDING_LIMIT;
  }

  /** Bytes waiting: pending and being written. */
  get waitingBytes(): number {
    return this.pending.length + (this.batch !== null ? this.batch.length : 0);
  }

  /** File offset after the batch in flight: where records appended from now on will be written. */
  get end(): number {
    return this.pos + (this.batch !== null ? this.batch.length : 0);
  }

  /** File offset after the last batch written. */
  get written(): number {
    return this.pos;
  }

  get failing(): string | null {
    return this.failure;
  }

  /** Resolves once everything appended so far is durable. */
  settle(): Promise<void> {
    const target = this.pending.length > 0 ? this.nextBatch : this.batch !== null ? this.batchNumber : 0;
    if (target <= this.durableBatch) return Promise.resolve();
    if (!this.scheduled && this.batch === null && !this.paused) this.flush();
    return new Promise((resolve) => this.waiters.push({ batch: target, done: resolve }));
  }

  /** Stop starting batches (compaction is about to move the file); resolves once none is in flight. */
  pause(): Promise<void> {
    this.paused = true;
    if (this.batch === null) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  resume(): void {
    this.paused = false;
    if (this.pending.length > 0) this.flush();
  }

  /** Continue in another file (the compacted one), whose end is `pos`. */
  switchFile(fd: number, pos: number): void {
    this.fd = fd;
    this.pos = pos;
  }

  get fileDescriptor(): number {
    return this.fd;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.batch !== null || this.paused || this.closed || this.pending.length === 0) return;
    const batch = this.pending;
    batch.commit();
    this.pending = this.spare ?? new RecordBuffer(FIRST_BUFFER);
    this.spare = null;
    this.batch = batch;
    this.batchNumber = this.nextBatch++;
    // The pending buffer is empty again: clients held back for it may go on.
    this.host.drained();
    this.writeFrom(0);
  };

  private writeFrom(off: number): void {
    const batch = this.batch!;
    write(this.fd, batch.buf, off, batch.length - off, this.pos + off, (err, n) => {
      if (this.closed) return;
      if (err) this.fail(err, 'writing');
      else if (n === 0) this.fail(Object.assign(new Error('write wrote nothing'), { code: 'EIO' }), 'writing');
      else if (off + n < batch.length) this.writeFrom(off + n);
      else if (this.policy === 'batch') fdatasync(this.fd, this.synced);
      else this.done();
    });
  }

  private readonly synced = (err: NodeJS.ErrnoException | null): void => {
    if (this.closed) return;
    if (err) this.fail(err, 'syncing');
    else this.done();
  };

  private done(): void {
    const batch = this.batch!;
    this.pos += batch.length;
    this.bytesWritten += batch.length;
    this.batchesWritten++;
    this.durableBatch = this.batchNumber;
    this.batch = null;
    batch.reset();
    if (batch.buf.length <= KEEP_BUFFER) this.spare = batch;
    if (this.failure !== null) {
      if (this.host.log.notice) this.host.log.line(`Persistence file ${this.path} is being written again.`);
      this.failure = null;
      this.retryMs = RETRY_FIRST_MS;
    }
    this.host.durable(this.durableBatch);
    if (this.waiters.length > 0) this.wakeWaiters();
    if (this.paused) {
      const idle = this.idle;
      this.idle = null;
      idle?.();
    } else if (this.pending.length > 0) {
      // Group commit: everything appended while this batch was on its way goes in the next one, at once.
      this.flush();
    }
  }

  private wakeWaiters(): void {
    const still: { batch: number; done: () => void }[] = [];
    for (const w of this.waiters) {
      if (w.batch <= this.durableBatch) w.done();
      else still.push(w);
    }
    this.waiters = still;
  }

  private fail(err: NodeJS.ErrnoException, doing: string): void {
    const why = describeError(err);
    if (this.failure !== why) {
      this.failure = why;
      if (this.host.log.error) {
        this.host.log.line(
          `Error: ${doing} persistence file ${this.path} failed: ${why}. Acknowledgements wait; retrying.`,
        );
      }
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) this.writeFrom(0);
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}
