/**
 * A run split into shards (`mqbench run --shard I/N`): every shard plans its share of the clients, and the shards
 * together are exactly the single run's plan — the same clients, ids and start times, each in one shard only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignShards, planRun, type PlannedClient } from '../../../src/scenario/plan.js';
import type { Scenario } from '../../../src/scenario/schema.js';
import { propertyParams } from '../../helpers/property.js';
import { load, yaml } from './load-helpers.js';

interface GroupShape {
  clients: number;
  arrival: 'all' | 'rate' | 'ramp';
  startMs: number;
  randomIds: boolean;
}

function scenarioOf(groups: GroupShape[]): Scenario {
  const lines = ['groups:'];
  groups.forEach((g, n) => {
    lines.push(`  - name: g${n}`, `    clients: ${g.clients}`, `    startTime: ${g.startMs}ms`);
    if (g.arrival === 'rate') lines.push('    connectRate: 7/s');
    if (g.arrival === 'ramp') lines.push('    rampUp: 1300ms');
    if (g.randomIds) lines.push(`    clientId: "r${n}-"`, '    randomSuffix: 3');
    lines.push('    steps: [connect]');
  });
  return load(yaml(...lines));
}

/** The same numbers for every call with the same seed. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const key = (c: PlannedClient): string => `${c.group}/${c.index}/${c.clientId}/${c.startOffsetMs}`;

const groupShape = fc.record({
  clients: fc.integer({ min: 1, max: 40 }),
  arrival: fc.constantFrom<GroupShape['arrival']>('all', 'rate', 'ramp'),
  startMs: fc.integer({ min: 0, max: 3000 }),
  randomIds: fc.boolean(),
});

describe('planRun with a shard', () => {
  it('the shards together are exactly the single plan: same clients, ids and start times, each client in one shard', () => {
    fc.assert(
      fc.property(
        fc.array(groupShape, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (groups, count, workers, seed) => {
          const scenario = scenarioOf(groups);
          const single = planRun(scenario, 1, { random: seeded(seed) }).workers[0].clients.map(key);
          const seen = new Map<string, number>();
          let planned = 0;
          for (let index = 0; index < count; index++) {
            const plan = planRun(scenario, workers, { random: seeded(seed), shard: { index, count } });
            const clients = plan.workers.flatMap((w) => w.clients);
            expect(plan.totalClients).toBe(clients.length);
            planned += clients.length;
            for (const c of clients) {
              const k = key(c);
              expect(seen.has(k), `${k} in shards ${seen.get(k)} and ${index}`).toBe(false);
              seen.set(k, index);
            }
            // Each group is spread evenly: its share differs by at most one client between shards.
            groups.forEach((g, n) => {
              const mine = clients.filter((c) => c.group === n).length;
              expect(mine).toBeGreaterThanOrEqual(Math.floor(g.clients / count));
              expect(mine).toBeLessThanOrEqual(Math.ceil(g.clients / count));
            });
            // The owner table every shard carries agrees with what each shard planned.
            let slot = 0;
            const offsets = groups.map((g) => ((slot += g.clients), slot - g.clients));
            for (const c of clients) expect(plan.shardOfSlot![offsets[c.group] + c.index]).toBe(index);
          }
          expect(planned).toBe(single.length);
          expect([...seen.keys()].sort()).toEqual([...single].sort());
        },
      ),
      propertyParams({ numRuns: 150 }),
    );
  });

  it('leaves a shard without clients of a group smaller than the number of shards, and plans it all the same', () => {
    const scenario = scenarioOf([{ clients: 2, arrival: 'all', startMs: 0, randomIds: false }]);
    const plans = [0, 1, 2, 3].map((index) => planRun(scenario, 2, { shard: { index, count: 4 } }));
    expect(plans.map((p) => p.totalClients)).toEqual([1, 1, 0, 0]);
    expect(plans[3].workers.map((w) => w.clients.length)).toEqual([0, 0]);
  });

  it('carries the deal over from one group to the next, so small groups do not all land on shard 0', () => {
    const scenario = scenarioOf([1, 1, 1].map((clients) => ({ clients, arrival: 'all' as const, startMs: 0, randomIds: false })));
    const owners = [0, 1, 2].map((index) => planRun(scenario, 1, { shard: { index, count: 3 } }).workers[0].clients.map((c) => c.group));
    expect(owners).toEqual([[0], [1], [2]]);
  });

  it('keeps clients that share a client id in one shard', () => {
    const scenario = load(
      yaml(
        'groups:',
        '  - name: twins',
        '    clients: 5',
        '    clientId: twin',
        '    allowDuplicateClientIds: true',
        '    steps: [connect]',
        '  - name: others',
        '    clients: 4',
        '    steps: [connect]',
      ),
    );
    const owner = assignShards(scenario, 3, [Array(5).fill('twin'), ['others-0', 'others-1', 'others-2', 'others-3']]);
    expect([...owner.slice(0, 5)]).toEqual([0, 0, 0, 0, 0]);
    expect([...owner.slice(5)]).toEqual([2, 0, 1, 2]);
  });

  it('refuses a shard index outside 0..count-1 and a count below 1', () => {
    const scenario = scenarioOf([{ clients: 3, arrival: 'all', startMs: 0, randomIds: false }]);
    expect(() => planRun(scenario, 1, { shard: { index: 3, count: 3 } })).toThrow('shard index must be a whole number from 0 to 2, got 3');
    expect(() => planRun(scenario, 1, { shard: { index: 0, count: 0 } })).toThrow('shards must be a whole number from 1');
  });
});
