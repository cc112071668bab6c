/**
 * A persistence file or location the broker cannot simply use: garbage, a Mosquitto database, an empty file, a file
 * cut short or corrupted anywhere, a location that does not exist or cannot be written, and a disk that fills up
 * while the broker runs. Each ends in a clear error at start or a dropped tail with a log line, never a crash, and a
 * full disk holds acknowledgements back instead of losing what they acknowledge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { chmodSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../../broker/index.js';
import { readStoreFile } from '../../../broker/persist/replay.js';
import { findMosquitto, startMosquitto } from '../../../src/launch/mosquitto.js';
import { readProcessRssBytes } from '../../../src/launch/proc.js';
import { persistenceConf, persistenceDir } from '../../helpers/persistent-broker.js';
import { TestResources, payloadsOf, sleep } from '../../helpers/raw-client.js';

const MAIN = resolve(import.meta.dirname, '../../../dist/src/cli/main.js');

interface CliBroker {
  child: ChildProcess;
  port: number;
  output(): string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** `mqbench broker -c` on `conf` (plus a free port), optionally under a file size limit (`ulimit -f`, 512-byte blocks). */
function cli(dir: string, conf: string[], fileBlocks?: number): { child: ChildProcess; output(): string; exited: Promise<number | null> } {
  const file = join(dir, 'broker.conf');
  writeFileSync(file, ['listener 0 127.0.0.1', 'allow_anonymous true', ...conf].join('\n') + '\n');
  const child =
    fileBlocks === undefined
      ? spawn(process.execPath, [MAIN, 'broker', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('sh', ['-c', `ulimit -f ${fileBlocks} && exec "$0" "$@"`, process.execPath, MAIN, 'broker', '-c', file], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (text += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (text += s));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => text, exited };
}

/** A start that must fail: its exit code and what it said. */
async function failedStart(dir: string, conf: string[]): Promise<{ code: number | null; said: string }> {
  const run = cli(dir, conf);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 15_000);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, said: run.output() };
}

async function runningCli(dir: string, conf: string[], fileBlocks?: number): Promise<CliBroker> {
  const run = cli(dir, conf, fileBlocks);
  const deadline = Date.now() + 15_000;
  let m: RegExpExecArray | null = null;
  while (!(m = /Listening on [^\s]+:(\d+)/.exec(run.output()))) {
    if (Date.now() > deadline || run.child.exitCode !== null) throw new Error(`broker did not start:\n${run.output()}`);
    await sleep(20);
  }
  return {
    child: run.child,
    port: Number(m[1]),
    output: run.output,
    exited: run.exited,
    kill: async (signal) => {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill(signal);
      return run.exited;
    },
  };
}

/** No stack trace, no internal error: a start that fails says why in one line. */
function expectCleanFailure(said: string): void {
  expect(said).not.toMatch(/internal error|\n\s+at /);
}

