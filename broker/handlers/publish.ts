/**
 * PUBLISH from a client: the hot path. The packet is read in place (fixed header, topic, packet id, v5 properties)
 * into one reused message view over the read buffer; the payload is never copied unless the message must be kept.
 * The acknowledgement may be withheld while copies wait for room in full sessions (core/flow.ts).
 */
import { RC } from '../../src/protocol/reason-codes.js';
import { tooManyLevels } from '../../src/protocol/topic.js';
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { route } from '../core/deliver.js';
import { PUBACK, PUBREC } from '../core/encode.js';
import { owe } from '../core/flow.js';
import { Msg } from '../core/message.js';
import { P, WireError, isMqttString, malformed, protocolError } from '../wire.js';

/** The view over the PUBLISH being handled, and the topic alias its properties carried (0: none). */
class Incoming extends Msg {
  alias = 0;
}

/** Reused for every PUBLISH: each field is set from the packet before use and released after. */
const view = new Incoming();
const EMPTY = Buffer.alloc(0);

/**
 * Topics clients may not publish to: `$SYS`, which belongs to the broker — except `$SYS/broker/connection/+/state`,
 * where Mosquitto lets bridges report their state.
 */
export function publishDenied(topic: string): boolean {
  if (topic.charCodeAt(0) !== 0x24 || !topic.startsWith('$SYS')) return false;
  const levels = topic.split('/', 6);
  return !(levels.length === 5 && levels[0] === '$SYS' && levels[1] === 'broker' && levels[2] === 'connection' && levels[4] === 'state');
}

