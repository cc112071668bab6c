import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenarioText } from '../../../src/scenario/load.js';

const dir = join(import.meta.dirname, '../../../scenarios');
const sources = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => readFileSync(join(dir, f), 'utf8'));

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const NOISE = ['{', '}', '[', ']', ':', '-', ' ', '\n', '#', '"', "'", '${', '&a', '*a', '<<: ', '0', '-1', 'x', '\t', '{i}', '{rand:'];

describe('the loader on damaged input', () => {
  it('returns problems with positions, and never throws', () => {
    const random = seeded(42);
    let withProblems = 0;
    for (let n = 0; n < 200; n++) {
      let text = sources[n % sources.length];
      for (let edits = 1 + Math.floor(random() * 4); edits > 0; edits--) {
        const at = Math.floor(random() * text.length);
        const cut = Math.floor(random() * 6);
        const insert = random() < 0.6 ? NOISE[Math.floor(random() * NOISE.length)] : '';
        text = text.slice(0, at) + insert + text.slice(at + cut);
      }
      const result = loadScenarioText(text, 'damaged.yaml', { env: {} });
      if ('problems' in result) {
        withProblems++;
        expect(result.problems.length).toBeGreaterThan(0);
        for (const p of result.problems) {
          expect(p.line).toBeGreaterThanOrEqual(1);
          expect(p.col).toBeGreaterThanOrEqual(1);
          expect(p.message.length).toBeGreaterThan(0);
        }
      }
    }
    // Most damage must be noticed; this guards against a loader that accepts anything.
    expect(withProblems).toBeGreaterThan(100);
  });
});
