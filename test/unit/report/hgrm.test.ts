import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/metrics/histogram.js';
import { hgrmFiles, safeStem } from '../../../src/report/hgrm.js';

function histogram(values: number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  return h;
}

const SAFE = /^[A-Za-z0-9_][A-Za-z0-9._-]*\.hgrm$/;

describe('hgrmFiles', () => {
  it('writes one percentile distribution per non-empty histogram, in µs', () => {
    const files = hgrmFiles(
      new Map([
        ['e2e', histogram([100, 200, 300, 4_000])],
        ['connect', new LatencyHistogram()],
        ['publishers.e2e', histogram([150])],
      ]),
    );
    expect(files.map((f) => f.fileName)).toEqual(['e2e.hgrm', 'publishers.e2e.hgrm']);
    const [e2e] = files;
    expect(e2e.text).toMatch(/^\s*Value\s+Percentile\s+TotalCount\s+1\/\(1-Percentile\)/);
    expect(e2e.text).toContain('#[Unit    = microseconds]');
    expect(e2e.text).toMatch(/#\[Max\s+=\s+4\d{3}(\.0+)?,\s+Total count\s+=\s+4\]/);
  });

  it('accepts a plain object too', () => {
    expect(hgrmFiles({ e2e: histogram([1]) }).map((f) => f.fileName)).toEqual(['e2e.hgrm']);
  });

  it('makes any group name a safe, distinct file name', () => {
    const names = [
      '../../etc/passwd', 'a/b\\c', 'CON', 'con.e2e', '.hidden', 'sp ace', 'E2E', 'e2e', 'x'.repeat(400), '', '…', 'grüße.e2e',
      'trailing.', 'a..b',
    ];
    const files = hgrmFiles(new Map(names.map((n) => [n, histogram([5])])));
    expect(files).toHaveLength(names.length);
    const lower = new Set<string>();
    for (const f of files) {
      expect(f.fileName, f.fileName).toMatch(SAFE);
      expect(f.fileName).not.toContain('..');
      expect(f.fileName.length).toBeLessThanOrEqual(130);
      expect(/^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i.test(f.fileName)).toBe(false);
      lower.add(f.fileName.toLowerCase());
    }
    expect(lower.size).toBe(files.length);
    expect(files.find((f) => f.fileName.startsWith('E2E'))?.fileName).toBe('E2E.hgrm');
    expect(files.find((f) => f.fileName.startsWith('e2e'))?.fileName).toBe('e2e-2.hgrm');
  });

  it('keeps ordinary names as they are', () => {
    expect(safeStem('publishers.e2e')).toBe('publishers.e2e');
    expect(safeStem('group_1-a.connect')).toBe('group_1-a.connect');
    expect(safeStem('../x')).toBe('_x');
    expect(safeStem('')).toBe('histogram');
  });
});
