/**
 * The raw load generator of `npm run bench:broker` over real sockets: exact delivery counts against real brokers,
 * a proxy that drops, repeats (without DUP) and reorders chosen PUBLISH packets so the counts must come out exactly,
 * and the connection jobs against the bare-socket floor.
 */
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONF } from '../../../bench/args.js';
import { runConnectJob, runIdleJob } from '../../../bench/connection-load.js';
import { runMessageJob } from '../../../bench/generator.js';
import type { MessageJob } from '../../../bench/messages.js';
import type { Qos } from '../../../bench/mqtt-wire.js';
import { startTestBroker, testBrokerKinds } from '../../helpers/brokers.js';

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

function job(port: number, shape: { publishers: number; subscribers: number; qos: Qos }): MessageJob {
  return {
    kind: 'messages',
    host: '127.0.0.1',
    port,
    brokerPid: undefined,
    row: 'qos1-fan-in',
    clientIdPrefix: `gen-test-${port}`,
    topic: 'mqbench/gen-test',
    ...shape,
    payloadBytes: 64,
    window: 32,
    maxUndelivered: 20_000,
    warmupSeconds: 0,
    durationSeconds: 0.4,
    drainSeconds: 5,
  };
}

describe.each(testBrokerKinds())('the bench generator against %s', (kind) => {
  it.each([
    { name: '2 → 3 at QoS 1', publishers: 2, subscribers: 3, qos: 1 as const },
    { name: '1 → 1 at QoS 2', publishers: 1, subscribers: 1, qos: 2 as const },
    { name: '2 → 2 at QoS 0', publishers: 2, subscribers: 2, qos: 0 as const },
  ])('$name: every message counted once, none lost', async ({ name: _, ...shape }) => {
    const broker = await startTestBroker(kind, [...DEFAULT_CONF]);
    stops.push(() => broker.stop());
    const r = await runMessageJob(job(broker.port, shape));
    expect(r.sent).toBeGreaterThan(100);
    expect(r.expected).toBe(r.sent * shape.subscribers);
    expect([r.lost, r.duplicates, r.outOfOrder, r.beyondWindow, r.unacknowledged, r.unexpected]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(r.distinct).toBe(r.expected);
    expect(r.received).toBe(r.expected);
    expect(r.brokerCpuSeconds).toBeNull();
  });
});

/**
 * Between broker and clients: PUBLISH packets towards the clients are parsed, and the one with sequence `drop` is
 * dropped, `repeat` is sent twice (the copy without DUP, as the original), and `late` is held back until the next one
 * has gone. Sequences are read from the payload's header (publisher index u16, sequence u48) independently of the
 * generator's own code.
 */
async function startLossyProxy(brokerPort: number, plan: { drop: number; repeat: number; late: number }): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(brokerPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    let pending = Buffer.alloc(0);
    let held: Buffer | undefined;
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      const out: Buffer[] = [];
      for (;;) {
        let i = 1;
        let length = 0;
        let multiplier = 1;
        while (i < pending.length && i <= 4) {
          const b = pending[i++];
          length += (b & 0x7f) * multiplier;
          multiplier *= 128;
          if ((b & 0x80) === 0) break;
        }
        if (pending.length < 2 || (pending[i - 1] & 0x80) !== 0 || i + length > pending.length) break;
        const packet = pending.subarray(0, i + length);
        pending = pending.subarray(i + length);
        if (packet[0] >> 4 !== 3) {
          out.push(packet);
          continue;
        }
        const qos = (packet[0] >> 1) & 3;
        const payload = i + 2 + packet.readUInt16BE(i) + (qos > 0 ? 2 : 0);
        const seq = packet.readUInt16BE(payload + 2) * 2 ** 32 + packet.readUInt32BE(payload + 4);
        if (seq === plan.drop) continue;
        if (seq === plan.late) {
          held = Buffer.from(packet);
          continue;
        }
        out.push(packet);
        if (seq === plan.repeat) out.push(packet);
        if (held !== undefined) {
          out.push(held);
          held = undefined;
        }
      }
      if (out.length > 0) client.write(Buffer.concat(out));
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

describe('the bench generator through a proxy that loses, repeats and reorders', () => {
  it('reports exactly 1 lost, 1 duplicate and 1 out of order', async () => {
    const broker = await startTestBroker('bundled', [...DEFAULT_CONF]);
    stops.push(() => broker.stop());
    const proxy = await startLossyProxy(broker.port, { drop: 100, repeat: 200, late: 300 });
    stops.push(() => proxy.close());
    const r = await runMessageJob(job(proxy.port, { publishers: 1, subscribers: 1, qos: 0 }));
    expect(r.sent).toBeGreaterThan(300);
    expect([r.lost, r.duplicates, r.outOfOrder, r.beyondWindow]).toEqual([1, 1, 1, 0]);
    expect(r.distinct).toBe(r.sent - 1);
    expect(r.received).toBe(r.sent);
  });
});

describe('the connection jobs against the bare-socket floor', () => {
  async function startFloor(): Promise<{ port: number; pid: number }> {
    // The built floor, as `npm run bench:broker` runs it (`npm test` builds first).
    const entry = resolve(import.meta.dirname, '../../../dist/bench/floor-server.js');
    const child = spawn(process.execPath, [entry], { stdio: ['ignore', 'pipe', 'inherit'] });
    stops.push(() => void child.kill('SIGKILL'));
    const port = await new Promise<number>((done, fail) => {
      const timer = setTimeout(() => fail(new Error('the floor printed no port within 10 s')), 10_000);
      child.stdout.setEncoding('utf8').once('data', (line: string) => {
        clearTimeout(timer);
        done(Number(line.trim()));
      });
      child.once('exit', (code) => fail(new Error(`the floor exited with ${code}`)));
    });
    return { port, pid: child.pid! };
  }

  it('holds idle subscribed clients on several source addresses and reads the memory they cost', async () => {
    const floor = await startFloor();
    const started = Date.now();
    const r = await runIdleJob({
      kind: 'idle', host: '127.0.0.1', port: floor.port, brokerPid: floor.pid, row: 'idle-10k', clientIdPrefix: 'idle-test',
      connections: 300, sourceAddresses: ['127.0.2.1', '127.0.2.2', '127.0.2.3'], concurrency: 50, baselineSettleMs: 1_500, settleMs: 50, idleMs: 300,
    });
    // The baseline waits for the broker to sit idle: at least 1.5 s, and three steady readings a second apart (2 s).
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(r.connections).toBe(300);
    expect(r.rssAfterBytes).toBeGreaterThan(0);
    expect(r.bytesPerConnection).toBe((r.rssAfterBytes - r.rssBeforeBytes) / 300);
    expect(r.rssIdleBytes).toBeGreaterThan(0);
    expect(r.idleBytesPerConnection).toBe((r.rssIdleBytes! - r.rssBeforeBytes) / 300);
  });

  it('times CONNECT → CONNACK and reads the CPU of short connections', async () => {
    const floor = await startFloor();
    const r = await runConnectJob({
      kind: 'connect', host: '127.0.0.1', port: floor.port, brokerPid: floor.pid, row: 'connect', clientIdPrefix: 'connect-test',
      connections: 400, sourceAddresses: ['127.0.2.4', '127.0.2.5'], concurrency: 20,
    });
    expect(r.connections).toBe(400);
    expect(r.connackP50Ms).toBeGreaterThan(0);
    expect(r.connackP50Ms).toBeLessThanOrEqual(r.connackP99Ms);
    expect(r.connackP99Ms).toBeLessThanOrEqual(r.connackMaxMs);
    expect(r.brokerCpuMicrosPerConnection).not.toBeNull();
  });

  it('fails a connection job whose broker never answers, within the connection timeout', async () => {
    const held = new Set<Socket>();
    // Reads (so it sees the clients leave) and never answers.
    const silent = createServer((s) => void held.add(s.resume()));
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    stops.push(() => {
      for (const s of held) s.destroy();
      return new Promise<void>((done) => silent.close(() => done()));
    });
    const address = silent.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const started = Date.now();
    await expect(
      runConnectJob({
        kind: 'connect', host: '127.0.0.1', port, brokerPid: undefined, row: 'connect', clientIdPrefix: 'silent',
        connections: 3, sourceAddresses: ['127.0.2.6'], concurrency: 3,
      }),
    ).rejects.toThrow(/3 of 3 connections failed.*no CONNACK within 10 s/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
