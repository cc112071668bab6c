/**
 * Seeded fuzzing of a broker: thousands of valid, mutated and random packets from many connections, while a
 * well-behaved QoS 1 publisher and a persistent-session subscriber must keep working and lose nothing.
 *
 * Replay a failure with the seed it prints: MQBENCH_FUZZ_SEED=<seed> [MQBENCH_FUZZ_PACKETS=<n>].
 * The bytes of connection (lane, index) depend only on the seed; how many connections run depends on timing.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { generate, parser as createParser, type IConnectPacket, type Packet } from 'mqtt-packet';
import { startTestBroker, testBrokerKinds, type BrokerKind, type TestBroker } from '../../helpers/brokers.js';
import { Prng } from '../../../bench/fuzz/prng.js';
import {
  describePacket,
  FUZZ_VERSIONS,
  MUTATION_KINDS,
  PACKET_CMDS,
  planConnection,
  WRITE_MODES,
  type ConnectionPlan,
  type FuzzVersion,
} from '../../../bench/fuzz/fuzz-packets.js';

const TEST_FILE = 'test/integration/broker/fuzz.test.ts';
const SEED = process.env.MQBENCH_FUZZ_SEED ?? 'mqbench-fuzz-1';
const MIN_PACKETS = 10_000;
const TARGET_PACKETS = readTargetPackets();
const LANES = 64;
/** Time the fuzzers get to write TARGET_PACKETS; a broker that slows them down this much fails. */
const FUZZ_DEADLINE_MS = 12_000;
const CONNECT_TIMEOUT_MS = 3_000;
/** A broker must close a connection whose first byte is not CONNECT at once; this is generous. */
const GARBAGE_CLOSE_MS = 2_000;
const PUBACK_TIMEOUT_MS = 3_000;
/** The steady publisher keeps going at least this long (in messages), however fast the fuzzers finish. */
const MIN_STEADY_MESSAGES = 200;
const DELIVERY_TIMEOUT_MS = 4_000;

/** Names the fuzzers never generate (their ids start with `fuzz-`, their topics with `fuzz/` or wildcards). */
const STEADY_TAG = `mqbench-steady-${new Prng(SEED).word(8)}`;
const STEADY_TOPIC = `${STEADY_TAG}/seq`;

