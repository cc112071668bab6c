/**
 * `mqbench conformance` as a user (or a CI job) runs it: the built CLI in a child process, its exit code, what it
 * prints, and the reports it writes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/launch/mosquitto.js';
import { testBrokerKinds } from '../../helpers/brokers.js';

const root = resolve(__dirname, '../../..');
const bin = join(root, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-conformance-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function mqbench(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, 'conformance', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking this process: for brokers that live in the test itself. */
function mqbenchAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, 'conformance', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function count(xml: string, tag: string): number {
  return xml.split(`<${tag}`).length - 1;
}

const hasMosquitto = testBrokerKinds().includes('mosquitto');

describe('mqbench conformance', () => {
  it('checks the bundled broker by default and writes JSON, JUnit XML, Markdown and HTML reports', () => {
    const out = join(work, 'bundled');
    const r = mqbench(['--grep', '/3.12/', '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/bundled \(mqbench [^)]+\)\s+CONFORMS$/m);
    for (const f of ['conformance.json', 'junit.xml', 'conformance.md', 'conformance.html']) expect(existsSync(join(out, f)), f).toBe(true);
    const report = JSON.parse(readFileSync(join(out, 'conformance.json'), 'utf8'));
    const checks = report.runs[0].checks as Array<{ id: string; status: string }>;
    expect(checks.length).toBeGreaterThan(1);
    expect(checks.every((c) => c.id.includes('/3.12/') && c.status === 'pass')).toBe(true);
    const junit = readFileSync(join(out, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>/);
    expect(count(junit, 'testcase')).toBe(checks.length);
    expect(count(junit, 'failure')).toBe(0);
    expect(readFileSync(join(out, 'conformance.md'), 'utf8')).toMatch(/MQTT-3\.12\.4-1/);
  });

  it.runIf(hasMosquitto)('fails on a deviation unless it is declared known, and explains it either way', () => {
    const strict = join(work, 'mosquitto-strict');
    const r = mqbench(['--broker', 'mosquitto', '--grep', 'pingreq-flags', '--out', strict]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/mosquitto \S+\s+DOES NOT CONFORM: 2 checks failed/);
    const junit = readFileSync(join(strict, 'junit.xml'), 'utf8');
    expect(count(junit, 'failure')).toBe(2);
    expect(junit).toMatch(/PINGREQ/);

    const lenient = join(work, 'mosquitto-known');
    const k = mqbench(['--broker', 'mosquitto', '--grep', 'pingreq-flags', '--known-deviations', 'mosquitto', '--out', lenient]);
    expect(k.code, k.stdout + k.stderr).toBe(0);
    expect(k.stdout).toMatch(/CONFORMS: 2 known deviations allowed/);
    expect(readFileSync(join(lenient, 'conformance.md'), 'utf8')).toMatch(/reserved/i);
  });

  it('says once that a broker cannot be reached, tries none of its checks, and exits 3', async () => {
    const port = await freePort();
    const out = join(work, 'unreachable');
    const r = mqbench(['--broker', `mqtt://127.0.0.1:${port}`, '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toMatch(/UNREACHABLE: .*ECONNREFUSED/);
    expect(r.stderr.match(/ECONNREFUSED/g), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/is not reachable: cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/);
    // The reports still list every check, as not run for that reason (CI reporters show them as errors).
    const report = JSON.parse(readFileSync(join(out, 'conformance.json'), 'utf8'));
    expect(report.runs[0].reachable).toBe(false);
    expect(new Set(report.runs[0].checks.map((c: { status: string }) => c.status))).toEqual(new Set(['error']));
  });

  it('reports a broker that refuses every CONNECT as unreachable, with its answer', async () => {
    // Answers any CONNECT with CONNACK 0x05 (not authorised) and closes.
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('data', () => s.end(Buffer.from([0x20, 0x02, 0x00, 0x05])));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const a = server.address();
    try {
      const r = await mqbenchAsync(['--broker', `mqtt://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, '--out', join(work, 'refusing')]);
      expect(r.code, r.stdout + r.stderr).toBe(3);
      expect(r.stdout).toMatch(/UNREACHABLE: the broker refused the probe's CONNECT: MQTT 3\.1\.1: connack\(rc=5 sp=0\); MQTT 5\.0: /);
      expect(r.stderr.split('\n').filter((l) => l.includes('refused'))).toHaveLength(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('runs the MQTT 3.1.1 checks of a broker that refuses MQTT 5 (Aedes 1.2) and skips the 5.0 ones, quoting its CONNACK', () => {
    const out = join(work, 'aedes');
    const r = mqbench(['--broker', 'aedes', '--grep', '/3.12/', '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/aedes \S+\s+CONFORMS$/m);
    expect(r.stderr).toMatch(/aedes \S+ refused an MQTT 5\.0 CONNECT \(connack\(rc=1 sp=0\)\): 1 MQTT 5\.0 check skipped/);
    const report = JSON.parse(readFileSync(join(out, 'conformance.json'), 'utf8'));
    const checks = report.runs[0].checks as Array<{ id: string; version: string; status: string; message?: string; declaration?: string }>;
    expect(report.runs[0].reachable).toBe(true);
    expect(checks.filter((c) => c.version === '3.1.1').map((c) => c.status)).toEqual(['pass']);
    expect(checks.filter((c) => c.version === '5.0').map((c) => [c.status, c.message, c.declaration])).toEqual([
      ['skip', 'the broker refused an MQTT 5.0 CONNECT', 'connack(rc=1 sp=0)'],
    ]);
  });

  it('says Mosquitto is missing and exits 3 when its binary cannot be found', () => {
    const r = mqbench(['--broker', 'mosquitto', '--out', join(work, 'missing')], { MQBENCH_MOSQUITTO: '/nonexistent/mosquitto' });
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/mosquitto/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a bad option with its reason and exit 2, before starting anything', () => {
    for (const [args, message] of [
      [['--version', '7'], /--version must be 3\.1\.1 or 5, got "7"/],
      [['--grep', 'no-such-check-anywhere'], /no check matches --grep "no-such-check-anywhere"/],
      [['--allow-fail', 'nope/1/x'], /--allow-fail names no check or statement: nope\/1\/x/],
      [['--known-deviations', 'emqx'], /only "mosquitto" is documented/],
      [['--timeout', '5'], /--timeout must be/],
      [['--brokr', 'mosquitto'], /unknown option --brokr \(did you mean --broker\?\)/],
      [['--timeout'], /--timeout needs a value/],
    ] as const) {
      const r = mqbench([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
