import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CHAPTER_TITLES,
  MQTT_VERSIONS,
  STATEMENTS,
  UnknownStatementError,
  findStatement,
  statement,
  statementsFor,
  type MqttVersion,
} from '../../../src/conformance/statements.js';

/*
 * The lists of normative statement ids with their wording, one "[ID]<TAB>text" per line. They are read from
 * MQBENCH_SPEC_DIR, the repository's test/fixtures/spec, or the shared spec folder, whichever has them.
 */
const SPEC_FILES: Record<MqttVersion, string> = { '3.1.1': 'mqtt311-normative.txt', '5.0': 'mqtt5-normative.txt' };
const EXPECTED_COUNTS: Record<MqttVersion, number> = { '3.1.1': 141, '5.0': 251 };
const MAX_SUMMARY = 120;
const COPY_RUN = 8;

function specDir(): string {
  const repo = fileURLToPath(new URL('../../../', import.meta.url));
  const candidates = [process.env.MQBENCH_SPEC_DIR, join(repo, 'test/fixtures/spec'), '/work/shared/spec'].filter(
    (d): d is string => d !== undefined && d !== '',
  );
  const found = candidates.find((d) => Object.values(SPEC_FILES).every((f) => existsSync(join(d, f))));
  if (found === undefined) {
    throw new Error(`normative statement lists (${Object.values(SPEC_FILES).join(', ')}) not found in: ${candidates.join(', ')}`);
  }
  return found;
}

interface SpecLine {
  id: string;
  text: string;
}

function readSpec(version: MqttVersion): SpecLine[] {
  const lines = readFileSync(join(specDir(), SPEC_FILES[version]), 'utf8').split('\n');
  const out: SpecLine[] = [];
  for (const line of lines) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^\[(MQTT-[0-9.]+-[0-9]+)\]\t(.+)$/.exec(line);
    if (m === null) throw new Error(`${SPEC_FILES[version]}: unparsable line: ${line}`);
    out.push({ id: m[1], text: m[2] });
  }
  return out;
}

const SPEC: Record<MqttVersion, SpecLine[]> = { '3.1.1': readSpec('3.1.1'), '5.0': readSpec('5.0') };

function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9$#+]+/g, ' ')
    .split(' ')
    .filter((w) => w !== '');
}

/** The first run of `n` consecutive words `ours` shares with `theirs`, if any. */
function sharedRun(ours: string, theirs: string, n = COPY_RUN): string | undefined {
  const t = words(theirs);
  const runs = new Set<string>();
  for (let i = 0; i + n <= t.length; i++) runs.add(t.slice(i, i + n).join(' '));
  const o = words(ours);
  for (let i = 0; i + n <= o.length; i++) {
    const run = o.slice(i, i + n).join(' ');
    if (runs.has(run)) return run;
  }
  return undefined;
}

/** MQTT-3.1.2-4 → 3.1, MQTT-4.2-1 → 4.2, MQTT-6.0.0-1 → 6. */
function chapterOfId(id: string): string {
  const [major, minor] = id.slice('MQTT-'.length, id.lastIndexOf('-')).split('.');
  return minor === '0' ? major : `${major}.${minor}`;
}

