/**
 * MQTT framing of a byte stream: fixed header, remaining length, and packets split across reads. Complete packets
 * are handed over in place (a range of the read buffer), so the common case copies nothing; a packet split across
 * reads is assembled in one buffer that grows with what has arrived (never to the announced size up front), so a
 * partial packet costs about its size however it is cut. Used on both sides: the broker's connections and the
 * simulated clients.
 */

export interface FrameSink {
  /**
   * A complete packet: `header` is its first byte, buf[start, end) its body. Return false to stop reading: the rest
   * is kept until resume().
   */
  onFrame(header: number, buf: Buffer, start: number, end: number): boolean;
  /** The stream cannot be framed any further (the reader stops for good). */
  onFrameError(kind: 'malformed' | 'too-large', detail: string): void;
  /** Checked on the first byte of a packet before its body arrives; return false to stop for good. */
  acceptHeader(header: number): boolean;
  /**
   * The byte budget refused to let a partial packet grow: the reader has stopped and keeps what it was given. The
   * sink should stop feeding it (pause the socket) until onFed().
   */
  onStarved?(): void;
  /** The budget had room again and the reader went on: the sink may feed it again. */
  onFed?(): void;
}

/** Bytes shared by many readers for the packets they are assembling (the broker's partial_packet_budget). */
export interface ByteBudget {
  /**
   * Take `n` more bytes for a reader that already holds `held`; false when they are not available. A reader alone
   * in holding any is never refused (one packet of the maximum size must still get through).
   */
  take(n: number, held: number): boolean;
  give(n: number): void;
  /** Call `wake` once (asynchronously) when bytes have been given back. */
  wait(wake: () => void): void;
}

/** Largest packet the protocol can frame: 1 + 4 length bytes + 268,435,455. */
export const MAX_PACKET_BYTES = 268_435_455 + 5;
/** Bytes of a partial packet every reader may hold without asking the budget (most packets are smaller). */
export const UNBUDGETED_BYTES = 64 * 1024;
/** First size of an assembly buffer; it doubles as bytes arrive. */
const INITIAL_ASSEMBLY = 4096;

/**
 * What a reader accepts. One object serves every reader with the same settings (a broker's connections share two:
 * with and without MQTT 5's shortest-length rule), so a reader carries one field for them.
 */
export interface FrameLimits {
  /** Largest total packet size accepted. */
  readonly maxPacket: number;
  /** Largest total size of a PUBLISH (tighter when the payload is limited). */
  readonly maxPublish: number;
  /** Refuse a remaining length written in more bytes than needed (MQTT 5 requires the shortest form). */
  readonly minimalLengths: boolean;
  /** Budget charged for assembly buffers beyond UNBUDGETED_BYTES; null for none. */
  readonly budget: ByteBudget | null;
}

/** Anything the protocol can frame, without a budget. */
export const NO_FRAME_LIMITS: FrameLimits = { maxPacket: MAX_PACKET_BYTES, maxPublish: MAX_PACKET_BYTES, minimalLengths: false, budget: null };

export class FrameReader {
  /** The packet being assembled: part[0, partLen). */
  private part: Buffer | null = null;
  private partLen = 0;
  /** Total bytes of the packet being assembled, or 0 while its fixed header is incomplete. */
  private need = 0;
  /** Bytes taken from the budget for `part`. */
  private charged = 0;
  /** Bytes not yet parsed because the sink asked to stop (or the budget ran out). */
  private held: Buffer[] | null = null;
  private stopped = false;
  private dead = false;

  constructor(
    private readonly sink: FrameSink,
    /** May be replaced between packets (a connection learns its protocol level from its first packet). */
    public limits: FrameLimits = NO_FRAME_LIMITS,
  ) {}

  /** True while the sink has asked to stop and resume() has not been called. */
  get paused(): boolean {
    return this.stopped;
  }

  /**
   * Holding nothing and expecting nothing: no partial packet, nothing held, not stopped. A user with many quiet
   * streams may drop such a reader and make a new one when bytes come.
   */
  get idle(): boolean {
    return this.partLen === 0 && this.held === null && !this.stopped && !this.dead;
  }

  /** Bytes of a packet received so far and not yet complete. */
  get partialBytes(): number {
    return this.partLen;
  }

  feed(chunk: Buffer): void {
    if (this.dead) return;
    if (this.stopped) {
      (this.held ??= []).push(chunk);
      return;
    }
    let pos = 0;
    if (this.partLen > 0) {
      pos = this.completeSplit(chunk);
      if (pos < 0) return;
      if (this.stopped) {
        this.hold(chunk, pos);
        return;
      }
    }
    this.parse(chunk, pos);
  }

  /** Continue after the sink returned false (or after the budget called back). */
  resume(): void {
    if (!this.stopped || this.dead) return;
    this.stopped = false;
    const held = this.held;
    this.held = null;
    if (held !== null) this.feed(held.length === 1 ? held[0] : Buffer.concat(held));
  }

