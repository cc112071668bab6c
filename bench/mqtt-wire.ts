/**
 * The MQTT 3.1.1 packets the load generator sends, encoded by hand: the generator writes pre-encoded bytes and never
 * builds packet objects, so it stays far faster than the brokers it measures.
 */

export type Qos = 0 | 1 | 2;

/** Fixed-header packet types (the high nibble of the first byte). */
export const PacketType = {
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  suback: 9,
  pingresp: 13,
} as const;

/** First bytes of the two-byte-body acknowledgements; PUBREL carries the fixed flags 0b0010 [MQTT-3.6.1-1]. */
export const ACK_FIRST_BYTE = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;

export const DISCONNECT = Buffer.from([0xe0, 0x00]);

/**
 * CONNECT, keep alive 0 by default, so an idle-looking subscriber is never pinged or dropped (a client given a keep
 * alive must send something within 1.5 times it, or the broker closes the connection); a clean session unless
 * `clean` is false.
 */
export function encodeConnect(clientId: string, keepAliveSeconds = 0, clean = true): Buffer {
  if (!Number.isInteger(keepAliveSeconds) || keepAliveSeconds < 0 || keepAliveSeconds > 0xffff) {
    throw new RangeError(`keep alive must be a whole number of seconds from 0 to 65535, got ${keepAliveSeconds}`);
  }
  const id = Buffer.from(clientId, 'utf8');
  const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, clean ? 0x02 : 0x00, keepAliveSeconds >> 8, keepAliveSeconds & 0xff]);
  return packet(0x10, Buffer.concat([variable, lengthPrefixed(id)]));
}

export function encodeSubscribe(packetId: number, filter: string, qos: Qos): Buffer {
  const body = Buffer.concat([u16(packetId), lengthPrefixed(Buffer.from(filter, 'utf8')), Buffer.from([qos])]);
  return packet(0x82, body);
}

/** One PUBLISH; `packetId` is ignored for QoS 0. */
export function encodePublish(topic: string, payload: Buffer, qos: Qos, packetId: number): Buffer {
  const parts = [lengthPrefixed(Buffer.from(topic, 'utf8'))];
  if (qos > 0) parts.push(u16(packetId));
  parts.push(payload);
  return packet(0x30 | (qos << 1), Buffer.concat(parts));
}

/** `count` PUBLISH packets back to back, each `packetSize` bytes; where to patch each one's id and sequence. */
export interface PublishRun {
  bytes: Buffer;
  packetSize: number;
  /** Offset of the packet id within a packet (QoS 1/2; -1 for QoS 0). */
  idAt: number;
  /** Offset of the payload, hence of its sequence header, within a packet. */
  payloadAt: number;
}

/**
 * `count` PUBLISH packets back to back. For QoS 1/2 the packet ids run 1..count, so the packet with id `n` starts at
 * `(n - 1) * packetSize`; senders that number packets otherwise patch `idAt` of each packet before writing it.
 */
export function encodePublishRun(topic: string, payload: Buffer, qos: Qos, count: number): PublishRun {
  const first = encodePublish(topic, payload, qos, 1);
  const packetSize = first.length;
  const payloadAt = packetSize - payload.length;
  const idAt = qos > 0 ? payloadAt - 2 : -1;
  const bytes = Buffer.allocUnsafe(packetSize * count);
  for (let i = 0; i < count; i++) {
    const at = i * packetSize;
    first.copy(bytes, at);
    if (qos > 0) bytes.writeUInt16BE(((i % 65535) + 1), at + idAt);
  }
  return { bytes, packetSize, idAt, payloadAt };
}

/**
 * The sequence header at the start of every payload, so that each subscriber can tell exactly which messages of
 * which publisher arrived:
 *
 *   0  u16  publisher index in the run (0, 1, …)
 *   2  u16  sequence number, bits 47..32   } from 0, one per PUBLISH of that publisher
 *   4  u32  sequence number, bits 31..0    }
 */
export const SEQ_HEADER_BYTES = 8;
const TWO_32 = 0x1_0000_0000;

/** The payload every message carries: the sequence header (publisher `index`, sequence 0) then printable filler. */
export function makePayload(size: number, index = 0): Buffer {
  if (size < SEQ_HEADER_BYTES) throw new RangeError(`payloads carry an ${SEQ_HEADER_BYTES}-byte sequence header; ${size} bytes is too small`);
  const payload = Buffer.allocUnsafe(size);
  payload.writeUInt16BE(index, 0);
  payload.fill(0, 2, SEQ_HEADER_BYTES);
  // Printable, so a broker log or a packet capture stays readable.
  for (let i = SEQ_HEADER_BYTES; i < size; i++) payload[i] = 0x61 + (i % 26);
  return payload;
}

/** Writes sequence `seq` into the header at `at` (the publisher index in front of it stays). */
export function writeSeq(buf: Buffer, at: number, seq: number): void {
  const high = Math.floor(seq / TWO_32);
  const low = seq >>> 0;
  buf[at + 2] = high >>> 8;
  buf[at + 3] = high & 0xff;
  buf[at + 4] = low >>> 24;
  buf[at + 5] = (low >>> 16) & 0xff;
  buf[at + 6] = (low >>> 8) & 0xff;
  buf[at + 7] = low & 0xff;
}

export function readPublisherIndex(buf: Buffer, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

export function readSeq(buf: Buffer, at: number): number {
  const high = (buf[at + 2] << 8) | buf[at + 3];
  const low = ((buf[at + 4] << 24) | (buf[at + 5] << 16) | (buf[at + 6] << 8) | buf[at + 7]) >>> 0;
  return high * TWO_32 + low;
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), encodeRemainingLength(body.length), body]);
}

function encodeRemainingLength(length: number): Buffer {
  const bytes: number[] = [];
  let rest = length;
  do {
    let b = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) b |= 0x80;
    bytes.push(b);
  } while (rest > 0);
  return Buffer.from(bytes);
}

function lengthPrefixed(bytes: Buffer): Buffer {
  return Buffer.concat([u16(bytes.length), bytes]);
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n, 0);
  return b;
}
