import { describe, expect, it } from 'vitest';
import { idleScenario } from '../../../bench/engine-scenarios.js';
import {
  IDLE_GOAL_BYTES_PER_CLIENT,
  formatBytes,
  judgeIdle,
  marginalCost,
  type IdleReading,
  type IdleRecord,
  type IdleTool,
} from '../../../bench/idle-memory.js';
import { idleGoalRow, renderIdleFailures, renderIdlePerClient, renderIdleReadings, renderIdleVerdict } from '../../../bench/idle-render.js';
import { encodeConnect } from '../../../bench/mqtt-wire.js';
import { loadScenarioText, planRun, renderTemplate, type ConnectStep, type SubscribeStep } from '../../../src/scenario/index.js';

const KiB = 1024;
const MiB = 1024 * 1024;

function reading(tool: IdleTool, clients: number, rssBytes: number, threadHeapBytes: number[], youngGenerationBytes = 1 * MiB): IdleReading {
  return { tool, clients, rssBytes, youngGenerationBytes, heapUsedBytes: threadHeapBytes.reduce((a, b) => a + b, 0), threadHeapBytes };
}

function record(tool: IdleTool, clients: number, rssBytes: number | undefined, threadHeapBytes: number[] = [10 * MiB]): IdleRecord {
  return rssBytes === undefined
    ? { tool, clients, brokerLabel: 'bundled broker', error: 'the broker went away\nbundled said:\nbye' }
    : { tool, clients, brokerLabel: 'bundled broker', reading: reading(tool, clients, rssBytes, threadHeapBytes) };
}

/** mqbench and the floor at 1,000 and 10,000 clients, each growing by the given bytes per client from a fixed base. */
function fourRecords(mqbenchRss: number, mqbenchHeap: number, floorRss: number, floorHeap: number): IdleRecord[] {
  const at = (tool: IdleTool, clients: number, rss: number, heap: number, base: number) =>
    record(tool, clients, base + rss * clients, tool === 'mqbench' ? [8 * MiB, 2 * MiB + heap * clients] : [2 * MiB + heap * clients]);
  return [
    at('mqbench', 1000, mqbenchRss, mqbenchHeap, 100 * MiB),
    at('floor', 1000, floorRss, floorHeap, 50 * MiB),
    at('mqbench', 10_000, mqbenchRss, mqbenchHeap, 100 * MiB),
    at('floor', 10_000, floorRss, floorHeap, 50 * MiB),
  ];
}

describe('marginal cost per idle client', () => {
  it('is the growth between the two sizes over the clients added, so fixed costs cancel', () => {
    const base = reading('mqbench', 1000, 100 * MiB + 1000 * 5000, [8 * MiB, 1000 * 2000]);
    const top = reading('mqbench', 10_000, 100 * MiB + 10_000 * 5000, [8 * MiB + 90_000, 10_000 * 2000]);
    const cost = marginalCost(base, top);
    expect(cost).toEqual({ baseClients: 1000, topClients: 10_000, rssBytesPerClient: 5000, rawRssBytesPerClient: 5000, heapBytesPerClient: 2010 });
  });

  it('leaves the young generation out of RSS: a burst that grew it does not count as clients', () => {
    // The same 3,000 bytes per client at both sizes; the longer burst left the young generation 18 MiB larger.
    const base = reading('floor', 1000, 50 * MiB + 1000 * 3000 + 4 * MiB, [MiB], 4 * MiB);
    const top = reading('floor', 10_000, 50 * MiB + 10_000 * 3000 + 22 * MiB, [MiB], 22 * MiB);
    const cost = marginalCost(base, top);
    expect(cost.rssBytesPerClient).toBe(3000);
    expect(cost.rawRssBytesPerClient).toBeCloseTo(3000 + (18 * MiB) / 9000, 9);
  });

  it('is negative when memory fell, and refuses sizes that are not increasing', () => {
    expect(marginalCost(reading('floor', 10, 2000, [100]), reading('floor', 20, 1000, [50])).rssBytesPerClient).toBe(-100);
    expect(() => marginalCost(reading('floor', 20, 1, [1]), reading('floor', 20, 2, [2]))).toThrow(RangeError);
    expect(() => marginalCost(reading('floor', 30, 1, [1]), reading('floor', 20, 2, [2]))).toThrow('must have more clients');
  });
});

