/**
 * `mqbench run` as a user runs it: the built CLI in a child process, its exit code, what it prints, and the report
 * folder it writes. Every example scenario in scenarios/ runs here against its broker: the bundled one, or for the
 * durability examples Mosquitto with persistence (the bundled broker keeps everything in memory).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/launch/mosquitto.js';
import { testBrokerKinds } from '../../helpers/brokers.js';

const root = resolve(__dirname, '../../..');
const bin = join(root, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function mqbench(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('mqbench run', () => {
  const examples = readdirSync(join(root, 'scenarios')).filter((f) => f.endsWith('.yaml'));

  it('has the example scenarios the documentation promises', () => {
    expect(examples.sort()).toEqual(
      [
        'clientid-collision', 'connection-storm', 'durability', 'qos0-fanin', 'qos1-fanout', 'qos2', 'retain',
        'slow-consumer-persisted', 'slow-consumer',
      ].map((n) => `${n}.yaml`),
    );
  });

  // Where Mosquitto is absent these are left out, unless CI requires it (testBrokerKinds then fails).
  const onMosquitto = ['durability.yaml', 'slow-consumer-persisted.yaml'];
  const runnable = examples.filter((f) => !onMosquitto.includes(f) || testBrokerKinds().includes('mosquitto'));

  it.each(runnable)('runs scenarios/%s against its broker and writes every report', (file) => {
    const out = join(work, file);
    const r = mqbench(['run', `scenarios/${file}`, '--out', out, '--no-progress']);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASSED/);
    for (const f of ['summary.json', 'report.md', 'report.html', 'results.jtl']) expect(existsSync(join(out, f)), f).toBe(true);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.passed).toBe(true);
    expect(summary.totals.counters.connectsOk).toBeGreaterThan(0);
    // A fault happened on time and the broker came back.
    for (const f of summary.faults) expect(f).toMatchObject({ error: null, backAtMs: expect.any(Number) });
    if (onMosquitto.includes(file)) expect(summary.faults).toHaveLength(1);
    expect(readFileSync(join(out, 'results.jtl'), 'utf8').split('\n')[0]).toMatch(/^timeStamp,elapsed,label,/);
  });

  it('names the takeovers as the cause of the reconnect loop in the client id collision example', () => {
    const out = join(work, 'collision');
    const r = mqbench(['run', 'scenarios/clientid-collision.yaml', '--out', out, '--no-progress']);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.takeovers.count).toBeGreaterThan(5);
    expect(summary.takeovers.clientIds).toEqual(['twin']);
    expect(r.stdout).toMatch(/same client id/);
  });

  it('reports every mistake of a broken scenario with file:line:col and exits 2 before connecting', () => {
    const file = join(work, 'broken.yaml');
    writeFileSync(
      file,
      [
        'name: broken',
        'groups:',
        '  - name: pubs',
        '    clinets: 3',
        '    steps:',
        '      - connect',
        '      - publish: { topic: "a/+/b", qos: 3, rate: -5/s }',
        '',
      ].join('\n'),
    );
    const r = mqbench(['run', file, '--no-progress']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${escape(file)}:4:5: .*clinets.*\\n.*clients`, 's'));
    expect(r.stderr).toMatch(new RegExp(`${escape(file)}:7:\\d+: .*wildcard`));
    expect(r.stderr).toMatch(new RegExp(`${escape(file)}:7:\\d+: .*[Qq]o[Ss]`));
    expect(r.stderr).toMatch(new RegExp(`${escape(file)}:7:\\d+: .*rate`));
    expect(r.stdout).not.toMatch(/PASSED|FAILED/);
  });

  it('says an unreachable broker cannot be reached and exits 3', async () => {
    const port = await freePort();
    const r = mqbench(['run', 'scenarios/qos2.yaml', '--broker', `mqtt://127.0.0.1:${port}`, '--no-progress', '--out', join(work, 'x')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`cannot reach the broker at mqtt://127.0.0.1:${port}`));
  });

  it('fails with exit 1 and names the threshold that failed', () => {
    const file = join(work, 'strict.yaml');
    writeFileSync(
      file,
      [
        'name: strict',
        'thresholds:',
        '  - received > 1000000',
        '  - e2e.p99 < 1us',
        'groups:',
        '  - name: sub',
        '    steps: [connect, { subscribe: { topic: "s/#", qos: 1 } }]',
        '  - name: pub',
        '    startTime: 200ms',
        '    steps: [connect, { publish: { topic: s/1, qos: 1, count: 20 } }, disconnect]',
        '',
      ].join('\n'),
    );
    const r = mqbench(['run', file, '--no-progress', '--out', join(work, 'strict')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAILED/);
    expect(r.stdout).toMatch(/received = 20, limit > 1,000,000|received = 20.*1000000/);
  });

  it('rejects an unknown option and a missing scenario with exit 2', () => {
    expect(mqbench(['run', 'scenarios/qos2.yaml', '--bogus']).code).toBe(2);
    const missing = mqbench(['run', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml.*not found/);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
