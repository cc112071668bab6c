/**
 * The latency header at the start of a timestamped payload (TIMESTAMP_HEADER_BYTES = 24):
 *
 *   0  u16  magic 0x4D51 ("MQ")
 *   2  u8   layout version (1)
 *   3  u8   reserved (0)
 *   4  u32  publisher id, unique in the run
 *   8  u32  sequence number, high 32 bits   } per publisher and topic, from 0
 *  12  u32  sequence number, low 32 bits    }
 *  16  f64  send time, µs since the run's epoch (the intended time for a paced publisher)
 *
 * Big-endian, like the rest of MQTT. The reader keeps its last result in module fields so the hot path allocates
 * nothing.
 */
import { TIMESTAMP_HEADER_BYTES } from '../scenario/schema.js';

export const HEADER_BYTES = TIMESTAMP_HEADER_BYTES;
const MAGIC_HI = 0x4d;
const MAGIC_LO = 0x51;
const LAYOUT = 1;
const TWO_32 = 0x1_0000_0000;

/** Write the fixed part of the header (magic, layout, publisher) once into a template. */
export function writeHeaderStart(buf: Buffer, off: number, publisherId: number): void {
  buf[off] = MAGIC_HI;
  buf[off + 1] = MAGIC_LO;
  buf[off + 2] = LAYOUT;
  buf[off + 3] = 0;
  buf.writeUInt32BE(publisherId >>> 0, off + 4);
}

/** Patch sequence and send time into a header written by writeHeaderStart. */
export function patchHeader(buf: Buffer, off: number, seq: number, sentUs: number): void {
  buf.writeUInt32BE(Math.floor(seq / TWO_32), off + 8);
  buf.writeUInt32BE(seq >>> 0, off + 12);
  buf.writeDoubleBE(sentUs, off + 16);
}

/** Fields of the last header read by readHeader. */
export const header = { publisherId: 0, seq: 0, sentUs: 0 };

/** Read a header at `off` if one is there (within `end`); false for payloads that are not ours. */
export function readHeader(buf: Buffer, off: number, end: number): boolean {
  if (end - off < HEADER_BYTES || buf[off] !== MAGIC_HI || buf[off + 1] !== MAGIC_LO || buf[off + 2] !== LAYOUT) return false;
  header.publisherId = buf.readUInt32BE(off + 4);
  header.seq = buf.readUInt32BE(off + 8) * TWO_32 + buf.readUInt32BE(off + 12);
  header.sentUs = buf.readDoubleBE(off + 16);
  return true;
}
