/**
 * What merge accepts as the shards of one run, from the shard files alone: the same scenario, number of shards and
 * run; no shard twice; every shard there and run, unless --allow-partial. And reading shard.json: a hand-edited or
 * truncated file is named, with what is wrong, before anything is merged.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkShardSet, MergeError, type MergeInput } from '../../../src/shard/merge.js';
import { readShardFile, ShardFileError, type AnyShardFile, type ShardFile } from '../../../src/shard/shard-file.js';

const RUN = { key: 'k1', id: null, scenario: 'split', fingerprint: 'f'.repeat(64), shards: 3, startAt: '2030-01-01T00:00:00.000Z', startAtMs: 1_893_456_000_000 };

/** A shard file with only what the set check reads (the rest is never looked at there). */
function ran(index: number, run: Partial<typeof RUN> = {}): MergeInput {
  const file = { format: 'mqbench-shard', version: 1, run: { ...RUN, ...run }, shard: { index, clients: 1 } } as unknown as ShardFile;
  return { dir: `shard-${index}`, file };
}

function failed(index: number, message = 'cannot reach the broker at mqtt://b:1883: connection refused', run: Partial<typeof RUN> = {}): MergeInput {
  const file: AnyShardFile = {
    format: 'mqbench-shard',
    version: 1,
    tool: { name: 'mqbench', version: 'x' },
    run: { ...RUN, ...run },
    shard: { index, clients: 1 },
    failure: { exitCode: 3, message, at: '2030-01-01T00:00:00.000Z' },
  };
  return { dir: `failed-${index}`, file };
}

