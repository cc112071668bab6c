/**
 * Strict decoders for the packets a client sends, other than PUBLISH (which has its own in-place fast path in
 * handlers/publish.ts). Each takes the packet body [start, end) and throws WireError on anything malformed.
 *
 * These are written here rather than taken from mqtt-packet's parser because a server must refuse what that parser
 * accepts: ill-formed UTF-8 and U+0000 in strings, repeated v5 properties, properties not allowed for the packet,
 * trailing bytes, and an unsupported protocol level that still needs a CONNACK with the right code.
 */
import { RC } from '../src/protocol/reason-codes.js';
import { ALLOWED, Cursor, P, WireError, malformed, num, protocolError, readProps, type Props } from './wire.js';

export interface WillSpec {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  props: Props | undefined;
}

export interface ConnectPacket {
  protocolName: string;
  protocolVersion: number;
  clean: boolean;
  keepalive: number;
  props: Props | undefined;
  clientId: string;
  will: WillSpec | undefined;
  username: string | undefined;
  password: Buffer | undefined;
}

/** Why a CONNECT is refused, and whether the refusal gets a CONNACK before the close. */
export class ConnectRefusal extends Error {
  constructor(
    /** v5 reason code; mapped to a 3.1.1 return code when the client is not v5. */
    readonly rc: number,
    /** The protocol level to answer in (3/4 get the 2-byte CONNACK). */
    readonly protocolVersion: number,
    /** Send a CONNACK before closing. */
    readonly sendConnack: boolean,
    message: string,
  ) {
    super(message);
  }
}

export function decodeConnect(buf: Buffer, start: number, end: number): ConnectPacket {
  const c = new Cursor(buf, start, end);
  const nameLen = c.u16('protocol name');
  c.need(nameLen, 'protocol name');
  const protocolName = buf.toString('latin1', c.pos, c.pos + nameLen);
  c.pos += nameLen;
  // [MQTT-3.1.2-1] anything but "MQTT" (or "MQIsdp" for 3.1) is not this protocol: close without answering.
  if (protocolName !== 'MQTT' && protocolName !== 'MQIsdp') {
    throw new ConnectRefusal(RC.UnsupportedProtocolVersion, 4, false, `Invalid protocol "${protocolName}" in CONNECT`);
  }
  const level = c.u8('protocol level');
  const supported = protocolName === 'MQIsdp' ? level === 3 : level === 4 || level === 5;
  if (!supported) {
    // [MQTT-3.1.2-2] unsupported level: CONNACK 0x01 (3.1.1 form, as the client's level is unknown to us).
    throw new ConnectRefusal(RC.UnsupportedProtocolVersion, 4, true, `Invalid protocol version ${level} in CONNECT`);
  }
  const v5 = level === 5;
  const flags = c.u8('connect flags');
  // [MQTT-3.1.2-3] the reserved flag must be 0 (from 3.1.1 on: MQTT 3.1 did not reserve it, nor does Mosquitto).
  if (flags & 0x01 && level >= 4) throw refusal(level, 'CONNECT reserved flag is set');
  const clean = (flags & 0x02) !== 0;
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  const passwordFlag = (flags & 0x40) !== 0;
  const usernameFlag = (flags & 0x80) !== 0;
  if (!willFlag && (willQos !== 0 || willRetain)) {
    // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]
    throw refusal(level, 'CONNECT will QoS/retain set without the will flag');
  }
  // [MQTT-3.1.2-14]
  if (willQos === 3) throw refusal(level, 'CONNECT will QoS is 3');
  // [MQTT-3.1.2-22] 3.1.1: a password needs a username (v5 allows a password alone).
  if (!v5 && passwordFlag && !usernameFlag) throw refusal(level, 'CONNECT has a password flag without a username flag');
  const keepalive = c.u16('keepalive');
  let props: Props | undefined;
  try {
    if (v5) props = readProps(c, ALLOWED.connect, 'CONNECT');
    if (v5) checkConnectProps(props!);
    const clientId = c.utf8('client identifier');
    let will: WillSpec | undefined;
    if (willFlag) {
      const willProps = v5 ? readProps(c, ALLOWED.will, 'will') : undefined;
      const topic = c.utf8('will topic');
      const payload = c.binary('will payload');
      will = { topic, payload, qos: willQos, retain: willRetain, props: willProps };
    }
    const username = usernameFlag ? c.utf8('username') : undefined;
    const password = passwordFlag ? c.binary('password') : undefined;
    if (c.pos !== end) throw malformed('CONNECT has bytes after its payload');
    return { protocolName, protocolVersion: level, clean, keepalive, props, clientId, will, username, password };
  } catch (err) {
    if (err instanceof WireError) throw new ConnectRefusal(err.rc, level, v5, err.message);
    throw err;
  }
}

function refusal(level: number, message: string): ConnectRefusal {
  return new ConnectRefusal(RC.MalformedPacket, level, level === 5, message);
}

