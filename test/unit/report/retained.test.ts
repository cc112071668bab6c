import { describe, expect, it } from 'vitest';
import { renderSummary } from '../../../src/report/console.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import { fanoutResult, retainedResult } from './fixture.js';

/** Markup out, entities decoded: the sentences a reader sees. */
function text(html: string): string {
  return html.replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}

describe('retained copies in the reports', () => {
  const r = retainedResult();

  it('are named with their count and age, and the delivery line does not contradict them', () => {
    for (const out of [renderSummary(r), renderMarkdown(r), text(renderHtml(r))]) {
      expect(out).toMatch(/50 (retained )?copies sent on SUBSCRIBE, counted apart from live deliveries: age p50 992 ms, max 999 ms/);
      expect(out).toMatch(/no live message was expected or received/i);
      expect(out).not.toMatch(/no stream was received/i);
    }
  });

  it('are a kind of their own in the headline: no rate is made of them', () => {
    expect(renderSummary(r)).toContain('messages  sent 20 (7.6/s over 2.5 s) · received 0 + 50 retained copies');
    expect(renderMarkdown(r)).toContain('Received **0 + 50 retained copies**.');
  });

  it('have their own latency row and no e2e row', () => {
    const console = renderSummary(r);
    expect(console).toMatch(/^\s*all clients\s+retained\s+50\s/m);
    expect(console).not.toMatch(/\se2e\s/);
    expect(renderMarkdown(r)).toContain('- **retained**: age of a retained copy a SUBSCRIBE brought');
  });

  it('say nothing when there were none', () => {
    expect(renderSummary(fanoutResult())).not.toMatch(/retained/);
  });
});
