import { describe, expect, it } from 'vitest';
import type { SaturationResult } from '../../../src/compare/result.js';
import {
  bundledLabel,
  describeMachine,
  failedStepOf,
  formatCpuSeconds,
  formatRatio,
  measureOf,
  ratioCell,
  ratioLines,
  saturationFacts,
} from '../../../src/report/compare-facts.js';
import { AEDES, BUNDLED, compareResult, HOSTILE_BROKER, MOSQUITTO } from './compare-fixture.js';

describe('formatRatio', () => {
  it('keeps about three significant digits', () => {
    expect(formatRatio(50_000 / 5_889)).toBe('8.49×');
    expect(formatRatio(12.345)).toBe('12.3×');
    expect(formatRatio(0.3303)).toBe('0.33×');
    expect(formatRatio(140.4)).toBe('140×');
    expect(formatRatio(9.996)).toBe('10.0×');
    expect(formatRatio(1)).toBe('1.00×');
    expect(formatRatio(373 / 7_270)).toBe('0.051×');
    expect(formatRatio(0.0004567)).toBe('0.00046×');
    expect(formatRatio(0)).toBe('0.00×');
  });

  it('prints n/a, never NaN or Infinity', () => {
    expect(formatRatio(undefined)).toBe('n/a');
    expect(formatRatio(Number.NaN)).toBe('n/a');
    expect(formatRatio(Infinity)).toBe('n/a');
  });
});

describe('formatCpuSeconds', () => {
  it('scales its decimals to the value', () => {
    expect(formatCpuSeconds(0)).toBe('0 s');
    expect(formatCpuSeconds(0.0421)).toBe('0.042 s');
    expect(formatCpuSeconds(4.214)).toBe('4.21 s');
    expect(formatCpuSeconds(19.63)).toBe('19.6 s');
    expect(formatCpuSeconds(1234.4)).toBe('1,234 s');
    expect(formatCpuSeconds(undefined)).toBe('n/a');
  });
});

describe('ratios', () => {
  const r = compareResult();
  const [fanout, connect, idle] = r.scenarios;

  it('divide the bundled broker by each other one, and the other way round for memory', () => {
    expect(bundledLabel(r)).toBe(BUNDLED);
    expect(ratioLines(fanout, BUNDLED).map((l) => `${l.left} ÷ ${l.right}: ${l.value}`)).toEqual([
      `${BUNDLED} ÷ ${MOSQUITTO}: 8.49×`,
      `${BUNDLED} ÷ ${AEDES}: 3.10×`,
      `${BUNDLED} ÷ ${HOSTILE_BROKER}: 2.50×`,
    ]);
    expect(ratioLines(idle, BUNDLED).map((l) => `${l.left} ÷ ${l.right}: ${l.value}`)).toEqual([
      `${MOSQUITTO} ÷ ${BUNDLED}: 0.33×`,
      `${AEDES} ÷ ${BUNDLED}: 3.17×`,
      `${HOSTILE_BROKER} ÷ ${BUNDLED}: n/a`,
    ]);
    expect(ratioCell(connect, AEDES, BUNDLED)).toBe('3.36×');
    expect(ratioCell(connect, BUNDLED, BUNDLED)).toBe('–');
  });

  it('are absent without a bundled broker', () => {
    const noBundled = compareResult();
    noBundled.brokers = noBundled.brokers.filter((b) => b.kind !== 'bundled');
    expect(bundledLabel(noBundled)).toBeUndefined();
    expect(ratioLines(fanout, undefined)).toEqual([]);
    expect(ratioCell(fanout, MOSQUITTO, undefined)).toBe('–');
  });

  it('do not read a broker named like an Object property as a ratio', () => {
    expect(ratioCell({ ...fanout, brokers: [...fanout.brokers, { ...fanout.brokers[1], broker: 'constructor' }] }, 'constructor', BUNDLED)).toBe('n/a');
  });
});

