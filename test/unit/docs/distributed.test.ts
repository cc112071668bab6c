/**
 * docs/distributed.md uses only options that `mqbench run` and `mqbench merge` have, and names the clock-skew
 * variable and the index variable as the code reads them.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usage as mergeUsage } from '../../../src/cli/commands/merge.js';
import { usage as runUsage } from '../../../src/cli/commands/run.js';
import { SHARD_INDEX_ENV } from '../../../src/shard/options.js';
import { CLOCK_SKEW_ENV } from '../../../src/shard/wall-clock.js';

const root = resolve(__dirname, '../../..');
const doc = readFileSync(join(root, 'docs/distributed.md'), 'utf8');

/** The options on every line of the doc that shows a `mqbench <command>` (in code blocks and inline code). */
function optionsOf(command: string): string[] {
  const lines = doc.split('\n').filter((l) => l.includes(`mqbench ${command} `));
  expect(lines.length, `lines with "mqbench ${command}"`).toBeGreaterThan(0);
  return [...new Set(lines.flatMap((l) => [...l.matchAll(/(?<![\w-])(--[a-z][a-z-]*)/g)].map((m) => m[1])))];
}

describe('docs/distributed.md', () => {
  it('shows mqbench run only with options it has', () => {
    const options = optionsOf('run');
    expect(options).toEqual(expect.arrayContaining(['--shard', '--shards', '--start-at', '--broker', '--out']));
    for (const o of options) expect(runUsage, o).toContain(`  ${o} `);
  });

  it('shows mqbench merge only with options it has', () => {
    const options = optionsOf('merge');
    expect(options).toEqual(expect.arrayContaining(['--out', '--allow-partial', '--max-clock-error']));
    for (const o of options) expect(mergeUsage, o).toContain(`  ${o} `);
  });

  it('lists in its table exactly the sharding options of mqbench run', () => {
    const table = [...doc.matchAll(/^\| `(--[a-z-]+)[^`]*` \|/gm)].map((m) => m[1]);
    const section = runUsage.slice(runUsage.indexOf('One run across several machines'));
    const documented = [...section.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]);
    expect(table).toEqual(documented);
  });

  it('names the environment variables the code reads', () => {
    expect(doc).toContain(`${CLOCK_SKEW_ENV}=250 mqbench run`);
    expect(doc).toContain(`\`${SHARD_INDEX_ENV}\``);
  });
});
