/**
 * Bytes the broker sends. PUBLISH and the acknowledgements are written straight into the connection's output
 * buffer (they are the hot path); the rarer packets with v5 properties (CONNACK, SUBACK, UNSUBACK, DISCONNECT) are
 * generated with mqtt-packet and fitted to the client's Maximum Packet Size.
 */
import mqtt, { type Packet } from 'mqtt-packet';
import { P, varintSize, writeVarint } from '../wire.js';
import type { Msg } from './message.js';
import type { Outlet } from './outlet.js';

// mqtt-packet otherwise builds, on its first use, a cache of 65,536 two-byte buffers (about 6 MB of heap, 600 bytes per
// connection at 10,000) for the packet ids and keep-alives of packets the broker does not generate with it.
mqtt.writeToStream.cacheNumbers = false;

export const PUBACK = 0x40;
export const PUBREC = 0x50;
export const PUBREL = 0x62;
export const PUBCOMP = 0x70;
const PINGRESP = Buffer.from([0xd0, 0x00]);

/**
 * Characters of topics a connection may hold as outgoing topic aliases: an alias keeps its topic string alive for
 * the life of the connection, so a client accepting 65,535 aliases must not make the broker keep 65,535 long topics.
 */
export const ALIAS_BYTES = 64 * 1024;

/** Where the last encodePublish wrote its packet, so a fan-out can copy it to further targets. */
export const lastPublish: { buf: Buffer; off: number; len: number; pidOff: number } = { buf: Buffer.alloc(0), off: 0, len: 0, pidOff: 0 };

/**
 * Write a PUBLISH of `m` to `conn`. Returns the packet's length, or 0 when it is larger than the client's
 * Maximum Packet Size: such a packet is discarded unsent [MQTT-3.1.2-24].
 */
export function encodePublish(
  conn: Outlet,
  m: Msg,
  qos: number,
  retain: boolean,
  dup: boolean,
  packetId: number,
  subIds: readonly number[] | null,
  now: number,
): number {
  const v5 = conn.protocolVersion === 5;
  let topicLen = m.tLen;
  let alias = 0;
  let newAlias = false;
  let propsLen = 0;
  let expiry = 0;
  if (v5) {
    propsLen = m.xLen;
    if (m.expiryAt !== 0) {
      // [MQTT-3.3.2-6] the expiry sent is what remains of the interval.
      expiry = Math.max(1, Math.ceil((m.expiryAt - now) / 1000));
      propsLen += 5;
    }
    if (subIds !== null) for (let i = 0; i < subIds.length; i++) propsLen += 1 + varintSize(subIds[i]);
    const aliases = conn.aliasOut;
    if (aliases !== null) {
      alias = aliases.topics.get(m.topic) ?? 0;
      if (alias !== 0) {
        topicLen = 0;
      } else if (aliases.topics.size < aliases.max && aliases.bytes + m.topic.length <= ALIAS_BYTES) {
        alias = aliases.topics.size + 1;
        newAlias = true;
      }
      if (alias !== 0) propsLen += 3;
    }
  }
  const rl = 2 + topicLen + (qos > 0 ? 2 : 0) + (v5 ? varintSize(propsLen) + propsLen : 0) + m.pLen;
  const total = 1 + varintSize(rl) + rl;
  if (v5 && total > conn.maxPacketOut) return 0;
  // Exactly once: the client may see a QoS 2 delivery only once its packet id is on disk (see durable.ts).
  if (qos === 2) conn.awaitDurable();
  if (newAlias) {
    const aliases = conn.aliasOut!;
    aliases.topics.set(m.topic, alias);
    aliases.bytes += m.topic.length;
  }

  const start = conn.reserve(total);
  const b = conn.out!;
  b[start] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
  let p = writeVarint(b, start + 1, rl);
  b[p++] = topicLen >> 8;
  b[p++] = topicLen & 0xff;
  if (topicLen > 0) p += m.tBuf.copy(b, p, m.tOff, m.tOff + topicLen);
  const pidOff = p - start;
  if (qos > 0) {
    b[p++] = packetId >> 8;
    b[p++] = packetId & 0xff;
  }
  if (v5) {
    p = writeVarint(b, p, propsLen);
    if (m.xLen > 0) p += m.xBuf.copy(b, p, m.xOff, m.xOff + m.xLen);
    if (expiry !== 0) {
      b[p++] = P.MessageExpiryInterval;
      b.writeUInt32BE(expiry, p);
      p += 4;
    }
    if (subIds !== null) {
      for (let i = 0; i < subIds.length; i++) {
        b[p++] = P.SubscriptionIdentifier;
        p = writeVarint(b, p, subIds[i]);
      }
    }
    if (alias !== 0) {
      b[p++] = P.TopicAlias;
      b[p++] = alias >> 8;
      b[p++] = alias & 0xff;
    }
  }
  if (m.pLen > 0) m.pBuf.copy(b, p, m.pOff, m.pOff + m.pLen);
  lastPublish.buf = b;
  lastPublish.off = start;
  lastPublish.len = total;
  lastPublish.pidOff = pidOff;
  return total;
}