describe('measureOf', () => {
  const r = compareResult();

  it('takes the rate and its spread from the summary', () => {
    const [fanout, connect] = r.scenarios;
    expect(measureOf(r, fanout, fanout.brokers[0])).toEqual({ median: 50_000, min: 49_200, max: 50_400 });
    expect(measureOf(r, connect, connect.brokers[1])).toEqual({ median: 3_500, min: 3_400, max: 3_600 });
  });

  it('takes the spread of memory per connection from the runs', () => {
    const idle = r.scenarios[2];
    expect(measureOf(r, idle, idle.brokers[0])).toEqual({ median: 3_100, min: 3_000, max: 3_400 });
    expect(measureOf(r, idle, idle.brokers[3])).toEqual({ median: undefined, min: undefined, max: undefined });
  });
});

describe('saturation facts', () => {
  it('name the sustained rate, the step that failed and why', () => {
    const [bundled, mosquitto] = compareResult().saturation;
    expect(saturationFacts(bundled)).toMatchObject({ sustained: '6,750/s', failedAt: '10,125/s', why: 'p99 120.4 ms > 50.0 ms', steps: 5 });
    expect(saturationFacts(mosquitto)).toMatchObject({ sustained: '3,000/s', failedAt: '4,500/s', why: 'p99 88.0 ms > 50.0 ms, 12 lost' });
    expect(saturationFacts(mosquitto).limits).toBe('p99 ≤ 50.0 ms, lost ≤ 0, errors ≤ 0');
  });

  it('say so when the first step already failed, or when every step held', () => {
    const first: SaturationResult = {
      scenario: 's', broker: 'b', limits: { p99Us: 50_000, lost: 0, errors: 0 }, sustainedPerSec: undefined,
      steps: [{ offeredPerSec: 2_000, sentPerSec: 2_000, receivedPerSec: 900, p99Us: undefined, lost: 1_100, errors: 0, held: false, why: 'nothing received, 1100 lost' }],
    };
    expect(saturationFacts(first)).toMatchObject({ sustained: 'none', failedAt: '2,000/s', why: 'nothing received, 1100 lost' });
    const all: SaturationResult = {
      ...first, sustainedPerSec: 3_000,
      steps: [
        { offeredPerSec: 2_000, sentPerSec: 2_000, receivedPerSec: 2_000, p99Us: 900, lost: 0, errors: 0, held: true, why: undefined },
        { offeredPerSec: 3_000, sentPerSec: 3_000, receivedPerSec: 3_000, p99Us: 990, lost: 0, errors: 0, held: true, why: undefined },
      ],
    };
    expect(saturationFacts(all)).toMatchObject({ sustained: '3,000/s', failedAt: '–', why: 'every step held, up to 3,000/s' });
  });

  it('find the failed step just above the sustained rate whatever order the steps ran in', () => {
    const step = (offered: number, held: boolean) => ({ offeredPerSec: offered, sentPerSec: offered, receivedPerSec: offered, p99Us: 1, lost: 0, errors: 0, held, why: held ? undefined : `${offered} failed` });
    const bisected: SaturationResult = {
      scenario: 's', broker: 'b', limits: { p99Us: 1, lost: 0, errors: 0 }, sustainedPerSec: 6_000,
      steps: [step(4_000, true), step(16_000, false), step(8_000, false), step(6_000, true)],
    };
    expect(failedStepOf(bisected)?.offeredPerSec).toBe(8_000);
  });
});

describe('describeMachine', () => {
  it('names cores, model, memory, Node and platform', () => {
    expect(describeMachine(compareResult().machine)).toBe('2 cores, Intel(R) Xeon(R) CPU @ 2.20GHz · 7.8 GiB · Node v20.19.0 · linux x64');
    expect(describeMachine({ cpus: 1, cpuModel: ' ', memoryBytes: 1024 ** 3, node: '20.1.0', platform: 'darwin arm64' })).toBe(
      '1 core, model unknown · 1.0 GiB · Node v20.1.0 · darwin arm64',
    );
  });
});
