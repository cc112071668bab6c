import { describe, expect, it } from 'vitest';
import { renderConformanceJson } from '../../../src/report/conformance-json.js';
import type { ConformanceReport } from '../../../src/report/conformance-model.js';
import { conformanceReport, HOSTILE_MESSAGE, unreachableRun } from './conformance-fixture.js';

describe('renderConformanceJson', () => {
  it('round-trips the report, hostile text included', () => {
    const report = conformanceReport();
    report.runs.push(unreachableRun());
    const text = renderConformanceJson(report);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "tool": {\n    "name": "mqbench",');
    const back = JSON.parse(text) as ConformanceReport;
    expect(back).toEqual(report);
    expect(back.runs[1].checks[1].message).toBe(HOSTILE_MESSAGE);
    // A lone surrogate is written as an escape, so the file stays valid UTF-8 and reads back unchanged.
    expect(text).toContain('\\ud800');
    expect(text).not.toMatch(/[\ud800-\udfff]/);
  });

  it('writes non-finite numbers as null and -0 as 0', () => {
    const report = conformanceReport();
    report.runs[0].durationMs = Number.NaN;
    report.runs[0].checks[0].durationMs = Number.POSITIVE_INFINITY;
    report.runs[1].checks[0].durationMs = -0;
    const text = renderConformanceJson(report);
    expect(text).not.toMatch(/NaN|Infinity/);
    const back = JSON.parse(text) as ConformanceReport;
    expect(back.runs[0].durationMs).toBeNull();
    expect(back.runs[0].checks[0].durationMs).toBeNull();
    expect(Object.is(back.runs[1].checks[0].durationMs, 0)).toBe(true);
  });
});
