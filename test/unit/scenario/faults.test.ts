import { describe, expect, it } from 'vitest';
import { formatProblems } from '../../../src/scenario/errors.js';
import { FILE, load, MINIMAL, problems, where, yaml } from './load-helpers.js';

describe('faults', () => {
  it('reads at, action and down, in time order, with defaults', () => {
    const s = load(
      yaml(
        'broker: mosquitto',
        'duration: 10s',
        'faults:',
        '  - { at: 2s, action: kill-broker }',
        '  - at: 5s',
        '    action: restart-broker',
        '    down: 1500ms',
      ) + MINIMAL,
    );
    expect(s.faults).toEqual([
      { action: 'kill-broker', atMs: 2000, downMs: 0, at: { line: 4, col: 5 } },
      { action: 'restart-broker', atMs: 5000, downMs: 1500, at: { line: 5, col: 5 } },
    ]);
    expect(load(MINIMAL).faults).toEqual([]);
  });

  it('is refused for a broker mqbench does not start, in the file or from --broker, at the faults key', () => {
    const text = yaml('broker: mqtt://broker.example:1883', 'faults:', '  - { at: 1s, action: kill-broker }') + MINIMAL;
    const [p] = problems(text);
    expect(p).toMatchObject({ file: FILE, line: 2, col: 1 });
    expect(p.message).toBe(
      "faults stop and start the broker, which mqbench can do only for a broker it starts itself (bundled, mosquitto, aedes); this scenario's broker is mqtt://broker.example:1883",
    );
    const own = yaml('faults:', '  - { at: 1s, action: restart-broker }') + MINIMAL;
    expect(load(own).faults).toHaveLength(1);
    const overridden = problems(own, { overrides: { broker: 'mqtts://other:8883' } });
    expect(overridden.map((x) => x.message)).toEqual([expect.stringContaining('the --broker given is mqtts://other:8883')]);
    expect(overridden[0].hint).toMatch(/--broker bundled/);
    // An empty list asks for nothing.
    expect(load(yaml('broker: mqtt://h:1883', 'faults: []') + MINIMAL).faults).toEqual([]);
  });

  it('reports every mistake with its place: missing keys, a bad action with the word meant, order, the duration', () => {
    const text =
      yaml(
        'broker: bundled',
        'duration: 6s',
        'faults:',
        '  - { at: 3s }',
        '  - { action: kill-broker }',
        '  - { at: 2s, action: kill }',
        '  - { at: 4s, action: restart-broker, down: 2s }',
        '  - { at: 5s, action: kill-broker }',
        '  - { at: 7s, action: kill-broker }',
        '  - { at: 1, action: kill-broker, downtime: 1s }',
        '  - kill-broker',
      ) + MINIMAL;
    const all = problems(text);
    expect(all.map((p) => `${p.line}:${p.col} ${p.message}`)).toEqual([
      '4:5 a fault needs action: kill-broker or restart-broker',
      '5:5 a fault needs at: the time of the run it happens',
      '6:23 action must be kill-broker or restart-broker, got "kill"',
      '8:5 faults happen one after another: this one (at 5s) must come after the one before it is over (at 4s, down for 2s)',
      '9:5 this fault (at 7s) would come after the run\'s duration (6s) has ended',
      '10:11 at: a duration needs a unit, got the bare number 1',
      '10:35 unknown key "downtime" in a fault',
      '11:5 a fault must be a mapping of keys to values, got "kill-broker"',
    ]);
    expect(all[2].hint).toMatch(/SIGKILL/);
    expect(all[6].hint).toBe('did you mean "down"?');
    expect(formatProblems(all)).toContain(`${FILE}:8:5: faults happen one after another`);
  });

  it('is a list of at most 100', () => {
    const many = Array.from({ length: 101 }, (_, i) => `  - { at: ${i + 1}s, action: kill-broker }`);
    expect(where(yaml('faults:', ...many) + MINIMAL)).toEqual(['102:5 a scenario has at most 100 faults, got 101']);
    expect(where(yaml('faults: { at: 1s }') + MINIMAL)).toEqual(['1:9 faults must be a list, got a mapping']);
  });
});

describe('broker persistence', () => {
  it('persistence: true with autosave for the bundled broker and Mosquitto; Mosquitto’s default autosave otherwise', () => {
    expect(load(yaml('broker: { url: mosquitto, persistence: true, autosave: 2s }') + MINIMAL).broker.persistence).toEqual({ autosaveSec: 2 });
    expect(load(yaml('broker: { persistence: true }') + MINIMAL).broker.persistence).toEqual({ autosaveSec: 1800 });
    expect(load(yaml('broker: { persistence: true, autosave: 0 }') + MINIMAL).broker.persistence).toEqual({ autosaveSec: 0 });
    expect(load(yaml('broker: { url: mosquitto, persistence: false }') + MINIMAL).broker.persistence).toBeUndefined();
    expect(load(MINIMAL).broker.persistence).toBeUndefined();
  });

  it('is refused where mqbench cannot set it, and autosave needs it, each at its place', () => {
    expect(where(yaml('broker: { url: "mqtt://h:1883", persistence: true }') + MINIMAL)).toEqual([
      '1:46 persistence applies to a broker mqbench starts (bundled or mosquitto); this broker is mqtt://h:1883, which mqbench does not start',
    ]);
    expect(where(yaml('broker: { url: aedes, persistence: true }') + MINIMAL)).toEqual([
      '1:36 persistence applies to a broker mqbench starts (bundled or mosquitto); this broker is aedes, which mqbench runs in memory only',
    ]);
    expect(where(yaml('broker: { url: mosquitto, autosave: 5s }') + MINIMAL)).toEqual([
      '1:37 autosave says how often a persistent broker saves, and persistence is not on',
    ]);
    expect(where(yaml('broker: { persistence: true, autosave: 1500ms }') + MINIMAL)).toEqual([
      '1:40 autosave is whole seconds (mosquitto.conf autosave_interval), got 1500ms',
    ]);
    expect(where(yaml('broker: { persistence: yes }') + MINIMAL)).toEqual(['1:24 persistence must be true or false, got "yes"']);
    const overridden = where(yaml('broker: { url: mosquitto, persistence: true }') + MINIMAL, { overrides: { broker: 'mqtt://h:1883' } });
    expect(overridden).toEqual([expect.stringContaining('the --broker given is mqtt://h:1883')]);
  });
});
