/**
 * The bundled broker against hostile clients: deep topics, endless distinct topics, packets sent a byte at a time,
 * keep alive kept up by dribbled bytes, and sessions with 100,000 subscriptions. Where a defect would crash the
 * broker or exhaust its memory, it runs as a process of its own: a crash is observed, memory read from /proc.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { generate, type Packet } from 'mqtt-packet';
import { startBroker, type RunningBroker } from '../../../broker/index.js';
import { FrameReader } from '../../../src/protocol/frame-reader.js';
import { startBrokerProcess, type BrokerProcess } from '../../helpers/broker-process.js';
import { TestResources, describePacket, encodeVarInt, uniqueName } from '../../helpers/raw-client.js';

const res = new TestResources();
let proc: BrokerProcess | undefined;
let inProcess: RunningBroker | undefined;
afterEach(async () => {
  await res.releaseAll();
  await proc?.stop();
  proc = undefined;
  await inProcess?.close();
  inProcess = undefined;
});

const MiB = 1024 * 1024;
const deep = (levels: number, level = 'a') => Array(levels).fill(level).join('/');

/** The broker process is still running and still answers a CONNECT. */
async function expectAlive(p: BrokerProcess): Promise<void> {
  expect(p.exitStatus(), p.output().slice(-2000)).toBeUndefined();
  const probe = await res.connect({ host: '127.0.0.1', port: p.port }, 4, { clientId: uniqueName('probe') });
  probe.destroy();
}

/**
 * Samples a broker counter every millisecond from this process (the broker's too): when the broker does a big job
 * in slices, the samples land between slices and see the counter part way; done in one go, the counter jumps from
 * its first value to its last between two samples. Unlike timing, this holds however busy the machine is.
 */
class Progress {
  readonly seen = new Set<number>();
  private readonly timer: NodeJS.Timeout;

  constructor(read: () => number) {
    this.timer = setInterval(() => this.seen.add(read()), 1);
  }

  /** Distinct values seen strictly between `from` and `to`. */
  stop(from: number, to: number): number {
    clearInterval(this.timer);
    const lo = Math.min(from, to);
    const hi = Math.max(from, to);
    return [...this.seen].filter((v) => v > lo && v < hi).length;
  }
}

/** Reason code of the DISCONNECT the broker sent, if any. */
function disconnectCode(c: { received: readonly Packet[] }): number | undefined {
  const d = c.received.find((p) => p.cmd === 'disconnect');
  return d === undefined ? undefined : ((d as { reasonCode?: number }).reasonCode ?? 0);
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('close', () => reject(new Error('closed before connecting')));
  });
}