function readTargetPackets(): number {
  const text = process.env.MQBENCH_FUZZ_PACKETS;
  if (text === undefined || text === '') return 12_000;
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
    return plan.writes.map((w) => `${w.yieldBefore ? '|' : ''}${w.bytes.toString('hex')}`).join(',');
  }

  it('yields the same writes for the same seed, lane and connection, and other bytes for another seed', () => {
    for (const [lane, index] of [
      [0, 0],
      [3, 7],
      [63, 41],
    ]) {
      expect(planBytes(SEED, lane, index)).toBe(planBytes(SEED, lane, index));
      expect(planBytes(SEED, lane, index)).not.toBe(planBytes(`${SEED}-other`, lane, index));
    }
  });

  it('covers every packet type and version, every mutation and write mode, and never touches the steady names', () => {
    const root = new Prng(SEED);
    const valid = new Set<string>();
    const mutations = new Set<string>();
    const modes = new Set<string>();
    let garbageFirst = 0;
    let splitPackets = 0;
    let multiPacketWrites = 0;
    for (let lane = 0; lane < LANES; lane++) {
      for (let index = 0; index < 8; index++) {
        const plan = planConnection(root, lane, index);
        modes.add(plan.writeMode);
        if (plan.firstByteNotConnect) garbageFirst++;
        for (const w of plan.writes) {
          if (w.packetsDone >= 2) multiPacketWrites++;
          if (w.packetsDone === 0) splitPackets++;
          expect(w.bytes.includes(STEADY_TAG), `connection ${lane}/${index} names the steady clients`).toBe(false);
        }
        for (const pkt of plan.packets) {
          if (pkt.mutation) {
            mutations.add(pkt.mutation);
            continue;
          }
          valid.add(`${pkt.cmd}/v${pkt.version}`);
          // A packet without a mutation must be exactly what a conforming decoder reads back.
          const decoded = decodeOne(pkt.bytes, pkt.version);
          expect(decoded?.cmd, `${describePacket(pkt)} ${pkt.bytes.toString('hex')}`).toBe(pkt.cmd);
        }
      }
    }
    const expected = FUZZ_VERSIONS.flatMap((v) =>
      PACKET_CMDS.filter((cmd) => cmd !== 'auth' || v === 5).map((cmd) => `${cmd}/v${v}`),
    );
    expect([...expected].filter((k) => !valid.has(k))).toEqual([]);
    expect(MUTATION_KINDS.filter((k) => !mutations.has(k))).toEqual([]);
    expect(WRITE_MODES.filter((m) => !modes.has(m))).toEqual([]);
    expect(garbageFirst).toBeGreaterThan(10);
    expect(splitPackets).toBeGreaterThan(100);
    expect(multiPacketWrites).toBeGreaterThan(100);
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
// Fuzz connections

interface FuzzStats {
  connections: number;
  packetsWritten: number;
  bytesWritten: number;
  /** Connections the broker closed before the fuzzer hung up. */
  closedByBroker: number;
  garbageFirst: number;
  /** Connections opened with a non-CONNECT first byte that the broker left open: "lane/index packet first-bytes". */
  garbageLeftOpen: string[];
  /** Connections that could not even be opened. */
  connectFailures: string[];
}

interface FuzzTarget {
  host: string;
  port: number;
  root: Prng;
  stats: FuzzStats;
  deadline: number;
}

function waitForEvent(socket: Socket, names: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const handlers = names.map((name) => [name, () => finish(name)] as const);
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    function finish(what: string): void {
      clearTimeout(timer);
      for (const [name, handler] of handlers) socket.off(name, handler);
      resolve(what);
    }
    for (const [name, handler] of handlers) socket.once(name, handler);
  });
}

async function runConnection(target: FuzzTarget, plan: ConnectionPlan): Promise<void> {
  const { stats } = target;
  const first = plan.packets[0];
  const label = `${plan.lane}/${plan.index} ${describePacket(first)} ${first.bytes.subarray(0, 8).toString('hex')}`;
  const socket = netConnect({ host: target.host, port: target.port });
  socket.setNoDelay(true);
  let connected = false;
  let closed = false;
  let hungUp = false;
  socket.on('data', () => {});
  // Writes after the broker has closed fail with EPIPE or ECONNRESET; that is the expected outcome.
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
    if (connected && !hungUp) stats.closedByBroker++;
  });
  if ((await waitForEvent(socket, ['connect', 'close'], CONNECT_TIMEOUT_MS)) !== 'connect') {
    stats.connectFailures.push(label);
    socket.destroy();
    return;
  }
  connected = true;
  stats.connections++;
  if (plan.firstByteNotConnect) stats.garbageFirst++;

  let lastWrite: Promise<void> | undefined;
  let awaitConnack = plan.awaitConnack;
  for (let i = 0; i < plan.writes.length && !closed; i++) {
    const w = plan.writes[i];
    if (w.yieldBefore) {
      await nextTurn();
      if (closed) break;
    }
    let flushed: boolean;
    if (i === plan.writes.length - 1) {
      let resolveLast = (): void => {};
      lastWrite = new Promise((resolve) => (resolveLast = resolve));
      flushed = socket.write(w.bytes, () => resolveLast());
    } else {
      flushed = socket.write(w.bytes);
    }
    stats.packetsWritten += w.packetsDone;
    stats.bytesWritten += w.bytes.length;
    // The opening CONNECT is complete once a write finishes a packet; a split one takes several writes.
    if (awaitConnack && w.packetsDone > 0) {
      awaitConnack = false;
      await waitForEvent(socket, ['data', 'close'], 1_000);
    } else if (!flushed) {
      // A broker that stops reading a connection is within its rights; stop feeding that one.
      if ((await waitForEvent(socket, ['drain', 'close'], 1_000)) === 'timeout') break;
    }
  }

  if (plan.firstByteNotConnect) {
    if (!closed) await waitForEvent(socket, ['close'], GARBAGE_CLOSE_MS);
    if (!closed) stats.garbageLeftOpen.push(label);
  } else if (!closed) {
    if (lastWrite) await Promise.race([lastWrite, sleep(1_000)]);
    // Give the broker a moment to object to the last packets before the fuzzer hangs up.
    await waitForEvent(socket, ['close'], 30);
  }
  if (closed) return;
  hungUp = true;
  if (plan.hangUp === 'destroy') {
    socket.destroy();
    return;
  }
  socket.end();
  if ((await waitForEvent(socket, ['close'], 1_000)) === 'timeout') socket.destroy();
}