  /** Stop for good (the connection is closing). */
  kill(): void {
    this.dead = true;
    this.held = null;
    this.dropPart();
  }

  private dropPart(): void {
    this.part = null;
    this.partLen = 0;
    this.need = 0;
    if (this.charged > 0) {
      this.limits.budget?.give(this.charged);
      this.charged = 0;
    }
  }

  /** Continue the packet in `part` with the start of `chunk`; returns where the rest of `chunk` begins, or -1. */
  private completeSplit(chunk: Buffer): number {
    if (this.need === 0) {
      // The fixed header itself was split: join (the kept part is at most 4 bytes) and parse afresh.
      const joined = Buffer.concat([this.part!.subarray(0, this.partLen), chunk]);
      this.dropPart();
      this.parse(joined, 0);
      return -1;
    }
    const take = Math.min(this.need - this.partLen, chunk.length);
    if (!this.reserve(this.partLen + take)) {
      this.starve(chunk, 0);
      return -1;
    }
    chunk.copy(this.part!, this.partLen, 0, take);
    this.partLen += take;
    if (this.partLen < this.need) return -1;
    const packet = this.part!;
    const end = this.need;
    const charged = this.charged;
    this.part = null;
    this.partLen = 0;
    this.need = 0;
    this.charged = 0;
    this.parse(packet, 0, end);
    if (charged > 0) this.limits.budget?.give(charged);
    return this.dead ? -1 : take;
  }

  /** Make `part` hold at least `n` bytes, growing by doubling; false when the budget refuses. */
  private reserve(n: number): boolean {
    const have = this.part === null ? 0 : this.part.length;
    if (n <= have) return true;
    const size = Math.min(this.need, Math.max(n, INITIAL_ASSEMBLY, 2 * have));
    const charge = Math.max(0, size - UNBUDGETED_BYTES) - this.charged;
    const budget = this.limits.budget;
    if (charge > 0 && budget !== null) {
      if (!budget.take(charge, this.charged)) return false;
      this.charged += charge;
    }
    const grown = Buffer.allocUnsafe(size);
    if (this.part !== null) this.part.copy(grown, 0, 0, this.partLen);
    this.part = grown;
    return true;
  }

  /** The budget is exhausted: keep buf[pos...) and wait for it. */
  private starve(buf: Buffer, pos: number): void {
    this.stopped = true;
    this.hold(buf, pos);
    this.limits.budget!.wait(() => {
      this.resume();
      if (!this.stopped && !this.dead) this.sink.onFed?.();
    });
    this.sink.onStarved?.();
  }

  private parse(buf: Buffer, pos: number, len = buf.length): void {
    const sink = this.sink;
    while (pos < len) {
      // Read per packet: the sink may change them while handling the one before.
      const limits = this.limits;
      const header = buf[pos];
      if (!sink.acceptHeader(header)) {
        this.dead = true;
        return;
      }
      let rl = 0;
      let mult = 1;
      let i = pos + 1;
      let complete = false;
      for (let k = 0; k < 4 && i < len; k++) {
        const b = buf[i++];
        rl += (b & 0x7f) * mult;
        if ((b & 0x80) === 0) {
          if (b === 0 && k > 0 && limits.minimalLengths) {
            this.dead = true;
            sink.onFrameError('malformed', 'remaining length is not in its shortest encoding');
            return;
          }
          complete = true;
          break;
        }
        mult *= 128;
      }
      if (!complete) {
        if (i - pos > 4) {
          this.dead = true;
          sink.onFrameError('malformed', 'remaining length is longer than 4 bytes');
          return;
        }
        // An incomplete fixed header: at most 4 bytes, kept as they are.
        this.part = Buffer.from(buf.subarray(pos, len));
        this.partLen = this.part.length;
        this.need = 0;
        return;
      }
      const end = i + rl;
      const limit = header >> 4 === 3 ? Math.min(limits.maxPacket, limits.maxPublish) : limits.maxPacket;
      if (end - pos > limit) {
        this.dead = true;
        sink.onFrameError('too-large', `packet of ${end - pos} bytes is larger than ${limit}`);
        return;
      }
      if (end > len) {
        // Assembled from here on, in a buffer that grows with what arrives. Copied: the read buffer may be a slice
        // of a larger one that should not stay alive for a partial packet.
        this.need = end - pos;
        if (!this.reserve(len - pos)) {
          this.need = 0;
          this.starve(buf, pos);
          return;
        }
        this.partLen = buf.copy(this.part!, 0, pos, len);
        return;
      }
      const more = sink.onFrame(header, buf, i, end);
      if (this.dead) return;
      pos = end;
      if (!more) {
        this.stopped = true;
        this.hold(buf, pos, len);
        return;
      }
    }
  }

  private hold(buf: Buffer, pos: number, len = buf.length): void {
    if (pos < len) (this.held ??= []).push(Buffer.from(buf.subarray(pos, len)));
  }
}
