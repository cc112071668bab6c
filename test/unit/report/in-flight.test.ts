import { describe, expect, it } from 'vitest';
import { renderSummary } from '../../../src/report/console.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import { fanoutResult, interruptedResult } from './fixture.js';

function text(html: string): string {
  return html.replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}

describe('in flight at stop in the reports', () => {
  const r = interruptedResult();

  it('is shown in every report and never called lost or a broken promise', () => {
    const console = renderSummary(r);
    expect(console).toContain('delivery  lost 0 · duplicated 0 · out of order 0 · in flight at stop 863 · 1 stream');
    for (const out of [console, renderMarkdown(r), text(renderHtml(r))]) {
      expect(out).toContain('QoS 1 promise held: nothing acknowledged was lost (863 in flight at stop, not judged)');
      expect(out).not.toMatch(/BROKEN/);
    }
    expect(renderMarkdown(r)).toContain('0 lost, 0 duplicated, 0 out of order, 863 in flight at stop');
    expect(renderMarkdown(r)).toMatch(/\| lost \(acknowledged\) \| in flight at stop \|/);
    expect(text(renderHtml(r))).toContain('in flight at stop');
  });

  it('is left out of the tables of a run that completed', () => {
    const done = fanoutResult();
    expect(renderMarkdown(done)).not.toContain('in flight at stop');
    expect(renderSummary(done)).not.toContain('in flight at stop');
  });
});
