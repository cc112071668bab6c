import { describe, expect, it } from 'vitest';
import { decimate, escapeXml, finiteRuns, logTicks, niceTicks, ninesOf, percentileChart, roundTick, seriesChart } from '../../../src/report/svg-chart.js';
import { formatCount, formatMsNumber } from '../../../src/report/format.js';
import { LatencyHistogram } from '../../../src/metrics/histogram.js';
import type { PercentileCurve } from '../../../src/run/result.js';

/** A curve as HdrHistogram's percentile iteration gives it, read from a real histogram's .hgrm text. */
function curveOf(values: number[]): PercentileCurve {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  const curve: PercentileCurve = [];
  for (const line of h.percentileDistribution().split('\n')) {
    const m = /^\s*([\d.]+)\s+([\d.]+)\s+\d+/.exec(line);
    if (m !== null) curve.push([Number(m[2]) * 100, Number(m[1])]);
  }
  return curve;
}

describe('chart scales', () => {
  it('places percentiles by their number of nines', () => {
    expect(ninesOf(0)).toBe(0);
    expect(ninesOf(90)).toBeCloseTo(1, 12);
    expect(ninesOf(99)).toBeCloseTo(2, 12);
    expect(ninesOf(99.9)).toBeCloseTo(3, 9);
  });

  it('picks round ticks that cover the data', () => {
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(50_000)).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(Number.NaN)).toEqual([0, 1]);
    expect(logTicks(80, 1_234_000)).toEqual([10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000]);
    expect(logTicks(150, 3_200)).toEqual([100, 200, 500, 1_000, 2_000, 5_000, 10_000]);
    expect(roundTick('2.00')).toBe('2');
    expect(roundTick('0.50')).toBe('0.5');
    expect(roundTick('1,000')).toBe('1,000');
  });

  it('thins long series without losing spikes, and splits at gaps', () => {
    const values = Array.from({ length: 100_000 }, (_, i) => (i === 54_321 ? 999 : i === 7 ? -5 : 1));
    const points = decimate(values);
    expect(points.length).toBeLessThanOrEqual(1_200);
    expect(points).toContainEqual([54_321, 999]);
    expect(points).toContainEqual([7, -5]);
    expect(finiteRuns([1, 2, Number.NaN, 3])).toEqual([[[0, 1], [1, 2]], [[3, 3]]]);
  });
});

describe('charts', () => {
  it('says so when there is nothing to draw', () => {
    expect(percentileChart('p', [], formatMsNumber)).toContain('no latency samples');
    const empty = seriesChart('s', [{ name: 'x', color: '#000', values: [] }], {
      xTitle: 't', yTitle: 'y', format: formatCount, xKind: 'seconds', positionName: 'second',
    });
    expect(empty).toMatch(/^<svg[^>]*>[\s\S]*no data[\s\S]*<\/svg>$/);
  });

  it('escapes series names', () => {
    const svg = seriesChart('a<b', [{ name: '<script>', color: '#000', values: [1, 2] }], {
      xTitle: 't', yTitle: 'y', format: formatCount, xKind: 'index', positionName: 'interval',
    });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;');
    expect(svg).toContain('aria-label="a&lt;b"');
  });

  it('draws the percentile iteration of a real histogram with finite coordinates only', () => {
    const values: number[] = [];
    for (let i = 1; i <= 20_000; i++) values.push(Math.round(300 * Math.exp(((i * 7919) % 1000) / 250)));
    const curve = curveOf(values);
    expect(curve.length).toBeGreaterThan(50);
    expect(curve[curve.length - 1][0]).toBe(100);
    const svg = percentileChart('real', [{ name: 'e2e', color: '#000', curve }], formatMsNumber);
    const points = /points="([^"]*)"/.exec(svg)?.[1].split(' ') ?? [];
    expect(points).toHaveLength(curve.length);
    for (const p of points) expect(p).toMatch(/^\d+(\.\d+)?,\d+(\.\d+)?$/);
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svg.match(/<circle class="hit"/g)).toHaveLength(curve.length);
  });

  it('leaves out points it cannot place', () => {
    const svg = percentileChart('odd', [{ name: 'e2e', color: '#000', curve: [[-1, 5], [0, 10], [50, Number.NaN], [90, 30], [100, 40]] }], formatMsNumber);
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svg.match(/<circle class="hit"/g)).toHaveLength(3);
  });

  it('uses a linear axis when the tail stays near the body', () => {
    const svg = percentileChart('p', [{ name: 'e2e', color: '#000', curve: [[0, 100], [50, 200], [99, 400], [100, 500]] }], formatMsNumber);
    expect(svg).toContain('>latency (ms)</text>');
    expect(svg).toContain('>max</text>');
    expect(svg).not.toContain('>99.9%</text>');
  });
});

describe('escapeXml', () => {
  it('leaves no markup and nothing XML cannot carry: controls, lone surrogates and U+FFFF become visible escapes', () => {
    expect(escapeXml('<a href="x">&\'</a>')).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
    expect(escapeXml('group\x1b[31m\nred\u0000\ud800\uffff')).toBe('group\\x1b[31m\\nred\\x00\\ud800\\uffff');
    // A valid pair (an emoji) is kept.
    expect(escapeXml('ok 😀')).toBe('ok 😀');
  });

  it('keeps a hostile series name out of the chart markup', () => {
    const svg = seriesChart('t\x07', [{ name: 'pubs\x1b</text><script>', color: '#000', values: [0, 1] }], {
      xTitle: 't', yTitle: 'y', format: formatCount, xKind: 'index', positionName: 'interval',
    });
    expect(svg).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f]/);
    expect(svg).not.toContain('<script>');
  });
});

/** The y axis labels of a chart: the tick texts right of the plot's left edge, in drawing order. */
function yLabels(svg: string): string[] {
  return [...svg.matchAll(/<text class="tick" x="66" [^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
}

describe('tick labels', () => {
  it('never repeat on a chart of small counts (0 0 0 1 1 1)', () => {
    for (const values of [[0, 1, 0, 1], [0, 2, 1], [0, 3], [1, 1, 1], [0, 0.4]]) {
      const svg = seriesChart('errors', [{ name: 'e', color: '#000', values }], {
        xTitle: 't', yTitle: 'errors', format: (v) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(v), xKind: 'seconds', positionName: 'second',
      });
      const labels = yLabels(svg);
      expect(labels.length).toBeGreaterThanOrEqual(2);
      expect(new Set(labels).size, labels.join(' ')).toBe(labels.length);
    }
  });

  it('never repeat on a latency axis of a few microseconds', () => {
    const ms = (us: number) => (us / 1000).toFixed(3);
    const svg = seriesChart('latency', [{ name: 'p99', color: '#000', values: [0, 1] }], {
      xTitle: 'interval', yTitle: 'ms', format: ms, tick: (us) => roundTick(ms(us)), xKind: 'index', positionName: 'interval',
    });
    const labels = yLabels(svg);
    expect(new Set(labels).size, labels.join(' ')).toBe(labels.length);
  });

  it('keep as many ticks as distinct labels allow', () => {
    const svg = seriesChart('sent', [{ name: 's', color: '#000', values: [0, 50_000] }], {
      xTitle: 't', yTitle: 'sent', format: String, xKind: 'seconds', positionName: 'second',
    });
    expect(yLabels(svg)).toEqual(['0', '10000', '20000', '30000', '40000', '50000']);
  });
});
