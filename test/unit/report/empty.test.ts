import { describe, expect, it } from 'vitest';
import { renderSummary } from '../../../src/report/console.js';
import { hgrmFiles } from '../../../src/report/hgrm.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderJson } from '../../../src/report/json.js';
import { JTL_HEADER, renderJtl } from '../../../src/report/jtl.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import { renderProgressLine, renderProgressLog } from '../../../src/report/progress.js';
import { LatencyHistogram } from '../../../src/metrics/histogram.js';
import { emptyResult, fanoutResult, latency } from './fixture.js';

const JUNK = /NaN|undefined|Infinity|\[object Object\]/;

describe('a run with nothing in it', () => {
  it('renders every report without throwing, saying "none" rather than printing junk', () => {
    const r = emptyResult();
    const md = renderMarkdown(r);
    const summary = renderSummary(r, { color: false });
    for (const text of [md, summary, renderHtml(r), renderJson(r)]) expect(text).not.toMatch(JUNK);
    expect(md).toContain('No latency samples.');
    expect(md).toContain('## Errors\n\nNone.');
    expect(md).toContain('## Thresholds\n\nNone set.');
    expect(summary).toContain('errors    none');
    expect(summary).toContain('latency   no samples');
    expect(summary.trimEnd().endsWith('PASSED  no thresholds were set')).toBe(true);
    expect(renderJtl([])).toBe(JTL_HEADER);
    expect(hgrmFiles({ e2e: new LatencyHistogram() })).toEqual([]);
  });

  it('copes with groups that have no samples and latency summaries with a count of 0', () => {
    const r = fanoutResult();
    r.latency = { e2e: latency({ count: 0 }) };
    r.curves = { run: { e2e: [] }, groups: { publishers: {} } };
    for (const g of r.groups) {
      g.latency = {};
      g.intervals = [];
    }
    r.series = { seconds: 0, counters: emptyResult().series.counters, gauges: { connectionsOpen: [], inflight: [] }, errors: {} };
    for (const text of [renderMarkdown(r), renderSummary(r, { color: true }), renderHtml(r)]) expect(text).not.toMatch(JUNK);
    expect(renderHtml(r)).toContain('<p>No latency samples.</p>');
  });

  it('prints n/a rather than NaN for a progress view with missing numbers', () => {
    const view = { elapsedSec: Number.NaN, connected: 0, clients: 0, sentPerSec: Number.NaN, receivedPerSec: 0, errors: 0, p99Us: undefined };
    expect(renderProgressLine(view)).not.toMatch(JUNK);
    expect(renderProgressLog(view)).toBe('elapsed=n/a connected=0/0 sent=n/a received=0/s errors=0 e2e_p99=n/a');
  });
});
