import { describe, expect, it } from 'vitest';
import { renderSummary } from '../../../src/report/console.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderJson } from '../../../src/report/json.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import { fanoutResult, slowConsumerResult } from './fixture.js';

describe('queue depth in the reports', () => {
  const r = slowConsumerResult();

  it('names the peak, when, who, and where it ended, in every report', () => {
    const line = 'up to 215 behind at the end of second 1 (laggard); 0 at the end (1 subscriber)';
    expect(renderSummary(r)).toContain(`backlog   laggard: ${line}`);
    expect(renderMarkdown(r)).toContain('Up to 215 behind at the end of second 1 (laggard); 0 at the end (1 subscriber).');
    expect(renderHtml(r)).toContain('Up to 215 behind at the end of second 1 (laggard); 0 at the end (1 subscriber).');
  });

  it('gives the series second by second: a table in report.md, a chart in report.html, the arrays in summary.json', () => {
    const text = renderMarkdown(r);
    expect(text).toContain('| second | behind (all subscribers) | most behind (one subscriber) |');
    expect(text).toContain('| 1 | 215 | 215 |');
    expect(renderHtml(r)).toContain('aria-label="Queue depth: laggard"');
    const json = JSON.parse(renderJson(r));
    expect(json.groups[0].queueDepth.total).toEqual([104, 215, 0, 0]);
  });

  it('leaves a message or two in transit at the end of a second out of the console summary, not out of report.md', () => {
    const quick = slowConsumerResult();
    const g = quick.groups[0];
    g.totals.receivedPerSec = 300;
    g.queueDepth = { subscribers: 2, seconds: 3, total: [2, 1, 0], max: [1, 1, 0], worst: [{ clientId: 'sub-0', peak: 1, behind: [1, 1, 0] }] };
    expect(renderSummary(quick)).not.toContain('backlog');
    expect(renderMarkdown(quick)).toContain('Up to 1 behind at the end of second 0 (sub-0); 0 at the end (2 subscribers).');
  });

  it('says so when nothing could be followed', () => {
    expect(renderMarkdown(fanoutResult())).toContain('## Queue depth\n\nNone: no subscriber had a stream to follow.');
    expect(renderSummary(fanoutResult())).not.toContain('backlog');
  });
});