export function handlePublish(core: Core, conn: Client, header: number, buf: Buffer, start: number, end: number): void {
  const qos = (header >> 1) & 0x03;
  // [MQTT-3.3.1-4] QoS 3 is malformed.
  if (qos === 3) throw malformed('PUBLISH QoS is 3');
  const dup = (header & 0x08) !== 0;
  // [MQTT-3.3.1-2] DUP is 0 for QoS 0.
  if (dup && qos === 0) throw malformed('PUBLISH has DUP set with QoS 0');
  const retain = (header & 0x01) !== 0;

  let p = start;
  if (end - p < 2) throw malformed('PUBLISH too short for its topic');
  const tLen = (buf[p] << 8) | buf[p + 1];
  p += 2;
  const tOff = p;
  p += tLen;
  if (p > end) throw malformed('PUBLISH topic runs past the packet');
  let packetId = 0;
  if (qos > 0) {
    if (p + 2 > end) throw malformed('PUBLISH too short for its packet identifier');
    packetId = (buf[p] << 8) | buf[p + 1];
    p += 2;
    // [MQTT-2.3.1-1] a QoS 1/2 PUBLISH carries a non-zero packet identifier (0x82, as Mosquitto).
    if (packetId === 0) throw protocolError('PUBLISH packet identifier is 0');
  }
  const topic = readTopic(buf, tOff, tOff + tLen);

  const m = view;
  m.tBuf = buf;
  m.tOff = tOff;
  m.tLen = tLen;
  m.xBuf = EMPTY;
  m.xOff = 0;
  m.xLen = 0;
  m.expiryAt = 0;
  let resolved = topic;
  m.alias = 0;
  if (conn.protocolVersion === 5) {
    p = readPublishProps(buf, p, end, m);
    const aliasSeen = m.alias;
    if (aliasSeen !== 0) {
      // [MQTT-3.3.2-8], [MQTT-3.3.2-9] alias must be 1..Topic Alias Maximum.
      if (aliasSeen > core.options.maxTopicAlias) {
        throw new WireError(RC.TopicAliasInvalid, `topic alias ${aliasSeen} is above the maximum ${core.options.maxTopicAlias}`);
      }
      const aliases = (conn.aliasIn ??= []);
      if (tLen > 0) {
        aliases[aliasSeen] = topic;
      } else {
        const known = aliases[aliasSeen];
        if (known === undefined) throw protocolError(`topic alias ${aliasSeen} is not set`);
        resolved = known;
        m.tBuf = Buffer.from(known, 'utf8');
        m.tOff = 0;
        m.tLen = m.tBuf.length;
      }
    }
  }
  // [MQTT-4.7.3-1] a topic name is at least one character.
  if (resolved.length === 0) throw protocolError('PUBLISH topic is empty');
  // Deeper than the broker keeps in its tries (Mosquitto refuses these too).
  if (tooManyLevels(resolved, core.options.topicHierarchyLimit)) {
    throw new WireError(RC.TopicNameInvalid, `PUBLISH topic has more than ${core.options.topicHierarchyLimit} levels`);
  }

  const payloadLen = end - p;
  const limit = core.options.messageSizeLimit;
  if (limit > 0 && payloadLen > limit) {
    rejectOversize(core, conn, qos, packetId, payloadLen, resolved, dup, retain);
    return;
  }
  if (retain && !core.options.retainAvailable) {
    // [MQTT-3.3.1-?] retained messages are refused when the broker said Retain Available 0.
    throw new WireError(RC.RetainNotSupported, 'retained messages are not supported');
  }

  const log = core.log;
  // $SYS belongs to the broker: clients may read it but not write to it (as Mosquitto). The PUBLISH is acknowledged
  // as usual, with 0x87 Not authorized for MQTT 5 clients, and goes nowhere [MQTT-3.3.5-2].
  if (resolved.charCodeAt(0) === 0x24 && publishDenied(resolved)) {
    denyPublish(core, conn, qos, packetId, dup, retain, resolved, payloadLen);
    return;
  }
  // acl_file: a topic the client may not write is treated the same way (3.1.1 and QoS 0: dropped silently).
  const acl = conn.session!.acl;
  if (acl !== null && !acl.canWrite(resolved)) {
    denyPublish(core, conn, qos, packetId, dup, retain, resolved, payloadLen);
    return;
  }
  if (log.debug) {
    log.line(
      `Received PUBLISH from ${conn.logId} (d${dup ? 1 : 0}, q${qos}, r${retain ? 1 : 0}, m${packetId}, '${resolved}', ... (${payloadLen} bytes))`,
    );
  }
  const stats = core.stats;
  stats.pubReceived++;
  stats.pubBytesReceived += payloadLen;

  const session = conn.session!;
  if (qos === 2) {
    if (session.hasInbound(packetId)) {
      // [MQTT-4.3.3-2] a repeat before PUBREL is acknowledged again (in order) but not delivered again.
      owe(conn, PUBREC, packetId, 0, null);
      if (log.debug) log.line(`Sending PUBREC to ${conn.logId} (m${packetId}, rc0)`);
      return;
    }
    if (conn.protocolVersion === 5 && session.inboundCount >= core.receiveMaximum) {
      // [MQTT-3.3.4-9] more unacknowledged QoS 2 than the Receive Maximum we declared.
      throw new WireError(RC.ReceiveMaximumExceeded, 'receive maximum exceeded');
    }
  }

  m.topic = resolved;
  m.pBuf = buf;
  m.pOff = p;
  m.pLen = payloadLen;
  m.qos = qos;
  m.retain = retain;
  m.origin = session;
  m.stored = false;
  const now = core.now();
  if (m.expiryAt !== 0) m.expiryAt += now;

  let msg: Msg = m;
  if (retain) {
    // [MQTT-3.3.1-5] store (or with an empty payload, clear [MQTT-3.3.1-10]) the topic's retained message.
    msg = m.store();
    core.retain(msg);
    if (core.options.checkRetainSource && session.identity !== null) core.retainSources.set(msg, session.identity);
  }
  m.ticket = null;
  const reached = route(core, msg, now);
  // Copies parked for full sessions: the acknowledgement waits for them (core/flow.ts).
  const ticket = m.ticket;
  m.ticket = null;
  // Release the read buffer.
  m.tBuf = m.pBuf = m.xBuf = EMPTY;
  m.origin = null;

  if (qos === 0) return;
  // v5: 0x10 tells the publisher nobody was subscribed (still a success) [MQTT-3.4.2-1].
  const rc = reached === 0 && conn.protocolVersion === 5 ? RC.NoMatchingSubscribers : 0;
  if (qos === 2) session.addInbound(packetId);
  owe(conn, qos === 1 ? PUBACK : PUBREC, packetId, rc, ticket);
  if (log.debug) log.line(`Sending ${qos === 1 ? 'PUBACK' : 'PUBREC'} to ${conn.logId} (m${packetId}, rc${rc})`);
}