describe('the idle goal', () => {
  it('passes at the goal, fails a byte above it, RSS and heap each', () => {
    const at = judgeIdle(fourRecords(4096, 4096, 2048, 1024), 1000, 10_000, IDLE_GOAL_BYTES_PER_CLIENT);
    expect(at.passed).toBe(true);
    expect(at.shortfall).toBeUndefined();
    expect(at.mqbench!.rssBytesPerClient).toBeCloseTo(4096, 6);
    expect(at.rssRatio).toBeCloseTo(2, 9);
    expect(at.heapRatio).toBeCloseTo(4, 9);
    expect(at.floorAboveGoal).toBe(false);
    const rssOver = judgeIdle(fourRecords(4097, 100, 2048, 1024), 1000, 10_000, 4096);
    expect(rssOver.passed).toBe(false);
    expect(rssOver.shortfall).toBe('RSS is over by 1 B');
    const heapOver = judgeIdle(fourRecords(100, 6144, 2048, 1024), 1000, 10_000, 4096);
    expect(heapOver.shortfall).toBe('heap is over by 2 KiB');
    const both = judgeIdle(fourRecords(8192, 5120, 5000, 1024), 1000, 10_000, 4096);
    expect(both.shortfall).toBe('RSS is over by 4 KiB; heap is over by 1 KiB');
    expect(both.floorAboveGoal).toBe(true);
  });

  it('does not pass a figure that did not grow: the noise was larger than the clients', () => {
    const flat = judgeIdle(fourRecords(0, 2000, 2048, 1024), 1000, 10_000, 4096);
    expect(flat.passed).toBe(false);
    expect(flat.shortfall).toBe('RSS did not grow with the clients (noise larger than their cost)');
    const fell = judgeIdle(fourRecords(2000, -10, 2048, 1024), 1000, 10_000, 4096);
    expect(fell.passed).toBe(false);
    expect(fell.shortfall).toContain('heap did not grow');
  });

  it('is not met when a mqbench measurement failed; a failed floor leaves only the comparison out', () => {
    const records = fourRecords(1000, 1000, 500, 500);
    const noMqbench = judgeIdle(records.map((r) => (r.tool === 'mqbench' && r.clients === 10_000 ? record('mqbench', 10_000, undefined) : r)), 1000, 10_000, 4096);
    expect(noMqbench.mqbench).toBeUndefined();
    expect(noMqbench.passed).toBe(false);
    expect(noMqbench.shortfall).toContain('not measured');
    const noFloor = judgeIdle(records.filter((r) => r.tool !== 'floor' || r.clients !== 1000), 1000, 10_000, 4096);
    expect(noFloor.passed).toBe(true);
    expect(noFloor.floor).toBeUndefined();
    expect(noFloor.rssRatio).toBeUndefined();
    // Readings at other sizes are not mixed in.
    expect(judgeIdle(records, 1000, 20_000, 4096).mqbench).toBeUndefined();
  });

  it('gives no ratio over a floor that did not grow', () => {
    const v = judgeIdle(fourRecords(3000, 3000, 0, -5), 1000, 10_000, 4096);
    expect(v.passed).toBe(true);
    expect(v.rssRatio).toBeUndefined();
    expect(v.heapRatio).toBeUndefined();
  });
});

