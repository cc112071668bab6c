/**
 * Seeded fuzz connections: what each connection sends, cut into socket writes, and how it behaves around them (waits
 * for an answer, never reads, goes silent, hangs up). Most connections are random streams of valid and mutated
 * packets (fuzz-packets.ts); a few are the shapes attacks on brokers take: wills and retained messages on topics of
 * thousands of levels, unique 60 KB topics, floods from a client that never reads, packets sent one byte per write,
 * silent connections, and packets announced big and never finished.
 *
 * A plan is a pure function of (seed, lane, connection index).
 */
import { generate, type Packet, type PacketCmd, type QoS } from 'mqtt-packet';
import {
  FUZZ_VERSIONS,
  PACKET_CMDS,
  fuzzFilter,
  fuzzPayload,
  fuzzTopic,
  mutatePacket,
  packetIdOffset,
  validPacket,
  type FuzzPacket,
  type FuzzVersion,
} from './fuzz-packets.js';
import type { Prng } from './prng.js';
import { NON_LATIN1, deepTopic, emptyLevelsTopic, longTopic } from './topics.js';

export const PLAN_KINDS = [
  /** Valid and mutated packets of every type, cut into writes in one of the write modes. */
  'random',
  /** A will on a topic of 5,000–8,000 levels, a SUBSCRIBE to it, then the socket dropped so the will is routed. */
  'deep-will',
  /** A retained message on a topic of ~20,000 empty levels, then SUBSCRIBE to #, a/# and +/#. */
  'deep-retained',
  /** QoS 0 PUBLISHes to unique topics of 50–65 KB, some with a character outside Latin-1. */
  'long-topics',
  /** Hundreds of one packet back to back from a client that never reads what the broker answers. */
  'flood',
  /** A connection that sends nothing, or only a CONNECT, and stays silent. */
  'silent',
  /** A packet whose announced length is up to 256 MB, begun and never finished. */
  'unfinished',
] as const;
export type PlanKind = (typeof PLAN_KINDS)[number];

export type WriteMode = 'one-per-write' | 'coalesced' | 'split' | 'random-cuts' | 'bytewise';
export const WRITE_MODES: readonly WriteMode[] = ['one-per-write', 'coalesced', 'split', 'random-cuts', 'bytewise'];

export interface PlannedWrite {
  bytes: Buffer;
  /** How many packets end inside this write (a split packet counts once, with its last piece). */
  packetsDone: number;
  /** Yield to the event loop before this write so that it leaves in its own TCP segment. */
  yieldBefore: boolean;
  /** After this write, wait briefly for the broker's answer (a CONNACK, a SUBACK) so the rest meets that state. */
  awaitReply: boolean;
}

export interface ConnectionPlan {
  lane: number;
  index: number;
  kind: PlanKind;
  /** The version of the opening CONNECT (and of most packets after it). */
  version: FuzzVersion;
  /** 'connect': a CONNECT (usually valid) comes first; 'garbage': something else does; 'nothing': no bytes at all. */
  opening: 'connect' | 'garbage' | 'nothing';
  /** The first byte announces a packet type other than CONNECT, which any broker must refuse [MQTT-3.1.0-1]. */
  firstByteNotConnect: boolean;
  packets: FuzzPacket[];
  writeMode: WriteMode;
  writes: PlannedWrite[];
  /** False: the socket is never read, so what the broker sends piles up on its side. */
  reads: boolean;
  /** Silence after the last write before hanging up, ms. */
  holdMs: number;
  /** How the fuzzer hangs up if the broker has not: FIN or an abrupt destroy. */
  hangUp: 'end' | 'destroy';
}

/** How often each kind is planned. Random streams carry the variety; the others are attacks, kept rare. */
const KIND_WEIGHTS: ReadonlyArray<readonly [PlanKind, number]> = [
  ['random', 92],
  ['deep-will', 1],
  ['deep-retained', 1],
  ['long-topics', 1],
  ['flood', 1],
  ['silent', 2],
  ['unfinished', 2],
];

const HOLD_MS = [200, 1_500] as const;

const BODY_CMDS: ReadonlyArray<readonly [PacketCmd, number]> = [
  ['publish', 30],
  ['subscribe', 10],
  ['unsubscribe', 5],
  ['puback', 4],
  ['pubrec', 4],
  ['pubrel', 4],
  ['pubcomp', 4],
  ['pingreq', 5],
  ['disconnect', 1],
  ['connect', 1], // a second CONNECT [MQTT-3.1.0-2]
  ['auth', 1.5],
  ['connack', 1],
  ['suback', 1],
  ['unsuback', 1],
  ['pingresp', 1],
];

