import { describe, expect, it } from 'vitest';
import { renderJson } from '../../../src/report/json.js';
import { emptyResult, fanoutResult } from './fixture.js';

describe('renderJson', () => {
  it('round-trips a result', () => {
    const result = fanoutResult();
    const text = renderJson(result);
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toContain('\n  "tool": {');
    expect(JSON.parse(text)).toEqual(result);
    expect(JSON.parse(renderJson(emptyResult()))).toEqual(emptyResult());
  });

  it('writes non-finite numbers as null and -0 as 0', () => {
    const result = fanoutResult();
    result.totals.sentPerSec = Number.NaN;
    result.totals.receivedPerSec = Number.POSITIVE_INFINITY;
    result.durationMs = -0;
    result.series.gauges.inflight[1] = Number.NEGATIVE_INFINITY;
    const text = renderJson(result);
    expect(text).not.toMatch(/NaN|Infinity/);
    const back = JSON.parse(text) as typeof result;
    expect(back.totals.sentPerSec).toBeNull();
    expect(back.totals.receivedPerSec).toBeNull();
    expect(Object.is(back.durationMs, 0)).toBe(true);
    expect(back.series.gauges.inflight[1]).toBeNull();
  });
});
