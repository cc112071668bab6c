import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblems, loadScenarioFile, planRun } from '../../../src/scenario/index.js';

const dir = join(import.meta.dirname, '../../../scenarios');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));

describe('example scenarios', () => {
  it('are all there', () => {
    expect(files.sort()).toEqual(
      expect.arrayContaining([
        'clientid-collision.yaml',
        'connection-storm.yaml',
        'durability.yaml',
        'qos0-fanin.yaml',
        'qos1-fanout.yaml',
        'qos2.yaml',
        'retain.yaml',
        'slow-consumer.yaml',
        'slow-consumer-persisted.yaml',
      ]),
    );
  });

  for (const file of files) {
    it(`${file} loads without problems and plans`, () => {
      const result = loadScenarioFile(join(dir, file), { env: {} });
      if ('problems' in result) throw new Error(formatProblems(result.problems));
      const { scenario } = result;
      expect(scenario.name).toBe(file.replace(/\.ya?ml$/, ''));
      expect(scenario.groups.length).toBeGreaterThan(0);
      const plan = planRun(scenario, 2);
      expect(plan.totalClients).toBe(scenario.groups.reduce((n, g) => n + g.clients, 0));
    });
  }
});

const benchDir = join(dir, 'bench');
const benchFiles = readdirSync(benchDir).filter((f) => f.endsWith('.yaml'));

describe('benchmark scenarios', () => {
  it('are the set mqbench compare and npm run bench use', () => {
    expect(benchFiles.sort()).toEqual([
      'connect-rate.yaml',
      'connection-storm.yaml',
      'fanout-1000.yaml',
      'idle-10k.yaml',
      'qos0-fanin.yaml',
      'qos1-fanin.yaml',
      'qos2-one-to-one.yaml',
      'retained-storm.yaml',
      'slow-consumer.yaml',
    ]);
  });

  for (const file of benchFiles) {
    it(`${file} loads without problems and plans`, () => {
      const result = loadScenarioFile(join(benchDir, file), { env: {} });
      if ('problems' in result) throw new Error(formatProblems(result.problems));
      expect(result.scenario.name).toBe(`bench-${file.replace(/\.yaml$/, '')}`);
      expect(planRun(result.scenario, 2).totalClients).toBeGreaterThan(0);
    });
  }
});
