import { describe, expect, it } from 'vitest';
import { renderCompareJson } from '../../../src/report/compare-json.js';
import { compareResult, HOSTILE_BROKER } from './compare-fixture.js';

describe('renderCompareJson', () => {
  it('is the whole result, pretty-printed, ending in a newline', () => {
    const r = compareResult();
    const text = renderCompareJson(r);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "tool": {\n    "name": "mqbench",');
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(r)));
    const back = JSON.parse(text);
    expect(back.scenarios[0].ratios['mosquitto 2.0.11']).toBeCloseTo(8.4904, 4);
    expect(back.brokers[3].label).toBe(HOSTILE_BROKER);
    expect(back.saturation[0].sustainedPerSec).toBe(6_750);
  });

  it('writes numbers JSON can hold: non-finite as null, -0 as 0', () => {
    const r = compareResult();
    r.scenarios[0].ratios['mosquitto 2.0.11'] = Infinity;
    r.scenarios[0].brokers[0].p50 = Number.NaN;
    r.runs[0].receivedPerSec = -0;
    const back = JSON.parse(renderCompareJson(r));
    expect(back.scenarios[0].ratios['mosquitto 2.0.11']).toBeNull();
    expect(back.scenarios[0].brokers[0].p50).toBeNull();
    expect(Object.is(back.runs[0].receivedPerSec, 0)).toBe(true);
  });

  it('leaves out what was never measured rather than inventing it', () => {
    const back = JSON.parse(renderCompareJson(compareResult()));
    const remote = back.scenarios[0].brokers[3];
    expect('cpuSeconds' in remote).toBe(false);
    expect(back.runs.find((run: { broker: string }) => run.broker === HOSTILE_BROKER).process).toBeUndefined();
  });
});
