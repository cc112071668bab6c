import { describe, expect, it } from 'vitest';
import { barChart, binaryTicks, saturationChart, type RateLine } from '../../../src/report/compare-charts.js';
import { formatRateNumber } from '../../../src/report/format.js';

const format = (v: number): string => `${formatRateNumber(v)} msg/s`;

/** The rectangles drawn as bars, with their heights. */
function bars(svg: string): Array<{ y: number; height: number; fill: string }> {
  return [...svg.matchAll(/<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="([^"]+)"/g)].map((m) => ({
    y: Number(m[1]),
    height: Number(m[2]),
    fill: m[3],
  }));
}

describe('barChart', () => {
  const svg = barChart(
    'fanout: messages per broker',
    [
      { name: 'bundled', color: '#0072B2', value: 50_000, min: 49_000, max: 51_000 },
      { name: 'mosquitto 2.0.11', color: '#D55E00', value: 5_000, min: 5_000, max: 5_000 },
      { name: 'remote', color: '#009E73', value: undefined },
    ],
    { yTitle: 'msg/s', format },
  );

  it('draws a bar per broker with a figure, from zero, in proportion', () => {
    const drawn = bars(svg);
    expect(drawn.map((b) => b.fill)).toEqual(['#0072B2', '#D55E00']);
    expect(drawn[0].height / drawn[1].height).toBeCloseTo(10, 5);
    // Both bars end on the same baseline.
    expect(drawn[0].y + drawn[0].height).toBeCloseTo(drawn[1].y + drawn[1].height, 5);
  });

  it('labels values, whiskers only a real spread, and says n/a for a missing figure', () => {
    expect(svg).toContain('>50,000 msg/s</text>');
    expect(svg).toContain('<title>bundled: 50,000 msg/s (min 49,000 msg/s, max 51,000 msg/s)</title>');
    expect(svg).toContain('<title>mosquitto 2.0.11: 5,000 msg/s</title>');
    expect(svg.match(/class="whisker"/g)).toHaveLength(1);
    expect(svg).toContain('>n/a</text>');
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('keeps the tallest value label inside the plot', () => {
    const ticks = [...svg.matchAll(/text-anchor="end" dominant-baseline="middle">([^<]+)</g)].map((m) => m[1]);
    expect(ticks[ticks.length - 1]).toBe('60,000 msg/s');
  });

  it('escapes names and drops control characters', () => {
    const hostile = barChart('a <b>\u001b', [{ name: '<script>\n"x"', color: '#000', value: 1 }], { yTitle: 'n', format: String });
    expect(hostile).not.toMatch(/<script|<b>|[\u0000-\u001f]/);
    expect(hostile).toContain('&lt;script&gt;\\n&quot;x&quot;');
  });

  it('says when there is nothing to draw', () => {
    expect(barChart('none', [{ name: 'a', color: '#000', value: undefined }], { yTitle: 'n', format: String })).toContain('no figures to compare');
    expect(barChart('none', [], { yTitle: 'n', format: String })).toContain('class="chart empty"');
  });
});

describe('binaryTicks', () => {
  it('steps in round KiB, MiB or GiB', () => {
    expect(binaryTicks(11_000)).toEqual([0, 2_560, 5_120, 7_680, 10_240, 12_800]);
    expect(binaryTicks(900)).toEqual([0, 200, 400, 600, 800, 1_000]);
    expect(binaryTicks(3 * 1024 ** 2)).toEqual([0, 1, 2, 3].map((v) => v * 1024 ** 2));
    expect(binaryTicks(0)).toEqual([0, 1024]);
  });
});

describe('saturationChart', () => {
  const lines: RateLine[] = [
    {
      name: 'bundled', color: '#0072B2', limit: 6_750,
      points: [
        { offered: 4_500, received: 22_500, held: true, note: 'held' },
        { offered: 2_000, received: 10_000, held: true, note: 'held' },
        { offered: 6_750, received: 33_750, held: true, note: 'held' },
        { offered: 10_125, received: 41_200, held: false, note: 'p99 120.4 ms > 50.0 ms' },
      ],
    },
    {
      name: 'mosquitto <2>', color: '#D55E00', limit: undefined,
      points: [{ offered: 2_000, received: 9_000, held: false, note: '12 lost' }],
    },
  ];
  const svg = saturationChart('paced: received against offered', lines);

  it('draws a line per broker in offered order, held dots filled and failed ones hollow', () => {
    expect(svg.match(/<polyline/g)).toHaveLength(1);
    const xs = svg.match(/<polyline[^>]*points="([^"]+)"/)![1].split(' ').map((p) => Number(p.split(',')[0]));
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(svg.match(/class="held"/g)).toHaveLength(3);
    expect(svg.match(/<circle class="failed"[^>]*fill="none"/g)).toHaveLength(2);
    expect(svg).toContain('<title>bundled: p99 120.4 ms &gt; 50.0 ms</title>');
  });

  it('marks each sustained rate and names it', () => {
    expect(svg.match(/class="limit"/g)).toHaveLength(1);
    expect(svg).toContain('bundled: highest sustained rate 6,750/s');
    expect(svg).toContain('>bundled 6,750/s</text>');
    expect(svg).toContain('mosquitto &lt;2&gt;');
  });

  it('says when there is nothing to draw', () => {
    expect(saturationChart('none', [{ name: 'a', color: '#000', limit: undefined, points: [] }])).toContain('no saturation steps');
  });
});
