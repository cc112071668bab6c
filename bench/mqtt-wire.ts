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

/** CONNECT with a clean session and keep alive 0, so an idle-looking subscriber is never pinged or dropped. */
export function encodeConnect(clientId: string): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00]);
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

/**
 * `count` PUBLISH packets back to back. For QoS 1/2 the packet ids run 1..count, so the packet with id `n` starts at
 * `(n - 1) * packetSize`; a publisher sends any run of consecutive ids as one slice of this buffer.
 */
export function encodePublishRun(topic: string, payload: Buffer, qos: Qos, count: number): { bytes: Buffer; packetSize: number } {
  const first = encodePublish(topic, payload, qos, 1);
  const packetSize = first.length;
  const bytes = Buffer.allocUnsafe(packetSize * count);
  for (let i = 0; i < count; i++) {
    const at = i * packetSize;
    first.copy(bytes, at);
    if (qos > 0) bytes.writeUInt16BE(i + 1, at + packetSize - payload.length - 2);
  }
  return { bytes, packetSize };
}

/** The payload every message carries: printable, so a broker log or a packet capture stays readable. */
export function makePayload(size: number): Buffer {
  const payload = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) payload[i] = 0x61 + (i % 26);
  return payload;
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