describe('bundled broker: deep topics', () => {
  it('refuses topics and filters deeper than 200 levels, and serves everyone else (default topic_hierarchy_limit)', async () => {
    proc = await startBrokerProcess('bundled');
    const ep = { host: '127.0.0.1', port: proc.port };
    const topic = deep(5_000);
    for (const v of [4, 5] as const) {
      // A will on a 5,000-level topic: CONNACK 0x90 for v5; a 3.1.1 client is closed without one.
      const w = await res.open(ep, v);
      if (v === 5) {
        const connack = await w.connect({ clientId: uniqueName('deep-will'), will: { topic, payload: Buffer.from('w'), qos: 0, retain: false } });
        expect(connack.reasonCode).toBe(0x90);
      } else {
        w.send(w.connectPacket({ clientId: uniqueName('deep-will'), will: { topic, payload: Buffer.from('w'), qos: 0, retain: false } }));
        await w.closed();
      }
      const sub = await res.connect(ep, v, { clientId: uniqueName('deep-sub') });
      const suback = await sub.subscribe([deep(202), deep(201), `${deep(201)}/#`].map((topic) => ({ topic, qos: 1 as const })));
      expect(suback.granted).toEqual([v === 5 ? 0x8f : 0x80, 1, v === 5 ? 0x8f : 0x80]);
      // A PUBLISH to it ends that connection (v5: DISCONNECT 0x90 Topic Name invalid), as Mosquitto.
      const pub = await res.connect(ep, v, { clientId: uniqueName('deep-pub') });
      pub.send({ cmd: 'publish', topic: deep(202), payload: Buffer.from('x'), qos: 1, messageId: 1, dup: false, retain: true });
      await pub.closed();
      if (v === 5) expect(disconnectCode(pub)).toBe(0x90);
      // 201 levels (200 separators) is the deepest accepted, as Mosquitto.
      const ok = await res.connect(ep, v, { clientId: uniqueName('ok-pub') });
      await ok.publish(deep(201), 'fine', { qos: 1 });
      expect((await sub.receive()).topic).toBe(deep(201));
    }
    await expectAlive(proc);
  });

  it('routes a will on a 5,000-level topic from the socket close and after a will delay, and finds a 20,000-level retained topic, without recursion', async () => {
    // The limit raised, so the matchers themselves meet the deep topics.
    proc = await startBrokerProcess('bundled', ['topic_hierarchy_limit 65535']);
    const ep = { host: '127.0.0.1', port: proc.port };
    const topic = deep(5_000);
    const sub = await res.connect(ep, 5, { clientId: uniqueName('deep-sub') });
    await sub.subscribe(topic, 0);
    for (const willDelayInterval of [0, 1]) {
      const w = await res.connect(ep, 5, {
        clientId: uniqueName('deep-will'),
        properties: { sessionExpiryInterval: 10 },
        will: { topic, payload: Buffer.from(`delay ${willDelayInterval}`), qos: 0, retain: false, properties: { willDelayInterval } },
      });
      await w.subscribe(topic, 0);
      w.destroy();
      const will = await sub.receive(4_000);
      expect(will.payload.toString()).toBe(`delay ${willDelayInterval}`);
    }
    const dust = '/'.repeat(20_000);
    const pub = await res.connect(ep, 4, { clientId: uniqueName('dust') });
    await pub.publish(dust, 'retained', { qos: 1, retain: true });
    for (const filter of ['#', '+/#', 'a/#']) {
      const late = await res.connect(ep, 4, { clientId: uniqueName('late') });
      const suback = await late.subscribe(filter, 0);
      expect(suback.granted, filter).toEqual([0]);
      if (filter === 'a/#') await late.expectNothing(200, 'publish');
      else expect((await late.receive()).topic.length, filter).toBe(20_000);
    }
    await expectAlive(proc);
  });
});