async function runLane(target: FuzzTarget, lane: number): Promise<void> {
  for (let index = 0; target.stats.packetsWritten < TARGET_PACKETS && Date.now() < target.deadline; index++) {
    await runConnection(target, planConnection(target.root, lane, index));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Well-behaved clients

interface PacketWaiter {
  match: (p: Packet) => boolean;
  resolve: (p: Packet) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** A minimal, correct MQTT client over a raw socket: send packets, await matching ones. */
class SteadyClient {
  /** Set when the connection ends; says who ended it. */
  closedReason: string | undefined;
  onPacket: ((p: Packet) => void) | undefined;
  private readonly waiters: PacketWaiter[] = [];
  private hangingUp = false;

  private constructor(
    readonly name: string,
    readonly version: FuzzVersion,
    private readonly socket: Socket,
  ) {
    const decoder = createParser({ protocolVersion: version });
    decoder.on('packet', (p: Packet) => this.dispatch(p));
    decoder.on('error', (err: Error) => this.fail(`${name}: undecodable packet from the broker: ${err.message}`));
    socket.on('data', (chunk: Buffer) => decoder.parse(chunk));
    socket.on('error', (err) => this.fail(`${name}: socket error: ${err.message}`));
    socket.on('close', () => this.fail(`${name}: closed by the ${this.hangingUp ? 'client' : 'broker'}`));
  }

  /** `onPacket` is in place before CONNECT leaves: queued messages may share a TCP segment with the CONNACK. */
  static async open(
    host: string,
    port: number,
    connect: IConnectPacket,
    name: string,
    onPacket?: (client: SteadyClient, p: Packet) => void,
  ): Promise<[SteadyClient, Packet]> {
    const version = (connect.protocolVersion ?? 4) as FuzzVersion;
    const socket = netConnect({ host, port });
    socket.setNoDelay(true);
    const client = new SteadyClient(name, version, socket);
    if (onPacket) client.onPacket = (p) => onPacket(client, p);
    const connack = client.next((p) => p.cmd === 'connack', CONNECT_TIMEOUT_MS, 'CONNACK');
    socket.write(generate(connect, { protocolVersion: version }));
    try {
      return [client, await connack];
    } catch (err) {
      client.destroy();
      throw err;
    }
  }

  send(packet: Packet): void {
    if (this.closedReason === undefined) this.socket.write(generate(packet, { protocolVersion: this.version }));
  }

  next(match: (p: Packet) => boolean, timeoutMs: number, what: string): Promise<Packet> {
    if (this.closedReason !== undefined) return Promise.reject(new Error(`${this.closedReason} (waiting for ${what})`));
    return new Promise((resolve, reject) => {
      const waiter: PacketWaiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** DISCONNECT, then wait for the broker to close the connection. */
  async disconnect(): Promise<void> {
    if (this.closedReason !== undefined) return;
    this.send({ cmd: 'disconnect', reasonCode: 0 });
    this.hangingUp = true;
    this.socket.end();
    if ((await waitForEvent(this.socket, ['close'], 2_000)) === 'timeout') this.socket.destroy();
  }

  destroy(): void {
    this.hangingUp = true;
    this.socket.destroy();
  }

  private dispatch(p: Packet): void {
    this.onPacket?.(p);
    const i = this.waiters.findIndex((w) => w.match(p));
    if (i < 0) return;
    const [w] = this.waiters.splice(i, 1);
    clearTimeout(w.timer);
    w.resolve(p);
  }

  private fail(reason: string): void {
    this.closedReason ??= reason;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(reason));
    }
  }
}

/** A persistent-session v5 subscriber on STEADY_TOPIC; records the sequence numbers it receives. */
class SteadySubscriber {
  readonly received = new Set<number>();
  client: SteadyClient | undefined;
  private readonly clientId = `${STEADY_TAG}-sub`;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  async start(): Promise<void> {
    await this.connect(true);
    this.client!.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: STEADY_TOPIC, qos: 1 }] });
    const suback = await this.client!.next((p) => p.cmd === 'suback', PUBACK_TIMEOUT_MS, 'SUBACK');
    if (suback.cmd !== 'suback' || suback.granted[0] !== 1) {
      const granted = JSON.stringify(suback.cmd === 'suback' ? suback.granted : suback);
      throw new Error(`steady subscriber: SUBACK granted ${granted}, wanted QoS 1`);
    }
  }

  /** Disconnect and come back on the same session: what was published meanwhile must be queued for it. */
  async bounce(awayMs: number): Promise<void> {
    await this.client!.disconnect();
    await sleep(awayMs);
    const sessionPresent = await this.connect(false);
    if (!sessionPresent) {
      throw new Error('steady subscriber: reconnected with Clean Start 0 but CONNACK says no session present');
    }
  }

  private async connect(cleanStart: boolean): Promise<boolean> {
    const [client, connack] = await SteadyClient.open(
      this.host,
      this.port,
      {
        cmd: 'connect',
        protocolVersion: 5,
        clientId: this.clientId,
        clean: cleanStart,
        keepalive: 60,
        properties: { sessionExpiryInterval: 300 },
      },
      'steady subscriber',
      (self, p) => this.receive(self, p),
    );
    if (connack.cmd !== 'connack' || connack.reasonCode !== 0) {
      throw new Error(`steady subscriber: CONNACK ${JSON.stringify(connack)}`);
    }
    this.client = client;
    return connack.sessionPresent;
  }

  private receive(client: SteadyClient, p: Packet): void {
    if (p.cmd !== 'publish') return;
    // QoS 1 may deliver twice (after the bounce, say); only distinct sequence numbers count.
    this.received.add(Number(p.payload.toString()));
    if (p.qos === 1) client.send({ cmd: 'puback', messageId: p.messageId, reasonCode: 0 });
  }
}