describe('idle rendering', () => {
  it('formats bytes in the unit they are compared in', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023.4)).toBe('1023 B');
    expect(formatBytes(4096)).toBe('4 KiB');
    expect(formatBytes(7977)).toBe('7.79 KiB');
    expect(formatBytes(12.25 * KiB)).toBe('12.3 KiB');
    expect(formatBytes(-1536)).toBe('−1.50 KiB');
    expect(formatBytes(-12)).toBe('−12 B');
    expect(formatBytes(3 * MiB)).toBe('3 MiB');
    expect(formatBytes(179.7 * MiB)).toBe('179.7 MiB');
  });

  it('prints every reading, heap by thread, and a failed one with the first line of its error', () => {
    const records = fourRecords(8000, 2300, 4400, 860);
    records[3] = record('floor', 10_000, undefined);
    const text = renderIdleReadings(records);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^load\s+clients\s+RSS\s+of it young gen\s+heap used\s+heap by thread\s+note$/);
    expect(lines).toHaveLength(6);
    expect(lines[2]).toMatch(/^mqbench\s+1,000\s+107\.6 MiB\s+1\.0 MiB\s+12\.2 MiB\s+main 8\.0 MiB, worker 4\.2 MiB\s*$/);
    expect(lines[3]).toMatch(/^Node's floor\s+1,000\s+54\.2 MiB\s+1\.0 MiB\s+2\.8 MiB\s+main thread only\s*$/);
    expect(lines[5]).toMatch(/^Node's floor\s+10,000\s+failed: the broker went away$/);
    expect(renderIdleFailures(records)).toBe("Node's floor with 10,000 clients failed: the broker went away\nbundled said:\nbye\n");
    expect(renderIdleFailures(fourRecords(1, 1, 1, 1))).toBe('');
  });

  it('prints per-client growth, mqbench above the floor, and the ratio', () => {
    const v = judgeIdle(fourRecords(8 * KiB, 2 * KiB, 4 * KiB, 512), 1000, 10_000, 4096);
    const lines = renderIdlePerClient(v).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^load\s+RSS per client\s+heap per client\s+RSS as read$/);
    expect(lines[2]).toMatch(/^mqbench\s+8 KiB\s+2 KiB\s+8 KiB$/);
    expect(lines[3]).toMatch(/^Node's floor\s+4 KiB\s+512 B\s+4 KiB$/);
    expect(lines[4]).toMatch(/^mqbench − floor\s+4 KiB\s+1\.50 KiB\s+4 KiB$/);
    expect(lines[5]).toMatch(/^mqbench ÷ floor\s+2\.00\s+4\.00\s*$/);
    const noFloor = judgeIdle(fourRecords(1, 1, 1, 1).filter((r) => r.tool === 'mqbench'), 1000, 10_000, 4096);
    const text = renderIdlePerClient(noFloor);
    expect(text).toMatch(/Node's floor\s+not measured/);
    expect(text).not.toContain('mqbench − floor');
    expect(text).toMatch(/mqbench ÷ floor\s+n\/a\s+n\/a/);
  });

  it('says whether the goal was met, with the figures, and when the floor itself is above it', () => {
    const met = judgeIdle(fourRecords(3 * KiB, 2 * KiB, 1 * KiB, 512), 1000, 10_000, 4096);
    expect(renderIdleVerdict(met)).toBe(
      "Goal at most 4 KiB of RSS and 4 KiB of heap per idle mqbench client (emqtt-bench's low-memory mode: about 8 KiB " +
        'per subscriber): met, with RSS 3 KiB, heap 2 KiB.\n',
    );
    expect(idleGoalRow(met)).toEqual([
      'idle clients memory (10,000 vs 1,000)',
      "mqbench RSS 3 KiB, heap 2 KiB per client (Node's floor: RSS 1 KiB, heap 512 B)",
      '≤ 4 KiB RSS, ≤ 4 KiB heap',
      'PASS',
    ]);
    const missed = judgeIdle(fourRecords(8 * KiB, 2 * KiB, 5 * KiB, 512), 1000, 10_000, 4096);
    expect(renderIdleVerdict(missed)).toMatch(
      /: not met: mqbench uses RSS 8 KiB, heap 2 KiB, Node's floor alone RSS 5 KiB, heap 512 B; RSS is over by 4 KiB\. Node's floor is itself above the RSS goal on this machine\.\n$/,
    );
    expect(idleGoalRow(missed)[3]).toBe('FAIL');
    const failed = judgeIdle([], 1000, 10_000, 4096);
    expect(idleGoalRow(failed)[1]).toBe('not measured (see the failure below)');
    expect(renderIdleVerdict(failed)).toMatch(/: not met: not measured \(see the failure below\)\.\n$/);
  });
});

describe('idle scenario', () => {
  it('has the clients at the connect rate, keep alive 60 s, each subscribed at QoS 1 to a topic of its own, no $SYS reader', () => {
    const loaded = loadScenarioText(idleScenario({ clients: 1000, connectRate: 2500, keepAliveSeconds: 60, durationMs: 45_000 }), 'idle.yaml');
    if ('problems' in loaded) throw new Error(JSON.stringify(loaded.problems));
    const { scenario } = loaded;
    expect(scenario.durationMs).toBe(45_000);
    expect(scenario.drainMs).toBe(0);
    expect(scenario.sysTopics).toBe(false);
    expect(scenario.groups).toHaveLength(1);
    const group = scenario.groups[0];
    expect(group.arrival).toEqual({ kind: 'rate', perSec: 2500 });
    const connect = group.steps[0] as ConnectStep;
    expect([connect.kind, connect.keepaliveSec, connect.clean]).toEqual(['connect', 60, true]);
    const subscribe = group.steps[1] as SubscribeStep;
    expect(group.steps).toHaveLength(2);
    expect(subscribe.subscriptions.map((s) => s.qos)).toEqual([1]);
    const plan = planRun(scenario, 2);
    expect(plan.totalClients).toBe(1000);
    const clients = plan.workers.flatMap((w) => w.clients);
    const topics = new Set(
      clients.map((c) => renderTemplate(subscribe.subscriptions[0].filter, { clientId: c.clientId, group: group.name, index: c.index }, Math.random)),
    );
    expect(topics.size).toBe(1000);
    // 2,500 a second: client 999 starts at 399.6 ms, kept in whole milliseconds.
    expect(Math.max(...clients.map((c) => c.startOffsetMs))).toBe(399);
  });

  it('sends the keep alive in CONNECT, big-endian, and refuses one MQTT cannot carry', () => {
    const bytes = encodeConnect('c', 60);
    // Fixed header (2), protocol name (6), level, flags, then keep alive.
    expect([bytes[8], bytes[9], bytes[10], bytes[11]]).toEqual([0x04, 0x02, 0x00, 60]);
    expect([...encodeConnect('c', 65535).subarray(10, 12)]).toEqual([0xff, 0xff]);
    expect([...encodeConnect('c').subarray(10, 12)]).toEqual([0, 0]);
    expect(() => encodeConnect('c', 65536)).toThrow(RangeError);
    expect(() => encodeConnect('c', 1.5)).toThrow(RangeError);
    expect(() => encodeConnect('c', -1)).toThrow(RangeError);
  });
});
