/**
 * `mqbench run` under the conditions a real process meets: Ctrl-C and SIGTERM (also twice at once, as `timeout`
 * sends it), a broker that cannot be reached, too few file descriptors, a very long --duration, clients that leave
 * cleanly, a local Mosquitto, and mistyped options.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/launch/mosquitto.js';
import { testBrokerKinds } from '../../helpers/brokers.js';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-robust-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function mqbench(args: string[], opts: { shellPrefix?: string } = {}) {
  const r = opts.shellPrefix
    ? spawnSync('sh', ['-c', `${opts.shellPrefix} exec "${process.execPath}" "${bin}" ${args.map((a) => `'${a}'`).join(' ')}`], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    : spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Start a run, send `signals` after `afterMs`, and wait for it to end. */
function runAndSignal(args: string[], afterMs: number, signals: NodeJS.Signals[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const started = Date.now();
    const timer = setTimeout(() => {
      for (const s of signals) child.kill(s);
    }, afterMs);
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`still running 30 s after the signal:\n${stderr}`));
    }, afterMs + 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearTimeout(guard);
      done({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));

describe('mqbench run, stopped from outside', () => {
  it.each([
    ['Ctrl-C', ['SIGINT'], 130],
    ['SIGTERM', ['SIGTERM'], 143],
    ['SIGTERM sent twice at once (as `timeout` does)', ['SIGTERM', 'SIGTERM'], 143],
  ] as const)('drains and writes every report on %s', async (_name, signals, code) => {
    const out = join(work, `signal-${signals.join('-')}`);
    const r = await runAndSignal(['run', 'scenarios/bench/qos1-fanin.yaml', '--duration', '30s', '--no-progress', '--out', out], 3_000, [...signals]);
    expect(r.code, r.stderr).toBe(code);
    for (const f of ['summary.json', 'report.md', 'report.html', 'results.jtl']) expect(existsSync(join(out, f)), f).toBe(true);
    const summary = summaryOf(out);
    expect(summary.stoppedBy).toBe('interrupted');
    // The subscriber had the drain time: what the broker acknowledged reached it.
    expect(summary.delivery.total.lostAcknowledged).toBe(0);
    expect(r.stdout).not.toMatch(/promise BROKEN/);
  }, 60_000);

  it('with --duration 597h (beyond Node’s 24.8-day timers) runs until stopped, not for no time', async () => {
    const out = join(work, 'long-duration');
    const r = await runAndSignal(['run', 'scenarios/qos2.yaml', '--duration', '597h', '--no-progress', '--out', out], 3_000, ['SIGINT']);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).not.toMatch(/TimeoutOverflowWarning/);
    expect(summaryOf(out).durationMs).toBeGreaterThan(2_000);
  }, 60_000);
});

describe('mqbench run, refusing up front', () => {
  it('leaves no report folder behind when the broker cannot be reached', async () => {
    const out = join(work, 'unreachable');
    const r = mqbench(['run', 'scenarios/qos2.yaml', '--broker', `mqtt://127.0.0.1:${await freePort()}`, '--no-progress', '--out', out]);
    expect(r.code).toBe(3);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses, with the numbers and the command, a run that needs more file descriptors than it may open', () => {
    const out = join(work, 'fds');
    const r = mqbench(['run', 'scenarios/connection-storm.yaml', '--no-progress', '--out', out], { shellPrefix: 'ulimit -Sn 200 && ulimit -Hn 200 &&' });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/500 clients and the bundled broker in this process needs about 1064 open files, and this process may open 200/);
    expect(r.stderr).toMatch(/ulimit -Hn 1064/);
    expect(existsSync(out)).toBe(false);
  });

  it('raises its soft file-descriptor limit to the hard limit by itself', () => {
    const out = join(work, 'soft');
    const r = mqbench(['run', 'scenarios/connection-storm.yaml', '--no-progress', '--out', out], { shellPrefix: 'ulimit -Sn 200 &&' });
    expect(r.code, r.stderr).toBe(0);
  });

  it('names a mistyped option, a bad client count and the version clearly', () => {
    const typo = mqbench(['run', 'scenarios/qos2.yaml', '--brokr', 'x']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown option --brokr \(did you mean --broker\?\)/);
    const zero = mqbench(['run', 'scenarios/slow-consumer.yaml', '--clients', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--clients 0: a count of clients is a whole number from 1/);
    expect(zero.stderr).not.toMatch(/=0/);
    const config = mqbench(['broker', '-c', join(work, 'missing.conf')]);
    expect(config.code).toBe(2);
    expect(config.stderr).toMatch(/missing\.conf: cannot read the config file: no such file/);
    expect(config.stderr).not.toMatch(/internal error|at /);
    const version = mqbench(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^mqbench \d+\.\d+\.\d+/);
  });
});

describe('mqbench run, counting', () => {
  it('stops counting a connection once its client has disconnected cleanly', () => {
    const file = join(work, 'leave.yaml');
    writeFileSync(
      file,
      [
        'name: leave',
        'groups:',
        '  - name: leavers',
        '    clients: 3',
        // Gauges are read once a second: the leavers stay over two readings so one of them sees all four, even on a
        // loaded machine where a reading comes late.
        '    steps: [connect, { wait: 2500ms }, disconnect]',
        '  - name: keeper',
        '    steps: [connect, { wait: 6s }, disconnect]',
        '',
      ].join('\n'),
    );
    const out = join(work, 'leave');
    const r = mqbench(['run', file, '--no-progress', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const open: number[] = summaryOf(out).series.gauges.connectionsOpen;
    expect(Math.max(...open)).toBe(4);
    // After the three leave, one is connected: the count went down on their DISCONNECT.
    expect(open).toContain(1);
  });

  // Mosquitto when present; CI makes it present (testBrokerKinds fails rather than leaves it out there).
  it.each(testBrokerKinds().filter((k) => k === 'mosquitto'))('runs against a %s it starts itself (--broker mosquitto)', () => {
    const out = join(work, 'mosquitto');
    const r = mqbench(['run', 'scenarios/qos2.yaml', '--broker', 'mosquitto', '--no-progress', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/against mosquitto \d/);
    expect(summaryOf(out).delivery.total.lost).toBe(0);
  });
});