/** A 3.1.1 publisher sending QoS 1 sequence numbers to STEADY_TOPIC with a small in-flight window. */
class SteadyPublisher {
  /** Sequence numbers the broker acknowledged: the subscriber is owed each of them. */
  readonly acked = new Set<number>();
  private readonly inflight = new Map<number, { seq: number; sentAt: number }>();
  private nextSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private problem: string | undefined;

  private constructor(private readonly client: SteadyClient) {
    client.onPacket = (p) => {
      if (p.cmd !== 'puback' || p.messageId === undefined) return;
      const entry = this.inflight.get(p.messageId);
      if (!entry) return;
      this.inflight.delete(p.messageId);
      this.acked.add(entry.seq);
    };
  }

  static async start(host: string, port: number): Promise<SteadyPublisher> {
    const [client, connack] = await SteadyClient.open(
      host,
      port,
      { cmd: 'connect', protocolVersion: 4, clientId: `${STEADY_TAG}-pub`, clean: true, keepalive: 60 },
      'steady publisher',
    );
    if (connack.cmd !== 'connack' || connack.returnCode !== 0) {
      throw new Error(`steady publisher: CONNACK ${JSON.stringify(connack)}`);
    }
    const publisher = new SteadyPublisher(client);
    publisher.timer = setInterval(() => publisher.tick(), 10);
    return publisher;
  }

  get sent(): number {
    return this.nextSeq;
  }

