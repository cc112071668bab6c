/**
 * CRC-32 (IEEE, as zlib and PNG compute it) over a range of a buffer, without copying: a table loop for short
 * ranges, zlib's native crc32 (Node 20.15 and later) for long ones, where it is several times faster.
 */
import zlib from 'node:zlib';

const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

/** Shorter ranges than this go through the table: crossing into native code costs about as much as 60 bytes. */
const NATIVE_FROM = 96;

const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

export function crc32(buf: Buffer, start: number, end: number): number {
  if (native !== undefined && end - start >= NATIVE_FROM) return native(buf.subarray(start, end));
  let c = -1;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
