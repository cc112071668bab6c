/**
 * A connection's output held back until the state it acknowledges is on disk. The connection's batched writer writes
 * into the gate as into its socket. A packet that acknowledges recorded state (PUBACK, PUBREC, PUBREL, PUBCOMP,
 * CONNACK, SUBACK, UNSUBACK, a QoS 2 PUBLISH) first sets a mark: the byte it starts at in the connection's output, and
 * the batch of the log that has to be durable first. Bytes before the first pending mark go to the socket at once;
 * from there on everything is held, in order, and let go batch by batch as the log reports them durable. So one
 * client's acknowledgements wait only for the batch holding their records, and never for the next one, which fills
 * meanwhile; clients with nothing to wait for are not held at all.
 *
 * Marks are few (one per batch a connection waits for) and held bytes are pieces of the writer's slabs, not copies:
 * the gate reports them in writableLength, so the writer never hands such a slab back to its pool.
 */
import type { ByteSink } from '../../src/util/batch-writer.js';
import type { Durable, DurableWatcher } from '../core/durable.js';

export class OutputGate implements ByteSink, DurableWatcher {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Pending marks, oldest first: the batch each waits for and the output position it holds from. */
  private readonly markBatch: number[] = [];
  private readonly markPos: number[] = [];
  /** Bytes given to write() so far: the output position after them. */
  private written = 0;
  private endWhenReleased = false;
  private dropped = false;

  constructor(
    /** TCP, TLS or a WebSocket link: whatever the connection writes to. */
    private readonly socket: ByteSink & { end(): unknown; readonly writableEnded?: boolean; cork?(): void; uncork?(): void },
    private readonly store: Durable,
  ) {}

  get writableLength(): number {
    return this.socket.writableLength + this.heldBytes;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  /** Bytes given to write() so far: the output position after them. */
  get position(): number {
    return this.written;
  }

  /** Bytes held back now. */
  get holding(): number {
    return this.heldBytes;
  }

  write(data: Buffer): boolean {
    const start = this.written;
    this.written += data.length;
    if (this.dropped) return true;
    if (this.heldBytes === 0) {
      if (this.markBatch.length === 0 || this.markPos[0] >= this.written) return this.socket.write(data);
      const free = this.markPos[0] - start;
      if (free > 0) {
        this.socket.write(data.subarray(0, free));
        data = data.subarray(free);
      }
    }
    this.held.push(data);
    this.heldBytes += data.length;
    return true;
  }

  /** Output from position `pos` on waits for `batch` (the store's pendingBatch()). */
  mark(batch: number, pos: number): void {
    const n = this.markBatch.length;
    // An earlier mark waiting for this batch or a later one already holds everything from there on.
    if (n > 0 && this.markBatch[n - 1] >= batch) return;
    if (n === 0) this.store.watch(this);
    this.markBatch.push(batch);
    this.markPos.push(pos);
  }

  durable(batch: number): void {
    let i = 0;
    while (i < this.markBatch.length && this.markBatch[i] <= batch) i++;
    if (i === 0) return;
    this.markBatch.splice(0, i);
    this.markPos.splice(0, i);
    if (this.markBatch.length === 0) this.store.unwatch(this);
    this.release(this.markBatch.length > 0 ? this.markPos[0] : Infinity);
  }

  /** End the socket once everything held has gone (the connection is closing after its last packets). */
  endAfterRelease(): void {
    if (this.heldBytes === 0) this.socket.end();
    else this.endWhenReleased = true;
  }

  /** The connection is gone: nothing held will be sent. */
  drop(): void {
    this.dropped = true;
    this.held = [];
    this.heldBytes = 0;
    if (this.markBatch.length > 0) {
      this.markBatch.length = 0;
      this.markPos.length = 0;
      this.store.unwatch(this);
    }
  }

  /** Send held bytes before output position `limit`. */
  private release(limit: number): void {
    let at = this.written - this.heldBytes;
    if (at >= limit || this.heldBytes === 0) return;
    const socket = this.socket;
    const live = !socket.destroyed && socket.writableEnded !== true;
    if (live) socket.cork?.();
    let n = 0;
    while (n < this.held.length && at < limit) {
      const b = this.held[n];
      if (at + b.length <= limit) {
        if (live) socket.write(b);
        this.heldBytes -= b.length;
        at += b.length;
        n++;
      } else {
        const k = limit - at;
        if (live) socket.write(b.subarray(0, k));
        this.held[n] = b.subarray(k);
        this.heldBytes -= k;
        at = limit;
      }
    }
    if (n > 0) this.held.splice(0, n);
    if (live) socket.uncork?.();
    if (this.heldBytes === 0 && this.endWhenReleased) {
      this.endWhenReleased = false;
      if (live) socket.end();
    }
  }
}
