/**
 * The idle-clients memory row of `npm run bench:engine` over real sockets: both loads as the benchmark runs them (a
 * child process with --expose-gc) against real brokers, the whole row end to end against the bundled broker, and
 * brokers that never answer, hang up or talk to idle clients.
 */
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONF } from '../../../bench/args.js';
import { runIdleFloor } from '../../../bench/idle-floor.js';
import type { IdleJob, IdleReading, IdleRecord, IdleTool, IdleVerdict } from '../../../bench/idle-memory.js';
import { runIdleMqbench } from '../../../bench/idle-mqbench.js';
import { startTestBroker, testBrokerKinds } from '../../helpers/brokers.js';

const DIST_BENCH = resolve(import.meta.dirname, '../../../dist/bench');

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

function idleJob(tool: IdleTool, port: number, shape: Partial<IdleJob> = {}): IdleJob {
  return {
    tool,
    host: '127.0.0.1',
    port,
    clients: 50,
    connectRate: 1000,
    keepAliveSeconds: 60,
    settleMs: 100,
    connectDeadlineMs: 15_000,
    workers: 1,
    openFilesNeeded: 512,
    ...shape,
  };
}

/** The built child, as `npm run bench:engine` starts it (`npm test` builds first); killed after 30 s. */
function runInChild(job: IdleJob): Promise<IdleReading> {
  const child = fork(join(DIST_BENCH, 'idle-child.js'), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  stops.push(() => void child.kill('SIGKILL'));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error('the idle child did not reply within 30 s')), 30_000);
    child.once('message', (m: { type: 'result'; result: IdleReading } | { type: 'error'; message: string }) => {
      clearTimeout(timer);
      if (m.type === 'result') done(m.result);
      else fail(new Error(m.message));
    });
    child.once('exit', (code) => fail(new Error(`the idle child exited with ${code} before replying`)));
    child.send({ type: 'run', job });
  });
}

