/**
 * MQTT's variable byte integer (§1.5.5): remaining lengths and property lengths. Leaf module.
 */

/** Bytes a variable byte integer takes. */
export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Write `n` at `pos`; returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[pos++] = b;
  } while (n > 0);
  return pos;
}

/** A whole packet from its first byte and its body. */
export function framePacket(header: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + varintSize(body.length) + body.length);
  out[0] = header;
  body.copy(out, writeVarint(out, 1, body.length));
  return out;
}

/** Length of the first whole packet in `buf`; undefined if incomplete, null if the remaining length is malformed. */
export function takeFrame(buf: Buffer): number | undefined | null {
  if (buf.length < 2) return undefined;
  let len = 0;
  let mul = 1;
  for (let i = 1; i <= 4; i++) {
    if (i >= buf.length) return undefined;
    const b = buf[i];
    len += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return buf.length >= 1 + i + len ? 1 + i + len : undefined;
    mul *= 128;
  }
  return null;
}
