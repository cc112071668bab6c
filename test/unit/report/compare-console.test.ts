import { describe, expect, it } from 'vitest';
import { renderCompareTable } from '../../../src/report/compare-console.js';
import { AEDES, BUNDLED, compareResult, MOSQUITTO } from './compare-fixture.js';

/** The lines of one scenario's block, from its title to the blank line after it. */
function block(text: string, scenario: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`${scenario}  `));
  expect(start).toBeGreaterThanOrEqual(0);
  const end = lines.indexOf('', start);
  return lines.slice(start, end < 0 ? undefined : end);
}

/** The cells of a broker's row: columns are two or more spaces apart. */
function row(lines: string[], broker: string): string[] {
  const line = lines.find((l) => l.startsWith(`${broker}  `));
  expect(line, `row of ${broker}`).toBeDefined();
  return line!.slice(broker.length).trim().split(/ {2,}/);
}

describe('renderCompareTable', () => {
  const text = renderCompareTable(compareResult(), { color: false });

  it('notes the machine, the rounds and the brokers at the top', () => {
    const lines = text.split('\n');
    expect(lines[0]).toBe('mqbench 0.1.0 compare  3 rounds per scenario and broker, brokers alternating  2025-06-01T12:00:00.000Z');
    expect(lines[1]).toBe('machine   2 cores, Intel(R) Xeon(R) CPU @ 2.20GHz · 7.8 GiB · Node v20.19.0 · linux x64');
    expect(lines[2]).toMatch(/^brokers {3}bundled +bundled +0\.1\.0 +mqtt:\/\/127\.0\.0\.1:41883 +CPU and memory measured \(started by mqbench\)$/);
    expect(lines[5]).toContain('CPU and memory not measured (not started by mqbench)');
  });

  it('puts each broker’s figures in its own row', () => {
    const fanout = block(text, 'fanout-qos1');
    expect(fanout[0]).toBe('fanout-qos1  measured by messages received per second, higher is better; latency end to end (publish to arrival)');
    expect(fanout[2].split(/ {2,}/)).toEqual(['broker', 'msg/s', 'min–max', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'lost', 'CPU', 'msg/CPU s', 'peak mem']);
    expect(row(fanout, BUNDLED)).toEqual(['50,000', '49,200–50,400', '0.85', '3.20', '7.90', '0', '0', '4.21 s', '11,877', '50.0 MiB']);
    expect(row(fanout, MOSQUITTO)).toEqual(['5,889', '5,700–6,010', '12.4', '48.0', '95.5', '0', '12', '9.98 s', '590', '7.0 MiB']);
    expect(row(fanout, AEDES)).toEqual(['16,129', '15,900–16,300', '4.10', '22.0', '61.0', '3', '0', '19.6 s', '823', '90.0 MiB']);
  });

  it('shows a remote broker’s missing process figures as n/a, never NaN', () => {
    const fanout = block(text, 'fanout-qos1');
    const remote = fanout.find((l) => l.startsWith('mqtt://evil'))!;
    expect(remote.trim().split(/ {2,}/).slice(-3)).toEqual(['n/a', 'n/a', 'n/a']);
    expect(text).not.toMatch(/NaN|undefined|Infinity|null/);
  });

  it('states the bundled broker’s ratio to each other broker on the scenario’s measure', () => {
    const fanout = block(text, 'fanout-qos1');
    expect(fanout).toContain('bundled ÷ mosquitto 2.0.11: 8.49×');
    expect(fanout).toContain('bundled ÷ aedes 1.2.0: 3.10×');
    const idle = block(text, 'idle-10k');
    expect(idle).toContain('mosquitto 2.0.11 ÷ bundled: 0.33×');
    expect(idle).toContain('aedes 1.2.0 ÷ bundled: 3.17×');
    expect(idle.some((l) => l.endsWith('÷ bundled: n/a'))).toBe(true);
  });

  it('leads a connection scenario with connections per second, and memory per connection only where connections stay', () => {
    const connect = block(text, 'connect-storm');
    expect(connect[2].split(/ {2,}/)).toEqual([
      'broker', 'conn/s', 'min–max', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'lost', 'CPU', 'msg/CPU s', 'peak mem', 'rounds',
    ]);
    expect(row(connect, BUNDLED)).toEqual(['4,200', '4,000–4,350', 'n/a', 'n/a', 'n/a', '0', '0', '1.62 s', 'n/a', '60.0 MiB', '3 of 3']);
    expect(row(connect, AEDES)).toEqual(['1,250', '1,200–1,300', 'n/a', 'n/a', 'n/a', '41', '0', '6.40 s', 'n/a', '200 MiB', '2 of 3']);
    expect(connect).toContain('note  aedes 1.2.0: thresholds failed in 1 of 2 rounds');
    expect(row(block(text, 'idle-10k'), MOSQUITTO).slice(-2)).toEqual(['17.6 MiB', '1.0 KiB']);
  });

  it('lists the saturation results with the step that failed and why', () => {
    const lines = block(text, 'saturation');
    expect(lines[0]).toBe('saturation  highest offered rate that held, raised step by step  limits p99 ≤ 50.0 ms, lost ≤ 0, errors ≤ 0');
    expect(lines[1].split(/ {2,}/)).toEqual(['scenario', 'broker', 'sustained', 'failed at', 'why', 'steps']);
    expect(lines[2].split(/ {2,}/)).toEqual(['paced-qos0', 'bundled', '6,750/s', '10,125/s', 'p99 120.4 ms > 50.0 ms', '5']);
    expect(lines[3].trim().split(/ {2,}/)).toEqual(['mosquitto 2.0.11', '3,000/s', '4,500/s', 'p99 88.0 ms > 50.0 ms, 12 lost', '3']);
  });

  it('shows limits per row when the searches used different ones', () => {
    const r = compareResult();
    r.saturation[1].limits.p99Us = 100_000;
    const lines = block(renderCompareTable(r), 'saturation');
    expect(lines[0]).not.toContain('limits');
    expect(lines[1]).toMatch(/ {2}limits$/);
    expect(lines[3]).toMatch(/p99 ≤ 100 ms, lost ≤ 0, errors ≤ 0$/);
  });

  it('keeps a hostile broker label on one inert line', () => {
    // Every row is a line of its own: the label's line break and escape are shown, not obeyed.
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(text).toContain('mqtt://evil<img src=x onerror=alert(1)>|**x**\\x1b[31m\\n# h');
    expect(text.split('\n').some((l) => l.startsWith('# h'))).toBe(false);
  });

  it('colours only when asked', () => {
    const coloured = renderCompareTable(compareResult(), { color: true });
    expect(coloured).toContain('\u001b[1mmqbench 0.1.0 compare\u001b[0m');
    expect(coloured).toContain('bundled ÷ mosquitto 2.0.11: \u001b[1m8.49×\u001b[0m');
    expect(coloured.replace(/\u001b\[\d+m/g, '')).toBe(text);
  });

  it('says so when nothing was compared', () => {
    const r = compareResult();
    r.scenarios = [];
    r.saturation = [];
    r.brokers = [];
    const empty = renderCompareTable(r);
    expect(empty).toContain('brokers   none');
    expect(empty).toContain('No scenario was compared.');
    expect(empty).not.toContain('saturation');
  });
});

describe('incidents in the compare table', () => {
  it('lists each lost round with its reason, and nothing when there is none', () => {
    const r = compareResult();
    const text = renderCompareTable(r);
    expect(text).toContain('incidents  (a lost round is left out of the medians)');
    expect(text).toContain('  ! connect-storm, aedes 1.2.0, round 2: aedes 1.2.0 exited during the run (last output: RangeError');
    r.incidents = [];
    expect(renderCompareTable(r)).not.toContain('incidents');
  });
});