function bodyPacket(p: Prng, version: FuzzVersion, mutationRate: number): FuzzPacket {
  const v = p.chance(0.9) ? version : p.pick(FUZZ_VERSIONS);
  const valid = validPacket(p, p.weighted(BODY_CMDS), v);
  return p.chance(mutationRate) ? mutatePacket(p, valid) : valid;
}

const NON_CONNECT_CMDS = PACKET_CMDS.filter((c) => c !== 'connect');

function garbageOpening(p: Prng, version: FuzzVersion): FuzzPacket {
  const r = p.float();
  if (r < 0.4) {
    const bytes = p.bytes(p.between(1, 48));
    // Force a non-CONNECT type so the broker can tell at once.
    let type = p.int(15);
    if (type >= 1) type++;
    bytes[0] = (type << 4) | (bytes[0] & 0x0f);
    return { bytes, cmd: 'random', version, mutation: 'random-bytes' };
  }
  if (r < 0.8) return validPacket(p, p.pick(NON_CONNECT_CMDS), version);
  return mutatePacket(p, validPacket(p, p.pick(PACKET_CMDS), version));
}

function cut(p: Prng, bytes: Buffer, pieces: number): Buffer[] {
  if (bytes.length < 2) return [bytes];
  const points = new Set<number>();
  for (let i = 1; i < pieces; i++) points.add(p.between(1, bytes.length - 1));
  const sorted = [...points].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const point of sorted) {
    out.push(bytes.subarray(prev, point));
    prev = point;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function planWrites(p: Prng, packets: FuzzPacket[], mode: WriteMode): PlannedWrite[] {
  const writes: PlannedWrite[] = [];
  const add = (bytes: Buffer, packetsDone: number, yieldBefore: boolean): void => {
    writes.push({ bytes, packetsDone, yieldBefore, awaitReply: false });
  };
  switch (mode) {
    case 'one-per-write':
      for (const pkt of packets) add(pkt.bytes, 1, false);
      break;
    case 'coalesced':
      for (let i = 0; i < packets.length; ) {
        const n = Math.min(packets.length - i, p.between(2, 8));
        add(Buffer.concat(packets.slice(i, i + n).map((x) => x.bytes)), n, false);
        i += n;
      }
      break;
    case 'split':
      for (const pkt of packets) {
        const pieces = cut(p, pkt.bytes, p.between(2, 4));
        pieces.forEach((piece, i) => add(piece, i === pieces.length - 1 ? 1 : 0, i > 0));
      }
      break;
    case 'bytewise':
      // Shredded: every byte its own write and, with Nagle off, its own TCP segment.
      for (const pkt of packets) {
        for (let i = 0; i < pkt.bytes.length; i++) add(pkt.bytes.subarray(i, i + 1), i === pkt.bytes.length - 1 ? 1 : 0, true);
      }
      break;
    case 'random-cuts': {
      const all = Buffer.concat(packets.map((x) => x.bytes));
      const ends: number[] = [];
      let total = 0;
      for (const pkt of packets) ends.push((total += pkt.bytes.length));
      const pieces = cut(p, all, Math.max(2, Math.ceil(all.length / p.between(8, 64))));
      let offset = 0;
      let endIndex = 0;
      for (const piece of pieces) {
        offset += piece.length;
        let done = 0;
        while (endIndex < ends.length && ends[endIndex] <= offset) {
          done++;
          endIndex++;
        }
        add(piece, done, true);
      }
      break;
    }
  }
  return writes;
}

/** The plan for connection `index` of fuzz lane `lane`; a pure function of the root seed, lane and index. */
export function planConnection(root: Prng, lane: number, index: number, kinds: readonly PlanKind[] = PLAN_KINDS): ConnectionPlan {
  const p = root.derive('connection', lane, index);
  const weights = KIND_WEIGHTS.filter(([kind]) => kinds.includes(kind));
  if (weights.length === 0) throw new Error('planConnection: no plan kind left to choose from');
  const kind = p.weighted(weights);
  const version = p.pick(FUZZ_VERSIONS);
  const base = { lane, index, kind, version };
  switch (kind) {
    case 'random':
      return { ...base, ...randomPlan(p, version) };
    case 'deep-will':
      return { ...base, ...scripted(deepWill(p, version), 0, 'destroy') };
    case 'deep-retained':
      return { ...base, ...scripted(deepRetained(p, version), 0, p.chance(0.5) ? 'end' : 'destroy') };
    case 'long-topics':
      return { ...base, ...scripted(longTopics(p, version, lane, index), 0, 'end') };
    case 'flood':
      return { ...base, ...flood(p, version) };
    case 'silent':
      return { ...base, ...silent(p, version) };
    case 'unfinished':
      return { ...base, ...unfinished(p, version) };
  }
}

type PlanBody = Omit<ConnectionPlan, 'lane' | 'index' | 'kind' | 'version'>;

function randomPlan(p: Prng, version: FuzzVersion): PlanBody {
  const opening: ConnectionPlan['opening'] = p.chance(0.12) ? 'garbage' : 'connect';
  const first =
    opening === 'garbage'
      ? garbageOpening(p, version)
      : p.chance(0.92)
        ? validPacket(p, 'connect', version)
        : mutatePacket(p, validPacket(p, 'connect', version));
  const packets = [first];
  const writeMode = p.weighted([
    ['one-per-write', 33],
    ['coalesced', 30],
    ['split', 15],
    ['random-cuts', 19],
    ['bytewise', 3],
  ] as const);
  // Most connections stay well-formed for a while so the broker parses deep; a few are mostly noise.
  const mutationRate = p.weighted([
    [0, 2],
    [0.03, 4],
    [0.1, 3],
    [0.4, 1],
  ] as const);
  const most = writeMode === 'bytewise' ? 8 : 48;
  const bodyCount = opening === 'garbage' ? p.between(0, 4) : p.between(4, most);
  for (let i = 0; i < bodyCount; i++) packets.push(bodyPacket(p, version, mutationRate));
  const writes = planWrites(p, packets, writeMode);
  if (opening === 'connect' && first.mutation === undefined && p.chance(0.7)) {
    const connectEnds = writes.find((w) => w.packetsDone > 0);
    if (connectEnds) connectEnds.awaitReply = true;
  }
  return {
    opening,
    firstByteNotConnect: first.bytes[0] >> 4 !== 1,
    packets,
    writeMode,
    writes,
    reads: true,
    holdMs: 0,
    hangUp: p.chance(0.5) ? 'end' : 'destroy',
  };
}

/** One valid packet per write; those marked `await` wait for the broker's answer. */
interface Step {
  packet: FuzzPacket;
  await: boolean;
}

function scripted(steps: Step[], holdMs: number, hangUp: ConnectionPlan['hangUp']): PlanBody {
  return {
    opening: 'connect',
    firstByteNotConnect: false,
    packets: steps.map((s) => s.packet),
    writeMode: 'one-per-write',
    writes: steps.map((s) => ({ bytes: s.packet.bytes, packetsDone: 1, yieldBefore: false, awaitReply: s.await })),
    reads: true,
    holdMs,
    hangUp,
  };
}

function encode(packet: Packet, version: FuzzVersion): FuzzPacket {
  return { bytes: generate(packet, { protocolVersion: version }), cmd: packet.cmd, version, mutation: undefined };
}

/**
 * A valid CONNECT with a client id of its own: an attack must not be cut short by a random fuzzer taking over its
 * session (the random plans share a small pool of ids for that).
 */
function connectPacket(p: Prng, version: FuzzVersion, extra: Partial<Packet> = {}): FuzzPacket {
  return encode(
    {
      cmd: 'connect',
      protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: version,
      // 23 characters at most: MQTT 3.1 servers may refuse longer ids.
      clientId: `fuzz-${p.word(16)}`,
      clean: true,
      keepalive: 60,
      ...extra,
    } as Packet,
    version,
  );
}

function deepWill(p: Prng, version: FuzzVersion): Step[] {
  const topic = deepTopic(p.between(5_000, 8_000));
  const qos = p.int(3) as QoS;
  const connect = connectPacket(p, version, {
    will: {
      topic,
      payload: fuzzPayload(p),
      qos,
      retain: p.chance(0.2),
      properties: version === 5 && p.chance(0.5) ? { willDelayInterval: p.int(2) } : undefined,
    },
  } as Partial<Packet>);
  const subscribe = encode(
    { cmd: 'subscribe', messageId: p.between(1, 65535), subscriptions: [{ topic, qos }] },
    version,
  );
  return [
    { packet: connect, await: true },
    { packet: subscribe, await: true },
  ];
}

function deepRetained(p: Prng, version: FuzzVersion): Step[] {
  const qos = p.int(2) as QoS;
  const publish = encode(
    {
      cmd: 'publish',
      topic: emptyLevelsTopic(p.between(18_000, 22_000)),
      payload: fuzzPayload(p),
      qos,
      dup: false,
      retain: true,
      messageId: qos > 0 ? p.between(1, 65535) : undefined,
    },
    version,
  );
  const subscriptions = ['#', 'a/#', '+/#'].map((topic) => ({ topic, qos: p.int(3) as QoS }));
  const subscribe = encode({ cmd: 'subscribe', messageId: p.between(1, 65535), subscriptions }, version);
  return [
    { packet: connectPacket(p, version), await: true },
    { packet: publish, await: false },
    { packet: subscribe, await: true },
  ];
}

function longTopics(p: Prng, version: FuzzVersion, lane: number, index: number): Step[] {
  const steps: Step[] = [{ packet: connectPacket(p, version), await: true }];
  const count = p.between(2, 8);
  const tag = p.word(8);
  for (let i = 0; i < count; i++) {
    const special = p.chance(0.5) ? p.pick(NON_LATIN1) : '';
    const topic = longTopic(`fuzz-long/${tag}/${lane}/${index}/${i}/`, p.between(50_000, 65_000), special);
    const packet = encode({ cmd: 'publish', topic, payload: fuzzPayload(p), qos: 0, dup: false, retain: false }, version);
    steps.push({ packet, await: false });
  }
  steps.push({ packet: encode({ cmd: 'disconnect' }, version), await: false });
  return steps;
}

const FLOOD_CMDS: ReadonlyArray<readonly [PacketCmd | 'publish-qos1', number]> = [
  ['publish', 4],
  ['publish-qos1', 3],
  ['pingreq', 2],
  ['subscribe', 1],
  ['unsubscribe', 1],
];

function floodPacket(p: Prng, version: FuzzVersion, what: PacketCmd | 'publish-qos1'): FuzzPacket {
  switch (what) {
    case 'publish':
    case 'publish-qos1': {
      const qos = what === 'publish' ? 0 : 1;
      const packet: Packet = { cmd: 'publish', topic: fuzzTopic(p), payload: fuzzPayload(p), qos, dup: false, retain: false };
      if (qos > 0) packet.messageId = 1;
      return encode(packet, version);
    }
    case 'subscribe':
      return encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: fuzzFilter(p), qos: p.int(3) as QoS }] }, version);
    case 'unsubscribe':
      return encode({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: [fuzzFilter(p)] }, version);
    default:
      return encode({ cmd: 'pingreq' }, version);
  }
}

