/**
 * The broker's own view of a run: one extra connection reads `$SYS/broker/store/messages/count` (and the retained
 * and dropped counts) while the run goes on, and the reports put it beside the engine's queue depth. It never fails
 * or holds up a run: a broker that refuses it, does not answer it, or publishes no `$SYS` leaves the figures out and
 * the report says why. `sysTopics: false` opens no such connection.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../../broker/index.js';
import { brokerHeldPerSecond, sysSeconds } from '../../../src/report/facts.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import type { RunResult } from '../../../src/run/result.js';
import { runScenario } from '../../../src/run/run.js';
import { loadScenarioText } from '../../../src/scenario/index.js';
import { testBrokerKinds } from '../../helpers/brokers.js';
import { startMisbehavingBroker, type Misbehaviour } from '../../helpers/misbehaving-broker.js';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-sys-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

function mqbench(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI without blocking this process, for a broker that runs in it. */
function mqbenchAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const guard = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      done({ code, stdout, stderr });
    });
  });
}

async function runAt(port: number, yaml: string): Promise<{ result: RunResult; ms: number }> {
  const loaded = loadScenarioText(yaml, 'test.yaml');
  if ('problems' in loaded) throw new Error(loaded.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n'));
  const started = Date.now();
  const { result } = await runScenario({
    scenario: loaded.scenario,
    endpoint: { transport: 'mqtt', hosts: [{ host: '127.0.0.1', port }], path: '', tls: undefined },
    target: { kind: 'remote', url: `mqtt://127.0.0.1:${port}`, protocol: '3.1.1' },
    workers: 1,
    version: 'test',
  });
  return { result, ms: Date.now() - started };
}

async function misbehaving(how: Misbehaviour) {
  const b = await startMisbehavingBroker(how);
  stops.push(() => b.stop());
  return b;
}

/** A QoS 0 publisher and nothing else: it needs no answer from the broker beyond CONNACK. */
function publisherOnly(extra = ''): string {
  return `
name: sys-reader
replyTimeout: 1s
drain: 200ms
${extra}
thresholds:
  - errors == 0
groups:
  - name: pub
    steps:
      - connect
      - publish: { topic: t, qos: 0, count: 20, rate: 100/s }
      - disconnect
`;
}

/**
 * scenarios/slow-consumer.yaml made longer: the session is behind for over three seconds and caught up for over two,
 * since Mosquitto publishes $SYS every sys_interval + 1 seconds (its test is "now − interval > last update", in whole
 * seconds), every 2 s with the sys_interval 1 mqbench gives it.
 */
const SLOW_CONSUMER = `
name: slow-sys
broker:
  protocol: 5
thresholds:
  - lost == 0
  - errors == 0
groups:
  - name: laggard
    clientId: laggard
    steps:
      - connect: { clean: true, sessionExpiry: 1m, consumeRate: 50/s }
      - subscribe: { topic: slow/feed, qos: 1 }
      - wait: 3s
      - disconnect
      - wait: 500ms
      - connect: { clean: false, sessionExpiry: 1m }
      - wait: 2500ms
      - disconnect
  - name: firehose
    startTime: 300ms
    steps:
      - connect
      - publish: { topic: slow/feed, qos: 1, rate: 200/s, count: 500 }
      - disconnect
`;

describe.each(testBrokerKinds())('a slow consumer on a persistent session, against %s started by mqbench run', (kind) => {
  it("reads the broker's stored messages: above zero while the session is behind, back to its retained messages once it caught up", () => {
    const file = join(work, `slow-${kind}.yaml`);
    writeFileSync(file, SLOW_CONSUMER);
    const out = join(work, `slow-${kind}`);
    const r = mqbench(['run', file, '--no-progress', '--out', out, ...(kind === 'mosquitto' ? ['--broker', 'mosquitto'] : [])]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as RunResult;
    const sys = result.broker.sys!;
    expect(sys.missing).toBeNull();
    // sys_interval 1: a value every second (the bundled broker) or two (Mosquitto), not one per ten seconds.
    expect(new Set(sys.storedMessages.map((p) => p.second)).size, JSON.stringify(sys)).toBeGreaterThanOrEqual(kind === 'mosquitto' ? 2 : 4);
    const held = brokerHeldPerSecond(sys, sysSeconds(result));
    const depth = result.groups.find((g) => g.name === 'laggard')!.queueDepth!;
    // 200/s arrive from 0.3 s to 2.8 s while 50/s are taken: hundreds are held until the session is back at 3.5 s.
    expect(Math.max(...depth.total)).toBeGreaterThan(200);
    expect(Math.max(...held.slice(0, 4).filter(Number.isFinite)), JSON.stringify(sys)).toBeGreaterThan(100);
    // Back, the session takes its backlog at full speed: the store is down to its retained messages.
    expect(held[held.length - 1], JSON.stringify(sys)).toBe(0);
    const last = sys.storedMessages[sys.storedMessages.length - 1].value;
    expect(last).toBe(sys.retainedMessages[sys.retainedMessages.length - 1].value);
    // The reports: the console names the broker's peak beside the backlog, report.md has the table.
    expect(r.stdout).toMatch(/backlog {3}laggard: up to [\d,]+ behind[^\n]*\n {10}the broker's store \(\$SYS\/broker\/store\/messages\/count\): up to [\d,]+ messages at second \d/);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain("### The broker's view ($SYS)");
    expect(md).toContain('| second | store | retained | held for sessions | behind (all subscribers, mqbench) | dropped since the broker started |');
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain(`aria-label="Queue depth: the broker&#39;s view"`);
    // The connection that reads $SYS is not one of the run's: two clients connected three times in all.
    expect(result.totals.counters.connectsOk).toBe(3);
    expect(Math.max(...result.series.gauges.connectionsOpen)).toBe(2);
  }, 30_000);
});

describe('a broker that does not give its $SYS figures', () => {
  it('refuses the connection that reads them: the run goes on as before, and the report says why there are none', async () => {
    const broker = await startBroker({
      listeners: [{ host: '127.0.0.1', port: 0 }],
      logTypes: new Set(),
      sysInterval: 1,
      authenticate: (req) => !req.clientId.startsWith('mqbench-sys-'),
    });
    stops.push(() => broker.close());
    const { result } = await runAt(broker.port, publisherOnly());
    expect(result.passed).toBe(true);
    expect(result.totals.errorsTotal).toBe(0);
    expect(result.totals.counters.connectsOk).toBe(1);
    expect(result.broker.sys).toMatchObject({ storedMessages: [], dropped: [], missing: 'the broker refused the connection that reads them (CONNACK 5 Not Authorized)' });
    expect(renderMarkdown(result)).toContain(
      'The broker published no $SYS figures: the broker refused the connection that reads them (CONNACK 5 Not Authorized).',
    );
  });

  it('never publishes $SYS: mqbench run completes and exits 0 as before, and report.md says there were no figures', async () => {
    const b = await misbehaving('no-puback');
    const file = join(work, 'no-sys.yaml');
    writeFileSync(file, publisherOnly());
    const out = join(work, 'no-sys');
    const r = await mqbenchAsync(['run', file, '--broker', `mqtt://127.0.0.1:${b.port}`, '--no-progress', '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASSED/);
    const result = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as RunResult;
    expect(result.broker.sys?.missing).toMatch(/^no message arrived on \$SYS\/broker\/store\/messages\/count, .* during the run$/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('The broker published no $SYS figures: no message arrived on');
    // It did subscribe: one CONNECT for the publisher, one for the connection that reads $SYS.
    expect(b.received.get(1)).toBe(2);
  });

  it('never answers the SUBSCRIBE: the wait is bounded by replyTimeout and counts in none of the run’s errors', async () => {
    const b = await misbehaving('no-suback');
    const { result, ms } = await runAt(b.port, publisherOnly('duration: 3s'));
    expect(result.passed).toBe(true);
    expect(result.totals.errorsTotal).toBe(0);
    expect(result.broker.sys?.missing).toBe("no SUBACK within 1 s (the scenario's replyTimeout)");
    // The run ends when its publisher is done, not when the broker answers.
    expect(ms).toBeLessThan(6_000);
  });
});

describe('sysTopics: false', () => {
  it('opens no connection besides the clients’, and the reports leave the broker’s view out', async () => {
    const off = await misbehaving('no-puback');
    const { result } = await runAt(off.port, publisherOnly('sysTopics: false'));
    expect(off.received.get(1)).toBe(1);
    expect(result.broker.sys).toBeNull();
    expect(renderMarkdown(result)).not.toContain("The broker's view");

    // The same run reading $SYS connects once more.
    const on = await misbehaving('no-puback');
    await runAt(on.port, publisherOnly());
    expect(on.received.get(1)).toBe(2);
  });
});
