/**
 * One run across several processes: the same scenario run by one process, and by four shard processes (the built
 * CLI, `--shard I/4 --start-at` a few seconds ahead) merged with `mqbench merge`, against one broker process. The
 * merged counts equal the single run's; a shard whose clock is 250 ms off is measured and corrected; merge refuses
 * shards that are not the parts of one run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerProcess, type BrokerProcess } from '../../helpers/broker-process.js';

const root = resolve(__dirname, '../../..');
const bin = join(root, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-shards-'));

/**
 * Subscribers in one group, publishers in two: dealt over four shards, every subscriber receives from publishers in
 * other shards (QoS 0, 1 and 2 streams), and shard 3 has publishers only.
 */
const SCENARIO = `
name: split
thresholds:
  - lost == 0
  - duplicated == 0
  - e2e.p99 < 2s
groups:
  - name: subs
    clients: 3
    steps:
      - connect
      - subscribe: { topic: "split/#", qos: 2 }
  - name: pubs
    clients: 4
    startTime: 600ms
    steps:
      - connect
      - publish: { topic: "split/{client}", qos: 1, rate: 40/s, count: 40, payload: { size: 64 } }
      - disconnect
  - name: paced
    clients: 3
    startTime: 600ms
    connectRate: 10/s
    steps:
      - connect
      - publish: { topic: "split/{client}/two", qos: 2, rate: 40/s, count: 30 }
      - publish: { topic: "split/{client}/zero", qos: 0, rate: 40/s, count: 20 }
      - disconnect
`;
const scenarioFile = join(work, 'split.yaml');
/** Time for four shard processes to start on a busy 2-core machine before the run's start. */
const LEAD_MS = 6_000;

let broker: BrokerProcess;
let url: string;

beforeAll(async () => {
  writeFileSync(scenarioFile, SCENARIO);
  broker = await startBrokerProcess('bundled');
  url = `mqtt://127.0.0.1:${broker.port}`;
});