function denyPublish(core: Core, conn: Client, qos: number, packetId: number, dup: boolean, retain: boolean, topic: string, payloadLen: number): void {
  const log = core.log;
  if (log.debug) log.line(`Denied PUBLISH from ${conn.logId} (d${dup ? 1 : 0}, q${qos}, r${retain ? 1 : 0}, m${packetId}, '${topic}', ... (${payloadLen} bytes))`);
  if (qos === 0) return;
  const rc = conn.protocolVersion === 5 ? RC.NotAuthorized : 0;
  // A 3.1.1 client goes on with PUBREL, which is answered like any other; a refusing PUBREC ends an MQTT 5 flow.
  if (qos === 2 && rc === 0) conn.session!.addInbound(packetId);
  owe(conn, qos === 1 ? PUBACK : PUBREC, packetId, rc, null);
  if (log.debug) log.line(`Sending ${qos === 1 ? 'PUBACK' : 'PUBREC'} to ${conn.logId} (m${packetId}, rc${rc})`);
}

/** Topic name bytes → string; refuses ill-formed UTF-8, U+0000 and wildcards [MQTT-1.5.3-1], [MQTT-3.3.2-2]. */
function readTopic(buf: Buffer, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = buf[i];
    if (b === 0x2b || b === 0x23) throw protocolError('PUBLISH topic contains a wildcard');
    if (b === 0) throw malformed('PUBLISH topic contains U+0000');
    if (b >= 0x80) ascii = false;
  }
  if (ascii) return buf.toString('latin1', start, end);
  if (!isMqttString(buf, start, end)) throw malformed('PUBLISH topic is not valid UTF-8');
  return buf.toString('utf8', start, end);
}

/**
 * Validate the PUBLISH property block at `p` and record in `m` what is forwarded: the block itself when it holds
 * neither a topic alias nor a message expiry (no copy), else a copy without them, and the topic alias if any.
 * Returns the payload offset.
 */
function readPublishProps(buf: Buffer, p: number, end: number, m: Incoming): number {
  let len = 0;
  let mult = 1;
  for (let k = 0; ; k++) {
    if (k === 4 || p >= end) throw malformed('PUBLISH property length is malformed');
    const b = buf[p++];
    len += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) {
      if (b === 0 && k > 0) throw malformed('PUBLISH property length is not in its shortest encoding');
      break;
    }
    mult *= 128;
  }
  const pStart = p;
  const pEnd = p + len;
  if (pEnd > end) throw malformed('PUBLISH properties run past the packet');
  if (len === 0) return pEnd;
  let seen = 0;
  let strip = false;
  while (p < pEnd) {
    const id = buf[p++];
    switch (id) {
      case P.PayloadFormatIndicator:
        seen = once(seen, 1, id);
        if (p + 1 > pEnd) throw malformed('payload format indicator truncated');
        if (buf[p] > 1) throw protocolError('payload format indicator is not 0 or 1');
        p += 1;
        break;
      case P.MessageExpiryInterval:
        seen = once(seen, 2, id);
        if (p + 4 > pEnd) throw malformed('message expiry interval truncated');
        m.expiryAt = buf.readUInt32BE(p) * 1000;
        // Kept as a relative value here; the caller adds the arrival time. A 0 interval means "expire at once".
        if (m.expiryAt === 0) m.expiryAt = 1;
        p += 4;
        strip = true;
        break;
      case P.ContentType:
        seen = once(seen, 4, id);
        p = skipString(buf, p, pEnd, 'content type');
        break;
      case P.ResponseTopic: {
        seen = once(seen, 8, id);
        const s = p + 2;
        p = skipString(buf, p, pEnd, 'response topic');
        // [MQTT-3.3.2-14] the response topic is a topic name: no wildcards.
        for (let i = s; i < p; i++) if (buf[i] === 0x2b || buf[i] === 0x23) throw protocolError('response topic contains a wildcard');
        if (p === s) throw protocolError('response topic is empty');
        break;
      }
      case P.CorrelationData:
        seen = once(seen, 16, id);
        if (p + 2 > pEnd) throw malformed('correlation data truncated');
        p += 2 + ((buf[p] << 8) | buf[p + 1]);
        if (p > pEnd) throw malformed('correlation data truncated');
        break;
      case P.UserProperty:
        p = skipString(buf, p, pEnd, 'user property name');
        p = skipString(buf, p, pEnd, 'user property value');
        break;
      case P.TopicAlias:
        seen = once(seen, 32, id);
        if (p + 2 > pEnd) throw malformed('topic alias truncated');
        m.alias = (buf[p] << 8) | buf[p + 1];
        if (m.alias === 0) throw new WireError(RC.TopicAliasInvalid, 'topic alias is 0');
        p += 2;
        strip = true;
        break;
      case P.SubscriptionIdentifier:
        // [MQTT-3.3.4-6] a client's PUBLISH does not carry subscription identifiers.
        throw protocolError('PUBLISH from a client carries a subscription identifier');
      default:
        throw malformed(`PUBLISH may not carry property 0x${id.toString(16)}`);
    }
  }
  if (p !== pEnd) throw malformed('PUBLISH properties overrun their length');
  if (!strip) {
    m.xBuf = buf;
    m.xOff = pStart;
    m.xLen = len;
  } else {
    m.xBuf = forwardable(buf, pStart, pEnd);
    m.xOff = 0;
    m.xLen = m.xBuf.length;
  }
  return pEnd;
}

