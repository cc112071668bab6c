/**
 * MQTT framing of a byte stream: fixed header, remaining length, and packets split across reads. Complete packets
 * are handed over in place (a range of the read buffer), so the common case copies nothing; only a packet split
 * across reads is joined. Used on both sides: the broker's connections and the simulated clients.
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
}

/** Largest packet the protocol can frame: 1 + 4 length bytes + 268,435,455. */
export const MAX_PACKET_BYTES = 268_435_455 + 5;

export class FrameReader {
  /** Largest total packet size accepted. */
  maxPacket = MAX_PACKET_BYTES;
  /** Refuse a remaining length written in more bytes than needed (MQTT 5 requires the shortest form). */
  minimalLengths = false;
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Total bytes of the packet being assembled from `parts`, or 0 while its fixed header is incomplete. */
  private need = 0;
  /** Bytes not yet parsed because the sink asked to stop. */
  private held: Buffer[] | null = null;
  private stopped = false;
  private dead = false;

  constructor(private readonly sink: FrameSink) {}

  /** True while the sink has asked to stop and resume() has not been called. */
  get paused(): boolean {
    return this.stopped;
  }

  feed(chunk: Buffer): void {
    if (this.dead) return;
    if (this.stopped) {
      (this.held ??= []).push(chunk);
      return;
    }
    let pos = 0;
    if (this.partsLen > 0) {
      pos = this.completeSplit(chunk);
      if (pos < 0) return;
      if (this.stopped) {
        this.hold(chunk, pos);
        return;
      }
    }
    this.parse(chunk, pos);
  }

  /** Continue after the sink returned false. */
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
    this.parts = [];
    this.held = null;
  }

  private completeSplit(chunk: Buffer): number {
    if (this.need === 0) {
      // The fixed header itself was split: join (the kept part is at most 4 bytes) and parse afresh.
      const joined = Buffer.concat([...this.parts, chunk]);
      this.parts = [];
      this.partsLen = 0;
      this.parse(joined, 0);
      return -1;
    }
    const missing = this.need - this.partsLen;
    if (chunk.length < missing) {
      this.parts.push(chunk);
      this.partsLen += chunk.length;
      return -1;
    }
    this.parts.push(chunk.subarray(0, missing));
    const packet = Buffer.concat(this.parts, this.need);
    this.parts = [];
    this.partsLen = 0;
    this.need = 0;
    this.parse(packet, 0);
    return this.dead ? -1 : missing;
  }

  private parse(buf: Buffer, pos: number): void {
    const len = buf.length;
    const sink = this.sink;
    while (pos < len) {
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
          if (b === 0 && k > 0 && this.minimalLengths) {
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
        this.keepSplit(buf, pos, 0);
        return;
      }
      const end = i + rl;
      if (end - pos > this.maxPacket) {
        this.dead = true;
        sink.onFrameError('too-large', `packet of ${end - pos} bytes is larger than ${this.maxPacket}`);
        return;
      }
      if (end > len) {
        this.keepSplit(buf, pos, end - pos);
        return;
      }
      const more = sink.onFrame(header, buf, i, end);
      if (this.dead) return;
      pos = end;
      if (!more) {
        this.stopped = true;
        this.hold(buf, pos);
        return;
      }
    }
  }

  private hold(buf: Buffer, pos: number): void {
    if (pos < buf.length) (this.held ??= []).push(Buffer.from(buf.subarray(pos)));
  }

  private keepSplit(buf: Buffer, pos: number, need: number): void {
    // Copied: the read buffer may be a slice of a larger one that should not stay alive for a partial packet.
    const part = Buffer.from(buf.subarray(pos));
    this.parts = [part];
    this.partsLen = part.length;
    this.need = need;
  }
}