afterAll(async () => {
  await broker?.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI in a child process, without blocking this one; killed after `timeoutMs`. */
function mqbench(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 45_000): Promise<Outcome> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** Quick commands that never reach a broker. */
function mqbenchSync(args: string[], env: NodeJS.ProcessEnv = {}): Outcome {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Four shards of the scenario, started together; `env(i)` adds to shard i's environment, `args(i)` to its options. */
async function runShards(prefix: string, env: (i: number) => NodeJS.ProcessEnv = () => ({}), args: (i: number) => string[] = () => []): Promise<string[]> {
  const startAt = String(Date.now() + LEAD_MS);
  const dirs = [0, 1, 2, 3].map((i) => join(work, `${prefix}-${i}`));
  const runs = await Promise.all(
    dirs.map((out, i) =>
      mqbench(['run', scenarioFile, '--broker', url, '--shard', `${i}/4`, '--start-at', startAt, '--workers', '1', '--no-progress', '--out', out, ...args(i)], env(i)),
    ),
  );
  runs.forEach((r, i) => {
    expect(r.stderr, `shard ${i}`).not.toMatch(/internal error/);
    expect(r.code, `shard ${i}:\n${r.stdout}\n${r.stderr}`).toBe(0);
    expect(existsSync(join(dirs[i], 'shard.json')), `shard ${i} wrote shard.json`).toBe(true);
  });
  return dirs;
}

/** A port on which nothing listens: taken from the system, then let go. */
function closedPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

function summary(dir: string) {
  return JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
}

/** Σ SampleCount of results.jtl rows by label ("publish pubs", "receive subs", ...). */
function jtlSamples(dir: string): Record<string, number> {
  const lines = readFileSync(join(dir, 'results.jtl'), 'utf8').trim().split('\n');
  const head = lines[0].split(',');
  const label = head.indexOf('label');
  const count = head.indexOf('SampleCount');
  const out: Record<string, number> = {};
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    out[f[label]] = (out[f[label]] ?? 0) + Number(f[count]);
  }
  return out;
}

const LATENCIES = ['connect', 'subscribe', 'publish', 'e2e'] as const;

describe('mqbench run --shard and mqbench merge', () => {
  let single: ReturnType<typeof summary> | undefined;
  let shardDirs: string[] = [];

  it('four shards merged count exactly what one process counts, subscribers in one shard receiving from publishers in another', async () => {
    const singleDir = join(work, 'single');
    const one = await mqbench(['run', scenarioFile, '--broker', url, '--workers', '2', '--no-progress', '--out', singleDir]);
    expect(one.code, one.stdout + one.stderr).toBe(0);
    single = summary(singleDir);

    shardDirs = await runShards('plain');
    const mergedDir = join(work, 'merged');
    const m = await mqbench(['merge', ...shardDirs, '--out', mergedDir]);
    expect(m.code, m.stdout + m.stderr).toBe(0);
    for (const f of ['summary.json', 'report.md', 'report.html', 'results.jtl', 'e2e.hgrm', 'subs.e2e.hgrm']) expect(existsSync(join(mergedDir, f)), f).toBe(true);
    const merged = summary(mergedDir);
    const s = single!;

    expect(merged.clients).toBe(s.clients);
    expect(merged.totals.counters).toEqual(s.totals.counters);
    expect(merged.totals.errorsTotal).toBe(s.totals.errorsTotal);
    expect(merged.totals.errors).toEqual(s.totals.errors);
    expect(merged.failedClients).toBe(s.failedClients);
    for (const q of ['qos0', 'qos1', 'qos2']) expect(merged.delivery.summary[q], q).toEqual(s.delivery.summary[q]);
    expect(merged.delivery.total.lost).toBe(0);
    expect(merged.delivery.unjudged).toEqual(s.delivery.unjudged);
    expect(merged.groups.map((g: { name: string; totals: { counters: unknown } }) => [g.name, g.totals.counters])).toEqual(
      s.groups.map((g: { name: string; totals: { counters: unknown } }) => [g.name, g.totals.counters]),
    );
    for (const name of LATENCIES) expect(merged.latency[name].count, name).toBe(s.latency[name].count);
    expect(readdirSync(mergedDir).filter((f) => f.endsWith('.hgrm')).sort()).toEqual(readdirSync(singleDir).filter((f) => f.endsWith('.hgrm')).sort());
    expect(jtlSamples(mergedDir)).toEqual(jtlSamples(singleDir));
    expect(merged.thresholds.map((t: { passed: boolean }) => t.passed)).toEqual([true, true, true]);

    // Latencies within noise: the same broker, the same load, spread over four processes instead of one.
    expect(Math.abs(merged.latency.e2e.p50 - s.latency.e2e.p50)).toBeLessThan(5_000);
    // A corrected latency is good to the clock bound: one shorter than the bound may land below zero (clamped to 0
    // and counted); a wrong correction would move half of them, or all by the offset.
    expect(merged.latency.e2e.belowRange).toBeLessThanOrEqual(Math.ceil(merged.latency.e2e.count * 0.02));

    const sh = merged.shards;
    expect(sh.merged).toEqual([0, 1, 2, 3]);
    expect(sh.missing).toEqual([]);
    expect(sh.crossShardDeliveries).toBeGreaterThan(sh.sameShardDeliveries);
    expect(sh.crossShardDeliveries + sh.sameShardDeliveries).toBe(s.latency.e2e.count);
    expect(sh.e2eWithheld).toBe(false);
    // One host, one clock: the measured offsets are within their bounds of zero.
    for (const row of sh.shards.slice(1)) expect(Math.abs(row.offsetUs), `shard ${row.index}`).toBeLessThanOrEqual(row.errorUs);
    expect(sh.sameHostStartSpreadUs).toBeLessThan(5_000);
    expect(readFileSync(join(mergedDir, 'report.md'), 'utf8')).toMatch(/## Shards/);
  }, 60_000);

  it('measures a shard clock 250 ms off through the broker, starts that shard on time and corrects its latencies', async () => {
    // Shard 1 also serves its live figures (as the shards of a Kubernetes run do): its shard.json is written all the same.
    const dirs = await runShards(
      'skewed',
      (i) => ({ MQBENCH_CLOCK_SKEW_MS: i === 2 ? '250' : '0' }),
      (i) => (i === 1 ? ['--metrics-port', '0'] : []),
    );
    const mergedDir = join(work, 'skewed-merged');
    const m = await mqbench(['merge', ...dirs, '--out', mergedDir]);
    expect(m.code, m.stdout + m.stderr).toBe(0);
    const merged = summary(mergedDir);
    const row = merged.shards.shards[2];
    expect(Math.abs(row.offsetUs - 250_000), `offset ${row.offsetUs} ± ${row.errorUs}`).toBeLessThanOrEqual(row.errorUs);
    expect(row.errorUs).toBeLessThan(5_000);
    // The skewed shard started at the same instant as the others (one host: one monotonic clock to compare on).
    expect(merged.shards.sameHostStartSpreadUs).toBeLessThan(5_000);
    expect(merged.shards.e2eWithheld).toBe(false);
    const e2e = merged.latency.e2e;
    // Latencies shorter than the clock bound may be corrected to below zero: a few, not the skewed shard's share.
    expect(e2e.belowRange).toBeLessThanOrEqual(Math.ceil(e2e.count * 0.02));
    expect(e2e.min).toBeGreaterThanOrEqual(0);
    const reference = single?.latency.e2e.p50 ?? 1_000;
    expect(Math.abs(e2e.p50 - reference), `p50 ${e2e.p50} µs against ${reference} µs unskewed`).toBeLessThan(5_000);
    expect(e2e.p99).toBeLessThan(100_000);
    expect(merged.totals.counters.messagesReceived).toBe(merged.delivery.total.received);
    expect(merged.delivery.total.lost).toBe(0);
  }, 60_000);

  describe('refuses what is not the shards of one run', () => {
    it('names a missing shard, and merges without it only when told to, marking the report partial', async () => {
      expect(shardDirs).toHaveLength(4);
      const partial = shardDirs.slice(0, 3);
      const refused = await mqbench(['merge', ...partial, '--out', join(work, 'partial')]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/shard 3 of 4 missing \(merging 0, 1, 2\)/);
      expect(existsSync(join(work, 'partial'))).toBe(false);

      const allowed = await mqbench(['merge', ...partial, '--allow-partial', '--out', join(work, 'partial')]);
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(allowed.stdout).toMatch(/3 of 4 shards merged \(PARTIAL: shard 3 missing\)/);
      const merged = summary(join(work, 'partial'));
      expect(merged.shards.missing).toEqual([3]);
      expect(merged.shards.partial).toBe(true);
      expect(merged.notes.join('\n')).toMatch(/Shard 3 missing/);
      // Shard 3's publishers reached the subscribers, but shard 3's clock is unknown: those latencies are left out.
      expect(merged.notes.join('\n')).toMatch(/of messages from publishers of shards not merged are left out of e2e/);
      expect(merged.latency.e2e.count).toBe(merged.shards.crossShardDeliveries + merged.shards.sameShardDeliveries);
      const md = readFileSync(join(work, 'partial', 'report.md'), 'utf8');
      expect(md).toMatch(/\| 3 \| – \| – \| missing/);
      expect(md).toMatch(/\*\*PASSED\*\*: PARTIAL: shard 3 missing/);
      expect(readFileSync(join(work, 'partial', 'report.html'), 'utf8')).toMatch(/PARTIAL: shard 3 missing/);
    });

    it('names a shard that failed and why, and merges the others only when told to', async () => {
      expect(shardDirs).toHaveLength(4);
      const failedDir = join(work, 'failed-3');
      const port = await closedPort();
      const ran = await mqbench(['run', scenarioFile, '--broker', `mqtt://127.0.0.1:${port}`, '--shard', '3/4', '--start-at', '+5s', '--no-progress', '--out', failedDir]);
      expect(ran.code, ran.stderr).toBe(3);
      const record = JSON.parse(readFileSync(join(failedDir, 'shard.json'), 'utf8'));
      expect(record.failure.exitCode).toBe(3);
      expect(record.failure.message).toMatch(/cannot reach the broker/);
      expect(record.reports).toBeUndefined();

      const refused = await mqbench(['merge', ...shardDirs.slice(0, 3), failedDir, '--out', join(work, 'with-failed')]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`shard 3 of 4 failed \\(exit 3, .*failed-3\\): cannot reach the broker at mqtt://127\\.0\\.0\\.1:${port}`));
      expect(refused.stderr).toMatch(/--allow-partial/);
      expect(existsSync(join(work, 'with-failed'))).toBe(false);

      const allowed = await mqbench(['merge', ...shardDirs.slice(0, 3), failedDir, '--allow-partial', '--out', join(work, 'with-failed')]);
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(allowed.stdout).toMatch(/PARTIAL: shard 3 failed/);
      expect(allowed.stdout).toMatch(/shard 3: failed \(exit 3\): cannot reach the broker/);
      const merged = summary(join(work, 'with-failed'));
      expect(merged.shards.partial).toBe(true);
      expect(merged.shards.missing).toEqual([]);
      expect(merged.shards.failed).toEqual([{ index: 3, exitCode: 3, message: record.failure.message }]);
      expect(merged.notes.join('\n')).toMatch(/Shard 3 failed \(exit 3\): cannot reach the broker/);

      // A shard that failed is not a shard that ran: only failures, nothing to merge.
      const none = await mqbench(['merge', failedDir, '--allow-partial']);
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/no shard of the run ran: nothing to merge/);
    }, 30_000);

    it('reports a shard that was interrupted, and the merged run as interrupted', async () => {
      expect(shardDirs).toHaveLength(4);
      // As a shard stopped by SIGTERM leaves it: its results so far, stoppedBy "interrupted".
      const stopped = join(work, 'stopped-2');
      cpSync(shardDirs[2], stopped, { recursive: true });
      const file = JSON.parse(readFileSync(join(stopped, 'shard.json'), 'utf8'));
      file.facts.stoppedBy = 'interrupted';
      writeFileSync(join(stopped, 'shard.json'), JSON.stringify(file));
      const m = await mqbench(['merge', shardDirs[0], shardDirs[1], stopped, shardDirs[3], '--out', join(work, 'stopped-merged')]);
      expect(m.code, m.stderr).toBe(1);
      expect(m.stdout).toMatch(/FAILED\s+interrupted/);
      expect(m.stdout).toMatch(/shard 2: clock .*interrupted\)/);
      const merged = summary(join(work, 'stopped-merged'));
      expect(merged.stoppedBy).toBe('interrupted');
      expect(merged.notes.join('\n')).toMatch(/Shard 2 was interrupted \(Ctrl-C or SIGTERM\) before the run's end/);
      expect(merged.shards.shards.map((r: { stoppedBy: string }) => r.stoppedBy)).toEqual(['completed', 'completed', 'interrupted', 'completed']);
    });

    it('refuses a shard given twice and shards of another scenario', async () => {
      expect(shardDirs).toHaveLength(4);
      const twice = await mqbench(['merge', ...shardDirs, shardDirs[1]]);
      expect(twice.code).toBe(2);
      expect(twice.stderr).toMatch(/a shard given more than once: shard 1 in .*plain-1 and .*plain-1/);

      const other = join(work, 'other.yaml');
      writeFileSync(other, SCENARIO.replace('name: split', 'name: another').replace('count: 40', 'count: 5'));
      const otherDir = join(work, 'other-0');
      const ran = await mqbench(['run', other, '--broker', url, '--shard', '0/1', '--start-at', '+1s', '--workers', '1', '--no-progress', '--out', otherDir]);
      expect(ran.code, ran.stderr).toBe(0);
      const mixed = await mqbench(['merge', otherDir, ...shardDirs.slice(1)]);
      expect(mixed.code).toBe(2);
      expect(mixed.stderr).toMatch(/not parts of one run/);
      expect(mixed.stderr).toMatch(/ran scenario "split" .*ran "another" .*not the same scenario/);
    }, 40_000);

    it('says a folder without shard.json is not a shard', () => {
      const empty = join(work, 'empty');
      mkdirSync(empty, { recursive: true });
      const r = mqbenchSync(['merge', empty]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/empty: no shard\.json here/);
      const copy = join(work, 'broken-shard');
      cpSync(shardDirs[0] ?? empty, copy, { recursive: true });
      writeFileSync(join(copy, 'shard.json'), '{"format":"mqbench-shard","version":99}');
      const v = mqbenchSync(['merge', copy]);
      expect(v.code).toBe(2);
      expect(v.stderr).toMatch(/shard file version 99; this mqbench reads version 1/);

      // A clock field edited by hand (three days off) is named, not padded into a series three days long.
      const edited = join(work, 'edited-shard-1');
      cpSync(shardDirs[1], edited, { recursive: true });
      const file = JSON.parse(readFileSync(join(edited, 'shard.json'), 'utf8'));
      file.clock.epochWallUs += 3 * 86_400e6;
      writeFileSync(join(edited, 'shard.json'), JSON.stringify(file));
      const e = mqbenchSync(['merge', shardDirs[0], edited, shardDirs[2], shardDirs[3], '--out', join(work, 'edited-merged')]);
      expect(e.code).toBe(2);
      expect(e.stderr).toMatch(/edited-shard-1: shard 1's time zero is 72\.0 h from the run's start on shard 0's clock: its shard\.json clock fields are damaged/);
      expect(existsSync(join(work, 'edited-merged'))).toBe(false);
    });
  });
});

describe('mqbench run: sharding options', () => {
  const file = join(root, 'scenarios/qos2.yaml');
  const bad: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['--shard', '4/4'], {}, /--shard 4\/4: the shard index must be from 0 to 3, got 4/],
    [['--shard', '1/0'], {}, /--shard: the number of shards must be from 1 to 65535, got 0/],
    [['--shard', 'a/4'], {}, /the index "a" is not a whole number/],
    [['--shard', '2'], {}, /--shard "2" is not I\/N/],
    [['--shards', '4'], { JOB_COMPLETION_INDEX: '' }, /--shards 4 takes this shard's index from JOB_COMPLETION_INDEX, which is not set/],
    [['--shards', '4'], { JOB_COMPLETION_INDEX: '7' }, /JOB_COMPLETION_INDEX=7 with --shards 4: the shard index must be from 0 to 3, got 7/],
    [['--shards', '4'], { JOB_COMPLETION_INDEX: 'x' }, /JOB_COMPLETION_INDEX="x" is not a whole number/],
    [['--shard', '0/2', '--shards', '2'], {}, /--shard and --shards both given/],
    [['--shard', '0/2', '--broker', 'mqtt://127.0.0.1:1'], {}, /a sharded run needs --start-at/],
    [['--shard', '0/2', '--start-at', '+10s'], {}, /needs one broker that every shard reaches, given by URL/],
    [['--shard', '0/2', '--start-at', '2020-01-01T00:00:00Z', '--broker', 'mqtt://127.0.0.1:1'], {}, /--start-at 2020-01-01T00:00:00Z is [\d.]+ s in the past/],
    [['--shard', '0/2', '--start-at', 'soon', '--broker', 'mqtt://127.0.0.1:1'], {}, /--start-at "soon" is not a time/],
    [['--shard', '0/2', '--start-at', '1748779200', '--broker', 'mqtt://127.0.0.1:1'], {}, /looks like Unix seconds/],
    [['--shrad', '0/2'], {}, /unknown option --shrad \(did you mean --shard\?\)/],
  ];
  it.each(bad)('refuses %j with exit 2 before connecting', (args, env, message) => {
    const r = mqbenchSync(['run', file, '--no-progress', ...args], env);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('merge offers "did you mean" for a mistyped command and option', () => {
    expect(mqbenchSync(['merg']).stderr).toMatch(/unknown command "merg" \(did you mean "merge"\?\)/);
    const r = mqbenchSync(['merge', 'x', '--allow-partail']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option --allow-partail \(did you mean --allow-partial\?\)/);
  });
});
