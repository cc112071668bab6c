/**
 * `mqbench compare` as a user runs it: the built CLI in a child process against local broker processes, its exit
 * code, the table it prints and the reports it writes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CompareResult } from '../../../src/compare/result.js';
import { startBroker } from '../../../broker/index.js';
import { testBrokerKinds } from '../../helpers/brokers.js';

const root = resolve(__dirname, '../../..');
const bin = join(root, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-compare-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function mqbench(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, 'compare', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** 4 publishers at 250 msg/s each into one subscriber: any working broker delivers exactly the offered 1,000/s. */
/** Compares `file` on every test broker, one round, one worker, into `work/<name>`; the run must succeed. */
function compareOnEveryBroker(file: string, name: string) {
  const brokers = testBrokerKinds().flatMap((k) => ['--broker', k]);
  const out = join(work, name);
  const r = mqbench([file, ...brokers, '--rounds', '1', '--workers', '1', '--out', out]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return { r, result: JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as CompareResult };
}

const paced = join(work, 'paced.yaml');
writeFileSync(
  paced,
  [
    'name: paced-fanin',
    'description: 4 publishers at 250/s each into 1 subscriber',
    'duration: 3s',
    'drain: 1s',
    'groups:',
    '  - name: sub',
    '    steps:',
    '      - connect',
    '      - subscribe: { topic: cmp/t, qos: 1 }',
    '  - name: pubs',
    '    clients: 4',
    '    startTime: 300ms',
    '    steps:',
    '      - connect',
    '      - publish: { topic: cmp/t, qos: 1, rate: 250/s, payload: { size: 64 } }',
    '',
  ].join('\n'),
);

describe('mqbench compare', () => {
  it('runs a scenario against two bundled brokers, alternating, and finds them equal', () => {
    const out = join(work, 'two-bundled');
    const md = join(work, 'benchmarks.md');
    const r = mqbench([paced, '--broker', 'bundled', '--broker', 'bundled', '--rounds', '2', '--workers', '1', '--out', out, '--markdown', md]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // Rounds alternate between the brokers: A B A B.
    const order = [...r.stderr.matchAll(/round (\d)\/2 against (bundled(?: #2)?)/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(order).toEqual(['1 bundled', '1 bundled #2', '2 bundled', '2 bundled #2']);

    const result = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as CompareResult;
    expect(result.brokers.map((b) => [b.label, b.kind, b.local])).toEqual([
      ['bundled', 'bundled', true],
      ['bundled #2', 'bundled', true],
    ]);
    expect(result.runs).toHaveLength(4);
    const [scenario] = result.scenarios;
    expect(scenario.measure).toBe('throughput');
    for (const b of scenario.brokers) {
      expect(b.rounds).toBe(2);
      expect(b.lost).toBe(0);
      expect(b.errors).toBe(0);
      expect(b.receivedPerSec.median).toBeGreaterThan(950);
      expect(b.receivedPerSec.median).toBeLessThan(1_050);
      // The broker's own process was measured.
      expect(b.cpuSeconds!.median).toBeGreaterThan(0);
      expect(b.peakRssBytes!.median).toBeGreaterThan(10 * 1024 * 1024);
    }
    const ratio = scenario.ratios['bundled #2'];
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);

    // The table has a row per broker with its figures, and the ratio line.
    const row = (label: string) => r.stdout.split('\n').find((l) => l.startsWith(`${label} `))!;
    for (const label of ['bundled', 'bundled #2']) expect(row(label)).toMatch(/^\S+(?: #2)?\s+[\d,]+\s+[\d,]+–[\d,]+\s/);
    expect(r.stdout).toMatch(/bundled ÷ bundled #2: (0\.9\d|1\.0\d)×/);

    expect(existsSync(join(out, 'compare.html'))).toBe(true);
    const html = readFileSync(join(out, 'compare.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('bundled #2');
    const markdown = readFileSync(md, 'utf8');
    expect(markdown).toMatch(/^# Benchmarks/);
    expect(markdown).toContain('mqbench compare');
  }, 180_000);

  it('times connection scenarios from CONNECT to CONNACK', () => {
    const churn = join(work, 'churn.yaml');
    writeFileSync(
      churn,
      ['name: churn', 'drain: 0s', 'groups:', '  - name: arrivals', '    clients: 300', '    connectRate: 300/s', '    steps:', '      - connect', '      - disconnect', ''].join('\n'),
    );
    const out = join(work, 'churn');
    const md = join(work, 'churn.md');
    const r = mqbench([churn, '--broker', 'bundled', '--rounds', '1', '--workers', '1', '--out', out, '--markdown', md]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as CompareResult;
    const [scenario] = result.scenarios;
    expect(scenario.measure).toBe('connect-rate');
    const [b] = scenario.brokers;
    // The run's connect percentiles, not an end-to-end figure (no message travelled).
    expect(result.runs[0].e2e).toBeUndefined();
    expect(b.p50).toBe(result.runs[0].connect!.p50);
    expect(b.p99).toBe(result.runs[0].connect!.p99);
    expect(b.p50!).toBeGreaterThan(0);
    expect(r.stdout).toContain('latency CONNECT to CONNACK');
    expect(readFileSync(md, 'utf8')).toContain('Latency: CONNECT to CONNACK.');
  }, 60_000);

  it('in saturation mode, ends the search at the first step that breaks a limit and says why', () => {
    const out = join(work, 'saturate');
    // A 1 µs p99 limit cannot hold: the first step fails, and says why.
    const r = mqbench([paced, '--broker', 'bundled', '--rounds', '1', '--workers', '1', '--saturate', '--max-p99', '1us', '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as CompareResult;
    expect(result.saturation).toHaveLength(1);
    const [s] = result.saturation;
    expect(s.sustainedPerSec).toBeUndefined();
    expect(s.steps).toHaveLength(1);
    expect(s.steps[0]).toMatchObject({ offeredPerSec: 1_000, held: false });
    expect(s.steps[0].sentPerSec).toBeGreaterThan(900);
    expect(s.steps[0].why).toMatch(/^p99 [\d.]+ ms > 0\.0 ms$/);
  }, 120_000);

  it('logs in to a broker URL with the credentials in it, and never shows them', async () => {
    const seen: string[] = [];
    const broker = await startBroker({
      listeners: [{ host: '127.0.0.1', port: 0 }],
      logTypes: new Set(),
      authenticate: (req) => {
        seen.push(`${req.username}:${req.password?.toString()}`);
        return req.username === 'bench' && req.password?.toString() === 's3cret';
      },
    });
    try {
      const out = join(work, 'remote');
      // Asynchronous: the broker above runs in this process and must keep answering.
      const child = spawn(process.execPath, [bin, 'compare', paced, '--broker', `mqtt://bench:s3cret@127.0.0.1:${broker.port}`, '--rounds', '1', '--workers', '1', '--out', out], { cwd: root });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((done) => child.on('close', done));
      expect(code, stdout + stderr).toBe(0);
      expect(seen.length).toBeGreaterThanOrEqual(5);
      expect(new Set(seen)).toEqual(new Set(['bench:s3cret']));
      const json = readFileSync(join(out, 'compare.json'), 'utf8');
      const result = JSON.parse(json) as CompareResult;
      expect(result.brokers.map((b) => [b.label, b.kind, b.local])).toEqual([[`mqtt://127.0.0.1:${broker.port}`, 'remote', false]]);
      expect(result.scenarios[0].brokers[0].lost).toBe(0);
      for (const text of [json, readFileSync(join(out, 'compare.html'), 'utf8'), stdout, stderr]) expect(text).not.toContain('s3cret');
    } finally {
      await broker.close();
    }
  }, 120_000);

  it('loses only the round in which a broker dies, says why, and starts the broker again for the next', async () => {
    const out = join(work, 'killed');
    const child = spawn(process.execPath, [bin, 'compare', paced, '--broker', 'bundled', '--rounds', '2', '--workers', '1', '--out', out], { cwd: root });
    let stdout = '';
    let stderr = '';
    let killed = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (killed === 0 && stderr.includes('round 1/2 against bundled')) {
        killed = -1;
        // Into the first round, kill the broker process this compare started.
        setTimeout(() => {
          const ps = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(child.pid)], { encoding: 'utf8' }).stdout;
          const line = ps.split('\n').find((l) => l.includes(' broker -c '));
          killed = Number(line?.trim().split(/\s+/)[0] ?? 0);
          if (killed > 0) process.kill(killed, 'SIGKILL');
        }, 1_500);
      }
    });
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(killed, 'the broker process was found and killed').toBeGreaterThan(0);
    expect(code, stdout + stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as CompareResult;
    expect(result.runs.map((r) => r.round)).toEqual([2]);
    expect(result.incidents).toHaveLength(1);
    expect(result.incidents[0]).toMatchObject({ broker: 'bundled', round: 1 });
    expect(result.incidents[0].what).toMatch(/^bundled killed by SIGKILL during the run .*; started again for the next round$/);
    expect(result.scenarios[0].brokers[0]).toMatchObject({ rounds: 1, lost: 0, errors: 0 });
    expect(stdout).toMatch(/1 of 2/);
    expect(stdout).toContain('incidents');
  }, 120_000);

  it('runs a scenario with a fault on each broker, restarting it, with the acknowledged messages lost across it', () => {
    // An offline persistent session holds 20 messages of each QoS when the broker restarts; neither broker has
    // persistence on here, so both lose all 40, and what comes after arrives.
    const file = join(work, 'faulty.yaml');
    const group = (name: string, qos: number, startTime: string) => [
      `  - name: ${name}`,
      `    startTime: ${startTime}`,
      `    steps: [connect, { publish: { topic: "cmp/${name}", qos: ${qos}, count: 20, rate: 200/s } }, disconnect]`,
    ];
    writeFileSync(
      file,
      [
        'name: faulty',
        'drain: 1s',
        'faults:',
        '  - { at: 1s, action: restart-broker }',
        'groups:',
        '  - name: sub',
        '    clientId: away',
        '    steps:',
        '      - connect: { clean: false }',
        '      - subscribe: { topic: "cmp/#", qos: 2 }',
        '      - disconnect',
        '      - wait: 1500ms',
        '      - connect: { clean: false, attempts: 50, backoff: 100ms }',
        ...group('before1', 1, '300ms'),
        ...group('before2', 2, '300ms'),
        ...group('after', 1, '2500ms'),
        '',
      ].join('\n'),
    );
    const { r, result } = compareOnEveryBroker(file, 'faulty');
    const [scenario] = result.scenarios;
    expect(scenario.faults).toBe(1);
    expect(scenario.brokers.map((b) => [b.broker.split(' ')[0], b.faultsLost, b.lost])).toEqual(testBrokerKinds().map((k) => [k, 40, 40]));
    expect(result.incidents).toEqual([]);
    expect(r.stdout).toMatch(/lost\/faults/);
  });

  it('measures a scenario whose every publish is retained by the retained copies new subscribers get, on each broker', () => {
    const file = join(work, 'retained.yaml');
    writeFileSync(
      file,
      [
        'name: retained-copies',
        'description: 50 retained topics, read by 40 late subscribers',
        'drain: 500ms',
        'groups:',
        '  - name: keeper',
        '    steps:',
        '      - connect',
        '      - publish: { topic: "cmp/ret/{seq}", qos: 1, retain: true, payload: { size: 32 }, count: 50 }',
        '      - disconnect',
        '  - name: late',
        '    clients: 40',
        '    startTime: 500ms',
        '    connectRate: 100/s',
        '    steps:',
        '      - connect',
        '      - subscribe: { topic: "cmp/ret/#", qos: 0 }',
        '      - wait: 300ms',
        '      - disconnect',
        '  - name: cleaner',
        '    startTime: 1500ms',
        '    steps:',
        '      - connect',
        '      - publish: { topic: "cmp/ret/{seq}", retain: true, timestamp: false, count: 50 }',
        '      - disconnect',
        '',
      ].join('\n'),
    );
    const { result } = compareOnEveryBroker(file, 'retained');
    const [scenario] = result.scenarios;
    expect(scenario.measure).toBe('retained');
    for (const b of scenario.brokers) {
      // 2,000 copies over about 0.4 s of arrivals: far above 0, which is what live deliveries per second would show.
      expect(b.retainedPerSec.median, b.broker).toBeGreaterThan(500);
      expect(b.receivedPerSec.median, b.broker).toBe(0);
      // Latency columns time the copies' age, not end to end (there is none).
      expect(b.p50, b.broker).toBeGreaterThan(0);
    }
    for (const run of result.runs) expect(run.retained?.count, run.broker).toBe(2_000);
  });

  it('says Mosquitto cannot be found and exits 3, without a stack trace', () => {
    const r = mqbench([paced, '--broker', 'bundled', '--broker', 'mosquitto', '--out', join(work, 'missing')], { MQBENCH_MOSQUITTO: '/nonexistent/mosquitto' });
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/mosquitto binary not found \(looked in: \/nonexistent\/mosquitto\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('lists every mistake of a broken scenario with file:line:col and exits 2 before starting a broker', () => {
    const broken = join(work, 'broken.yaml');
    writeFileSync(broken, ['name: broken', 'groups:', '  - name: p', '    steps:', '      - publish: { topic: a/+, qos: 3 }', ''].join('\n'));
    const r = mqbench([broken, '--broker', 'bundled']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/broken\.yaml:5:\d+/);
    expect(r.stderr.match(/broken\.yaml:\d+:\d+/g)!.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses bad options with exit 2', () => {
    for (const [args, message] of [
      [[paced], /name at least one --broker/],
      [['--broker', 'bundled'], /no scenario given/],
      [[paced, '--broker', 'bundled', '--rounds', '0'], /--rounds must be a whole number from 1 to 100, got "0"/],
      [[paced, '--broker', 'ftp://x'], /--broker/],
    ] as const) {
      const r = mqbench([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