/** Chunks of at most this many bytes: big writes, but not one that Node must buffer whole. */
const FLOOD_WRITE_BYTES = 16_384;

function flood(p: Prng, version: FuzzVersion): PlanBody {
  const connect = connectPacket(p, version);
  const one = floodPacket(p, version, p.weighted(FLOOD_CMDS));
  const count = p.between(300, 3_000);
  const idAt = packetIdOffset(one);
  const size = one.bytes.length;
  const all = Buffer.allocUnsafe(size * count);
  for (let i = 0; i < count; i++) {
    one.bytes.copy(all, i * size);
    // Distinct packet ids, as a client with that many messages in flight would use.
    if (idAt !== undefined) all.writeUInt16BE((i % 65535) + 1, i * size + idAt);
  }
  const perWrite = Math.max(1, Math.floor(FLOOD_WRITE_BYTES / size));
  const writes: PlannedWrite[] = [{ bytes: connect.bytes, packetsDone: 1, yieldBefore: false, awaitReply: true }];
  for (let i = 0; i < count; i += perWrite) {
    const n = Math.min(perWrite, count - i);
    writes.push({ bytes: all.subarray(i * size, (i + n) * size), packetsDone: n, yieldBefore: false, awaitReply: false });
  }
  return {
    opening: 'connect',
    firstByteNotConnect: false,
    packets: [connect, ...Array.from({ length: count }, () => one)],
    writeMode: 'coalesced',
    writes,
    reads: false,
    holdMs: 0,
    hangUp: 'destroy',
  };
}

