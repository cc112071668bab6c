/**
 * Brokers mqbench starts, stopped and started again as a scenario's faults do: the same port after SIGKILL and
 * SIGTERM, a start abandoned half-way leaves no process, and none outlives the mqbench process that started it.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalBroker, LocalBrokerKind } from '../../../src/launch/local-broker.js';
import { testBrokerKinds } from '../../helpers/brokers.js';

type Launch = typeof import('../../../src/launch/local-broker.js');
const builtPath = resolve(import.meta.dirname, '../../../dist/src/launch/local-broker.js');
const built = pathToFileURL(builtPath).href;

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

async function start(kind: LocalBrokerKind): Promise<LocalBroker> {
  const { startLocalBroker } = (await import(built)) as Launch;
  const b = await startLocalBroker(kind);
  stops.push(() => b.stop());
  return b;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      done(true);
    });
    s.once('error', () => done(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

describe('a broker mqbench started, stopped and started again', () => {
  it.each(testBrokerKinds())('%s comes back on the same port after SIGKILL and after SIGTERM', async (kind) => {
    const b = await start(kind);
    const first = b.pid;
    expect(await b.kill('SIGKILL')).toBe('killed by SIGKILL');
    expect(alive(first)).toBe(false);
    expect(await accepts(b.port)).toBe(false);
    await b.restart(10_000);
    expect(b.pid).not.toBe(first);
    expect(b.exitStatus()).toBeUndefined();
    expect(await accepts(b.port)).toBe(true);
    const second = b.pid;
    expect(await b.kill('SIGTERM')).toBe('exited with code 0');
    await b.restart(10_000);
    expect(await accepts(b.port)).toBe(true);
    await expect(b.restart(1_000)).rejects.toThrow(/still running/);
    await b.stop();
    expect(alive(second)).toBe(false);
    expect(await gone(b.pid, 2_000)).toBe(true);
    await expect(b.restart(1_000)).rejects.toThrow(/stopped for good/);
  });

  it('a start abandoned half-way leaves no process behind', async () => {
    const b = await start('bundled');
    await b.kill('SIGKILL');
    const abort = new AbortController();
    const restarting = b.restart(10_000, abort.signal);
    // `mqbench broker` takes a few hundred milliseconds to listen: abandon it before.
    setTimeout(() => abort.abort(), 30);
    await expect(restarting).rejects.toThrow(/start abandoned/);
    expect(b.exitStatus()).toBeDefined();
    expect(await gone(b.pid, 2_000)).toBe(true);
    expect(await accepts(b.port)).toBe(false);
  });

  it('no broker outlives the process that started it, even one that exits at once', async () => {
    const kinds = JSON.stringify(testBrokerKinds());
    const script = [
      `const { startLocalBroker } = await import(${JSON.stringify(built)});`,
      `for (const kind of ${kinds}) { const b = await startLocalBroker(kind); process.stdout.write(b.pid + '\\n'); }`,
      'process.exit(0);',
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    expect(code, err).toBe(0);
    const pids = out.trim().split('\n').map(Number);
    expect(pids).toHaveLength(testBrokerKinds().length);
    for (const pid of pids) expect(await gone(pid, 2_000), `broker pid ${pid}`).toBe(true);
  });
});
