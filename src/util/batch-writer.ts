/**
 * Batched socket output: packets are encoded straight into a slab, and every writer with output is flushed once per
 * tick with a single socket write. When that write completes synchronously (the usual case: the kernel took it all)
 * the slab returns to a shared pool, so an idle connection holds no output memory.
 *
 * Used by the broker's connections and by the simulated clients. Leaf module.
 */

/** The part of a socket a writer needs (net.Socket, tls.TLSSocket, or an adapter over a WebSocket). */
export interface ByteSink {
  write(data: Buffer): boolean;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly writableLength: number;
  readonly destroyed: boolean;
}

export const SLAB_SIZE = 64 * 1024;
const POOL_LIMIT = 1024;

/** Free slabs, shared by all writers of a thread. */
export class SlabPool {
  private readonly free: Buffer[] = [];

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(SLAB_SIZE);
  }

  release(slab: Buffer): void {
    if (this.free.length < POOL_LIMIT) this.free.push(slab);
  }
}

/** Writers with output this tick; flushed together once the current callback has run. */
export class FlushQueue {
  private list: BatchWriter[] = [];
  private scheduled = false;
  readonly slabs = new SlabPool();

  constructor(
    /** Shared byte counter (e.g. the broker's $SYS bytes/sent), increased as the writers' bytes go to their sinks. */
    readonly counter: { bytesSent: number },
  ) {}

  add(w: BatchWriter): void {
    this.list.push(w);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushAll);
    }
  }

  private readonly flushAll = (): void => {
    this.scheduled = false;
    const list = this.list;
    this.list = [];
    for (let i = 0; i < list.length; i++) {
      const w = list[i];
      if (w.dirty) w.flush();
    }
  };
}

export class BatchWriter {
  /** The slab being filled; packets are written into it at offsets from reserve(). */
  out: Buffer | null = null;
  private start = 0;
  private end = 0;
  dirty = false;

  constructor(
    private readonly sink: ByteSink,
    private readonly queue: FlushQueue,
  ) {}

  /** Reserve `n` bytes; returns the offset in `this.out` to write them at. */
  reserve(n: number): number {
    if (this.out === null || this.out.length - this.end < n) this.newSlab(n);
    const off = this.end;
    this.end = off + n;
    if (!this.dirty) {
      this.dirty = true;
      this.queue.add(this);
    }
    return off;
  }

  writeBytes(bytes: Buffer): void {
    const off = this.reserve(bytes.length);
    bytes.copy(this.out!, off);
  }

  /** Bytes reserved and not yet handed to the sink. */
  get pending(): number {
    return this.end - this.start;
  }

  /** Bytes waiting: in the sink's buffer and in ours. */
  get backlog(): number {
    return this.sink.writableLength + (this.end - this.start);
  }

  private newSlab(n: number): void {
    // Write out what the current slab holds, then leave that slab to the sink: a packet encoded earlier in this
    // tick may still be copied from it (a broker fan-out), so it is not handed back to the pool here.
    this.writeOut();
    this.out = n > SLAB_SIZE ? Buffer.allocUnsafe(n) : this.queue.slabs.take();
    this.start = 0;
    this.end = 0;
  }

  /** Hand what is buffered to the sink now. */
  writeOut(): void {
    if (this.end > this.start && this.out !== null) {
      this.queue.counter.bytesSent += this.end - this.start;
      if (!this.sink.destroyed) this.sink.write(this.out.subarray(this.start, this.end));
      this.start = this.end;
    }
  }

  /** Called once per tick by the queue. */
  flush(): void {
    this.dirty = false;
    this.writeOut();
    if (this.out !== null && this.sink.writableLength === 0) {
      // Everything reached the kernel synchronously: nothing references the slab any more.
      if (this.out.length === SLAB_SIZE) this.queue.slabs.release(this.out);
      this.out = null;
      this.start = 0;
      this.end = 0;
    }
  }

  /** Write out what is buffered and stop using the slab (the connection is closing). */
  finish(): void {
    this.writeOut();
    this.out = null;
    this.start = 0;
    this.end = 0;
  }
}
