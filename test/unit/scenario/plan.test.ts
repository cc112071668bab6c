import { describe, expect, it } from 'vitest';
import { clientRatePerSec, planRun, resolveWorkerCount, type PlannedClient } from '../../../src/scenario/plan.js';
import type { PublishStep, Scenario } from '../../../src/scenario/schema.js';
import { load, yaml } from './load-helpers.js';

function scenario(...groupLines: string[]): Scenario {
  return load(yaml('groups:', ...groupLines));
}

/** A small deterministic source of numbers in [0, 1). */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const twoGroups = scenario(
  '  - name: pub',
  '    clients: 10',
  '    steps: [connect, { publish: { topic: "t/{i}", totalRate: 100/s, count: 10 } }]',
  '  - name: sub',
  '    clients: 5',
  '    clientId: "listener-{i}"',
  '    steps: [connect, { subscribe: "t/#" }]',
);

describe('planRun', () => {
  it('gives every client to exactly one worker, keeping its group and global index', () => {
    const plan = planRun(twoGroups, 3);
    expect(plan.totalClients).toBe(15);
    expect(plan.workers.map((w) => w.worker)).toEqual([0, 1, 2]);
    const all = plan.workers.flatMap((w) => w.clients);
    const key = (c: PlannedClient): string => `${c.group}:${c.index}`;
    expect(all.map(key).sort()).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `0:${i}`),
      ...Array.from({ length: 5 }, (_, i) => `1:${i}`),
    ].sort());
    for (const c of all) expect(c.clientId).toBe(c.group === 0 ? `pub-${c.index}` : `listener-${c.index}`);
  });

  it('spreads each group evenly, and the totals too', () => {
    const plan = planRun(twoGroups, 3);
    const perGroup = (g: number): number[] => plan.workers.map((w) => w.clients.filter((c) => c.group === g).length);
    expect(perGroup(0)).toEqual([4, 3, 3]);
    // The next group continues where the last one stopped, so worker 0 does not collect every remainder.
    expect(perGroup(1)).toEqual([1, 2, 2]);
    expect(plan.workers.map((w) => w.clients.length)).toEqual([5, 5, 5]);
    const four = planRun(twoGroups, 4);
    expect(four.workers.map((w) => w.clients.length)).toEqual([4, 4, 4, 3]);
  });

  it('deals a group round-robin, so each worker gets a share of every moment of a ramp-up', () => {
    const s = scenario('  - name: g', '    clients: 6', '    connectRate: 10/s', '    steps: [connect]');
    const plan = planRun(s, 2);
    expect(plan.workers[0].clients.map((c) => [c.index, c.startOffsetMs])).toEqual([[0, 0], [2, 200], [4, 400]]);
    expect(plan.workers[1].clients.map((c) => [c.index, c.startOffsetMs])).toEqual([[1, 100], [3, 300], [5, 500]]);
  });

  it('keeps per-client rates whatever the number of workers: a group rate is shared among its clients', () => {
    const publish = twoGroups.groups[0].steps[1] as PublishStep;
    expect(publish.rate).toEqual({ perSec: 100, per: 'group' });
    expect(clientRatePerSec(publish, twoGroups.groups[0])).toBe(10);
    expect(publish.clientIntervalUs).toBe(100_000);
    for (const workers of [1, 2, 3, 7]) {
      const plan = planRun(twoGroups, workers);
      const pubs = plan.workers.flatMap((w) => w.clients).filter((c) => c.group === 0);
      const total = pubs.reduce((sum, c) => sum + clientRatePerSec(publish, twoGroups.groups[c.group])!, 0);
      expect(total).toBe(100);
    }
    const perClient = scenario('  - name: g', '    clients: 4', '    steps: [connect, { publish: { topic: t, rate: 20/s, count: 1 } }]');
    const step = perClient.groups[0].steps[1] as PublishStep;
    expect(clientRatePerSec(step, perClient.groups[0])).toBe(20);
    expect(step.clientIntervalUs).toBe(50_000);
  });

  it('turns start time, connect rate and ramp-up into per-client start offsets', () => {
    const s = scenario(
      '  - name: ramp',
      '    clients: 4',
      '    startTime: 1s',
      '    rampUp: 2s',
      '    steps: [connect]',
      '  - name: rate',
      '    clients: 3',
      '    connectRate: 4/s',
      '    steps: [connect]',
      '  - name: burst',
      '    clients: 2',
      '    startTime: 100ms',
      '    steps: [connect]',
    );
    const offsets = (g: number): number[] =>
      planRun(s, 1).workers[0].clients.filter((c) => c.group === g).sort((a, b) => a.index - b.index).map((c) => c.startOffsetMs);
    expect(offsets(0)).toEqual([1_000, 1_500, 2_000, 2_500]);
    expect(offsets(1)).toEqual([0, 250, 500]);
    expect(offsets(2)).toEqual([100, 100]);
  });

  it('orders each worker’s clients by start offset', () => {
    const s = scenario('  - name: late', '    startTime: 2s', '    clients: 3', '    steps: [connect]', '  - name: early', '    clients: 3', '    rampUp: 3s', '    steps: [connect]');
    for (const w of planRun(s, 2).workers) {
      const starts = w.clients.map((c) => c.startOffsetMs);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
    }
  });

  it('draws random suffixes and {rand:N} from the given source, never the same id twice', () => {
    const s = scenario(
      '  - name: r',
      '    clients: 50',
      '    clientId: "dev-"',
      '    randomSuffix: 2',
      '    steps: [connect]',
      '  - name: n',
      '    clients: 5',
      '    clientId: "n{rand:10}"',
      '    steps: [connect]',
    );
    const ids = (seed: number): string[] => planRun(s, 2, { random: seeded(seed) }).workers.flatMap((w) => w.clients.map((c) => c.clientId));
    const first = ids(1);
    expect(ids(1)).toEqual(first);
    expect(new Set(first).size).toBe(55);
    for (const id of first.filter((x) => x.startsWith('dev-'))) expect(id).toMatch(/^dev-[0-9a-z]{2}$/);
    for (const id of first.filter((x) => x.startsWith('n'))) expect(id).toMatch(/^n\d$/);
  });

  it('fails clearly when the random part is too small to give every client its own id', () => {
    const s = scenario('  - name: tiny', '    clients: 3', '    clientId: "c{rand:2}"', '    steps: [connect]');
    expect(() => planRun(s, 1, { random: seeded(3) })).toThrow('group tiny: could not draw a client id not already in use after 1000 tries');
  });

  it('may leave workers empty when there are fewer clients than workers', () => {
    const s = scenario('  - name: g', '    clients: 2', '    steps: [connect]');
    expect(planRun(s, 4).workers.map((w) => w.clients.length)).toEqual([1, 1, 0, 0]);
  });

  it('rejects a worker count that is not a whole number from 1', () => {
    expect(() => planRun(twoGroups, 0)).toThrow(RangeError);
    expect(() => planRun(twoGroups, 1.5)).toThrow('workers must be a whole number from 1, got 1.5');
  });
});

describe('resolveWorkerCount', () => {
  it('takes a number as given, and auto as one per CPU but no more than clients', () => {
    expect(resolveWorkerCount(3, 100, 8)).toBe(3);
    expect(resolveWorkerCount('auto', 100, 8)).toBe(8);
    expect(resolveWorkerCount('auto', 2, 8)).toBe(2);
    expect(resolveWorkerCount('auto', 0, 8)).toBe(1);
  });
});

describe('planRun and fixed client ids', () => {
  it('never draws a random id that another group has as its fixed id', () => {
    const s = scenario('  - name: r', '    clientId: "x{rand:2}"', '    steps: [connect]', '  - name: f', '    clientId: x0', '    steps: [connect]');
    // The first draw would give "x0", which group f owns.
    const ids = planRun(s, 1, { random: seeded(0) }).workers[0].clients.map((c) => c.clientId);
    expect(ids.sort()).toEqual(['x0', 'x1']);
  });
});
