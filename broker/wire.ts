/**
 * Reading MQTT wire types from a client's packet, strictly: every length is bounds-checked, every string is
 * well-formed UTF-8 without U+0000, every v5 property is allowed for its packet and appears at most once.
 * A violation throws a WireError carrying the v5 reason code the connection closes with.
 */
import { isUtf8 } from 'node:buffer';
import { RC } from '../src/protocol/reason-codes.js';
import { varintSize, writeVarint } from '../src/protocol/varint.js';

export { varintSize, writeVarint };

export class WireError extends Error {
  constructor(
    readonly rc: number,
    message: string,
  ) {
    super(message);
  }
}

export function malformed(message: string): WireError {
  return new WireError(RC.MalformedPacket, message);
}

export function protocolError(message: string): WireError {
  return new WireError(RC.ProtocolError, message);
}

/** Is bytes[start, end) a UTF-8 string MQTT allows: well-formed [MQTT-1.5.3-1] and without U+0000 [MQTT-1.5.3-2]? */
export function isMqttString(buf: Buffer, start: number, end: number): boolean {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = buf[i];
    if (b === 0) return false;
    if (b >= 0x80) ascii = false;
  }
  return ascii || isUtf8(buf.subarray(start, end));
}

const PACKET_NAMES = [
  'reserved', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK',
  'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH',
];

/** The name of packet type `type` (the high nibble of the first byte). */
export function packetName(type: number): string {
  return PACKET_NAMES[type] ?? 'reserved';
}

/**
 * [MQTT-2.2.2-1], [MQTT-2.2.2-2] fixed header flags of a packet other than PUBLISH: 0010 for PUBREL, SUBSCRIBE and
 * UNSUBSCRIBE, 0000 otherwise.
 */
export function checkFixedHeaderFlags(type: number, header: number): void {
  const flags = header & 0x0f;
  const expected = type === 6 || type === 8 || type === 10 ? 0x02 : 0x00;
  if (flags !== expected) throw malformed(`${packetName(type)} has fixed header flags ${flags.toString(2).padStart(4, '0')}`);
}