function checkConnectProps(props: Props): void {
  // [MQTT-3.1.2-?] a receive maximum or maximum packet size of 0 is a protocol error.
  if (num(props, P.ReceiveMaximum) === 0) throw protocolError('Receive Maximum is 0');
  if (num(props, P.MaximumPacketSize) === 0) throw protocolError('Maximum Packet Size is 0');
  const rri = num(props, P.RequestResponseInformation);
  if (rri !== undefined && rri > 1) throw protocolError('Request Response Information is not 0 or 1');
  const rpi = num(props, P.RequestProblemInformation);
  if (rpi !== undefined && rpi > 1) throw protocolError('Request Problem Information is not 0 or 1');
  if (props.values.has(P.AuthenticationData) && !props.values.has(P.AuthenticationMethod)) {
    throw protocolError('Authentication Data without an Authentication Method');
  }
}

export interface SubscriptionRequest {
  filter: string;
  qos: number;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
}

export interface SubscribePacket {
  packetId: number;
  props: Props | undefined;
  subscriptions: SubscriptionRequest[];
}

export function decodeSubscribe(buf: Buffer, start: number, end: number, v5: boolean): SubscribePacket {
  const c = new Cursor(buf, start, end);
  const packetId = readPacketId(c, 'SUBSCRIBE');
  const props = v5 ? readProps(c, ALLOWED.subscribe, 'SUBSCRIBE') : undefined;
  if (v5 && num(props, P.SubscriptionIdentifier) === 0) throw protocolError('Subscription Identifier is 0');
  const subscriptions: SubscriptionRequest[] = [];
  while (c.pos < end) {
    const filter = c.utf8('topic filter');
    const options = c.u8('subscription options');
    const qos = options & 0x03;
    // [MQTT-3.8.3-4] (3.1.1) reserved bits 2-7 are 0; (5.0) bits 6-7 are 0 [MQTT-3.8.3-5].
    if (options & (v5 ? 0xc0 : 0xfc)) throw malformed('subscription options have reserved bits set');
    if (qos === 3) throw malformed('subscription QoS is 3');
    const retainHandling = (options >> 4) & 0x03;
    if (retainHandling === 3) throw protocolError('retain handling is 3');
    subscriptions.push({
      filter,
      qos,
      noLocal: v5 && (options & 0x04) !== 0,
      retainAsPublished: v5 && (options & 0x08) !== 0,
      retainHandling: v5 ? retainHandling : 0,
    });
  }
  // [MQTT-3.8.3-3] at least one topic filter.
  if (subscriptions.length === 0) throw protocolError('SUBSCRIBE without any topic filter');
  return { packetId, props, subscriptions };
}

export interface UnsubscribePacket {
  packetId: number;
  props: Props | undefined;
  filters: string[];
}

export function decodeUnsubscribe(buf: Buffer, start: number, end: number, v5: boolean): UnsubscribePacket {
  const c = new Cursor(buf, start, end);
  const packetId = readPacketId(c, 'UNSUBSCRIBE');
  const props = v5 ? readProps(c, ALLOWED.unsubscribe, 'UNSUBSCRIBE') : undefined;
  const filters: string[] = [];
  while (c.pos < end) filters.push(c.utf8('topic filter'));
  // [MQTT-3.10.3-2] at least one topic filter.
  if (filters.length === 0) throw protocolError('UNSUBSCRIBE without any topic filter');
  return { packetId, props, filters };
}

export interface AckPacket {
  packetId: number;
  rc: number;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP. Properties (reason string, user properties) are validated and dropped. */
export function decodeAck(buf: Buffer, start: number, end: number, v5: boolean, what: string): AckPacket {
  const len = end - start;
  if (!v5 && len !== 2) throw malformed(`${what} remaining length is ${len}, not 2`);
  const c = new Cursor(buf, start, end);
  const packetId = readPacketId(c, what);
  let rc = 0;
  if (len > 2) rc = c.u8('reason code');
  if (len > 3) readProps(c, ALLOWED.ack, what);
  if (c.pos !== end) throw malformed(`${what} has bytes after its properties`);
  return { packetId, rc };
}

export interface DisconnectPacket {
  rc: number;
  props: Props | undefined;
}

export function decodeDisconnect(buf: Buffer, start: number, end: number, v5: boolean): DisconnectPacket {
  const len = end - start;
  if (!v5) {
    if (len !== 0) throw malformed('DISCONNECT has a body');
    return { rc: 0, props: undefined };
  }
  const c = new Cursor(buf, start, end);
  const rc = len > 0 ? c.u8('reason code') : 0;
  const props = len > 1 ? readProps(c, ALLOWED.disconnect, 'DISCONNECT') : undefined;
  if (c.pos !== end) throw malformed('DISCONNECT has bytes after its properties');
  return { rc, props };
}

export function decodeAuth(buf: Buffer, start: number, end: number): DisconnectPacket {
  const c = new Cursor(buf, start, end);
  const rc = end > start ? c.u8('reason code') : 0;
  const props = end - start > 1 ? readProps(c, ALLOWED.auth, 'AUTH') : undefined;
  if (c.pos !== end) throw malformed('AUTH has bytes after its properties');
  return { rc, props };
}

function readPacketId(c: Cursor, what: string): number {
  const id = c.u16('packet identifier');
  // [MQTT-2.3.1-1] SUBSCRIBE, UNSUBSCRIBE and QoS>0 PUBLISH carry a non-zero packet identifier. The spec names no
  // reason code; Mosquitto's are kept (0x81 here, 0x82 for PUBLISH).
  if (id === 0) throw malformed(`${what} packet identifier is 0`);
  return id;
}
