import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../bench/args.js';
import { ENGINE_ROWS, parseEngineBenchArgs } from '../../../bench/engine-args.js';
import { parseOpenFileLimit } from '../../../bench/engine-fd-limit.js';
import type { EngineJobResult } from '../../../bench/engine-messages.js';
import { judgeFanIn, judgeScale, summariseTool, type FanInMeasurement, type FanInRecord, type ScaleRecord } from '../../../bench/engine-records.js';
import { FAN_IN_PUBLISHERS, FAN_IN_RAW_TOPIC, fanInScenario, scaleScenario, scaleTalkers } from '../../../bench/engine-scenarios.js';
import { cpuPercent, cutWindow, peakOf, rateOver } from '../../../bench/engine-window.js';
import { topicMatches } from '../../../src/protocol/topic.js';
import type { RunResult } from '../../../src/run/result.js';
import { loadScenarioText, planRun, renderTemplate, type PublishStep, type Scenario, type SubscribeStep } from '../../../src/scenario/index.js';

function load(yaml: string): Scenario {
  const loaded = loadScenarioText(yaml, 'bench.yaml');
  if ('problems' in loaded) throw new Error(loaded.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n'));
  return loaded.scenario;
}

function stepOf<K extends 'publish' | 'subscribe'>(scenario: Scenario, group: string, kind: K) {
  const g = scenario.groups.find((x) => x.name === group)!;
  return g.steps.find((s) => s.kind === kind) as K extends 'publish' ? PublishStep : SubscribeStep;
}

describe('bench:engine arguments', () => {
  it('has defaults for every row', () => {
    const o = parseEngineBenchArgs([]);
    expect(o.rows.map((r) => r.name)).toEqual(['fan-in', 'scale', 'idle']);
    expect([o.rounds, o.workers, o.clients, o.warmupSeconds, o.durationSeconds]).toEqual([3, 1, 10_000, 1, 5]);
    expect([o.idleClients, o.idleBase]).toEqual([10_000, 1_000]);
    expect(o.jsonFile).toBeUndefined();
  });

  it('reads values with = or as the next word, and keeps row order whatever --only says', () => {
    const o = parseEngineBenchArgs(['--only', 'scale,idle,fan-in', '--rounds=1', '--workers', '2', '--clients', '500', '--json', 'out/x.json']);
    expect(o.rows).toEqual([...ENGINE_ROWS]);
    expect([o.rounds, o.workers, o.clients, o.jsonFile]).toEqual([1, 2, 500, 'out/x.json']);
    expect(parseEngineBenchArgs(['--only', 'scale']).rows.map((r) => r.name)).toEqual(['scale']);
  });

  it('reports every mistake at once, with hints', () => {
    let error: unknown;
    try {
      parseEngineBenchArgs(['--round', '2', '--workers', '0', '--only', 'fanin', '--clients', '1.5', '--hold']);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).toContain('unknown option "--round" (did you mean --rounds?)');
    expect(message).toContain('--workers must be a whole number from 1 to 256, got "0"');
    expect(message).toContain('unknown row "fanin" (did you mean fan-in?)');
    expect(message).toContain('--clients must be a whole number');
    expect(message).toContain('--hold needs a value');
  });

  it('takes the two idle sizes, the smaller below the larger', () => {
    const o = parseEngineBenchArgs(['--only', 'idle', '--idle-clients', '1000', '--idle-base=200']);
    expect([o.idleClients, o.idleBase]).toEqual([1000, 200]);
    expect(o.rows.map((r) => r.name)).toEqual(['idle']);
    const problems = (argv: string[]): string => {
      try {
        parseEngineBenchArgs(argv);
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    };
    expect(problems(['--idle-clients', '500'])).toBe('--idle-base (1000) must be smaller than --idle-clients (500)');
    expect(problems(['--idle-clients', '2000', '--idle-base', '2000'])).toContain('must be smaller');
    expect(problems(['--idle-base', '0'])).toContain('--idle-base must be a whole number from 1 to 999999, got "0"');
    expect(problems(['--idle-clients', '1e9'])).toContain('--idle-clients must be a whole number from 2 to 1000000');
    expect(problems(['--idle-clients', ''])).toContain('--idle-clients must be a whole number');
  });
});

describe('fan-in scenario', () => {
  const timed = fanInScenario({ warmupSeconds: 1, windowSeconds: 5, payloadBytes: 64 });
  const scenario = load(timed.yaml);

  it('opens the window after the publishers start plus the warm-up, and publishes until its last second is closed', () => {
    // Publishers start at 0.5 s; 1 s warm-up: the first whole second after that is second 2.
    expect(timed.window).toEqual({ firstSecond: 2, seconds: 5 });
    // Second 6 is closed by a tick between 7 s and 8 s.
    expect(scenario.durationMs).toBeGreaterThan((2 + 5 + 1) * 1000);
    expect(scenario.durationMs).toBeLessThanOrEqual((2 + 5 + 2) * 1000);
  });

  it('has four unpaced QoS 0 publishers on the raw generator\'s topic, and the subscriber on exactly that topic', () => {
    const publishers = scenario.groups.find((g) => g.name === 'publishers')!;
    expect(publishers.clients).toBe(FAN_IN_PUBLISHERS);
    const publish = stepOf(scenario, 'publishers', 'publish');
    expect(publish.qos).toBe(0);
    expect(publish.rate).toBeUndefined();
    expect(publish.count).toBeUndefined();
    expect(publish.payload).toEqual({ kind: 'random', sizeBytes: 64 });
    expect(publish.timestamp).toBe(true);
    const topics = Array.from({ length: FAN_IN_PUBLISHERS }, (_, i) =>
      renderTemplate(publish.topic, { clientId: `p${i}`, group: 'publishers', index: i }, Math.random),
    );
    expect(new Set(topics)).toEqual(new Set([FAN_IN_RAW_TOPIC]));
    const subscribe = stepOf(scenario, 'collector', 'subscribe');
    expect(subscribe.subscriptions).toHaveLength(1);
    const filter = renderTemplate(subscribe.subscriptions[0].filter, { clientId: 's', group: 'collector', index: 0 }, Math.random);
    expect(filter).toBe(FAN_IN_RAW_TOPIC);
  });
});

describe('scale scenario', () => {
  it('has exactly the requested clients, each subscribed to its own topic, talkers sending to listeners', () => {
    const timed = scaleScenario({ clients: 1000, rampSeconds: 4, holdSeconds: 5 });
    const scenario = load(timed.yaml);
    const plan = planRun(scenario, 2);
    expect(plan.totalClients).toBe(1000);
    expect(scaleTalkers(1000)).toBe(10);
    const filters = new Map<string, string>();
    const published: string[] = [];
    for (const w of plan.workers) {
      for (const c of w.clients) {
        const group = scenario.groups[c.group];
        const vars = { clientId: c.clientId, group: group.name, index: c.index };
        const sub = group.steps.find((s): s is SubscribeStep => s.kind === 'subscribe')!;
        filters.set(c.clientId, renderTemplate(sub.subscriptions[0].filter, vars, Math.random));
        const pub = group.steps.find((s): s is PublishStep => s.kind === 'publish');
        if (pub) {
          expect(pub.rate?.perSec).toBeGreaterThan(0);
          published.push(renderTemplate(pub.topic, vars, Math.random));
        }
        // Everyone has started by the end of the ramp.
        expect(c.startOffsetMs).toBeLessThanOrEqual(4000);
      }
    }
    expect(new Set(filters.values()).size).toBe(1000);
    expect(published).toHaveLength(10);
    for (const topic of published) {
      const receivers = [...filters.entries()].filter(([, f]) => topicMatches(f, topic));
      expect(receivers).toHaveLength(1);
      expect(receivers[0][0]).toMatch(/^listeners-/);
    }
  });

  it('measures over the hold, clear of the ramp and of the run end', () => {
    const timed = scaleScenario({ clients: 100, rampSeconds: 4, holdSeconds: 5 });
    const scenario = load(timed.yaml);
    expect(scenario.durationMs).toBe(9000);
    // Seconds 5, 6, 7: the last is closed by 9 s at the latest.
    expect(timed.window).toEqual({ firstSecond: 5, seconds: 3 });
    expect(scaleScenario({ clients: 2, rampSeconds: 1, holdSeconds: 3 }).window).toEqual({ firstSecond: 2, seconds: 1 });
    expect(load(scaleScenario({ clients: 2, rampSeconds: 1, holdSeconds: 3 }).yaml).groups.map((g) => g.clients)).toEqual([1, 1]);
  });
});

describe('window readings', () => {
  it('cuts the window at the reports that closed its seconds, timed as they arrived', () => {
    const reports = [0, 1, 2, 3, 4].map((second) => ({ second, atSeconds: second + 1.01 }));
    const cut = cutWindow(reports, { firstSecond: 1, seconds: 3 })!;
    expect([cut.start.second, cut.end.second, cut.fromSecond, cut.toSecond]).toEqual([0, 3, 1, 3]);
    expect(cut.lengthSeconds).toBeCloseTo(3, 10);
    expect(rateOver([100, 10, 20, 30, 999], cut)).toBeCloseTo(20, 10);
  });

  it('keeps counts and time together when a late tick skipped a second', () => {
    // Second 1 was never closed on its own: the tick at 3.02 s closed second 2 with both seconds' counts.
    const reports = [
      { second: 0, atSeconds: 1.98 },
      { second: 2, atSeconds: 3.02 },
      { second: 3, atSeconds: 3.99 },
      { second: 4, atSeconds: 5.01 },
    ];
    const counts = [50, 0, 100, 45, 51];
    const cut = cutWindow(reports, { firstSecond: 2, seconds: 2 })!;
    // The window starts at the report that closed everything before second 2: the one for second 2 closed second 1 too,
    // so the start is the report for second 0.
    expect([cut.start.second, cut.end.second]).toEqual([0, 3]);
    expect(rateOver(counts, cut)).toBeCloseTo(145 / (3.99 - 1.98), 10);
    // A run that stopped before the window's last second was closed ends the window earlier, never later.
    const short = cutWindow(reports.slice(0, 2), { firstSecond: 1, seconds: 3 })!;
    expect([short.start.second, short.end.second]).toEqual([0, 2]);
    expect(cutWindow(reports.slice(0, 1), { firstSecond: 1, seconds: 3 })).toBeUndefined();
    expect(cutWindow([], { firstSecond: 1, seconds: 3 })).toBeUndefined();
  });

  it('finds a gauge peak and a CPU share', () => {
    expect(peakOf([3, 9, 4])).toBe(9);
    expect(peakOf([])).toBe(0);
    expect(cpuPercent(1, 2.5, 3)).toBe(50);
    expect(cpuPercent(undefined, 2, 3)).toBeNull();
    expect(cpuPercent(1, 2, 0)).toBeNull();
  });

  it('parses the open-file limit from /proc/<pid>/limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units     \n' +
      'Max processes             unlimited            unlimited            processes \n' +
      'Max open files            1024                 524288               files     \n';
    expect(parseOpenFileLimit(text)).toEqual({ soft: 1024, hard: 524288 });
    expect(parseOpenFileLimit('Max open files            unlimited            unlimited            files\n')).toEqual({
      soft: Infinity,
      hard: Infinity,
    });
    expect(parseOpenFileLimit('nothing here')).toBeUndefined();
  });
});

function fanIn(tool: 'raw' | 'mqbench', round: number, rate: number | undefined): FanInRecord {
  const measurement: FanInMeasurement | undefined =
    rate === undefined
      ? undefined
      : { windowSeconds: 5, receivedPerSecond: rate, sentPerSecond: rate, lost: 0, brokerCpuPercent: 90, loadCpuPercent: 40, e2eP50Us: null, e2eP99Us: null };
  return { round, tool, brokerLabel: 'mosquitto', measurement, error: rate === undefined ? 'broken' : undefined };
}

describe('verdicts', () => {
  it('compares medians against the 95% goal', () => {
    const records = [fanIn('raw', 1, 100), fanIn('mqbench', 1, 96), fanIn('raw', 2, 300), fanIn('mqbench', 2, 1), fanIn('raw', 3, 90), fanIn('mqbench', 3, 95)];
    const verdict = judgeFanIn(records, 0.95);
    expect(verdict.raw.median).toBe(100);
    expect(verdict.mqbench.median).toBe(95);
    expect(verdict.ratio).toBeCloseTo(0.95, 10);
    expect(verdict.passed).toBe(true);
    expect(judgeFanIn(records, 0.96).passed).toBe(false);
    expect(summariseTool(records, 'raw')).toMatchObject({ runs: 3, failed: 0, min: 90, max: 300 });
  });

  it('fails when a run failed or a tool has no measurement', () => {
    expect(judgeFanIn([fanIn('raw', 1, 100), fanIn('mqbench', 1, 100), fanIn('mqbench', 2, undefined)], 0.95).passed).toBe(false);
    const none = judgeFanIn([fanIn('raw', 1, 100), fanIn('mqbench', 1, undefined)], 0.95);
    expect(none.ratio).toBeUndefined();
    expect(none.passed).toBe(false);
  });

  it('passes the scale goal only with every client connected at once and no errors', () => {
    const record = (peak: number, errors: Record<string, number>, failedClients = 0): ScaleRecord => ({
      brokerLabel: 'bundled broker',
      clients: 100,
      talkers: 1,
      rampSeconds: 4,
      holdSeconds: 5,
      brokerOpenFiles: null,
      brokerOpenFilesRaisedFrom: null,
      result: {
        peakConnections: peak,
        run: {
          failedClients,
          totals: { errors, errorsTotal: Object.values(errors).reduce((a, b) => a + b, 0) },
        } as unknown as RunResult,
      } as EngineJobResult,
    });
    expect(judgeScale(record(100, {})).passed).toBe(true);
    expect(judgeScale(record(99, {})).passed).toBe(false);
    expect(judgeScale(record(100, { 'connect-timeout': 2 })).passed).toBe(false);
    expect(judgeScale(record(100, {}, 1)).passed).toBe(false);
    const failed = judgeScale({ ...record(100, {}), result: undefined, error: 'no broker' });
    expect(failed.passed).toBe(false);
    expect(failed.measured).toBe(false);
  });
});