export class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.end) throw malformed(`packet too short for ${what}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u16(what: string): number {
    this.need(2, what);
    const v = (this.buf[this.pos] << 8) | this.buf[this.pos + 1];
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Variable byte integer, at most 4 bytes and in its shortest form [MQTT-1.5.5-1]. */
  varint(what: string): number {
    let value = 0;
    let mult = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * mult;
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw malformed(`${what} is not in its shortest encoding`);
        return value;
      }
      mult *= 128;
    }
    throw malformed(`${what} is longer than 4 bytes`);
  }

  binary(what: string): Buffer {
    const len = this.u16(what);
    this.need(len, what);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return out;
  }

  utf8(what: string): string {
    const len = this.u16(what);
    this.need(len, what);
    const start = this.pos;
    this.pos += len;
    if (!isMqttString(this.buf, start, this.pos)) throw malformed(`${what} is not valid UTF-8 or contains U+0000`);
    return this.buf.toString('utf8', start, this.pos);
  }
}

/** v5 property identifiers (§2.2.2.2). */
export const P = {
  PayloadFormatIndicator: 0x01,
  MessageExpiryInterval: 0x02,
  ContentType: 0x03,
  ResponseTopic: 0x08,
  CorrelationData: 0x09,
  SubscriptionIdentifier: 0x0b,
  SessionExpiryInterval: 0x11,
  AssignedClientIdentifier: 0x12,
  ServerKeepAlive: 0x13,
  AuthenticationMethod: 0x15,
  AuthenticationData: 0x16,
  RequestProblemInformation: 0x17,
  WillDelayInterval: 0x18,
  RequestResponseInformation: 0x19,
  ResponseInformation: 0x1a,
  ServerReference: 0x1c,
  ReasonString: 0x1f,
  ReceiveMaximum: 0x21,
  TopicAliasMaximum: 0x22,
  TopicAlias: 0x23,
  MaximumQoS: 0x24,
  RetainAvailable: 0x25,
  UserProperty: 0x26,
  MaximumPacketSize: 0x27,
  WildcardSubscriptionAvailable: 0x28,
  SubscriptionIdentifierAvailable: 0x29,
  SharedSubscriptionAvailable: 0x2a,
} as const;

type PropKind = 'byte' | 'u16' | 'u32' | 'varint' | 'utf8' | 'binary' | 'pair';

const KIND: Record<number, PropKind> = {
  [P.PayloadFormatIndicator]: 'byte',
  [P.MessageExpiryInterval]: 'u32',
  [P.ContentType]: 'utf8',
  [P.ResponseTopic]: 'utf8',
  [P.CorrelationData]: 'binary',
  [P.SubscriptionIdentifier]: 'varint',
  [P.SessionExpiryInterval]: 'u32',
  [P.AssignedClientIdentifier]: 'utf8',
  [P.ServerKeepAlive]: 'u16',
  [P.AuthenticationMethod]: 'utf8',
  [P.AuthenticationData]: 'binary',
  [P.RequestProblemInformation]: 'byte',
  [P.WillDelayInterval]: 'u32',
  [P.RequestResponseInformation]: 'byte',
  [P.ResponseInformation]: 'utf8',
  [P.ServerReference]: 'utf8',
  [P.ReasonString]: 'utf8',
  [P.ReceiveMaximum]: 'u16',
  [P.TopicAliasMaximum]: 'u16',
  [P.TopicAlias]: 'u16',
  [P.MaximumQoS]: 'byte',
  [P.RetainAvailable]: 'byte',
  [P.UserProperty]: 'pair',
  [P.MaximumPacketSize]: 'u32',
  [P.WildcardSubscriptionAvailable]: 'byte',
  [P.SubscriptionIdentifierAvailable]: 'byte',
  [P.SharedSubscriptionAvailable]: 'byte',
};

/** Properties a client may send, per packet (§3.x.2.3). */
export const ALLOWED = {
  connect: [
    P.SessionExpiryInterval, P.ReceiveMaximum, P.MaximumPacketSize, P.TopicAliasMaximum, P.RequestResponseInformation,
    P.RequestProblemInformation, P.UserProperty, P.AuthenticationMethod, P.AuthenticationData,
  ],
  will: [
    P.WillDelayInterval, P.PayloadFormatIndicator, P.MessageExpiryInterval, P.ContentType, P.ResponseTopic,
    P.CorrelationData, P.UserProperty,
  ],
  ack: [P.ReasonString, P.UserProperty],
  subscribe: [P.SubscriptionIdentifier, P.UserProperty],
  unsubscribe: [P.UserProperty],
  disconnect: [P.SessionExpiryInterval, P.ReasonString, P.UserProperty, P.ServerReference],
  auth: [P.AuthenticationMethod, P.AuthenticationData, P.ReasonString, P.UserProperty],
} as const satisfies Record<string, readonly number[]>;

export type PropValue = number | string | Buffer;

/** Decoded properties: single values by id, user properties in order. */
export interface Props {
  values: Map<number, PropValue>;
  user: [string, string][];
}

const NAME: Record<number, string> = Object.fromEntries(
  Object.entries(P).map(([name, id]) => [id, name.replace(/([a-z])([A-Z])/g, '$1 $2')]),
);

export function propertyName(id: number): string {
  return NAME[id] ?? `property 0x${id.toString(16)}`;
}

/** Read a property block (length + properties) at the cursor; `allowed` lists the ids this packet may carry. */
export function readProps(c: Cursor, allowed: readonly number[], where: string): Props {
  const len = c.varint(`${where} property length`);
  c.need(len, `${where} properties`);
  const end = c.pos + len;
  const props: Props = { values: new Map(), user: [] };
  const inner = new Cursor(c.buf, c.pos, end);
  while (inner.pos < end) {
    const id = inner.varint(`${where} property identifier`);
    const kind = KIND[id];
    if (kind === undefined || !allowed.includes(id)) {
      throw malformed(`${where} may not carry ${propertyName(id)}`);
    }
    if (kind === 'pair') {
      const k = inner.utf8('user property name');
      const v = inner.utf8('user property value');
      props.user.push([k, v]);
      continue;
    }
    // [MQTT-2.2.2-?] each property other than user properties (and subscription ids in PUBLISH) appears once.
    if (props.values.has(id)) throw protocolError(`${where} carries ${propertyName(id)} more than once`);
    props.values.set(id, readValue(inner, kind, propertyName(id)));
  }
  c.pos = end;
  return props;
}

function readValue(c: Cursor, kind: PropKind, what: string): PropValue {
  switch (kind) {
    case 'byte':
      return c.u8(what);
    case 'u16':
      return c.u16(what);
    case 'u32':
      return c.u32(what);
    case 'varint':
      return c.varint(what);
    case 'utf8':
      return c.utf8(what);
    case 'binary':
      return c.binary(what);
    case 'pair':
      throw new Error('unreachable');
  }
}

export function num(props: Props | undefined, id: number): number | undefined {
  const v = props?.values.get(id);
  return typeof v === 'number' ? v : undefined;
}

export function str(props: Props | undefined, id: number): string | undefined {
  const v = props?.values.get(id);
  return typeof v === 'string' ? v : undefined;
}

export function bin(props: Props | undefined, id: number): Buffer | undefined {
  const v = props?.values.get(id);
  return Buffer.isBuffer(v) ? v : undefined;
}

/** Encode properties (for forwarding a will's properties to subscribers), leaving out the ids in `exclude`. */
export function encodeProps(props: Props, exclude: readonly number[]): Buffer {
  const parts: Buffer[] = [];
  for (const [id, value] of props.values) {
    if (exclude.includes(id)) continue;
    parts.push(encodeValue(id, KIND[id], value));
  }
  for (const [k, v] of props.user) {
    const kb = Buffer.from(k, 'utf8');
    const vb = Buffer.from(v, 'utf8');
    const b = Buffer.allocUnsafe(5 + kb.length + vb.length);
    b[0] = P.UserProperty;
    b.writeUInt16BE(kb.length, 1);
    kb.copy(b, 3);
    b.writeUInt16BE(vb.length, 3 + kb.length);
    vb.copy(b, 5 + kb.length);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

function encodeValue(id: number, kind: PropKind, value: PropValue): Buffer {
  switch (kind) {
    case 'byte':
      return Buffer.from([id, value as number]);
    case 'u16': {
      const b = Buffer.allocUnsafe(3);
      b[0] = id;
      b.writeUInt16BE(value as number, 1);
      return b;
    }
    case 'u32': {
      const b = Buffer.allocUnsafe(5);
      b[0] = id;
      b.writeUInt32BE(value as number, 1);
      return b;
    }
    case 'varint': {
      const b = Buffer.allocUnsafe(1 + varintSize(value as number));
      b[0] = id;
      writeVarint(b, 1, value as number);
      return b;
    }
    case 'utf8':
    case 'binary': {
      const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : (value as Buffer);
      const b = Buffer.allocUnsafe(3 + data.length);
      b[0] = id;
      b.writeUInt16BE(data.length, 1);
      data.copy(b, 3);
      return b;
    }
    case 'pair':
      throw new Error('user properties are encoded separately');
  }
}
