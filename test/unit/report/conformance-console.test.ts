import { describe, expect, it } from 'vitest';
import { renderConformanceSummary } from '../../../src/report/conformance-console.js';
import type { ConformanceReport } from '../../../src/report/conformance-model.js';
import { conformanceReport, HOSTILE_BROKER, MOSQUITTO, unreachableRun } from './conformance-fixture.js';

const ANSI = /\u001b\[\d+m/g;

function render(report: ConformanceReport = conformanceReport()): string[] {
  return renderConformanceSummary(report, { color: false }).trimEnd().split('\n');
}

/** The lines of one broker's section: from its heading to the next blank line followed by a heading. */
function section(lines: string[], broker: string): string[] {
  const start = lines.findIndex((l) => l.startsWith(`${broker} · `));
  expect(start).toBeGreaterThanOrEqual(0);
  let end = start + 1;
  while (end < lines.length && !(lines[end] === '' && lines[end + 1] !== undefined && !lines[end + 1].startsWith(' '))) end++;
  return lines.slice(start, end);
}

function columns(line: string): string[] {
  return line.trim().split(/\s{2,}/);
}

describe('renderConformanceSummary', () => {
  const lines = render();
  const mosquitto = section(lines, MOSQUITTO);

  it('counts each broker’s checks, allowed failures apart', () => {
    expect(mosquitto[1]).toBe('  11 checks: 5 pass · 1 fail · 2 allowed failures · 2 skip · 1 error');
    expect(lines).toContain('  11 checks: 9 pass · 2 fail');
  });

  it('counts statements per chapter and version, with the chapter titles of that version', () => {
    const v311 = mosquitto.findIndex((l) => l.trim().startsWith('MQTT 3.1.1'));
    const v5 = mosquitto.findIndex((l) => l.trim().startsWith('MQTT 5.0'));
    expect(v311).toBeGreaterThan(0);
    expect(v5).toBeGreaterThan(v311);
    expect(columns(mosquitto[v311])).toEqual(['MQTT 3.1.1', 'statements by chapter', 'pass', 'fail', 'skip', 'error', 'not checked']);
    expect(columns(mosquitto[v311 + 1])).toEqual(['3.1', 'CONNECT', '2', '1', '0', '0', '1']);
    expect(columns(mosquitto[v311 + 2])).toEqual(['3.8', 'SUBSCRIBE', '0', '1', '1', '0', '0']);
    expect(mosquitto[v311 + 3]).toBe('');
    expect(columns(mosquitto[v5 + 1])).toEqual(['3.1', 'CONNECT', '2', '0', '0', '0', '1']);
    expect(columns(mosquitto[v5 + 2])).toEqual(['3.3', 'PUBLISH', '0', '1', '0', '0', '1']);
    expect(columns(mosquitto[v5 + 3])).toEqual(['3.8', 'SUBSCRIBE', '1', '0', '1', '0', '0']);
    expect(columns(mosquitto[v5 + 4])).toEqual(['4.7', 'Topic names and topic filters', '0', '0', '0', '2', '0']);
    // Right-aligned under their headers.
    const header = mosquitto[v5];
    expect(mosquitto[v5 + 4].length).toBe(header.length);
  });

  it('lists every failed or errored check with its statements and the first line of its message', () => {
    const start = mosquitto.indexOf('  failed checks');
    expect(mosquitto.slice(start + 1)).toEqual([
      '  ✗ 3.1.1/3.1/unsupported-level [MQTT-3.1.2-2] CONNACK return code 0 for protocol level 7, expected 1 (unacceptable protocol version)',
      '  ✗ 3.1.1/3.8/empty-subscribe [MQTT-3.8.3-3] (allowed) the broker answered suback(m1 []) instead of closing',
      '  ✗ 5.0/3.3/qos-bits-11 [MQTT-3.3.1-4] (allowed) the connection closed without DISCONNECT 0x81',
      '  ! 5.0/4.7/hash-last [MQTT-4.7.1-1] [MQTT-4.7.1-2] error: cannot connect: ECONNRESET',
    ]);
    expect(lines.join('\n')).not.toContain('the broker accepted the session anyway');
  });

  it('ends with one verdict line per broker; allowed failures do not count', () => {
    const at = lines.lastIndexOf('verdict');
    expect(lines.slice(at + 1)).toEqual([
      `  ${MOSQUITTO}                   DOES NOT CONFORM: 1 check failed, 1 check errored`,
      '  mqtt://evil<b>&"co"\\x07/</script>  DOES NOT CONFORM: 2 checks failed',
    ]);
  });

  it('says CONFORMS when the only failures are allowed', () => {
    const report = conformanceReport();
    const run = report.runs[0];
    for (const o of run.checks) {
      if (o.id === '3.1.1/3.1/unsupported-level') o.allowed = true;
      if (o.id === '5.0/4.7/hash-last') {
        o.status = 'pass';
        delete o.message;
      }
    }
    report.runs = [run];
    const out = render(report);
    expect(out[out.length - 1]).toBe(`  ${MOSQUITTO}  CONFORMS: 3 known deviations allowed`);
    expect(out).toContain('  11 checks: 6 pass · 3 allowed failures · 2 skip');
  });

  it('calls errors without failures INCONCLUSIVE, not a verdict either way', () => {
    const report = conformanceReport();
    const run = report.runs[0];
    for (const o of run.checks) if (o.id === '3.1.1/3.1/unsupported-level') o.allowed = true;
    report.runs = [run];
    const out = render(report);
    expect(out[out.length - 1]).toBe(`  ${MOSQUITTO}  INCONCLUSIVE: 1 check errored`);
  });

  it('reports an unreachable broker with the reason, without chapter tables or its errored checks', () => {
    const report = conformanceReport();
    report.runs.push(unreachableRun());
    const out = render(report);
    const own = section(out, 'mqtt://127.0.0.1:1883');
    expect(own.slice(1)).toEqual(['  unreachable: cannot connect: ECONNREFUSED 127.0.0.1:1883']);
    expect(out[out.length - 1]).toBe('  mqtt://127.0.0.1:1883              UNREACHABLE: cannot connect: ECONNREFUSED 127.0.0.1:1883');
  });

  it('keeps hostile text on one line and inert in a terminal', () => {
    const text = render().join('\n');
    expect(text).toContain('mqtt://evil<b>&"co"\\x07/</script> · 3.1 s');
    expect(text).toContain('\\x00 got \\x1b[31mnothing\\x07\\x0c');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(HOSTILE_BROKER).toContain('\u0007');
  });

  it('colours only when asked, and only adds colour', () => {
    const plain = renderConformanceSummary(conformanceReport(), { color: false });
    const colored = renderConformanceSummary(conformanceReport(), { color: true });
    expect(plain).not.toMatch(ANSI);
    expect(colored).toContain('\u001b[31m\u001b[1mDOES NOT CONFORM\u001b[0m\u001b[0m');
    expect(colored.replace(ANSI, '')).toBe(plain);
  });

  it('says so when no broker was checked', () => {
    const report = conformanceReport();
    report.runs = [];
    expect(render(report).slice(-2)).toEqual(['verdict', '  no broker was checked']);
  });
});