function silent(p: Prng, version: FuzzVersion): PlanBody {
  const holdMs = p.between(...HOLD_MS);
  if (p.chance(0.5)) {
    return { opening: 'nothing', firstByteNotConnect: false, packets: [], writeMode: 'one-per-write', writes: [], reads: true, holdMs, hangUp: 'destroy' };
  }
  // A short keep alive: the broker should close the connection at 1.5 times it.
  const connect = connectPacket(p, version, { keepalive: p.between(1, 3) });
  return { ...scripted([{ packet: connect, await: true }], holdMs, 'destroy') };
}

function unfinished(p: Prng, version: FuzzVersion): PlanBody {
  const announced = p.chance(0.3) ? 268_435_455 : p.between(65_536, 268_435_455);
  const connectFirst = p.chance(0.7);
  // A PUBLISH or SUBSCRIBE after a CONNECT; else the CONNECT itself is what never ends.
  const first = connectFirst ? p.pick([0x30, 0x32, 0x82]) : 0x10;
  const begun = Buffer.concat([Buffer.from([first, ...varint(announced)]), p.bytes(p.between(0, 4_096))]);
  const packet: FuzzPacket = { bytes: begun, cmd: first === 0x10 ? 'connect' : first === 0x82 ? 'subscribe' : 'publish', version, mutation: 'truncate' };
  const steps: Step[] = connectFirst ? [{ packet: connectPacket(p, version), await: true }] : [];
  steps.push({ packet, await: false });
  return scripted(steps, p.between(...HOLD_MS), 'destroy');
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}