function once(seen: number, bit: number, id: number): number {
  if (seen & bit) throw protocolError(`PUBLISH carries property 0x${id.toString(16)} more than once`);
  return seen | bit;
}

function skipString(buf: Buffer, p: number, end: number, what: string): number {
  if (p + 2 > end) throw malformed(`${what} truncated`);
  const n = (buf[p] << 8) | buf[p + 1];
  const s = p + 2;
  if (s + n > end) throw malformed(`${what} truncated`);
  if (!isMqttString(buf, s, s + n)) throw malformed(`${what} is not valid UTF-8 or contains U+0000`);
  return s + n;
}

/** The properties of an already validated block, minus topic alias and message expiry. */
function forwardable(buf: Buffer, p: number, end: number): Buffer {
  const parts: Buffer[] = [];
  while (p < end) {
    const id = buf[p];
    let q = p + 1;
    switch (id) {
      case P.PayloadFormatIndicator:
        q += 1;
        break;
      case P.MessageExpiryInterval:
        q += 4;
        break;
      case P.TopicAlias:
        q += 2;
        break;
      case P.UserProperty:
        q += 2 + ((buf[q] << 8) | buf[q + 1]);
        q += 2 + ((buf[q] << 8) | buf[q + 1]);
        break;
      default:
        // content type, response topic, correlation data: one length-prefixed field.
        q += 2 + ((buf[q] << 8) | buf[q + 1]);
    }
    if (id !== P.MessageExpiryInterval && id !== P.TopicAlias) parts.push(buf.subarray(p, q));
    p = q;
  }
  return Buffer.concat(parts);
}

/**
 * A payload over message_size_limit is not delivered. As Mosquitto does: QoS 1/2 publishers still get their
 * acknowledgement (v5: with 0x95 packet too large, Mosquitto's choice) so their flow completes.
 */
function rejectOversize(
  core: Core,
  conn: Client,
  qos: number,
  packetId: number,
  size: number,
  topic: string,
  dup: boolean,
  retain: boolean,
): void {
  const log = core.log;
  if (log.debug) {
    log.line(`Received PUBLISH from ${conn.logId} (d${dup ? 1 : 0}, q${qos}, r${retain ? 1 : 0}, m${packetId}, '${topic}', ... (${size} bytes))`);
  }
  if (log.notice) log.line(`Dropped too large PUBLISH from ${conn.logId} (d${dup ? 1 : 0}, q${qos}, r${retain ? 1 : 0}, m${packetId}, '${topic}', ... (${size} bytes))`);
  core.stats.pubDropped++;
  if (qos === 0) return;
  const rc = conn.protocolVersion === 5 ? RC.PacketTooLarge : 0;
  if (qos === 2 && rc === 0) conn.session!.addInbound(packetId);
  owe(conn, qos === 1 ? PUBACK : PUBREC, packetId, rc, null);
}
