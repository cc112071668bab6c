import { describe, expect, it } from 'vitest';
import { COMMAND_LINE, formatProblems } from '../../../src/scenario/errors.js';
import { applyOverrides, loadScenarioText, type ScenarioOverrides } from '../../../src/scenario/load.js';
import type { PublishStep, Scenario } from '../../../src/scenario/schema.js';
import { FILE, load, yaml } from './load-helpers.js';

const base = load(
  yaml(
    'duration: 10s',
    'broker:',
    '  url: mqtts://broker.example',
    '  protocol: 5',
    '  username: alice',
    '  tls: { verify: false }',
    'workers: 2',
    'groups:',
    '  - name: pub',
    '    clients: 4',
    '    steps: [connect, { publish: { topic: t, totalRate: 100/s } }]',
    '  - name: sub',
    '    clientId: the-sub',
    '    steps: [connect, { subscribe: "t" }]',
  ),
);

function apply(scenario: Scenario, overrides: ScenarioOverrides): Scenario {
  const r = applyOverrides(scenario, overrides);
  if ('problems' in r) throw new Error(formatProblems(r.problems));
  return r.scenario;
}

function problemsOf(scenario: Scenario, overrides: ScenarioOverrides): string[] {
  const r = applyOverrides(scenario, overrides);
  if ('scenario' in r) throw new Error('expected problems');
  return r.problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.message}${p.hint ? ' / ' + p.hint : ''}`);
}

describe('applyOverrides', () => {
  it('replaces duration, workers and out', () => {
    const s = apply(base, { duration: '30s', workers: '8', out: 'reports/x' });
    expect(s).toMatchObject({ durationMs: 30_000, workers: 8, out: 'reports/x' });
    expect(apply(base, { workers: 'auto' }).workers).toBe('auto');
    // The original is untouched.
    expect(base).toMatchObject({ durationMs: 10_000, workers: 2, out: undefined });
  });

  it('sets one group’s clients by name, and re-divides a group rate among them', () => {
    const s = apply(base, { clients: 'pub=10' });
    expect(s.groups.map((g) => g.clients)).toEqual([10, 1]);
    expect((s.groups[0].steps[1] as PublishStep).clientIntervalUs).toBe(100_000);
    expect((base.groups[0].steps[1] as PublishStep).clientIntervalUs).toBe(40_000);
    expect(apply(base, { clients: 'pub=2, sub=1' }).groups.map((g) => g.clients)).toEqual([2, 1]);
  });

  it('takes a bare client count when the scenario has one group', () => {
    const one = load(yaml('groups: [{ name: g, steps: [connect] }]'));
    expect(apply(one, { clients: 7 }).groups[0].clients).toBe(7);
    expect(apply(one, { clients: '3' }).groups[0].clients).toBe(3);
  });

  it('replaces the broker URL, keeping protocol and credentials, and TLS only where TLS is used', () => {
    const plain = apply(base, { broker: 'mqtt://other:1999' });
    expect(plain.broker).toEqual({
      target: { kind: 'remote', transport: 'mqtt', hosts: [{ host: 'other', port: 1999 }], path: '', url: 'mqtt://other:1999' },
      protocolVersion: 5,
      username: 'alice',
      password: undefined,
      tls: undefined,
      sourceAddresses: [],
    });
    expect(apply(base, { broker: 'mqtts://third' }).broker.tls).toMatchObject({ verify: false });
    expect(apply(base, { broker: 'bundled' }).broker).toMatchObject({ target: { kind: 'bundled' }, protocolVersion: 5, tls: undefined });
    const bundled = load(yaml('groups: [{ name: g, steps: [connect] }]'));
    expect(apply(bundled, { broker: 'ws://h:8080/mqtt' }).broker.target).toMatchObject({ transport: 'ws', path: '/mqtt', hosts: [{ host: 'h', port: 8080 }] });
  });

  it('reports bad values against the command line, under the flag’s name', () => {
    expect(problemsOf(base, { duration: '10', workers: '0', clients: 'pubs=x', broker: 'tcp://h', out: '' })).toEqual([
      `${COMMAND_LINE}:0:0 --broker: unsupported URL scheme "tcp://" / write mqtt:// for plain TCP`,
      `${COMMAND_LINE}:0:0 --duration: a duration needs a unit, got the bare number 10 / write 10s or 10ms (units: ms, s, m, h)`,
      `${COMMAND_LINE}:0:0 --workers must be from 1 to 1024, got 0 / a number of worker threads, or auto`,
      `${COMMAND_LINE}:0:0 --out must not be empty`,
      `${COMMAND_LINE}:0:0 --clients: there is no group "pubs" / did you mean "pub"?`,
    ]);
    expect(problemsOf(base, { clients: 'pub=0' })).toEqual([`${COMMAND_LINE}:0:0 --clients pub must be from 1 to 1000000, got 0`]);
    expect(problemsOf(base, { clients: '5' })).toEqual([`${COMMAND_LINE}:0:0 --clients 5: the scenario has 2 groups; say which one / e.g. --clients pub=5,sub=5`]);
    const r = applyOverrides(base, { duration: 'soon' });
    expect('problems' in r && formatProblems(r.problems)).toBe(
      `${COMMAND_LINE}: --duration: "soon" is not a duration\n  hint: write e.g. 500ms, 10s, 2m, 1h or 1m30s`,
    );
  });

  it('validates the result again, reporting what the override breaks at its place in the file', () => {
    // More than one client on a fixed client id would make them take each other over.
    expect(problemsOf(base, { clients: 'sub=2' })).toEqual([
      `${FILE}:13:15 all 2 clients of group "sub" would use the client id "the-sub", and each would take over the others' session / add {i} to the clientId (e.g. "the-sub-{i}"), set randomSuffix: true, or set allowDuplicateClientIds: true if the takeover is what you test`,
    ]);
    const late = load(yaml('groups: [{ name: g, startTime: 5s, steps: [connect] }]'));
    expect(problemsOf(late, { duration: '2s' })).toEqual([`${FILE}:1:32 group g starts at 5s, but the run lasts 2s / start it earlier or make the run longer`]);
  });

  it('adds up when applied more than once', () => {
    const twice = apply(apply(base, { duration: '1m' }), { clients: 'pub=1' });
    expect(twice.durationMs).toBe(60_000);
    expect(twice.groups[0].clients).toBe(1);
  });

  it('can be given while loading', () => {
    const r = loadScenarioText(yaml('groups: [{ name: g, steps: [connect] }]'), FILE, { env: {}, overrides: { duration: '5s', clients: 3 } });
    expect('scenario' in r && [r.scenario.durationMs, r.scenario.groups[0].clients]).toEqual([5_000, 3]);
  });
});
