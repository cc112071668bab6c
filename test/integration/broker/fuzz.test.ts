/**
 * Seeded fuzzing of a broker, a short slice of `npm run fuzz` (bench/fuzz/): valid, mutated and hostile packet
 * streams from 200 connections at once against the broker running as a process of its own, while a well-behaved
 * QoS 1 publisher and a persistent-session subscriber must lose nothing and the probes must be answered in time.
 *
 * Replay a failure with the seed it prints: MQBENCH_FUZZ_SEED=<seed> [MQBENCH_FUZZ_PACKETS=<n>], or run the same
 * harness longer with `npm run fuzz -- --seed <seed>`. The bytes of connection (lane, index) depend only on the seed;
 * how many connections run depends on timing.
 */
import { describe, expect, it } from 'vitest';
import { parser as createParser, type Packet } from 'mqtt-packet';
import { testBrokerKinds, type BrokerKind } from '../../helpers/brokers.js';
import { Prng } from '../../../bench/fuzz/prng.js';
import {
  describePacket,
  FUZZ_VERSIONS,
  MUTATION_KINDS,
  PACKET_CMDS,
  propertyIds,
  V5_PROPERTY_IDS,
  type FuzzVersion,
} from '../../../bench/fuzz/fuzz-packets.js';
import { PLAN_KINDS, planConnection, WRITE_MODES, type ConnectionPlan } from '../../../bench/fuzz/connection-plans.js';
import { renderFuzzReport } from '../../../bench/fuzz/render.js';
import { runFuzz } from '../../../bench/fuzz/run.js';
import { steadyNames } from '../../../bench/fuzz/steady.js';

const TEST_FILE = 'test/integration/broker/fuzz.test.ts';
const SEED = process.env.MQBENCH_FUZZ_SEED ?? 'mqbench-fuzz-1';
const MIN_PACKETS = 10_000;
const TARGET_PACKETS = readTargetPackets();
const LANES = 200;
/** Time the fuzzers get to write TARGET_PACKETS; a broker that slows them down this much fails. */
const FUZZ_LIMIT_SECONDS = 20;
const RUN_TIMEOUT_MS = 90_000;

