/**
 * Seeded MQTT packet fuzzer, packet by packet: valid packets of every type, protocol version and v5 property
 * (built with mqtt-packet), and byte-level mutations of them. connection-plans.ts strings them into connections.
 *
 * Everything is a pure function of a Prng, so one seed always yields the same bytes. Client ids start with `fuzz-`
 * and topics with `fuzz` (or are wildcards), so a run can keep its well-behaved clients out of the fuzzers' way by
 * using other names.
 */
import { generate, type IConnackPacket, type Packet, type PacketCmd, type QoS, type UserProperties } from 'mqtt-packet';
import type { Prng } from './prng.js';

export type FuzzVersion = 3 | 4 | 5;
export const FUZZ_VERSIONS: readonly FuzzVersion[] = [3, 4, 5];

export const PACKET_CMDS: readonly PacketCmd[] = [
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
];

export const MUTATION_KINDS = [
  'bit-flip',
  'truncate',
  'extend-stream',
  'extend-inside',
  'length-shorter',
  'length-longer',
  'length-non-minimal',
  'length-5-byte',
  'length-max',
  'header-flags',
  'qos-3',
  'packet-id',
  'bad-utf8',
  'string-oversize',
  'property-length',
  'property-duplicate',
  'property-foreign',
  'varint-huge',
  'type-swap',
  'random-bytes',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

export interface FuzzPacket {
  bytes: Buffer;
  /** The packet type it was built as; 'random' for bytes that never were a packet. */
  cmd: PacketCmd | 'random';
  /** The protocol version whose encoding was used. */
  version: FuzzVersion;
  /** The mutation applied to the valid encoding, if any. */
  mutation: MutationKind | undefined;
}

/** Topics the fuzzers publish to; filters they subscribe to. None reaches outside `fuzz/` except through wildcards. */
const FUZZ_TOPICS = [
  'fuzz/a',
  'fuzz/b/c',
  'fuzz/retained/x',
  'fuzz/ünïcödé/✓',
  'fuzz/sp ace',
  'fuzz//empty-level',
  'fuzz/' + 'long/'.repeat(40) + 'end',
] as const;
const FUZZ_FILTERS = [
  '#',
  '+',
  '+/+',
  '+/#',
  'fuzz/#',
  'fuzz/+/c',
  'fuzz/a',
  '$SYS/#',
  '$share/g1/fuzz/#',
  '$share/g2/#',
  '/#',
] as const;

/** Ill-formed UTF-8 (and U+0000) where every prefix is still ill-formed, so a truncated copy stays bad. */
const BAD_UTF8: readonly number[][] = [
  [0x00], // U+0000 [MQTT-1.5.3-2]
  [0xc0, 0x80], // overlong U+0000
  [0xed, 0xa0, 0x80], // UTF-16 surrogate U+D800 [MQTT-1.5.3-1]
  [0xff],
  [0xfe, 0xff],
  [0x80], // lone continuation byte
  [0xe0, 0x80, 0x80], // overlong
  [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
  [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
];

// Per type, as mqtt-packet (and the spec's tables) allow them: PUBREL and PUBCOMP know only success and 0x92.
const V5_REASONS_PUBACK = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99] as const;
const V5_REASONS_PUBREL = [0x00, 0x92] as const;
const V5_REASONS_DISCONNECT = [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x8d, 0x93, 0x95, 0x96, 0x98] as const;

// ---------------------------------------------------------------------------------------------------------------
// Valid packets

export function fuzzClientId(p: Prng): string {
  // A small id pool makes fuzzers take over each other's sessions.
  return p.chance(0.8) ? `fuzz-${p.int(48)}` : `fuzz-${p.word(p.between(1, 16))}`;
}

export function fuzzTopic(p: Prng): string {
  return p.chance(0.6) ? p.pick(FUZZ_TOPICS) : `fuzz/${p.word(p.between(1, 10))}/${p.int(8)}`;
}

export function fuzzFilter(p: Prng): string {
  if (p.chance(0.7)) return p.pick(FUZZ_FILTERS);
  return `fuzz/${p.chance(0.5) ? '+' : p.word(3)}/${p.chance(0.5) ? '#' : p.word(2)}`;
}

export function fuzzPayload(p: Prng): Buffer {
  return p.bytes(p.chance(0.03) ? p.between(256, 4096) : p.between(0, 48));
}

function userProperties(p: Prng): UserProperties {
  const props: UserProperties = {};
  const n = p.between(1, 3);
  for (let i = 0; i < n; i++) {
    const key = p.word(p.between(1, 8));
    props[key] = p.chance(0.3) ? [p.word(4), p.word(p.between(0, 12))] : p.word(p.between(0, 12));
  }
  return props;
}

/** `value` with probability p, else undefined (mqtt-packet skips undefined properties). */
function maybe<T>(p: Prng, probability: number, value: () => T): T | undefined {
  return p.chance(probability) ? value() : undefined;
}

function buildConnect(p: Prng, version: FuzzVersion): Packet {
  const clean = p.chance(0.6);
  const clientId = version !== 3 && clean && p.chance(0.05) ? '' : fuzzClientId(p);
  const username = maybe(p, 0.2, () => p.word(p.between(0, 10)));
  // The broker offers no extended authentication: a method is refused, with or without data.
  const authenticationMethod = maybe(p, 0.05, () => p.word(6));
  return {
    cmd: 'connect',
    protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    clientId,
    clean,
    keepalive: p.chance(0.3) ? 0 : p.between(1, 600),
    username,
    password: username !== undefined && p.chance(0.5) ? p.bytes(p.between(0, 12)) : undefined,
    will: p.chance(0.25)
      ? {
          topic: fuzzTopic(p),
          payload: fuzzPayload(p),
          qos: p.int(3) as QoS,
          retain: p.chance(0.2),
          properties:
            version === 5
              ? {
                  willDelayInterval: maybe(p, 0.3, () => p.int(3)),
                  payloadFormatIndicator: maybe(p, 0.2, () => p.chance(0.5)),
                  messageExpiryInterval: maybe(p, 0.2, () => p.between(1, 3600)),
                  contentType: maybe(p, 0.2, () => p.word(6)),
                  responseTopic: maybe(p, 0.2, () => fuzzTopic(p)),
                  correlationData: maybe(p, 0.2, () => p.bytes(p.between(0, 8))),
                  userProperties: maybe(p, 0.3, () => userProperties(p)),
                }
              : undefined,
        }
      : undefined,
    properties:
      version === 5
        ? {
            sessionExpiryInterval: maybe(p, 0.5, () => (p.chance(0.1) ? 0xffffffff : p.int(600))),
            receiveMaximum: maybe(p, 0.3, () => p.between(1, 65535)),
            maximumPacketSize: maybe(p, 0.15, () => p.between(16, 1 << 20)),
            topicAliasMaximum: maybe(p, 0.3, () => p.int(20)),
            requestResponseInformation: maybe(p, 0.2, () => p.chance(0.5)),
            requestProblemInformation: maybe(p, 0.2, () => p.chance(0.5)),
            userProperties: maybe(p, 0.3, () => userProperties(p)),
            authenticationMethod,
            authenticationData: authenticationMethod === undefined ? undefined : maybe(p, 0.6, () => p.bytes(8)),
          }
        : undefined,
  };
}

function packetId(p: Prng): number {
  return p.chance(0.03) ? 0 : p.between(1, 65535);
}

function buildPublish(p: Prng, version: FuzzVersion): Packet {
  const qos = p.int(3) as QoS;
  const alias = version === 5 ? maybe(p, 0.2, () => p.between(1, 12)) : undefined;
  return {
    cmd: 'publish',
    qos,
    dup: qos > 0 && p.chance(0.1),
    retain: p.chance(0.08),
    // An alias-only PUBLISH has an empty topic; without a known alias it is a protocol error.
    topic: alias !== undefined && p.chance(0.4) ? '' : fuzzTopic(p),
    payload: fuzzPayload(p),
    messageId: qos > 0 ? packetId(p) : undefined,
    properties:
      version === 5
        ? {
            payloadFormatIndicator: maybe(p, 0.15, () => p.chance(0.5)),
            messageExpiryInterval: maybe(p, 0.2, () => p.between(0, 3600)),
            topicAlias: alias,
            responseTopic: maybe(p, 0.1, () => fuzzTopic(p)),
            correlationData: maybe(p, 0.1, () => p.bytes(p.between(0, 16))),
            userProperties: maybe(p, 0.2, () => userProperties(p)),
            // Only a server may send this one; a client sending it is a protocol error.
            subscriptionIdentifier: maybe(p, 0.03, () => p.between(1, 1000)),
            contentType: maybe(p, 0.1, () => p.word(8)),
          }
        : undefined,
  };
}

interface AckProperties {
  reasonString?: string;
  userProperties?: UserProperties;
}

function ackProperties(p: Prng, version: FuzzVersion): AckProperties | undefined {
  if (version !== 5 || p.chance(0.6)) return undefined;
  return {
    reasonString: maybe(p, 0.5, () => p.word(p.between(0, 20))),
    userProperties: maybe(p, 0.5, () => userProperties(p)),
  };
}

function connackProperties(p: Prng): IConnackPacket['properties'] {
  return {
    sessionExpiryInterval: maybe(p, 0.3, () => p.int(600)),
    receiveMaximum: maybe(p, 0.3, () => p.between(1, 100)),
    maximumQoS: maybe(p, 0.3, () => p.int(2)),
    retainAvailable: maybe(p, 0.3, () => p.chance(0.5)),
    maximumPacketSize: maybe(p, 0.3, () => p.between(64, 1 << 20)),
    assignedClientIdentifier: maybe(p, 0.3, () => `fuzz-${p.word(8)}`),
    topicAliasMaximum: maybe(p, 0.3, () => p.int(20)),
    reasonString: maybe(p, 0.3, () => p.word(12)),
    userProperties: maybe(p, 0.3, () => userProperties(p)),
    wildcardSubscriptionAvailable: maybe(p, 0.3, () => p.chance(0.5)),
    subscriptionIdentifiersAvailable: maybe(p, 0.3, () => p.chance(0.5)),
    sharedSubscriptionAvailable: maybe(p, 0.3, () => p.chance(0.5)),
    serverKeepAlive: maybe(p, 0.3, () => p.int(600)),
    responseInformation: maybe(p, 0.3, () => `fuzz/${p.word(6)}`),
    serverReference: maybe(p, 0.3, () => `${p.word(6)}:1883`),
    authenticationMethod: maybe(p, 0.3, () => p.word(6)),
    authenticationData: maybe(p, 0.3, () => p.bytes(p.between(0, 8))),
  };
}

function buildPacket(p: Prng, cmd: PacketCmd, version: FuzzVersion): Packet {
  switch (cmd) {
    case 'connect':
      return buildConnect(p, version);
    case 'publish':
      return buildPublish(p, version);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return {
        cmd,
        messageId: packetId(p),
        reasonCode: p.chance(0.7)
          ? 0
          : p.pick(cmd === 'puback' || cmd === 'pubrec' ? V5_REASONS_PUBACK : V5_REASONS_PUBREL),
        properties: ackProperties(p, version),
      };
    case 'subscribe': {
      const n = p.chance(0.8) ? 1 : p.between(2, 4);
      const subscriptions = [];
      for (let i = 0; i < n; i++) {
        subscriptions.push({
          topic: fuzzFilter(p),
          qos: p.int(3) as QoS,
          nl: version === 5 ? p.chance(0.2) : undefined,
          rap: version === 5 ? p.chance(0.2) : undefined,
          rh: version === 5 ? p.int(3) : undefined,
        });
      }
      return {
        cmd,
        messageId: packetId(p),
        subscriptions,
        properties:
          version === 5
            ? {
                subscriptionIdentifier: maybe(p, 0.3, () => p.between(1, 268435455)),
                userProperties: maybe(p, 0.2, () => userProperties(p)),
              }
            : undefined,
      };
    }
    case 'unsubscribe': {
      const n = p.chance(0.8) ? 1 : p.between(2, 4);
      const unsubscriptions: string[] = [];
      for (let i = 0; i < n; i++) unsubscriptions.push(fuzzFilter(p));
      return {
        cmd,
        messageId: packetId(p),
        unsubscriptions,
        properties: version === 5 ? { userProperties: maybe(p, 0.2, () => userProperties(p)) } : undefined,
      };
    }
    case 'connack':
      // Only a server sends CONNACK; from a client it is a protocol error, whatever it carries. It is also the one
      // packet that can carry every server-side property, so the broker meets each of them somewhere.
      return {
        cmd,
        sessionPresent: p.chance(0.5),
        returnCode: version === 5 ? undefined : p.int(6),
        reasonCode: version === 5 ? p.pick([0x00, 0x80, 0x85, 0x87]) : undefined,
        properties: version === 5 ? connackProperties(p) : undefined,
      };
    case 'suback':
      return { cmd, messageId: packetId(p), granted: [p.pick([0, 1, 2, 0x80])], properties: ackProperties(p, version) };
    case 'unsuback':
      return {
        cmd,
        messageId: packetId(p),
        granted: [p.pick([0x00, 0x11, 0x80])],
        properties: ackProperties(p, version),
      };
    case 'pingreq':
    case 'pingresp':
      return { cmd };
    case 'disconnect':
      return {
        cmd,
        reasonCode: p.chance(0.6) ? 0 : p.pick(V5_REASONS_DISCONNECT),
        properties:
          version === 5 && p.chance(0.4)
            ? {
                sessionExpiryInterval: maybe(p, 0.5, () => p.int(600)),
                reasonString: maybe(p, 0.5, () => p.word(10)),
                userProperties: maybe(p, 0.3, () => userProperties(p)),
                serverReference: maybe(p, 0.1, () => `${p.word(6)}:1883`),
              }
            : undefined,
      };
    case 'auth':
      return {
        cmd,
        reasonCode: p.pick([0x00, 0x18, 0x19]),
        properties: {
          authenticationMethod: maybe(p, 0.7, () => p.word(8)),
          authenticationData: maybe(p, 0.5, () => p.bytes(p.between(0, 16))),
          reasonString: maybe(p, 0.2, () => p.word(8)),
        },
      };
  }
}

/** A valid encoding of a random packet of type `cmd`. AUTH exists only in v5, so it is always encoded as v5. */
export function validPacket(p: Prng, cmd: PacketCmd, version: FuzzVersion): FuzzPacket {
  const v: FuzzVersion = cmd === 'auth' ? 5 : version;
  const packet = buildPacket(p, cmd, v);
  // mqtt-packet only looks at protocolVersion 5 here; 3 and 4 share one encoding outside CONNECT.
  return { bytes: generate(packet, { protocolVersion: v }), cmd, version: v, mutation: undefined };
}

// ---------------------------------------------------------------------------------------------------------------
// Layout of an encoding: where the fields a mutation aims at are

interface Layout {
  headerLength: number;
  remainingLength: number;
  packetIdAt: number | undefined;
  /** Offset of the v5 property length varint. */
  propsLengthAt: number | undefined;
  /** Offset of the v5 will property length varint of a CONNECT. */
  willPropsLengthAt: number | undefined;
  /** Offsets of the 2-byte length prefixes of UTF-8 string fields (not the protocol name). */
  strings: number[];
  /** CONNECT flags byte. */
  connectFlagsAt: number | undefined;
  /** Options byte of the last subscription of a SUBSCRIBE. */
  lastOptionsAt: number | undefined;
}

function readVarint(b: Buffer, at: number): { value: number; length: number } {
  let value = 0;
  let mult = 1;
  for (let i = 0; i < 4 && at + i < b.length; i++) {
    const byte = b[at + i];
    value += (byte & 0x7f) * mult;
    if ((byte & 0x80) === 0) return { value, length: i + 1 };
    mult *= 128;
  }
  throw new Error(`fuzz layout: malformed varint at ${at} in a packet that mqtt-packet generated`);
}

function encodeVarint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function layoutOf(pkt: FuzzPacket): Layout {
  const b = pkt.bytes;
  const rl = readVarint(b, 1);
  const h = 1 + rl.length;
  const layout: Layout = {
    headerLength: h,
    remainingLength: rl.value,
    packetIdAt: undefined,
    propsLengthAt: undefined,
    willPropsLengthAt: undefined,
    strings: [],
    connectFlagsAt: undefined,
    lastOptionsAt: undefined,
  };
  const v5 = pkt.version === 5;
  switch (pkt.cmd) {
    case 'connect': {
      const flagsAt = h + 2 + b.readUInt16BE(h) + 1;
      layout.connectFlagsAt = flagsAt;
      let pos = flagsAt + 3;
      if (v5) {
        layout.propsLengthAt = pos;
        const props = readVarint(b, pos);
        pos += props.length + props.value;
      }
      layout.strings.push(pos); // client id
      pos += 2 + b.readUInt16BE(pos);
      if (b[flagsAt] & 0x04) {
        if (v5) {
          layout.willPropsLengthAt = pos;
          const willProps = readVarint(b, pos);
          pos += willProps.length + willProps.value;
        }
        layout.strings.push(pos); // will topic
      }
      break;
    }
    case 'publish': {
      layout.strings.push(h);
      let pos = h + 2 + b.readUInt16BE(h);
      if (b[0] & 0x06) {
        layout.packetIdAt = pos;
        pos += 2;
      }
      if (v5) layout.propsLengthAt = pos;
      break;
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      layout.packetIdAt = h;
      if (v5 && rl.value >= 4) layout.propsLengthAt = h + 3;
      break;
    case 'subscribe':
    case 'unsubscribe': {
      layout.packetIdAt = h;
      let pos = h + 2;
      if (v5) {
        layout.propsLengthAt = pos;
        const props = readVarint(b, pos);
        pos += props.length + props.value;
      }
      layout.strings.push(pos);
      if (pkt.cmd === 'subscribe') layout.lastOptionsAt = b.length - 1;
      break;
    }
    case 'suback':
    case 'unsuback':
      layout.packetIdAt = h;
      if (v5) layout.propsLengthAt = h + 2;
      break;
    case 'connack':
      if (v5) layout.propsLengthAt = h + 2;
      break;
    case 'disconnect':
    case 'auth':
      if (v5 && rl.value >= 2) layout.propsLengthAt = h + 1;
      break;
    default:
      break;
  }
  return layout;
}

// ---------------------------------------------------------------------------------------------------------------
// v5 properties: what each identifier's value looks like, and where each may appear

type PropertyValue = 'byte' | 'int16' | 'int32' | 'varint' | 'string' | 'binary' | 'pair';

const PROPERTY_VALUES: ReadonlyMap<number, PropertyValue> = new Map([
  [0x01, 'byte'], // payload format indicator
  [0x02, 'int32'], // message expiry interval
  [0x03, 'string'], // content type
  [0x08, 'string'], // response topic
  [0x09, 'binary'], // correlation data
  [0x0b, 'varint'], // subscription identifier
  [0x11, 'int32'], // session expiry interval
  [0x12, 'string'], // assigned client identifier
  [0x13, 'int16'], // server keep alive
  [0x15, 'string'], // authentication method
  [0x16, 'binary'], // authentication data
  [0x17, 'byte'], // request problem information
  [0x18, 'int32'], // will delay interval
  [0x19, 'byte'], // request response information
  [0x1a, 'string'], // response information
  [0x1c, 'string'], // server reference
  [0x1f, 'string'], // reason string
  [0x21, 'int16'], // receive maximum
  [0x22, 'int16'], // topic alias maximum
  [0x23, 'int16'], // topic alias
  [0x24, 'byte'], // maximum QoS
  [0x25, 'byte'], // retain available
  [0x26, 'pair'], // user property
  [0x27, 'int32'], // maximum packet size
  [0x28, 'byte'], // wildcard subscription available
  [0x29, 'byte'], // subscription identifiers available
  [0x2a, 'byte'], // shared subscription available
]);

/** Every MQTT 5 property identifier. */
export const V5_PROPERTY_IDS: readonly number[] = [...PROPERTY_VALUES.keys()];

const ACK_PROPERTIES = [0x1f, 0x26];
/** The properties each packet may carry (MQTT 5 section 2.2.2.2); a CONNECT's will has a list of its own. */
const ALLOWED_PROPERTIES: Readonly<Record<PacketCmd | 'will', readonly number[]>> = {
  connect: [0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x26, 0x15, 0x16],
  will: [0x18, 0x01, 0x02, 0x03, 0x08, 0x09, 0x26],
  connack: [0x11, 0x21, 0x24, 0x25, 0x27, 0x12, 0x22, 0x1f, 0x26, 0x28, 0x29, 0x2a, 0x13, 0x1a, 0x1c, 0x15, 0x16],
  publish: [0x01, 0x02, 0x23, 0x08, 0x09, 0x26, 0x0b, 0x03],
  puback: ACK_PROPERTIES,
  pubrec: ACK_PROPERTIES,
  pubrel: ACK_PROPERTIES,
  pubcomp: ACK_PROPERTIES,
  subscribe: [0x0b, 0x26],
  suback: ACK_PROPERTIES,
  unsubscribe: [0x26],
  unsuback: ACK_PROPERTIES,
  pingreq: [],
  pingresp: [],
  disconnect: [0x11, 0x1f, 0x26, 0x1c],
  auth: [0x15, 0x16, 0x1f, 0x26],
};

interface PropertyList {
  /** Offset of the property length varint. */
  at: number;
  /** Offsets of the first and past the last property byte. */
  start: number;
  end: number;
  entries: { id: number; start: number; end: number }[];
}

/** The property list whose length varint is at `at`, in an encoding mqtt-packet produced. */
function readProperties(b: Buffer, at: number): PropertyList {
  const length = readVarint(b, at);
  const start = at + length.length;
  const end = start + length.value;
  const entries: PropertyList['entries'] = [];
  for (let pos = start; pos < end; ) {
    const id = b[pos];
    const kind = PROPERTY_VALUES.get(id);
    if (kind === undefined) throw new Error(`fuzz layout: unknown property 0x${id.toString(16)} at ${pos}`);
    const valueAt = pos + 1;
    let next: number;
    switch (kind) {
      case 'byte':
        next = valueAt + 1;
        break;
      case 'int16':
        next = valueAt + 2;
        break;
      case 'int32':
        next = valueAt + 4;
        break;
      case 'varint':
        next = valueAt + readVarint(b, valueAt).length;
        break;
      case 'string':
      case 'binary':
        next = valueAt + 2 + b.readUInt16BE(valueAt);
        break;
      case 'pair': {
        const valueStart = valueAt + 2 + b.readUInt16BE(valueAt);
        next = valueStart + 2 + b.readUInt16BE(valueStart);
        break;
      }
    }
    entries.push({ id, start: pos, end: next });
    pos = next;
  }
  return { at, start, end, entries };
}

/** The identifiers of the properties an unmutated v5 packet carries, its will's included. */
export function propertyIds(pkt: FuzzPacket): number[] {
  if (pkt.version !== 5 || pkt.mutation !== undefined || pkt.cmd === 'random') return [];
  const layout = layoutOf(pkt);
  const ids: number[] = [];
  for (const at of [layout.propsLengthAt, layout.willPropsLengthAt]) {
    if (at !== undefined && at < pkt.bytes.length) ids.push(...readProperties(pkt.bytes, at).entries.map((e) => e.id));
  }
  return ids;
}

/** One property of identifier `id` with a value of the right shape (not necessarily a sensible one). */
function encodeProperty(p: Prng, id: number): Buffer {
  const lengthPrefixed = (bytes: Buffer): Buffer => Buffer.concat([u16(bytes.length), bytes]);
  switch (PROPERTY_VALUES.get(id)) {
    case 'byte':
      return Buffer.from([id, p.int(2)]);
    case 'int16':
      return Buffer.concat([Buffer.from([id]), u16(p.int(65536))]);
    case 'int32': {
      const b = Buffer.alloc(5);
      b[0] = id;
      b.writeUInt32BE(p.next(), 1);
      return b;
    }
    case 'varint':
      return Buffer.from([id, ...encodeVarint(p.between(1, 268_435_455))]);
    case 'string':
      return Buffer.concat([Buffer.from([id]), lengthPrefixed(Buffer.from(p.word(p.between(0, 12))))]);
    case 'binary':
      return Buffer.concat([Buffer.from([id]), lengthPrefixed(p.bytes(p.between(0, 12)))]);
    case 'pair':
      return Buffer.concat([Buffer.from([id]), lengthPrefixed(Buffer.from(p.word(4))), lengthPrefixed(Buffer.from(p.word(6)))]);
    default:
      return Buffer.from([id]);
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// Mutations

function withRemainingLength(
  b: Buffer,
  layout: Layout,
  rlBytes: number[],
  body = b.subarray(layout.headerLength),
): Buffer {
  return Buffer.concat([Buffer.from([b[0], ...rlBytes]), body]);
}

/** The packet with the property list at `list.at` replaced by `content`, its length written as `lengthBytes`. */
function withProperties(
  b: Buffer,
  layout: Layout,
  list: PropertyList,
  content: Buffer,
  lengthBytes = encodeVarint(content.length),
): Buffer {
  const body = Buffer.concat([
    b.subarray(layout.headerLength, list.at),
    Buffer.from(lengthBytes),
    content,
    b.subarray(list.end),
  ]);
  return withRemainingLength(b, layout, encodeVarint(body.length), body);
}

/** The property list's bytes with `extra` inserted at a property boundary. */
function insertProperty(p: Prng, b: Buffer, list: PropertyList, extra: Buffer): Buffer {
  const boundaries = [list.start, ...list.entries.map((e) => e.end)];
  const at = p.pick(boundaries);
  return Buffer.concat([b.subarray(list.start, at), extra, b.subarray(at, list.end)]);
}

function bitFlip(p: Prng, b: Buffer): Buffer {
  const out = Buffer.from(b);
  const flips = p.between(1, 4);
  for (let i = 0; i < flips; i++) out[p.int(out.length)] ^= 1 << p.int(8);
  return out;
}

/** Applies `kind`, or a bit flip when the packet has no field `kind` aims at; returns what was applied. */
function applyMutation(p: Prng, pkt: FuzzPacket, kind: MutationKind): { bytes: Buffer; kind: MutationKind } {
  const b = pkt.bytes;
  const layout = layoutOf(pkt);
  const rl = layout.remainingLength;
  const body = b.subarray(layout.headerLength);
  switch (kind) {
    case 'bit-flip':
      return { bytes: bitFlip(p, b), kind };
    case 'truncate':
      return { bytes: Buffer.from(b.subarray(0, p.between(1, b.length - 1))), kind };
    case 'extend-stream':
      // The extra bytes are read as the start of the next packet.
      return { bytes: Buffer.concat([b, p.bytes(p.between(1, 24))]), kind };
    case 'extend-inside': {
      const extra = p.bytes(p.between(1, 24));
      const bytes = withRemainingLength(b, layout, encodeVarint(rl + extra.length), Buffer.concat([body, extra]));
      return { bytes, kind };
    }
    case 'length-shorter':
      if (rl === 0) return applyMutation(p, pkt, 'length-longer');
      return { bytes: withRemainingLength(b, layout, encodeVarint(p.int(rl))), kind };
    case 'length-longer':
      return { bytes: withRemainingLength(b, layout, encodeVarint(rl + p.between(1, 64))), kind };
    case 'length-non-minimal': {
      const minimal = encodeVarint(rl);
      if (minimal.length >= 4) return applyMutation(p, pkt, 'length-5-byte');
      // Same value, one continuation byte too many: [MQTT-1.5.5-1] asks for the minimum number of bytes.
      minimal[minimal.length - 1] |= 0x80;
      return { bytes: withRemainingLength(b, layout, [...minimal, 0x00]), kind };
    }
    case 'length-5-byte':
      // A varint may have at most four bytes; the fifth makes the packet malformed whatever its value.
      return {
        bytes: withRemainingLength(
          b,
          layout,
          p.chance(0.5)
            ? [0xff, 0xff, 0xff, 0xff, 0x7f]
            : [0x80 | (rl & 0x7f), 0x80 | ((rl >> 7) & 0x7f), 0x80, 0x80, 0x00],
        ),
        kind,
      };
    case 'length-max':
      // 268,435,455 bytes announced, a few dozen sent: the broker must not trust the length with its memory.
      return { bytes: withRemainingLength(b, layout, [0xff, 0xff, 0xff, 0x7f]), kind };
    case 'header-flags': {
      const out = Buffer.from(b);
      out[0] ^= p.between(1, 15);
      return { bytes: out, kind };
    }
    case 'qos-3': {
      const out = Buffer.from(b);
      if (pkt.cmd === 'subscribe' && layout.lastOptionsAt !== undefined) out[layout.lastOptionsAt] |= 0x03;
      else if (pkt.cmd === 'connect' && layout.connectFlagsAt !== undefined) out[layout.connectFlagsAt] |= 0x18;
      else out[0] = (out[0] & 0xf0) | 0x06 | (out[0] & 0x09);
      return { bytes: out, kind };
    }
    case 'packet-id': {
      if (layout.packetIdAt === undefined) return { bytes: bitFlip(p, b), kind: 'bit-flip' };
      const out = Buffer.from(b);
      out.writeUInt16BE(p.chance(0.5) ? 0 : p.int(65536), layout.packetIdAt);
      return { bytes: out, kind };
    }
    case 'bad-utf8': {
      const candidates = layout.strings.filter((at) => b.readUInt16BE(at) > 0);
      if (candidates.length === 0) return { bytes: bitFlip(p, b), kind: 'bit-flip' };
      const at = p.pick(candidates);
      const len = b.readUInt16BE(at);
      const seq = p.pick(BAD_UTF8).slice(0, len);
      const out = Buffer.from(b);
      const start = at + 2 + p.int(len - seq.length + 1);
      for (let i = 0; i < seq.length; i++) out[start + i] = seq[i];
      return { bytes: out, kind };
    }
    case 'string-oversize': {
      if (layout.strings.length === 0) return { bytes: bitFlip(p, b), kind: 'bit-flip' };
      const at = p.pick(layout.strings);
      const out = Buffer.from(b);
      out.writeUInt16BE(p.chance(0.5) ? 0xffff : Math.min(0xffff, b.readUInt16BE(at) + p.between(1, rl + 8)), at);
      return { bytes: out, kind };
    }
    case 'property-length': {
      const at = layout.propsLengthAt;
      if (at === undefined || at >= b.length) return { bytes: bitFlip(p, b), kind: 'bit-flip' };
      const props = readVarint(b, at);
      const before = b.subarray(layout.headerLength, at);
      const after = b.subarray(at + props.length);
      const choice = p.int(3);
      if (choice === 0 && props.value < 16384) {
        // The same property length in five bytes.
        const five = [0x80 | (props.value & 0x7f), 0x80 | ((props.value >> 7) & 0x7f), 0x80, 0x80, 0x00];
        const newBody = Buffer.concat([before, Buffer.from(five), after]);
        return { bytes: withRemainingLength(b, layout, encodeVarint(newBody.length), newBody), kind };
      }
      if (choice === 1 && props.value < 100) {
        // An unknown, duplicated or truncated property inserted at the front of the list.
        const id = p.pick([0x00, 0x01, 0x0b, 0x11, 0x23, 0x26, 0x2a, 0x7f, 0xff]);
        const inserted = Buffer.concat([Buffer.from([id]), p.bytes(p.between(0, 6))]);
        const propsLength = Buffer.from(encodeVarint(props.value + inserted.length));
        const newBody = Buffer.concat([before, propsLength, inserted, after]);
        return { bytes: withRemainingLength(b, layout, encodeVarint(newBody.length), newBody), kind };
      }
      // A property length that disagrees with what follows.
      const out = Buffer.from(b);
      if (props.length === 1) out[at] = p.chance(0.5) ? 0x7f : Math.min(0x7f, props.value + p.between(1, 40));
      else out[at] ^= 0x01;
      return { bytes: out, kind };
    }
    case 'property-duplicate': {
      // A property that may appear once, twice [MQTT-2.2.2-2]; user properties may repeat, so they do not count.
      if (layout.propsLengthAt === undefined || layout.propsLengthAt >= b.length || pkt.cmd === 'random') {
        return { bytes: bitFlip(p, b), kind: 'bit-flip' };
      }
      const list = readProperties(b, layout.propsLengthAt);
      const once = list.entries.filter((e) => e.id !== 0x26);
      let extra: Buffer;
      if (once.length > 0) {
        const e = p.pick(once);
        extra = Buffer.from(b.subarray(e.start, e.end));
      } else {
        const candidates = ALLOWED_PROPERTIES[pkt.cmd].filter((id) => id !== 0x26);
        if (candidates.length === 0) return applyMutation(p, pkt, 'property-foreign');
        const one = encodeProperty(p, p.pick(candidates));
        extra = Buffer.concat([one, one]);
      }
      return { bytes: withProperties(b, layout, list, insertProperty(p, b, list, extra)), kind };
    }
    case 'property-foreign': {
      // A property this packet type may not carry, or an identifier that is no property at all.
      if (layout.propsLengthAt === undefined || layout.propsLengthAt >= b.length || pkt.cmd === 'random') {
        return { bytes: bitFlip(p, b), kind: 'bit-flip' };
      }
      const list = readProperties(b, layout.propsLengthAt);
      const allowed = ALLOWED_PROPERTIES[pkt.cmd];
      const foreign = V5_PROPERTY_IDS.filter((id) => !allowed.includes(id));
      const extra = p.chance(0.85) ? encodeProperty(p, p.pick(foreign)) : Buffer.from([p.pick([0x00, 0x04, 0x2b, 0x7f, 0x80])]);
      return { bytes: withProperties(b, layout, list, insertProperty(p, b, list, extra)), kind };
    }
    case 'varint-huge': {
      // Without properties, the remaining length is the packet's only variable byte integer.
      if (layout.propsLengthAt === undefined || layout.propsLengthAt >= b.length) return applyMutation(p, pkt, 'length-max');
      const list = readProperties(b, layout.propsLengthAt);
      const content = b.subarray(list.start, list.end);
      switch (p.int(3)) {
        case 0:
          // A property length of 268,435,455 in a packet of a few dozen bytes.
          return { bytes: withProperties(b, layout, list, content, [0xff, 0xff, 0xff, 0x7f]), kind };
        case 1: {
          // A subscription identifier at the largest value a varint holds, or in five bytes.
          const value = p.chance(0.5) ? [0xff, 0xff, 0xff, 0x7f] : [0x80, 0x80, 0x80, 0x80, 0x01];
          const extra = Buffer.from([0x0b, ...value]);
          return { bytes: withProperties(b, layout, list, insertProperty(p, b, list, extra)), kind };
        }
        default:
          // A property length whose continuation bits never stop.
          return { bytes: withProperties(b, layout, list, content, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80]), kind };
      }
    }
    case 'type-swap': {
      const out = Buffer.from(b);
      out[0] = (p.int(16) << 4) | (out[0] & 0x0f);
      return { bytes: out, kind };
    }
    case 'random-bytes':
      return { bytes: p.bytes(p.between(1, 48)), kind };
  }
}

/** A mutated copy of a valid packet. */
export function mutatePacket(p: Prng, pkt: FuzzPacket, kind: MutationKind = p.pick(MUTATION_KINDS)): FuzzPacket {
  const applied = applyMutation(p, pkt, kind);
  return {
    bytes: applied.bytes,
    cmd: applied.kind === 'random-bytes' ? 'random' : pkt.cmd,
    version: pkt.version,
    mutation: applied.kind,
  };
}

/** Where the packet identifier of an unmutated packet is, if it has one. */
export function packetIdOffset(pkt: FuzzPacket): number | undefined {
  return layoutOf(pkt).packetIdAt;
}

export function describePacket(pkt: FuzzPacket): string {
  return `${pkt.cmd}/v${pkt.version}${pkt.mutation ? `+${pkt.mutation}` : ''}`;
}