describe('persistence: files and locations the broker cannot simply use', () => {
  const res = new TestResources();
  const cleanups: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    await res.releaseAll();
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const dir = (): string => {
    const d = persistenceDir();
    cleanups.push(d.remove);
    return d.dir;
  };
  const inProcess = async (location: string, lines: string[]): Promise<RunningBroker> => {
    const b = await startBroker({
      listeners: [{ host: '127.0.0.1', port: 0 }],
      persistence: { enabled: true, location },
      logTypes: new Set(['error', 'warning', 'notice']),
      logSink: (line) => lines.push(line),
    });
    cleanups.push(() => b.close());
    return b;
  };

  it('refuses to start on a file of garbage, names it, and leaves it as it was', async () => {
    const d = dir();
    const garbage = Buffer.concat([Buffer.from('PK\x03\x04 not a broker file\n'), Buffer.alloc(4000, 0xa5)]);
    writeFileSync(join(d, 'mosquitto.db'), garbage);
    await expect(inProcess(d, [])).rejects.toThrow(/persistence file .*mosquitto\.db is not an mqbench persistence file \(it begins with "PK/);
    const { code, said } = await failedStart(d, persistenceConf(d));
    expect(code).toBe(3);
    expect(said).toMatch(/mqbench: persistence file .*mosquitto\.db is not an mqbench persistence file/);
    expectCleanFailure(said);
    expect(readFileSync(join(d, 'mosquitto.db')).equals(garbage)).toBe(true);
  });

  it("says that Mosquitto's own database is Mosquitto's", async () => {
    const d = dir();
    if (findMosquitto()) {
      // A real one: Mosquitto saves its database when it stops.
      const m = await startMosquitto({ config: persistenceConf(d) });
      await m.stop();
    } else {
      // Its header: the magic bytes, a CRC, format version 6.
      writeFileSync(join(d, 'mosquitto.db'), Buffer.concat([Buffer.from([0, 0xb5, 0]), Buffer.from('mosquitto db'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 6])]));
    }
    expect(readFileSync(join(d, 'mosquitto.db')).subarray(0, 3)).toEqual(Buffer.from([0, 0xb5, 0]));
    await expect(inProcess(d, [])).rejects.toThrow(/is a Mosquitto database \(its format version \d+\), which the mqbench broker cannot read/);
    const { code, said } = await failedStart(d, persistenceConf(d));
    expect(code).toBe(3);
    expect(said).toMatch(/is a Mosquitto database/);
    expectCleanFailure(said);
  });

  it('starts on an empty file with a warning, and keeps state from then on', async () => {
    const d = dir();
    writeFileSync(join(d, 'mosquitto.db'), '');
    const lines: string[] = [];
    const b = await inProcess(d, lines);
    expect(lines.join('\n')).toMatch(/Warning: persistence file .*mosquitto\.db is empty; starting with no saved state/);
    const pub = await res.connect(b, 4, { clientId: 'empty-pub' });
    await pub.publish('after/empty', 'kept', { qos: 1, retain: true });
    await b.close();
    const again = await inProcess(d, lines);
    const sub = await res.connect(again, 4, { clientId: 'empty-sub' });
    await sub.subscribe('after/#', 0);
    expect(payloadsOf([await sub.receive()])).toEqual(['kept']);
  });

  it('refuses a persistence_location that does not exist, is a file, or cannot be written', async () => {
    const d = dir();
    const missing = await failedStart(d, persistenceConf(join(d, 'no-such-dir')));
    expect(missing.code).toBe(3);
    expect(missing.said).toMatch(/persistence_location .*no-such-dir cannot be used: no such file or directory/);
    writeFileSync(join(d, 'plain-file'), 'x');
    const file = await failedStart(d, persistenceConf(join(d, 'plain-file')));
    expect(file.code).toBe(3);
    expect(file.said).toMatch(/persistence_location .*plain-file is not a directory/);
    // Root writes anywhere chmod allows nothing; /proc takes no new files from anyone.
    const readOnly = process.getuid?.() === 0 ? '/proc' : join(d, 'read-only');
    if (readOnly !== '/proc') {
      mkdirSync(readOnly, { mode: 0o555 });
      chmodSync(readOnly, 0o555);
    }
    const ro = await failedStart(d, persistenceConf(readOnly));
    expect(ro.code).toBe(3);
    expect(ro.said).toMatch(/cannot write persistence file .*mosquitto\.db in persistence_location .*: (permission denied|no such file or directory|read-only)/);
    for (const r of [missing, file, ro]) expectCleanFailure(r.said);
  });

  /**
   * A file of several batches, as a broker killed in the middle of things leaves it: a retained message, a persistent
   * session subscribing, three messages queued for it, a second retained message — each acknowledged, so each in a
   * batch of its own.
   */
  async function fileOfBatches(d: string): Promise<Buffer> {
    const b = await runningCli(d, persistenceConf(d));
    cleanups.push(async () => void (await b.kill('SIGKILL')));
    const pub = await res.connect({ host: '127.0.0.1', port: b.port }, 4, { clientId: 'batches-pub' });
    await pub.publish('batch/first', 'retained first', { qos: 1, retain: true });
    const sub = await res.connect({ host: '127.0.0.1', port: b.port }, 4, { clientId: 'batches-sub', clean: false });
    await sub.subscribe('batch/q', 1);
    await sub.disconnect();
    for (let i = 0; i < 3; i++) await pub.publish('batch/q', `queued ${i}`, { qos: 1 });
    await pub.publish('batch/last', 'retained last', { qos: 1, retain: true });
    expect(await b.kill('SIGKILL')).toBe(null);
    return readFileSync(join(d, 'mosquitto.db'));
  }

  it('reads a file cut short or corrupted at any byte without failing, keeping the whole batches before the damage', async () => {
    const d = dir();
    const whole = await fileOfBatches(d);
    const path = join(d, 'cut.db');
    const full = await readStoreFile(join(d, 'mosquitto.db'));
    expect(full.dropped).toBe(null);
    expect(full.image.retained.size).toBe(2);
    let lastRecords = 0;
    let cutsInsideBatches = 0;
    for (let cut = 0; cut < whole.length; cut++) {
      writeFileSync(path, whole.subarray(0, cut));
      const r = await readStoreFile(path);
      // Never more than the file held, never less than a shorter cut kept.
      expect(r.goodBytes).toBeLessThanOrEqual(cut);
      expect(r.image.records).toBeGreaterThanOrEqual(lastRecords);
      lastRecords = r.image.records;
      if (r.dropped !== null) {
        cutsInsideBatches++;
        expect(r.dropped.offset + r.dropped.bytes).toBe(cut);
      }
    }
    expect(cutsInsideBatches).toBeGreaterThan(whole.length / 2);
    expect(lastRecords).toBeLessThanOrEqual(full.image.records);
    // Every byte flipped in turn: a CRC or a header check catches it, and what is kept is a prefix of batches.
    for (let at = 16; at < whole.length; at++) {
      const bad = Buffer.from(whole);
      bad[at] ^= 0x41;
      writeFileSync(path, bad);
      const r = await readStoreFile(path);
      expect(r.goodBytes).toBeLessThanOrEqual(at + 1);
      expect(r.dropped).not.toBe(null);
    }
  });

  it('starts on a file cut inside its last batch, says what it dropped, and restores what came before', async () => {
    const d = dir();
    const whole = await fileOfBatches(d);
    // Cut into the last batch (the second retained message): everything before it survives.
    truncateSync(join(d, 'mosquitto.db'), whole.length - 20);
    const b = await runningCli(d, persistenceConf(d));
    cleanups.push(async () => void (await b.kill('SIGTERM')));
    expect(b.output()).toMatch(/Warning: persistence file .*mosquitto\.db: dropped \d+ bytes from offset \d+ \(a record .*at offset \d+ is cut short\)/);
    const endpoint = { host: '127.0.0.1', port: b.port };
    const sub = await res.open(endpoint, 4);
    expect((await sub.connect({ clientId: 'batches-sub', clean: false })).sessionPresent).toBe(true);
    const queued = [await sub.receive(), await sub.receive(), await sub.receive()];
    expect(payloadsOf(queued)).toEqual(['queued 0', 'queued 1', 'queued 2']);
    const look = await res.connect(endpoint, 4, { clientId: 'batches-look' });
    await look.subscribe('batch/+', 0);
    expect(payloadsOf([await look.receive()])).toEqual(['retained first']);
    await look.expectNothing(300, 'publish');
    // The file was written afresh: the next start has nothing to drop.
    await b.kill('SIGTERM');
    const again = await runningCli(d, persistenceConf(d));
    cleanups.push(async () => void (await again.kill('SIGTERM')));
    expect(again.output()).not.toMatch(/dropped/);
    expect(again.output()).toMatch(/Restored 1 session/);
  });

  it('holds acknowledgements back while the disk is full, logs why, and goes on serving', async () => {
    const d = dir();
    // 64 KiB: room for the first messages only.
    const b = await runningCli(d, persistenceConf(d), 128);
    cleanups.push(async () => void (await b.kill('SIGKILL')));
    const endpoint = { host: '127.0.0.1', port: b.port };
    const sub = await res.connect(endpoint, 4, { clientId: 'full-sub', clean: false });
    await sub.subscribe('full/q', 1);
    await sub.disconnect();
    const pub = await res.connect(endpoint, 4, { clientId: 'full-pub' });
    const payload = Buffer.alloc(4096, 0x61);
    let acked = 0;
    for (; acked < 40; acked++) {
      pub.send({ cmd: 'publish', topic: 'full/q', payload, qos: 1, messageId: acked + 1, retain: false, dup: false });
      try {
        await pub.next('puback', 1_000);
      } catch {
        break;
      }
    }
    // Some went through, then the file could not grow and the acknowledgement never came.
    expect(acked).toBeGreaterThan(3);
    expect(acked).toBeLessThan(40);
    expect(b.output()).toMatch(/Error: writing persistence file .*mosquitto\.db failed: file too large \(EFBIG\)\. Acknowledgements wait; retrying\./);
    // Still serving: a client with nothing to write connects and pings.
    const other = await res.connect(endpoint, 4, { clientId: 'full-other' });
    other.send({ cmd: 'pingreq' });
    await other.next('pingresp');
    expect(b.child.exitCode).toBe(null);

    // Records keep coming (retained QoS 0 messages need no acknowledgement) but cannot be written: past its bound
    // the store stops reading the client that sends them, which keeps the rest in its own socket.
    const rssBefore = readProcessRssBytes(b.child.pid!)!;
    const flood = netConnect({ host: '127.0.0.1', port: b.port });
    flood.on('error', () => undefined);
    await new Promise<void>((done) => flood.once('connect', () => done()));
    flood.write(Buffer.from([0x10, 0x0f, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, 0x00, 0x03, 0x66, 0x6c, 0x64]));
    const big = Buffer.alloc(256 * 1024, 0x62);
    const packet = Buffer.concat([Buffer.from([0x31, 0x87, 0x80, 0x10, 0x00, 0x05]), Buffer.from('flood'), big]);
    // 400 MiB offered (the same buffer queued over and over, no copies here).
    for (let i = 0; i < 1600; i++) flood.write(packet);
    cleanups.push(() => void flood.destroy());
    await sleep(1_500);
    const grew = readProcessRssBytes(b.child.pid!)! - rssBefore;
    expect(flood.writableLength).toBeGreaterThan(300 * 1024 * 1024);
    // The store's bound (32 MiB) and what garbage collection has yet to take back: far below what was offered.
    expect(grew).toBeLessThan(200 * 1024 * 1024);
    await other.publish('full/other', 'still here', { qos: 0 });
    other.send({ cmd: 'pingreq' });
    await other.next('pingresp');

    // What was acknowledged is on disk: after a kill, the subscriber gets exactly those.
    expect(await b.kill('SIGKILL')).toBe(null);
    const again = await runningCli(d, persistenceConf(d));
    cleanups.push(async () => void (await again.kill('SIGTERM')));
    const back = await res.open({ host: '127.0.0.1', port: again.port }, 4);
    await back.connect({ clientId: 'full-sub', clean: false });
    const got = [];
    for (let i = 0; i < acked; i++) got.push(await back.receive());
    expect(got).toHaveLength(acked);
    await back.expectNothing(300, 'publish');
    expect(statSync(join(d, 'mosquitto.db')).size).toBeGreaterThan(acked * 4096);
  });
});
