import { describe, expect, it } from 'vitest';
import { measureOf } from '../../../src/compare/compare.js';
import { median, spreadOf } from '../../../src/compare/median.js';
import { loadScenarioFile } from '../../../src/scenario/index.js';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../../..');

describe('median and spread', () => {
  it('take the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
    expect(spreadOf([5, 1, 9])).toEqual({ median: 5, min: 1, max: 9 });
  });
});

describe('measureOf the benchmark scenarios', () => {
  it('measures message scenarios by throughput, retained ones by the copies sent, churn by connection rate and idle connections by memory', () => {
    const measure = (file: string) => {
      const loaded = loadScenarioFile(join(root, 'scenarios/bench', file));
      if ('problems' in loaded) throw new Error(loaded.problems.map((p) => p.message).join('\n'));
      return measureOf(loaded.scenario);
    };
    expect(measure('qos0-fanin.yaml')).toBe('throughput');
    expect(measure('fanout-1000.yaml')).toBe('throughput');
    expect(measure('retained-storm.yaml')).toBe('retained');
    expect(measure('connect-rate.yaml')).toBe('connect-rate');
    expect(measure('connection-storm.yaml')).toBe('connect-rate');
    expect(measure('idle-10k.yaml')).toBe('memory');
  });
});