/** Copy an already encoded PUBLISH to another connection, with its own packet id when QoS > 0. */
export function copyPublish(conn: Outlet, src: Buffer, off: number, len: number, pidOff: number, packetId: number): void {
  const start = conn.reserve(len);
  const b = conn.out!;
  src.copy(b, start, off, off + len);
  if (packetId !== 0) {
    b[start + pidOff] = packetId >> 8;
    b[start + pidOff + 1] = packetId & 0xff;
  }
}

/** PUBACK / PUBREC / PUBREL / PUBCOMP. The v5 reason code is omitted when it is 0 (§3.4.2.1). */
export function writeAck(conn: Outlet, type: number, packetId: number, rc: number): void {
  conn.awaitDurable();
  const withRc = rc !== 0 && conn.protocolVersion === 5;
  const start = conn.reserve(withRc ? 5 : 4);
  const b = conn.out!;
  b[start] = type;
  b[start + 1] = withRc ? 3 : 2;
  b[start + 2] = packetId >> 8;
  b[start + 3] = packetId & 0xff;
  if (withRc) b[start + 4] = rc;
}

export function writePingresp(conn: Outlet): void {
  conn.writeBytes(PINGRESP);
}

/**
 * Reason strings are capped, in characters: one that echoes what a client sent (a 65 KB will topic) must not make a
 * packet, or a log line, grow with it.
 */
export const REASON_STRING_MAX = 256;

export function capReason(text: string): string {
  return text.length <= REASON_STRING_MAX ? text : `${text.slice(0, REASON_STRING_MAX - 1)}…`;
}

/**
 * Send a control packet generated by mqtt-packet (CONNACK, SUBACK, UNSUBACK, DISCONNECT) within the client's
 * Maximum Packet Size [MQTT-3.1.2-24]: when it does not fit, the reason string and user properties are left out
 * first [MQTT-3.1.2-25], then every property. Returns false, having sent nothing, when even the bare packet does not
 * fit: the caller closes the connection.
 */
export function sendControl(conn: Outlet, packet: Packet, version = conn.protocolVersion): boolean {
  const protocolVersion = version as 3 | 4 | 5;
  const props = (packet as { properties?: Record<string, unknown> }).properties;
  if (props?.reasonString !== undefined) props.reasonString = capReason(String(props.reasonString));
  let bytes = mqtt.generate(packet, { protocolVersion });
  if (version === 5 && bytes.length > conn.maxPacketOut && props !== undefined) {
    delete props.reasonString;
    delete props.userProperties;
    bytes = mqtt.generate(packet, { protocolVersion });
    if (bytes.length > conn.maxPacketOut) {
      delete (packet as { properties?: unknown }).properties;
      bytes = mqtt.generate(packet, { protocolVersion });
    }
  }
  if (version === 5 && bytes.length > conn.maxPacketOut) return false;
  conn.awaitDurable();
  conn.writeBytes(bytes);
  return true;
}