function refusal(inputs: MergeInput[], allowPartial = false): string {
  try {
    checkShardSet(inputs, allowPartial);
  } catch (err) {
    expect(err).toBeInstanceOf(MergeError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('checkShardSet', () => {
  it('accepts every shard of one run, in any order, and sorts them', () => {
    const set = checkShardSet([ran(2), ran(0), ran(1)], false);
    expect(set.ran.map((r) => r.file.shard.index)).toEqual([0, 1, 2]);
    expect(set).toMatchObject({ count: 3, missing: [], failed: [] });
  });

  it('refuses shards of another scenario, another shard count or another run, naming each folder', () => {
    const m = refusal([ran(0), ran(1, { fingerprint: 'e'.repeat(64), scenario: 'other' }), ran(2, { shards: 4 }), ran(2, { startAtMs: RUN.startAtMs + 1 })]);
    expect(m).toMatch(/not parts of one run/);
    expect(m).toMatch(/shard-1 ran scenario "other" \(eeeeeeeeeeee\), shard-0 ran "split" .*not the same scenario/);
    expect(m).toMatch(/shard-2 is a shard of 4, shard-0 of 3/);
    expect(m).toMatch(/shard-2 is from another run/);
    expect(refusal([ran(0), ran(1, { key: 'k2', id: 'b' as never })])).toMatch(/another run \(run b/);
  });

  it('refuses a shard given twice', () => {
    expect(refusal([ran(0), ran(1), ran(1), ran(2)])).toMatch(/a shard given more than once: shard 1 in shard-1 and shard-1/);
  });

  it('names missing shards, and takes them only with allowPartial', () => {
    expect(refusal([ran(1)])).toMatch(/shards 0, 2 of 3 missing \(merging 1\)/);
    // Runs of missing shards are written as ranges, however many.
    const wide = { shards: 65_535 };
    expect(refusal([ran(0, wide), ran(5, wide), ran(7, wide)])).toMatch(/^shards 1–4, 6, 8–65534 of 65535 missing \(merging 0, 5, 7\)$/m);
    const set = checkShardSet([ran(1)], true);
    expect(set.missing).toEqual([0, 2]);
    expect(set.ran).toHaveLength(1);
  });

  it('names a failed shard with its exit code and reason, and takes the others only with allowPartial', () => {
    // A shard that failed before it heard from shard 0 has its own start time; its run key places it.
    const inputs = [failed(1, 'broker gone', { startAtMs: RUN.startAtMs + 5_000 }), ran(0), ran(2)];
    expect(refusal(inputs)).toMatch(/shard 1 of 3 failed \(exit 3, failed-1\): broker gone\n.*--allow-partial/);
    const set = checkShardSet(inputs, true);
    expect(set.failed).toEqual([{ index: 1, dir: 'failed-1', exitCode: 3, message: 'broker gone' }]);
    expect(set.ran.map((r) => r.file.shard.index)).toEqual([0, 2]);
    expect(set.missing).toEqual([]);
    // Its run key must still be the run's.
    expect(refusal([ran(0), failed(1, 'x', { key: 'k2' }), ran(2)], true)).toMatch(/failed-1 is from another run/);
  });

  it('has nothing to merge when no shard ran, even with allowPartial', () => {
    expect(refusal([failed(0), failed(1)], true)).toMatch(/no shard of the run ran: nothing to merge\n {2}shard 0 of 3 failed.*\n {2}shard 1 of 3 failed.*\n {2}shard 2 of 3 missing \(none ran\)/);
    expect(refusal([])).toMatch(/no shard folders given/);
  });
});

describe('readShardFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqbench-shard-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const full = {
    format: 'mqbench-shard',
    version: 1,
    tool: { name: 'mqbench', version: 'x' },
    run: RUN,
    shard: { index: 1, clients: 2 },
    scenario: {},
    facts: {},
    clock: {},
    reports: [],
    summary: {},
  };

  function read(content: string): AnyShardFile | string {
    writeFileSync(join(dir, 'shard.json'), content);
    try {
      return readShardFile(dir);
    } catch (err) {
      expect(err).toBeInstanceOf(ShardFileError);
      return (err as Error).message;
    }
  }

  it.each<[string, string, RegExp]>([
    ['truncated', JSON.stringify(full).slice(0, 80), /not valid JSON .*stopped while writing it/],
    ['not an object', '[1,2]', /not a shard file/],
    ['null', 'null', /not a shard file/],
    ['another format', JSON.stringify({ ...full, format: 'other' }), /not a shard file \(format is not "mqbench-shard"\)/],
    ['a later version', JSON.stringify({ ...full, version: 2 }), /shard file version 2; this mqbench reads version 1/],
    ['no reports', JSON.stringify({ ...full, reports: undefined }), /incomplete shard file \(no reports\)/],
    ['reports not a list', JSON.stringify({ ...full, reports: {} }), /"reports" is not a list/],
    ['index out of range', JSON.stringify({ ...full, shard: { index: 3, clients: 1 } }), /shard\.index must be from 0 to 2, got 3/],
    ['negative index', JSON.stringify({ ...full, shard: { index: -1, clients: 1 } }), /shard\.index must be from 0 to 2, got -1/],
    ['index as text', JSON.stringify({ ...full, shard: { index: '1', clients: 1 } }), /shard\.index must be from 0 to 2, got "1"/],
    ['no shards', JSON.stringify({ ...full, run: { ...RUN, shards: 0 } }), /run\.shards must be a whole number from 1 to 65535, got 0/],
    // Not a count to loop to when listing the missing shards.
    ['a huge shard count', JSON.stringify({ ...full, run: { ...RUN, shards: 1e15 } }), /run\.shards must be a whole number from 1 to 65535, got 1000000000000000/],
    ['a shard count past doubles', JSON.stringify({ ...full, run: { ...RUN, shards: 1e300 } }), /run\.shards must be a whole number from 1 to 65535/],
    ['no start time', JSON.stringify({ ...full, run: { ...RUN, startAtMs: 'soon' } }), /run\.startAtMs must be a number/],
    ['run not an object', JSON.stringify({ ...full, run: 'x' }), /incomplete shard file \(no run\)/],
    ['a failure without a message', JSON.stringify({ ...full, failure: { exitCode: 3 } }), /"failure" needs an exitCode and a message/],
  ])('names what is wrong with a shard.json that is %s', (_what, content, message) => {
    const r = read(content);
    expect(typeof r === 'string' ? r : 'read without complaint').toMatch(message);
    if (typeof r === 'string') expect(r.startsWith(join(dir, 'shard.json'))).toBe(true);
  });

  it('reads a failed shard without results, and Infinity written as {"$number"}', () => {
    const f = read(JSON.stringify({ ...full, reports: undefined, summary: undefined, failure: { exitCode: 3, message: 'no broker', at: 'x' } }));
    expect(typeof f).toBe('object');
    expect((f as { failure: { message: string } }).failure.message).toBe('no broker');
    const g = read(JSON.stringify({ ...full, facts: { durationMs: { $number: 'Infinity' } } })) as ShardFile;
    expect(g.facts.durationMs).toBe(Infinity);
  });

  it('names a folder without shard.json', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    expect(() => readShardFile(empty)).toThrow(/no shard\.json here \(is it the --out folder of a shard/);
  });
});