describe('bundled broker: memory a client cannot make it keep', () => {
  it('does not keep the topics of publishes nobody subscribes to (3,000 distinct 30 KB topics, a non-Latin-1 character each)', async () => {
    proc = await startBrokerProcess('bundled');
    const before = proc.rss();
    const s = await rawSocket(proc.port);
    s.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueName('topics'), clean: true, keepalive: 60 }));
    const filler = 'x'.repeat(10_000);
    for (let i = 0; i < 3_000; i++) {
      const topic = `t/${i}/é/${filler}/${filler}/${filler}`;
      if (!s.write(generate({ cmd: 'publish', topic, payload: Buffer.from('p'), qos: 0, dup: false, retain: false }))) {
        await new Promise((r) => s.once('drain', r));
      }
    }
    await new Promise<void>((r) => s.end(r));
    await sleep(500);
    const growth = proc.rss() - before;
    // 90 MB of topics went through; keeping them as strings would hold 180 MB.
    expect(growth, `RSS grew ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(48 * MiB);
    await expectAlive(proc);
  });

  it('bounds the match cache by bytes (20,000 distinct 1,000-character topics)', async () => {
    inProcess = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], logTypes: new Set() });
    const sub = await res.connect({ host: '127.0.0.1', port: inProcess.port }, 4, { clientId: uniqueName('sub') });
    await sub.subscribe('t/#', 0);
    const s = await rawSocket(inProcess.port);
    s.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueName('topics'), clean: true, keepalive: 60 }));
    const filler = 'y'.repeat(990);
    for (let i = 0; i < 20_000; i++) s.write(generate({ cmd: 'publish', topic: `u/${filler}/${i}`, payload: Buffer.from('p'), qos: 0, dup: false, retain: false }));
    s.write(generate({ cmd: 'publish', topic: 't/end', payload: Buffer.from('end'), qos: 0, dup: false, retain: false }));
    expect((await sub.receive(10_000)).topic).toBe('t/end');
    const stats = inProcess.stats();
    expect(stats.matchCacheBytes).toBeGreaterThan(0);
    expect(stats.matchCacheBytes).toBeLessThanOrEqual(8 * MiB);
    s.destroy();
  });
});

describe('bundled broker: packets that arrive slowly or never', () => {
  it('holds about one byte per byte of a packet sent one byte per write (200 clients announcing 256 MB each)', async () => {
    proc = await startBrokerProcess('bundled');
    const sockets: Socket[] = [];
    for (let i = 0; i < 200; i++) {
      const s = await rawSocket(proc.port);
      s.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueName('drip'), clean: true, keepalive: 0 }));
      // PUBLISH QoS 0, remaining length 268,435,455, topic "t".
      s.write(Buffer.concat([Buffer.from([0x30]), encodeVarInt(268_435_455), Buffer.from([0, 1, 0x74])]));
      sockets.push(s);
    }
    await sleep(300);
    const before = proc.rss();
    const one = Buffer.from('z');
    for (let round = 0; round < 3_000; round++) {
      for (const s of sockets) s.write(one);
      await turn();
    }
    await sleep(300);
    const growth = proc.rss() - before;
    // 600 KB in flight; a Buffer per byte would cost about 150 MB (250 bytes per byte were measured before the fix).
    // The bound leaves room for V8's young generation, which a burst of small reads grows by up to ~30 MB.
    expect(growth, `RSS grew ${(growth / MiB).toFixed(1)} MiB for 600 KB received`).toBeLessThan(40 * MiB);
    for (const s of sockets) expect(s.destroyed).toBe(false);
    for (const s of sockets) s.destroy();
    await expectAlive(proc);
  });

  it('refuses a PUBLISH as soon as its length proves it larger than message_size_limit, before the body arrives', async () => {
    inProcess = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], messageSizeLimit: 100, logTypes: new Set() });
    const c = await res.connect({ host: '127.0.0.1', port: inProcess.port }, 5, { clientId: uniqueName('big') });
    // Announces 10 MB and sends only the start.
    c.sendRaw(Buffer.concat([Buffer.from([0x32]), encodeVarInt(10_000_000), Buffer.from([0, 1, 0x74, 0, 1, 0])]));
    await c.closed(2_000);
    expect(disconnectCode(c)).toBe(0x95);
    // A payload over the limit that the length alone does not prove is still acknowledged and dropped, as Mosquitto.
    const d = await res.connect({ host: '127.0.0.1', port: inProcess.port }, 5, { clientId: uniqueName('big') });
    const ack = await d.publish('t', Buffer.alloc(101), { qos: 1 });
    expect(describePacket(ack!)).toBe('puback(m1 rc=149)');
  });

  it('makes a big packet wait for the partial-packet budget that another holds, then delivers both', async () => {
    inProcess = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], partialPacketBudget: MiB, logTypes: new Set() });
    const port = inProcess.port;
    const sub = await res.connect({ host: '127.0.0.1', port }, 4, { clientId: uniqueName('sub') });
    await sub.subscribe('big/#', 0);
    const packet = (name: string) => generate({ cmd: 'publish', topic: `big/${name}`, payload: Buffer.alloc(2 * MiB, name), qos: 0, dup: false, retain: false });
    const a = await rawSocket(port);
    const b = await rawSocket(port);
    for (const s of [a, b]) s.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueName('big'), clean: true, keepalive: 0 }));
    const pa = packet('a');
    const pb = packet('b');
    a.write(pa.subarray(0, 1_500_000));
    await sleep(200);
    b.write(pb.subarray(0, 1_500_000));
    await sleep(200);
    // A holds more than the whole budget (it was alone); B waits rather than add to it.
    expect(inProcess.stats().partialPacketBytes).toBeLessThan(3 * MiB);
    const held = inProcess.stats().partialPacketBytes;
    a.write(pa.subarray(1_500_000));
    b.write(pb.subarray(1_500_000));
    const got = [(await sub.receive(5_000)).topic, (await sub.receive(5_000)).topic].sort();
    expect(got).toEqual(['big/a', 'big/b']);
    expect(held).toBeGreaterThan(MiB);
    expect(inProcess.stats().partialPacketBytes).toBe(0);
    a.destroy();
    b.destroy();
  });

  it('[MQTT-3.1.2-24] closes a client whose only traffic is a packet dribbled a byte at a time: partial packets are not activity', async () => {
    inProcess = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], logTypes: new Set() });
    const c = await res.connect({ host: '127.0.0.1', port: inProcess.port }, 4, { clientId: uniqueName('dribble'), keepalive: 1 });
    const bytes = c.encode({ cmd: 'publish', topic: 'dribble', payload: Buffer.alloc(200), qos: 0, dup: false, retain: false });
    const started = Date.now();
    for (let i = 0; i < bytes.length && !c.closedByBroker; i++) {
      c.sendRaw(bytes.subarray(i, i + 1));
      await sleep(200);
      if (Date.now() - started > 5_000) break;
    }
    expect(c.closedByBroker).toBe(true);
    // 1.5 × keep alive, plus the 250 ms sweep and scheduling slack.
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('bundled broker: framing across quiet spells (a connection gives back its frame reader while idle)', () => {
  it('delivers a PUBLISH sent in pieces with pauses longer than the idle sweep, and packets after a quiet spell', async () => {
    inProcess = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], logTypes: new Set() });
    const port = inProcess.port;
    const sub = await res.connect({ host: '127.0.0.1', port }, 4, { clientId: uniqueName('sub') });
    await sub.subscribe('pieces/#', 1);
    const pub = await res.connect({ host: '127.0.0.1', port }, 4, { clientId: uniqueName('pieces') });
    const one = pub.encode({ cmd: 'publish', topic: 'pieces/a', payload: Buffer.alloc(5_000, 1), qos: 0, dup: false, retain: false });
    // Cut inside the fixed header, then inside the body; each pause spans at least two sweeps (250 ms apart).
    for (const [from, to] of [[0, 1], [1, 2_000], [2_000, one.length]]) {
      pub.sendRaw(one.subarray(from, to));
      await sleep(600);
    }
    expect((await sub.receive(2_000)).payload).toEqual(Buffer.alloc(5_000, 1));
    // Quiet for several sweeps, then two packets in one write.
    await sleep(800);
    const two = Buffer.concat(['b', 'c'].map((n) => pub.encode({ cmd: 'publish', topic: `pieces/${n}`, payload: Buffer.from(n), qos: 0, dup: false, retain: false })));
    pub.sendRaw(two);
    expect([(await sub.receive(2_000)).topic, (await sub.receive(2_000)).topic]).toEqual(['pieces/b', 'pieces/c']);
    expect(pub.closedByBroker).toBe(false);
  });

  it('[MQTT-1.5.5-1] holds an MQTT 5 client to shortest remaining lengths from the packet after CONNECT, and still after a quiet spell', async () => {
    inProcess = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], logTypes: new Set() });
    const port = inProcess.port;
    // PINGREQ with its remaining length 0 written in two bytes.
    const longPing = Buffer.from([0xc0, 0x80, 0x00]);
    const connect = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: uniqueName('v5'), clean: true, keepalive: 0 });
    // In the same write as the CONNECT.
    const s = await rawSocket(port);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.write(Buffer.concat([connect, longPing]));
    const closed = new Promise((resolve) => s.once('close', () => resolve('closed')));
    expect(await Promise.race([closed, sleep(5_000, 'still open')])).toBe('closed');
    const bytes = Buffer.concat(got);
    // CONNACK, then DISCONNECT with 0x81 Malformed Packet (its remaining length fits one byte here).
    expect(bytes[0]).toBe(0x20);
    const next = 2 + bytes[1];
    expect([bytes[next], bytes[next + 2]]).toEqual([0xe0, 0x81]);
    // After the connection has sat idle past several sweeps.
    const c = await res.connect({ host: '127.0.0.1', port }, 5, { clientId: uniqueName('v5') });
    await sleep(800);
    c.sendRaw(longPing);
    await c.closed(2_000);
    expect(disconnectCode(c)).toBe(0x81);
    // A 3.1.1 client may write it either way, as Mosquitto lets it.
    const old = await res.connect({ host: '127.0.0.1', port }, 4, { clientId: uniqueName('v4') });
    await sleep(800);
    old.sendRaw(longPing);
    await sleep(300);
    expect(old.closedByBroker).toBe(false);
  });
});

describe('bundled broker: clients with 150,000 subscriptions', () => {
  it('handles a 150,000-filter SUBSCRIBE, and the clean-up when its client leaves, over many turns of the event loop', async () => {
    inProcess = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], logTypes: new Set() });
    const b = inProcess;
    const N = 150_000;
    // Encoded before measuring: this process is the broker's too.
    const packets = [0, 1].map((c) =>
      Buffer.concat([
        generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueName('many'), clean: true, keepalive: 60 }),
        generate({ cmd: 'subscribe', messageId: 1, subscriptions: Array.from({ length: N }, (_, i) => ({ topic: `many/${c}/${i}`, qos: 1 as const })) }),
      ]),
    );
    let progress = new Progress(() => b.stats().subscriptions);
    const sockets: Socket[] = [];
    for (const bytes of packets) {
      const s = await rawSocket(b.port);
      s.write(bytes);
      sockets.push(s);
      for (let i = 0; i < 500 && b.stats().subscriptions < N * sockets.length; i++) await sleep(10);
    }
    expect(b.stats().subscriptions).toBe(2 * N);
    // Each SUBSCRIBE was handled over many turns of the event loop, other work done in between.
    const subscribing = progress.stop(0, 2 * N);
    progress = new Progress(() => b.stats().subscriptions);
    for (const s of sockets) s.destroy();
    await sleep(20);
    const probe = await res.connect({ host: '127.0.0.1', port: b.port }, 4, { clientId: uniqueName('probe') });
    for (let i = 0; i < 200 && b.stats().subscriptions > 0; i++) await sleep(10);
    const cleaning = progress.stop(2 * N, 0);
    expect(b.stats().subscriptions).toBe(0);
    expect({ subscribing: subscribing >= 5, cleaning: cleaning >= 5 }, `part-way counts seen: ${subscribing} subscribing, ${cleaning} cleaning up`).toEqual({ subscribing: true, cleaning: true });
    probe.destroy();
  }, 60_000);
});

describe('bundled broker: 150,000 retained messages', () => {
  it('sends them all to a SUBSCRIBE of #, +/# and r/# over many turns of the event loop', async () => {
    inProcess = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], logTypes: new Set() });
    const b = inProcess;
    const N = 150_000;
    const parts = [generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueName('retainer'), clean: true, keepalive: 60 })];
    for (let i = 0; i < N; i++) parts.push(generate({ cmd: 'publish', topic: `r/${i % 100}/${i}`, payload: Buffer.from('v'), qos: 0, dup: false, retain: true }));
    const pub = await rawSocket(b.port);
    // $SYS topics are retained too.
    const before = b.stats().retained;
    pub.write(Buffer.concat(parts));
    for (let i = 0; i < 500 && b.stats().retained < before + N; i++) await sleep(10);
    expect(b.stats().retained).toBe(before + N);
    // Count the PUBLISH packets the subscriber gets, without decoding them in this (the broker's) process.
    let publishes = 0;
    const reader = new FrameReader({ onFrame: (header) => ((publishes += header >> 4 === 3 ? 1 : 0), true), onFrameError: () => {}, acceptHeader: () => true });
    const sub = await rawSocket(b.port);
    sub.on('data', (d) => reader.feed(d));
    const subscribe = Buffer.concat([
      generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueName('everything'), clean: true, keepalive: 60 }),
      generate({ cmd: 'subscribe', messageId: 1, subscriptions: ['#', '+/#', 'r/#'].map((topic) => ({ topic, qos: 0 as const })) }),
    ]);
    const sentBefore = b.stats().publishSent;
    const progress = new Progress(() => b.stats().publishSent);
    sub.write(subscribe);
    // Each subscription gets its own copy of every retained message it matches.
    for (let i = 0; i < 1_000 && publishes < 3 * N; i++) await sleep(10);
    expect(publishes).toBe(3 * N);
    // Sent over many turns of the event loop, other clients served in between.
    expect(progress.stop(sentBefore, sentBefore + 3 * N), 'counts of sent messages seen part way').toBeGreaterThanOrEqual(5);
    pub.destroy();
    sub.destroy();
  }, 60_000);
});
