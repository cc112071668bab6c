/**
 * Splits an incoming MQTT byte stream into packets by walking the fixed headers in place; packet bodies are never
 * copied, only a header cut by a read boundary is.
 */

/** Body bytes guaranteed to be readable in `onPacket` (fewer when the packet is shorter). */
export const HEAD_BYTES = 512;

export interface PacketHandler {
  /**
   * One packet: `first` is its first byte, its body starts at `body` in `buf` and is `length` bytes long, of which only
   * the first `min(length, HEAD_BYTES)` are guaranteed to be in `buf`. `buf` is only valid during the call.
   */
  onPacket(first: number, buf: Buffer, body: number, length: number): void;
}

export class MalformedPacketError extends Error {
  readonly code = 'MALFORMED_PACKET';
}

export class PacketWalker {
  /** A packet start that a read boundary cut before its head was complete. */
  private carry: Buffer | undefined;
  /** Bytes of the current packet's body still to arrive in later reads. */
  private skip = 0;

  constructor(private readonly handler: PacketHandler) {}

  /** Walks `chunk[start, end)`; the chunk may be a reused read buffer, so nothing keeps a reference to it. */
  feed(chunk: Buffer, start: number, end: number): void {
    let buf = chunk;
    let pos = start;
    let stop = end;
    if (this.skip > 0) {
      const available = stop - pos;
      if (this.skip >= available) {
        this.skip -= available;
        return;
      }
      pos += this.skip;
      this.skip = 0;
    }
    if (this.carry !== undefined) {
      buf = Buffer.concat([this.carry, chunk.subarray(pos, stop)]);
      this.carry = undefined;
      pos = 0;
      stop = buf.length;
    }
    const handler = this.handler;
    while (pos < stop) {
      const first = buf[pos];
      let i = pos + 1;
      let length = 0;
      let multiplier = 1;
      let complete = false;
      while (i < stop) {
        const b = buf[i++];
        length += (b & 0x7f) * multiplier;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
        multiplier *= 128;
        if (i - pos > 4) throw new MalformedPacketError('remaining length longer than 4 bytes');
      }
      if (!complete) break;
      if (i + (length < HEAD_BYTES ? length : HEAD_BYTES) > stop) break;
      handler.onPacket(first, buf, i, length);
      const next = i + length;
      if (next > stop) {
        this.skip = next - stop;
        return;
      }
      pos = next;
    }
    if (pos < stop) this.carry = Buffer.from(buf.subarray(pos, stop));
  }
}
