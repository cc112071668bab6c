/**
 * The shell the generated pods run, run here with /bin/sh: the shards' wait for each other (every shard computes
 * the same start instant, and gives up at its timeout), the merge's wait for the shards' results (at once on a
 * failed shard, at its timeout otherwise), and the shard's wrapper around mqbench (exit codes, SIGTERM passed on,
 * the exit file). The wrapper's mqbench is stood in for here by a small script that records its arguments and
 * behaves as told; the real mqbench runs the same commands in pods-locally.after-shard-merge.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containerEnv, find, parseManifests, podSpec, repoRoot, runContainer, type Container, type Plain } from '../../helpers/k8s-pods.js';

const bin = join(repoRoot, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-k8s-sh-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const qos2 = join(repoRoot, 'scenarios/qos2.yaml');

function manifests(args: string[]): Plain[] {
  const r = spawnSync(process.execPath, [bin, 'k8s', qos2, '--broker', 'mqtt://mosquitto.mqtt.svc:1883', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return parseManifests(r.stdout);
}

let runs = 0;
/** Folders standing in for one run's volumes: the claim shared by all pods, a sync and tmp folder per pod. */
function volumes(shards: number) {
  const root = join(work, `run-${++runs}`);
  const results = join(root, 'results');
  mkdirSync(results, { recursive: true });
  const pods = Array.from({ length: shards }, (_, i) => {
    const sync = join(root, `pod-${i}/sync`);
    const tmp = join(root, `pod-${i}/tmp`);
    mkdirSync(sync, { recursive: true });
    mkdirSync(tmp, { recursive: true });
    return { '/results': results, '/sync': sync, '/tmp': tmp, '/scenario': join(root, 'scenario') } as Record<string, string>;
  });
  return { root, results, pods };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the shards' wait for each other", () => {
  it('gives every shard the same start instant: the last one ready plus the start delay', async () => {
    const objects = manifests(['--shards', '3', '--start-delay', '5s', '--ready-timeout', '20s']);
    const init = podSpec(find(objects, 'Job', 'shard')).initContainers![0];
    const v = volumes(3);
    const ran = await Promise.all(
      [0, 1, 2].map(async (i) => {
        await sleep(i * 700);
        return runContainer(init, { paths: v.pods[i], env: containerEnv(init, objects, { index: i, jobUid: 'uid-1' }), timeoutMs: 30_000 });
      }),
    );
    for (const r of ran) expect(r.code, r.stderr).toBe(0);
    const ready = join(v.results, '.ready/uid-1');
    expect(readdirSync(ready).sort()).toEqual(['0', '1', '2']);
    const clocks = ['0', '1', '2'].map((f) => Number(readFileSync(join(ready, f), 'utf8')));
    // Written by shards that started 0.7 s apart, in that order.
    expect(clocks[1] - clocks[0]).toBeGreaterThan(500);
    expect(clocks[2] - clocks[1]).toBeGreaterThan(500);
    const starts = v.pods.map((p) => readFileSync(join(p['/sync'], 'start-at'), 'utf8').trim());
    expect(new Set(starts).size).toBe(1);
    expect(Number(starts[0])).toBe(Math.max(...clocks) + 5000);
    expect(ran[0].stdout).toContain('all 3 shards ready; the run starts at');
    // The first shard waited for the last.
    expect(ran[0].ms).toBeGreaterThan(1_200);
  });

  it('gives up at its timeout, naming the shards that never came', async () => {
    const objects = manifests(['--shards', '3', '--start-delay', '5s', '--ready-timeout', '2s']);
    const init = podSpec(find(objects, 'Job', 'shard')).initContainers![0];
    const v = volumes(3);
    const r = await runContainer(init, { paths: v.pods[1], env: containerEnv(init, objects, { index: 1, jobUid: 'uid-2' }), timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mqbench: shard 1: only 1 of 3 shards were ready after 2s; not ready: 0 2');
    expect(r.ms).toBeGreaterThan(1_900);
    expect(r.ms).toBeLessThan(8_000);
    expect(existsSync(join(v.pods[1]['/sync'], 'start-at'))).toBe(false);
  });

  it('refuses a results volume that holds an earlier run of these manifests', async () => {
    const objects = manifests(['--shards', '2', '--start-delay', '5s']);
    const init = podSpec(find(objects, 'Job', 'shard')).initContainers![0];
    const v = volumes(2);
    writeFileSync(join(v.results, 'shard-0.exit'), '0\n');
    const r = await runContainer(init, { paths: v.pods[0], env: containerEnv(init, objects, { index: 0, jobUid: 'uid-3' }), timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('already holds results of an earlier run: generate new manifests');
  });
});

describe("the merge's wait for the shards", () => {
  const objects = manifests(['--shards', '2', '--ready-timeout', '1s', '--start-delay', '5s', '--deadline', '7s']);
  const wait = podSpec(find(objects, 'Job', 'merge')).initContainers![0];
  const shard = (results: string, i: number, code: number, withResults: boolean) => {
    if (withResults) {
      mkdirSync(join(results, `shard-${i}`), { recursive: true });
      writeFileSync(join(results, `shard-${i}/shard.json`), '{}');
    }
    writeFileSync(join(results, `shard-${i}.exit`), `${code}\n`);
  };

  it('ends when every shard has left results, a failed threshold included', async () => {
    const v = volumes(1);
    shard(v.results, 0, 0, true);
    const pending = runContainer(wait, { paths: v.pods[0], env: {}, timeoutMs: 20_000 });
    await sleep(1_000);
    shard(v.results, 1, 1, true);
    const r = await pending;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('all 2 shards have results');
  });

  it('stops at once when a shard ended without results', async () => {
    const v = volumes(1);
    shard(v.results, 1, 3, false);
    const r = await runContainer(wait, { paths: v.pods[0], env: {}, timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mqbench: no merge: shard 1 (exit 3) ended without results');
    expect(r.ms).toBeLessThan(2_000);
    const v2 = volumes(1);
    shard(v2.results, 0, 0, false);
    const r2 = await runContainer(wait, { paths: v2.pods[0], env: {}, timeoutMs: 20_000 });
    expect(r2.stderr).toContain('shard 0 (exit 0) ended without results');
  });

  it('gives up at its timeout (the deadline), naming the shards without results', async () => {
    const v = volumes(1);
    shard(v.results, 0, 0, true);
    const r = await runContainer(wait, { paths: v.pods[0], env: {}, timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mqbench: no merge: after 7s only 1 of 2 shards have results; no result from shard 1');
    expect(r.ms).toBeGreaterThan(6_900);
    expect(r.ms).toBeLessThan(13_000);
  });
});

describe("the shard's wrapper around mqbench run", () => {
  /** Stands in for mqbench: records its arguments, then does what MQBENCH_STAND_IN says. */
  const standIn = join(work, 'stand-in.mjs');
  writeFileSync(
    standIn,
    `import { mkdirSync, writeFileSync } from 'node:fs';
const args = process.argv.slice(2);
const out = args[args.indexOf('--out') + 1];
writeFileSync(process.env.MQBENCH_STAND_IN_ARGS, JSON.stringify(args));
const results = () => { mkdirSync(out, { recursive: true }); writeFileSync(out + '/shard.json', '{}'); };
const mode = process.env.MQBENCH_STAND_IN;
if (mode === 'threshold-failed') { results(); process.exit(1); }
if (mode === 'unreachable') process.exit(3);
if (mode === 'crash') process.exit(1);
if (mode === 'until-sigterm') {
  process.on('SIGTERM', () => { results(); writeFileSync(out + '.sigterm', 'yes'); process.exit(143); });
  writeFileSync(out + '.started', 'yes');
  setTimeout(() => process.exit(9), 20000);
}
`,
  );

  const objects = manifests(['--shards', '2', '--start-delay', '5s']);
  const container = podSpec(find(objects, 'Job', 'shard')).containers[0];
  const run = (mode: string, v: ReturnType<typeof volumes>, onSpawn?: (pid: number) => void, c: Container = container, o: Plain[] = objects) => {
    const argsFile = join(v.root, `args-${mode}.json`);
    return {
      argsFile,
      ran: runContainer(c, {
        paths: { ...v.pods[1], '/app/bin/mqbench.js': standIn },
        env: { ...containerEnv(c, o, { index: 1, jobUid: 'uid-run' }), MQBENCH_STAND_IN: mode, MQBENCH_STAND_IN_ARGS: argsFile },
        timeoutMs: 30_000,
        onSpawn,
      }),
    };
  };

  it('runs mqbench run as shard $JOB_COMPLETION_INDEX, from the start instant of the wait; a failed threshold with results is a success', async () => {
    const v = volumes(2);
    writeFileSync(join(v.pods[1]['/sync'], 'start-at'), '1767225600000\n');
    const { ran, argsFile } = run('threshold-failed', v);
    const r = await ran;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("its own thresholds failed on its part of the clients; the merge gives the run's verdict");
    expect(JSON.parse(readFileSync(argsFile, 'utf8'))).toEqual([
      'run',
      `${v.pods[1]['/scenario']}/qos2.yaml`,
      '--shards',
      '2',
      '--broker',
      'mqtt://mosquitto.mqtt.svc:1883',
      '--workers',
      '2',
      // Reachable by Prometheus from outside the pod; the Job's uid tells this run from another of the same scenario.
      '--metrics-port',
      '9464',
      '--metrics-host',
      '0.0.0.0',
      '--run-id',
      'uid-run',
      '--start-at',
      '1767225600000',
      '--out',
      `${v.results}/shard-1`,
    ]);
    expect(readFileSync(join(v.results, 'shard-1.exit'), 'utf8')).toBe('1\n');
  });

  it("passes on mqbench's failure, and records it for the merge", async () => {
    for (const [mode, code] of [
      ['unreachable', 3],
      ['crash', 1],
    ] as const) {
      const v = volumes(2);
      writeFileSync(join(v.pods[1]['/sync'], 'start-at'), '1767225600000\n');
      const r = await run(mode, v).ran;
      expect(r.code, mode).toBe(code);
      expect(readFileSync(join(v.results, 'shard-1.exit'), 'utf8')).toBe(`${code}\n`);
    }
  });

  it('passes SIGTERM on to mqbench, which writes its reports, and waits for it', async () => {
    const v = volumes(2);
    writeFileSync(join(v.pods[1]['/sync'], 'start-at'), '1767225600000\n');
    let pid = 0;
    const { ran } = run('until-sigterm', v, (p) => (pid = p));
    const started = join(v.results, 'shard-1.started');
    for (let i = 0; i < 100 && !existsSync(started); i++) await sleep(100);
    expect(existsSync(started)).toBe(true);
    process.kill(pid, 'SIGTERM');
    const r = await ran;
    expect(r.code).toBe(143);
    expect(existsSync(join(v.results, 'shard-1.sigterm'))).toBe(true);
    expect(readFileSync(join(v.results, 'shard-1.exit'), 'utf8')).toBe('143\n');
    expect(r.ms).toBeLessThan(15_000);
  });

  it('with a fixed start: passes the instant, and refuses one that has passed', async () => {
    const fixed = manifests(['--shards', '2', '--start-at', '+4s']);
    const c = podSpec(find(fixed, 'Job', 'shard')).containers[0];
    const v = volumes(2);
    const iso = /start_at=(\S+)\n/.exec(c.command![2])![1];
    const { ran, argsFile } = run('threshold-failed', v, undefined, c, fixed);
    expect((await ran).code).toBe(0);
    const args = JSON.parse(readFileSync(argsFile, 'utf8')) as string[];
    expect(args[args.indexOf('--start-at') + 1]).toBe(iso);
    await sleep(Math.max(0, Date.parse(iso) - Date.now() + 100));
    const late = volumes(2);
    const r = await run('threshold-failed', late, undefined, c, fixed).ran;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the start instant ${iso} has passed`);
    expect(readFileSync(join(late.results, 'shard-1.exit'), 'utf8')).toBe('2\n');
    expect(existsSync(join(late.root, 'args-threshold-failed.json'))).toBe(false);
  });
});