describe('normative statement lists', () => {
  it.each(MQTT_VERSIONS)('MQTT %s lists the expected number of distinct ids', (version) => {
    const ids = SPEC[version].map((l) => l.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(EXPECTED_COUNTS[version]);
  });
});

describe('statement table', () => {
  it.each(MQTT_VERSIONS)('MQTT %s has exactly the ids of the specification, once each', (version) => {
    const ours = statementsFor(version).map((s) => s.id);
    expect(new Set(ours).size).toBe(ours.length);
    expect([...ours].sort()).toEqual(SPEC[version].map((l) => l.id).sort());
  });

  it('STATEMENTS is both versions together, each row tagged with its version', () => {
    expect(STATEMENTS.length).toBe(EXPECTED_COUNTS['3.1.1'] + EXPECTED_COUNTS['5.0']);
    for (const version of MQTT_VERSIONS) {
      expect(STATEMENTS.filter((s) => s.version === version)).toEqual(statementsFor(version));
    }
  });

  it('summaries are single lines of at most 120 characters', () => {
    for (const s of STATEMENTS) {
      expect(s.summary, `${s.version} ${s.id}`).toMatch(/^\S.*\S$/);
      expect(s.summary, `${s.version} ${s.id}`).not.toMatch(/[\r\n]/);
      expect(s.summary.length, `${s.version} ${s.id}: ${s.summary}`).toBeLessThanOrEqual(MAX_SUMMARY);
    }
  });

  it('the copy detector flags text lifted from a statement and passes a paraphrase', () => {
    const text = SPEC['3.1.1'].find((l) => l.id === 'MQTT-3.1.0-2')?.text ?? '';
    expect(sharedRun(`Note: ${text}`, text)).toBeDefined();
    expect(sharedRun(statement('MQTT-3.1.0-2', '3.1.1').summary, text)).toBeUndefined();
  });

  it(`summaries and reasons share no run of ${COPY_RUN} words with the statement they describe`, () => {
    const copies: string[] = [];
    for (const version of MQTT_VERSIONS) {
      for (const line of SPEC[version]) {
        const s = statement(line.id, version);
        for (const ours of [s.summary, s.reason, s.precondition]) {
          const run = ours === undefined ? undefined : sharedRun(ours, line.text);
          if (run !== undefined) copies.push(`${version} ${line.id}: "${run}"`);
        }
      }
    }
    expect(copies).toEqual([]);
  });

  it('summaries differ between statements of one version', () => {
    for (const version of MQTT_VERSIONS) {
      const seen = new Map<string, string>();
      for (const s of statementsFor(version)) {
        expect(seen.get(s.summary), `${version} ${s.id} repeats the summary of ${seen.get(s.summary)}`).toBeUndefined();
        seen.set(s.summary, s.id);
      }
    }
  });

  it('every statement not checked on the wire says why, and only those do', () => {
    for (const s of STATEMENTS) {
      const label = `${s.version} ${s.id}`;
      if (s.check === 'wire') {
        expect(s.reason, label).toBeUndefined();
      } else {
        expect(s.reason, label).toMatch(/^\S.*\S$/);
        expect(s.reason, label).not.toMatch(/[\r\n]/);
        expect(s.precondition, label).toBeUndefined();
      }
      if (s.precondition !== undefined) expect(s.precondition, label).toMatch(/^the server /);
    }
  });

  it('client-only is exactly the statements that bind clients alone', () => {
    for (const s of STATEMENTS) {
      expect(s.check === 'client-only', `${s.version} ${s.id}`).toBe(s.binds === 'client');
    }
  });

  it('chapters follow the ids and carry the title of that chapter in that version', () => {
    for (const s of STATEMENTS) {
      expect(s.chapter, `${s.version} ${s.id}`).toBe(chapterOfId(s.id));
      expect(s.title, `${s.version} ${s.id}`).toBe(CHAPTER_TITLES[s.version][s.chapter]);
    }
  });

  it('every chapter title belongs to a chapter with statements', () => {
    for (const version of MQTT_VERSIONS) {
      const used = new Set(statementsFor(version).map((s) => s.chapter));
      expect(Object.keys(CHAPTER_TITLES[version]).sort()).toEqual([...used].sort());
    }
  });

  it('rows are frozen', () => {
    expect(Object.isFrozen(STATEMENTS)).toBe(true);
    expect(Object.isFrozen(STATEMENTS[0])).toBe(true);
    expect(Object.isFrozen(statementsFor('5.0'))).toBe(true);
  });
});

describe('lookups', () => {
  it('key on version and id together', () => {
    const v3 = statement('MQTT-3.1.2-4', '3.1.1');
    const v5 = statement('MQTT-3.1.2-4', '5.0');
    expect(v3.version).toBe('3.1.1');
    expect(v5.version).toBe('5.0');
    expect(v3.summary).toMatch(/CleanSession 0/);
    expect(v5.summary).toMatch(/Clean Start 1/);
  });

  it('find ids that exist in one version only', () => {
    expect(findStatement('MQTT-4.2-1', '5.0')?.chapter).toBe('4.2');
    expect(findStatement('MQTT-4.2-1', '3.1.1')).toBeUndefined();
    expect(findStatement('MQTT-7.1.1-1', '3.1.1')?.title).toBe('Conformance targets');
    expect(findStatement('MQTT-7.1.1-1', '5.0')).toBeUndefined();
  });

  it('reject an unknown id with the likely intended one', () => {
    expect(() => statement('MQTT-3.1.2-99', '3.1.1')).toThrow(UnknownStatementError);
    expect(() => statement('MQTT-3.15.2-1', '3.1.1')).toThrow(/MQTT 3\.1\.1 has no normative statement MQTT-3\.15\.2-1/);
    expect(() => statement('MQTT-3.1.0-3', '5.0')).toThrow(/did you mean MQTT-3\.1\.0-[12]\?/);
  });

  it('agree with the table on the classification of a few well-known statements', () => {
    expect(statement('MQTT-3.1.0-2', '3.1.1')).toMatchObject({ binds: 'server', check: 'wire', chapter: '3.1', title: 'CONNECT' });
    expect(statement('MQTT-3.1.2-23', '3.1.1')).toMatchObject({ binds: 'client', check: 'client-only' });
    expect(statement('MQTT-4.7.3-3', '5.0')).toMatchObject({ check: 'unobservable' });
    expect(statement('MQTT-6.0.0-1', '5.0')).toMatchObject({ chapter: '6', precondition: expect.stringMatching(/WebSocket/) });
  });
});