  /** Stops publishing and waits for the last PUBACKs; throws if the broker failed the publisher on the way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + PUBACK_TIMEOUT_MS;
    const waiting = (): boolean =>
      this.inflight.size > 0 && this.problem === undefined && this.client.closedReason === undefined;
    while (waiting() && Date.now() < deadline) await sleep(10);
    if (this.problem) throw new Error(this.problem);
    if (this.inflight.size > 0) {
      const seqs = [...this.inflight.values()].map((e) => e.seq);
      throw new Error(
        `steady publisher: ${seqs.length} QoS 1 PUBLISH never acknowledged (seq ${seqs.slice(0, 10).join(', ')})` +
          (this.client.closedReason ? `; ${this.client.closedReason}` : ''),
      );
    }
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    return this.client.disconnect();
  }

  private tick(): void {
    if (this.client.closedReason !== undefined) {
      this.problem ??= this.client.closedReason;
      clearInterval(this.timer);
      return;
    }
    const now = Date.now();
    for (const entry of this.inflight.values()) {
      if (now - entry.sentAt > PUBACK_TIMEOUT_MS) {
        this.problem ??= `steady publisher: no PUBACK for seq ${entry.seq} within ${PUBACK_TIMEOUT_MS} ms`;
        clearInterval(this.timer);
        return;
      }
    }
    if (this.inflight.size >= 10) return;
    const seq = this.nextSeq++;
    // Packet ids cycle through 1..65535; the window is far smaller, so an id is never reused while in flight.
    const messageId = (seq % 65535) + 1;
    this.inflight.set(messageId, { seq, sentAt: now });
    const payload = String(seq);
    this.client.send({ cmd: 'publish', topic: STEADY_TOPIC, qos: 1, dup: false, retain: false, messageId, payload });
  }
}

/** Undefined when a fresh client gets CONNACK 0, else what went wrong. */
async function probeConnack(host: string, port: number, version: 4 | 5): Promise<string | undefined> {
  let opened: [SteadyClient, Packet];
  try {
    opened = await SteadyClient.open(
      host,
      port,
      {
        cmd: 'connect',
        protocolVersion: version,
        clientId: `${STEADY_TAG}-probe-v${version}`,
        clean: true,
        keepalive: 10,
      },
      `probe v${version}`,
    );
  } catch (err) {
    return (err as Error).message;
  }
  const [client, connack] = opened;
  await client.disconnect();
  if (connack.cmd !== 'connack') return `probe v${version}: got ${connack.cmd}`;
  const code = version === 5 ? connack.reasonCode : connack.returnCode;
  return code === 0 ? undefined : `probe v${version}: CONNACK code ${code}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The run, once per broker

const kinds = testBrokerKinds();

for (const kind of kinds) describeFuzzRun(kind);

function describeFuzzRun(kind: BrokerKind): void {
  describe(`fuzzing the ${kind} broker`, () => {
    let broker: TestBroker | undefined;
    const cleanups: Array<() => Promise<void> | void> = [];

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      await broker?.stop();
      broker = undefined;
    });

    const title =
      `stays up and delivers every QoS 1 message under ${TARGET_PACKETS} fuzzed packets ` +
      `from ${LANES} connections (MQBENCH_FUZZ_SEED=${SEED})`;
    it(title, async () => {
      const b = (broker = await startTestBroker(kind));
      const stats: FuzzStats = {
        connections: 0,
        packetsWritten: 0,
        bytesWritten: 0,
        closedByBroker: 0,
        garbageFirst: 0,
        garbageLeftOpen: [],
        connectFailures: [],
      };
      const replay = (): string =>
        `[seed=${SEED} packets written=${stats.packetsWritten}/${TARGET_PACKETS} connections=${stats.connections} ` +
        `closed by broker=${stats.closedByBroker}; replay: MQBENCH_FUZZ_SEED='${SEED}' ` +
        `MQBENCH_FUZZ_PACKETS=${TARGET_PACKETS} MQBENCH_TEST_BROKERS=${kind} npx vitest run ${TEST_FILE}]`;
      const brokerTail = (): string => b.logs().trim().split('\n').slice(-15).join('\n');
      const withReplay = <T>(work: Promise<T>): Promise<T> =>
        work.catch((err: Error) => {
          throw new Error(`${err.message} ${replay()}\n${brokerTail()}`);
        });

      const subscriber = new SteadySubscriber(b.host, b.port);
      await subscriber.start();
      cleanups.push(() => subscriber.client?.destroy());
      const publisher = await SteadyPublisher.start(b.host, b.port);
      cleanups.push(() => publisher.close());

      const deadline = Date.now() + FUZZ_DEADLINE_MS;
      const target: FuzzTarget = { host: b.host, port: b.port, root: new Prng(SEED), stats, deadline };
      const lanes = Promise.all(Array.from({ length: LANES }, (_, lane) => runLane(target, lane)));

      // Bounce the subscriber in the middle of the storm so that some owed messages must wait in its session.
      while (stats.packetsWritten < TARGET_PACKETS * 0.4 && Date.now() < target.deadline) await sleep(20);
      const ackedBeforeBounce = publisher.acked.size;
      await withReplay(subscriber.bounce(400));
      const ackedDuringBounce = publisher.acked.size - ackedBeforeBounce;

      await lanes;
      const steadyDeadline = Date.now() + PUBACK_TIMEOUT_MS;
      while (publisher.sent < MIN_STEADY_MESSAGES && Date.now() < steadyDeadline) await sleep(20);
      await withReplay(publisher.stop());

      expect(stats.connectFailures, `fuzz connections the broker did not accept ${replay()}`).toEqual([]);
      expect(
        stats.packetsWritten,
        `fewer than ${MIN_PACKETS} fuzz packets written within ${FUZZ_DEADLINE_MS} ms ${replay()}`,
      ).toBeGreaterThanOrEqual(MIN_PACKETS);
      expect(stats.garbageFirst, `too few connections opened with garbage ${replay()}`).toBeGreaterThan(0);
      // [MQTT-3.1.0-1] the first packet must be CONNECT; [MQTT-4.8.0-1] a protocol violation closes the connection.
      // The first byte says it is not one; Mosquitto closes at once, without waiting for the announced length.
      expect(
        stats.garbageLeftOpen,
        `connections whose first byte is not CONNECT, still open after ${GARBAGE_CLOSE_MS} ms ` +
          `(lane/index, first packet, bytes) ${replay()}`,
      ).toEqual([]);
      expect(stats.closedByBroker, replay()).toBeGreaterThanOrEqual(stats.garbageFirst);

      for (const version of [4, 5] as const) {
        const problem = await probeConnack(b.host, b.port, version);
        expect(problem, `broker after fuzzing ${replay()}\n${brokerTail()}`).toBeUndefined();
      }

      const owed = [...publisher.acked];
      expect(owed.length, `PUBACKs the steady publisher got ${replay()}`).toBeGreaterThanOrEqual(MIN_STEADY_MESSAGES);
      expect(ackedDuringBounce, `messages published while the subscriber was away ${replay()}`).toBeGreaterThan(0);
      const deliveryDeadline = Date.now() + DELIVERY_TIMEOUT_MS;
      const missing = (): number[] => owed.filter((seq) => !subscriber.received.has(seq));
      const stillHoping = (): boolean => subscriber.client?.closedReason === undefined && Date.now() < deliveryDeadline;
      while (missing().length > 0 && stillHoping()) await sleep(20);
      const lost = missing();
      expect(
        lost,
        `steady subscriber is missing ${lost.length} of ${owed.length} acknowledged QoS 1 messages ` +
          `(first: ${lost.slice(0, 20).join(', ')}; ${subscriber.client?.closedReason ?? 'still connected'}) ` +
          replay(),
      ).toEqual([]);
      expect(subscriber.client?.closedReason, `steady subscriber ${replay()}`).toBeUndefined();
    });
  });
}