/** A TCP server on a free port that does `onSocket` with each connection; its sockets are destroyed afterwards. */
async function fakeBroker(onSocket: (s: Socket) => void): Promise<number> {
  const held = new Set<Socket>();
  const server: Server = createServer((s) => {
    held.add(s);
    s.on('error', () => undefined);
    onSocket(s);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  stops.push(() => {
    for (const s of held) s.destroy();
    return new Promise<void>((done) => server.close(() => done()));
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

describe.each(testBrokerKinds())('the idle loads against %s', (kind) => {
  it.each(['mqbench', 'floor'] as const)('%s holds 50 idle subscribers and reads its memory after collecting garbage', async (tool) => {
    const broker = await startTestBroker(kind, [...DEFAULT_CONF]);
    stops.push(() => broker.stop());
    const r = await runInChild(idleJob(tool, broker.port));
    expect(r.tool).toBe(tool);
    expect(r.clients).toBe(50);
    // A Node process is tens of MiB resident; its heap is a part of that.
    expect(r.rssBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(r.heapUsedBytes).toBeLessThan(r.rssBytes);
    // mqbench: the main thread and its one worker; the floor: its main thread only.
    expect(r.threadHeapBytes).toHaveLength(tool === 'mqbench' ? 2 : 1);
    for (const h of r.threadHeapBytes) expect(h).toBeGreaterThan(1024 * 1024);
    expect(r.heapUsedBytes).toBe(r.threadHeapBytes.reduce((a, b) => a + b, 0));
    // Every thread has a young generation, resident within the process's RSS.
    expect(r.youngGenerationBytes).toBeGreaterThanOrEqual(r.threadHeapBytes.length * 512 * 1024);
    expect(r.youngGenerationBytes).toBeLessThan(r.rssBytes);
  });
});

describe('bench:engine --only idle', () => {
  it('measures both loads at both sizes against the bundled broker; the totals grow with the clients', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqbench-idle-'));
    stops.push(() => rmSync(dir, { recursive: true, force: true }));
    const jsonFile = join(dir, 'engine.json');
    const child = spawn(process.execPath, [join(DIST_BENCH, 'engine-bench.js'), '--only', 'idle', '--idle-clients', '1000', '--idle-base', '200', '--json', jsonFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stops.push(() => void child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const code = await new Promise<number | null>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`bench:engine did not finish within 50 s\n${stdout}\n${stderr}`)), 50_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        done(c);
      });
    });
    const report = JSON.parse(readFileSync(jsonFile, 'utf8')) as { idle: IdleRecord[]; goals: { idle: IdleVerdict } };
    const failures = report.idle.filter((r) => r.reading === undefined).map((r) => r.error);
    expect(failures).toEqual([]);
    expect(report.idle.map((r) => [r.tool, r.clients])).toEqual([['mqbench', 200], ['floor', 200], ['mqbench', 1000], ['floor', 1000]]);
    const at = (tool: IdleTool, clients: number) => report.idle.find((r) => r.tool === tool && r.clients === clients)!.reading!;
    for (const tool of ['mqbench', 'floor'] as const) {
      const [base, top] = [at(tool, 200), at(tool, 1000)];
      for (const r of [base, top]) {
        expect(r.rssBytes).toBeGreaterThan(0);
        expect(r.heapUsedBytes).toBeGreaterThan(0);
        expect(r.youngGenerationBytes).toBeGreaterThan(0);
      }
      // 800 more subscribed sockets cost memory in any Node process.
      expect(top.rssBytes).toBeGreaterThan(base.rssBytes);
      expect(top.heapUsedBytes).toBeGreaterThan(base.heapUsedBytes);
    }
    const v = report.goals.idle;
    const settled = (r: IdleReading) => r.rssBytes - r.youngGenerationBytes;
    expect(v.mqbench!.rssBytesPerClient).toBeCloseTo((settled(at('mqbench', 1000)) - settled(at('mqbench', 200))) / 800, 6);
    expect(v.mqbench!.rawRssBytesPerClient).toBeCloseTo((at('mqbench', 1000).rssBytes - at('mqbench', 200).rssBytes) / 800, 6);
    expect(v.mqbench!.heapBytesPerClient).toBeCloseTo((at('mqbench', 1000).heapUsedBytes - at('mqbench', 200).heapUsedBytes) / 800, 6);
    expect(v.floor!.heapBytesPerClient).toBeGreaterThan(0);
    // mqbench keeps more per client than a bare socket does.
    expect(v.heapRatio!).toBeGreaterThan(1);
    // The verdict, the tables and the exit code agree: a goal not met exits 1, like the others.
    expect(code).toBe(v.passed ? 0 : 1);
    expect(stdout).toMatch(/^idle clients memory \(1,000 vs 200\)\s+mqbench RSS .* per client .*(PASS|FAIL)$/m);
    // RSS at 200 and 1,000 clients is within the noise of a busy machine: its ratio may be n/a, the heap's is not.
    expect(stdout).toMatch(/^mqbench ÷ floor\s+(\d+\.\d\d|n\/a)\s+\d+\.\d\d$/m);
    expect(stdout).toContain(v.passed ? ': met, with RSS' : ': not met: mqbench uses RSS');
  }, 60_000);
});

describe('the idle loads against brokers that misbehave', () => {
  it('the floor gives up on a broker that never answers, at its deadline', async () => {
    const port = await fakeBroker((s) => void s.resume());
    const started = Date.now();
    await expect(runIdleFloor(idleJob('floor', port, { clients: 5, connectDeadlineMs: 600 }))).rejects.toThrow(
      'the broker sent 0 of the 45 bytes of CONNACK and SUBACK expected within 0.6 s',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('the floor notices a broker that hangs up, and one that sends idle clients anything more', async () => {
    const closing = await fakeBroker((s) => s.once('data', () => s.end()));
    await expect(runIdleFloor(idleJob('floor', closing, { clients: 5 }))).rejects.toThrow('a floor connection was lost: closed by the broker');
    // CONNACK and SUBACK, then a PUBLISH nobody asked for.
    const chatty = await fakeBroker((s) =>
      s.once('data', () => s.write(Buffer.from([0x20, 2, 0, 0, 0x90, 3, 0, 1, 1, 0x30, 3, 0, 1, 0x78]))),
    );
    await expect(runIdleFloor(idleJob('floor', chatty, { clients: 3, settleMs: 200 }))).rejects.toThrow(
      'the broker sent 15 bytes beyond CONNACK and SUBACK to idle clients',
    );
  });

  it('mqbench refuses a reading once a broker has dropped its idle clients', async () => {
    // CONNACK and SUBACK at once, then the connection closed 2.5 s later: within the 4 s settle.
    const port = await fakeBroker((s) => {
      s.once('data', () => {
        s.write(Buffer.from([0x20, 2, 0, 0, 0x90, 3, 0, 1, 1]));
        setTimeout(() => s.destroy(), 2_500);
      });
    });
    await expect(runIdleMqbench(idleJob('mqbench', port, { clients: 5, settleMs: 4_000 }))).rejects.toThrow(
      /^while idle, [1-9]\d* error\(s\) and \d client\(s\) disconnected; first: /,
    );
  });

  it('mqbench gives up on a broker that never answers once its deadline has passed, and stops its run', async () => {
    const port = await fakeBroker((s) => void s.resume());
    const started = Date.now();
    await expect(runIdleMqbench(idleJob('mqbench', port, { clients: 5, connectDeadlineMs: 1000 }))).rejects.toThrow(
      /^after 1 s, 0 of 5 clients were connected and 0 had subscribed/,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
