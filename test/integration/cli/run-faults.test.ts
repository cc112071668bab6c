/**
 * `mqbench run` with broker faults, as a user runs it: refused against a broker it did not start, stopped by Ctrl-C or
 * SIGTERM while the broker is down or just back (no broker process left behind, no hang, the reports written), and
 * exit 3 with the reason when the broker does not come back.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testBrokerKinds } from '../../helpers/brokers.js';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-faults-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function scenario(name: string, broker: string, down: string, extra: string[] = []): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      `broker: ${broker}`,
      'duration: 30s',
      ...extra,
      'faults:',
      `  - { at: 1s, action: kill-broker, down: ${down} }`,
      'groups:',
      '  - name: pub',
      '    steps:',
      '      - connect: { reconnects: unlimited, backoff: 100ms, maxBackoff: 200ms }',
      '      - publish: { topic: t/1, qos: 1, rate: 20/s, duration: 29s }',
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * Run mqbench and call `on` with each new line of its standard error until it exits (bounded: killed after 40 s).
 * `on` may return a signal to send.
 */
function watch(args: string[], on: (line: string) => NodeJS.Signals | void): Promise<{ code: number | null; stderr: string; ms: number; signalledAt: number }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root });
    let stderr = '';
    let partial = '';
    let signalledAt = 0;
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const signal = on(line);
        if (signal !== undefined && signalledAt === 0) {
          signalledAt = Date.now();
          child.kill(signal);
        }
      }
    });
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`mqbench still running after 40 s:\n${stderr}`));
    }, 40_000);
    child.on('exit', (code) => {
      clearTimeout(guard);
      done({ code, stderr, ms: Date.now() - signalledAt, signalledAt });
    });
  });
}

describe('mqbench run with faults', () => {
  it('refuses faults against a broker it did not start, before connecting, with the place and a way out', () => {
    const r = spawnSync(process.execPath, [bin, 'run', 'scenarios/durability.yaml', '--broker', 'mqtt://127.0.0.1:1', '--no-progress'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /scenarios\/durability\.yaml:\d+:1: faults stop and start the broker, which mqbench can do only for a broker it starts itself \(bundled, mosquitto, aedes\); the --broker given is mqtt:\/\/127\.0\.0\.1:1\n {2}hint: run it with --broker bundled or --broker mosquitto/,
    );
    expect(r.stderr).toMatch(/persistence applies to a broker mqbench starts/);
    expect(r.stdout).not.toMatch(/PASSED|FAILED/);
  });

  const cases = [
    ['bundled', 'SIGTERM', 143],
    ...(testBrokerKinds().includes('mosquitto') ? [['mosquitto', 'SIGINT', 130]] : []),
  ] as [string, NodeJS.Signals, number][];

  it.each(cases)('%s: %s while the broker is down stops at once, starts no broker, and writes the reports', async (broker, signal, code) => {
    const out = join(work, `down-${broker}`);
    const r = await watch(['run', scenario(`down-${broker}`, broker, '20s'), '--no-progress', '--out', out], (line) =>
      /fault 1 \(kill-broker\) .* killed by SIGKILL; starting it again in 20\.00 s/.test(line) ? signal : undefined,
    );
    expect(r.code, r.stderr).toBe(code);
    // The drain (1 s) and the stop, not the 20 s down time.
    expect(r.ms).toBeLessThan(8_000);
    expect(r.stderr).not.toMatch(/broker back/);
    const [fault] = summaryOf(out).faults;
    expect(fault).toMatchObject({ error: 'the run was stopped before the broker was started again', backAtMs: null, pidAfter: null });
    expect(alive(fault.pidBefore)).toBe(false);
  });

  it.each(cases.slice(0, 1))('%s: %s just after the broker came back stops it: no broker process is left', async (broker, signal, code) => {
    const out = join(work, `up-${broker}`);
    let pid = 0;
    const r = await watch(['run', scenario(`up-${broker}`, broker, '0s'), '--no-progress', '--out', out], (line) => {
      const m = /broker back at .* \(pid (\d+)\)/.exec(line);
      if (m === null) return undefined;
      pid = Number(m[1]);
      return signal;
    });
    expect(r.code, r.stderr).toBe(code);
    expect(r.ms).toBeLessThan(8_000);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
    const [fault] = summaryOf(out).faults;
    expect(fault).toMatchObject({ error: null, pidAfter: pid });
    expect(alive(fault.pidBefore)).toBe(false);
  });

  it('exits 3 with the reason when the broker does not come back (its port taken), the reports written', async () => {
    const out = join(work, 'lost');
    let port = 0;
    let squatter: Server | undefined;
    const r = await watch(['run', scenario('lost', 'bundled', '1s', ['replyTimeout: 2s']), '--no-progress', '--out', out], (line) => {
      const m = /at mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m !== null) port = Number(m[1]);
      if (/killed by SIGKILL; starting it again in 1\.00 s/.test(line)) {
        squatter = createServer((s) => s.destroy()).listen(port, '127.0.0.1');
      }
    });
    await new Promise<void>((done) => (squatter ? squatter.close(() => done()) : done()));
    expect(port).toBeGreaterThan(0);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/mqbench: the broker did not come back within 2 s after fault 1 \(kill-broker\): the bundled broker failed to start/);
    const summary = summaryOf(out);
    expect(summary.stoppedBy).toBe('broker-lost');
    expect(summary.passed).toBe(false);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/did not come back within 2 s/);
  });
});
