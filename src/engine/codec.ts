/**
 * What a simulated client sends and how it reads what it gets back.
 *
 * PUBLISH goes out from a template encoded once per client and topic: each message copies the template and patches
 * the packet id and the latency header. Acknowledgements are read in place. The rarer control packets with v5
 * properties (CONNECT, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT out; CONNACK, SUBACK, UNSUBACK, DISCONNECT in) go through
 * mqtt-packet.
 */
import mqtt, { type Packet } from 'mqtt-packet';
import { framePacket, varintSize, writeVarint } from '../protocol/varint.js';
import type { BatchWriter } from '../util/batch-writer.js';
import { HEADER_BYTES, patchHeader, writeHeaderStart } from './payload.js';

// mqtt-packet otherwise builds, on first use, a cache of 65,536 two-byte buffers (about 6 MB per worker thread) for
// packet ids and keep-alives of the control packets, which are few.
mqtt.writeToStream.cacheNumbers = false;

/** A PUBLISH encoded once; `encode` copies it and patches what changes per message. */
export class PublishTemplate {
  readonly bytes: Buffer;
  /** Offset of the packet id (QoS > 0), or -1. */
  readonly pidOff: number;
  /** Offset of the latency header in the packet, or -1 when the payload is not timestamped. */
  readonly headerOff: number;
  readonly payloadBytes: number;

  constructor(topic: string, qos: number, retain: boolean, payload: Buffer, timestamped: boolean, publisherId: number, v5: boolean) {
    const topicBytes = Buffer.from(topic, 'utf8');
    const rl = 2 + topicBytes.length + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) + payload.length;
    const b = Buffer.allocUnsafe(1 + varintSize(rl) + rl);
    b[0] = 0x30 | (qos << 1) | (retain ? 1 : 0);
    let p = writeVarint(b, 1, rl);
    b.writeUInt16BE(topicBytes.length, p);
    p += 2;
    p += topicBytes.copy(b, p);
    this.pidOff = qos > 0 ? p : -1;
    if (qos > 0) p += 2;
    if (v5) b[p++] = 0; // property length 0
    payload.copy(b, p);
    this.headerOff = timestamped ? p : -1;
    if (timestamped) writeHeaderStart(b, p, publisherId);
    this.bytes = b;
    this.payloadBytes = payload.length;
  }

  /** Append one PUBLISH to `w`; returns its size. */
  encode(w: BatchWriter, packetId: number, seq: number, sentUs: number, dup: boolean): number {
    const src = this.bytes;
    const off = w.reserve(src.length);
    const out = w.out!;
    src.copy(out, off);
    if (dup) out[off] |= 0x08;
    if (this.pidOff >= 0) {
      out[off + this.pidOff] = packetId >> 8;
      out[off + this.pidOff + 1] = packetId & 0xff;
    }
    if (this.headerOff >= 0) patchHeader(out, off + this.headerOff, seq, sentUs);
    return src.length;
  }
}

/** Bytes of a payload as configured, the latency header's room included when timestamped. */
export function payloadTemplate(
  kind: 'empty' | 'text' | 'hex' | 'random' | 'file',
  value: { text?: string; hex?: string; sizeBytes?: number; data?: Buffer },
  timestamped: boolean,
): Buffer {
  let body: Buffer;
  switch (kind) {
    case 'empty':
      body = Buffer.alloc(0);
      break;
    case 'text':
      body = Buffer.from(value.text ?? '', 'utf8');
      break;
    case 'hex':
      body = Buffer.from(value.hex ?? '', 'hex');
      break;
    case 'random': {
      const size = value.sizeBytes ?? 0;
      body = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i++) body[i] = (Math.random() * 256) | 0;
      // With a timestamp the size includes the header: the header overwrites the start.
      return body;
    }
    case 'file':
      body = value.data ?? Buffer.alloc(0);
      break;
  }
  // Text, hex and file payloads come after the header: the message still carries them whole.
  return timestamped ? Buffer.concat([Buffer.alloc(HEADER_BYTES), body]) : body;
}

export const PUBACK = 0x40;
export const PUBREC = 0x50;
export const PUBREL = 0x62;
export const PUBCOMP = 0x70;
const PINGREQ = Buffer.from([0xc0, 0x00]);

export function writeAck(w: BatchWriter, type: number, packetId: number): void {
  const off = w.reserve(4);
  const out = w.out!;
  out[off] = type;
  out[off + 1] = 2;
  out[off + 2] = packetId >> 8;
  out[off + 3] = packetId & 0xff;
}

export function writePingreq(w: BatchWriter): void {
  w.writeBytes(PINGREQ);
}

export function writeGenerated(w: BatchWriter, packet: Packet, protocolVersion: number): void {
  w.writeBytes(mqtt.generate(packet, { protocolVersion }));
}

const parsers = new Map<number, mqtt.Parser>();
/** What the shared parsers' listeners saw for the packet being decoded. */
const result: { packet: Packet | undefined; error: Error | undefined } = { packet: undefined, error: undefined };

/**
 * Decode one complete control packet (first byte + body) with mqtt-packet. Returns undefined and sets `lastError`
 * when it is malformed.
 */
export function decodeControl(header: number, body: Buffer, protocolVersion: number): Packet | undefined {
  let p = parsers.get(protocolVersion);
  if (p === undefined) {
    p = mqtt.parser({ protocolVersion });
    p.on('packet', (pkt: Packet) => (result.packet = pkt));
    p.on('error', (err: Error) => (result.error = err));
    parsers.set(protocolVersion, p);
  }
  result.packet = undefined;
  result.error = undefined;
  p.parse(framePacket(header, body));
  // Set by the listener during parse(), which the compiler cannot see.
  const error = result.error as Error | undefined;
  if (error !== undefined) {
    lastDecodeError = error.message;
    // mqtt-packet's parser keeps a stale position after an error: the next packet gets a fresh one.
    parsers.delete(protocolVersion);
    return undefined;
  }
  return result.packet;
}

export let lastDecodeError = '';