function readTargetPackets(): number {
  const text = process.env.MQBENCH_FUZZ_PACKETS;
  if (text === undefined || text === '') return 200_000;
  const n = Number(text);
  if (!Number.isInteger(n) || n < MIN_PACKETS) {
    throw new Error(`MQBENCH_FUZZ_PACKETS must be an integer of at least ${MIN_PACKETS}, got "${text}"`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// The generator itself: reproducible, and the mix covers what the fuzz run claims to send

describe('fuzz packet generator', () => {
  function planBytes(seed: string, lane: number, index: number): string {
    const plan = planConnection(new Prng(seed), lane, index);
    return plan.writes.map((w) => `${w.yieldBefore ? '|' : ''}${w.awaitReply ? '?' : ''}${w.bytes.toString('hex')}`).join(',');
  }

  it('yields the same writes for the same seed, lane and connection, and other bytes for another seed', () => {
    for (const [lane, index] of [
      [0, 0],
      [3, 7],
      [63, 41],
      [199, 5],
    ]) {
      expect(planBytes(SEED, lane, index)).toBe(planBytes(SEED, lane, index));
      expect(planBytes(SEED, lane, index)).not.toBe(planBytes(`${SEED}-other`, lane, index));
    }
  });

  // Enough plans that every rare kind comes up a few times.
  const plans: ConnectionPlan[] = [];
  const root = new Prng(SEED);
  for (let lane = 0; lane < LANES; lane++) for (let index = 0; index < 10; index++) plans.push(planConnection(root, lane, index));

  it('covers every packet type, version and v5 property, every mutation, write mode and kind of connection', () => {
    const steadyTag = steadyNames(`mqbench-steady-${new Prng(SEED).word(8)}`).topic.split('/')[0];
    const valid = new Set<string>();
    const properties = new Set<number>();
    const mutations = new Set<string>();
    const modes = new Set<string>();
    const kinds = new Set<string>();
    let garbageFirst = 0;
    let splitPackets = 0;
    let multiPacketWrites = 0;
    for (const plan of plans) {
      modes.add(plan.writeMode);
      kinds.add(plan.kind);
      if (plan.firstByteNotConnect) garbageFirst++;
      for (const w of plan.writes) {
        if (w.packetsDone >= 2) multiPacketWrites++;
        if (w.packetsDone === 0) splitPackets++;
        expect(w.bytes.includes(steadyTag), `connection ${plan.lane}/${plan.index} names the steady clients`).toBe(false);
      }
      // Floods repeat one packet: look at it once.
      for (const pkt of plan.kind === 'flood' ? plan.packets.slice(0, 2) : plan.packets) {
        if (pkt.mutation) {
          mutations.add(pkt.mutation);
          continue;
        }
        valid.add(`${pkt.cmd}/v${pkt.version}`);
        for (const id of propertyIds(pkt)) properties.add(id);
        // A packet without a mutation must be exactly what a conforming decoder reads back.
        const decoded = decodeOne(pkt.bytes, pkt.version);
        expect(decoded?.cmd, `${describePacket(pkt)} ${pkt.bytes.subarray(0, 64).toString('hex')}`).toBe(pkt.cmd);
      }
    }
    const expected = FUZZ_VERSIONS.flatMap((v) =>
      PACKET_CMDS.filter((cmd) => cmd !== 'auth' || v === 5).map((cmd) => `${cmd}/v${v}`),
    );
    expect([...expected].filter((k) => !valid.has(k))).toEqual([]);
    expect(V5_PROPERTY_IDS.filter((id) => !properties.has(id)).map((id) => `0x${id.toString(16)}`)).toEqual([]);
    expect(MUTATION_KINDS.filter((k) => !mutations.has(k))).toEqual([]);
    expect(WRITE_MODES.filter((m) => !modes.has(m))).toEqual([]);
    expect(PLAN_KINDS.filter((k) => !kinds.has(k))).toEqual([]);
    expect(garbageFirst).toBeGreaterThan(10);
    expect(splitPackets).toBeGreaterThan(100);
    expect(multiPacketWrites).toBeGreaterThan(100);
  });

  it('builds the attacks as described: deep wills and retained messages, 60 KB topics, floods, bytewise and unfinished packets', () => {
    const of = (kind: string): ConnectionPlan[] => plans.filter((p) => p.kind === kind);
    for (const plan of of('deep-will')) {
      const connect = decodeOne(plan.packets[0].bytes, plan.version);
      const levels = connect?.cmd === 'connect' ? (connect.will?.topic.split('/').length ?? 0) : 0;
      expect(levels).toBeGreaterThanOrEqual(5_000);
      expect(plan.packets[1].cmd).toBe('subscribe');
      expect(plan.hangUp).toBe('destroy');
    }
    for (const plan of of('deep-retained')) {
      const publish = decodeOne(plan.packets[1].bytes, plan.version);
      expect(publish?.cmd === 'publish' && publish.retain && publish.topic.split('/').length >= 18_000).toBe(true);
      const subscribe = decodeOne(plan.packets[2].bytes, plan.version);
      expect(subscribe?.cmd === 'subscribe' ? subscribe.subscriptions.map((s) => s.topic) : []).toEqual(['#', 'a/#', '+/#']);
    }
    const longTopics = of('long-topics').flatMap((plan) =>
      plan.packets.map((pkt) => decodeOne(pkt.bytes, plan.version)).flatMap((p) => (p?.cmd === 'publish' ? [p.topic] : [])),
    );
    expect(new Set(longTopics).size).toBe(longTopics.length);
    for (const topic of longTopics) expect(Buffer.byteLength(topic)).toBeGreaterThanOrEqual(50_000);
    expect(longTopics.some((t) => [...t].some((c) => c.codePointAt(0)! > 0xff))).toBe(true);
    for (const plan of of('flood')) {
      expect(plan.reads).toBe(false);
      expect(plan.packets.length).toBeGreaterThan(300);
    }
    for (const plan of plans.filter((p) => p.writeMode === 'bytewise')) {
      expect(plan.writes.every((w) => w.bytes.length === 1)).toBe(true);
    }
    for (const plan of of('unfinished')) {
      const last = plan.packets[plan.packets.length - 1].bytes;
      let announced = 0;
      for (let i = 1, mult = 1; i < 5; i++, mult *= 128) {
        announced += (last[i] & 0x7f) * mult;
        if ((last[i] & 0x80) === 0) break;
      }
      expect(announced).toBeGreaterThan(last.length);
      expect(plan.holdMs).toBeGreaterThan(0);
    }
    expect(of('silent').some((p) => p.writes.length === 0)).toBe(true);
  });

  it('leaves out the kinds of connection it is told to', () => {
    const only = planConnection(new Prng(SEED), 0, 0, ['flood']);
    expect(only.kind).toBe('flood');
    for (let index = 0; index < 50; index++) {
      expect(planConnection(new Prng(SEED), 1, index, ['random', 'silent']).kind).not.toMatch(/deep|flood|long|unfinished/);
    }
  });
});

function decodeOne(bytes: Buffer, version: FuzzVersion): Packet | undefined {
  const p = createParser({ protocolVersion: version });
  let found: Packet | undefined;
  let failure: Error | undefined;
  p.on('packet', (pkt: Packet) => (found ??= pkt));
  p.on('error', (err: Error) => (failure ??= err));
  p.parse(bytes);
  if (failure) throw failure;
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// The run, once per broker

for (const kind of testBrokerKinds()) describeFuzzRun(kind);

function describeFuzzRun(kind: BrokerKind): void {
  describe(`fuzzing the ${kind} broker`, () => {
    const title =
      `stays up, answers the probes within 2 s and delivers every QoS 1 message under ${TARGET_PACKETS} fuzzed ` +
      `packets from ${LANES} connections at once (MQBENCH_FUZZ_SEED=${SEED})`;
    it(
      title,
      async () => {
        const report = await runFuzz({
          broker: kind,
          seed: SEED,
          packets: TARGET_PACKETS,
          connections: LANES,
          limitSeconds: FUZZ_LIMIT_SECONDS,
          kinds: [...PLAN_KINDS],
          conf: [],
          probeLimitMs: 2_000,
        });
        const replay =
          `\n${renderFuzzReport(report)}\nreplay: MQBENCH_FUZZ_SEED='${SEED}' MQBENCH_FUZZ_PACKETS=${TARGET_PACKETS} ` +
          `MQBENCH_TEST_BROKERS=${kind} npx vitest run ${TEST_FILE}`;
        expect(report.failures, replay).toEqual([]);
        // The run did what it claims: every kind of connection, the garbage openings, the subscriber's absence.
        expect(report.stats.packetsWritten, replay).toBeGreaterThanOrEqual(TARGET_PACKETS);
        expect(PLAN_KINDS.filter((k) => report.stats.byKind[k] === 0), replay).toEqual([]);
        expect(report.stats.garbageFirst, replay).toBeGreaterThan(0);
        expect(report.steady?.acknowledgedWhileAway, `messages published while the subscriber was away ${replay}`).toBeGreaterThan(0);
        expect(report.pingAnswered, replay).toBeGreaterThan(10);
      },
      RUN_TIMEOUT_MS,
    );
  });
}
