import { describe, expect, it } from 'vitest';
import { renderSummary } from '../../../src/report/console.js';
import { verdictOf } from '../../../src/report/facts.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderJson } from '../../../src/report/json.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import { brokerLostResult, faultsResult, fanoutResult } from './fixture.js';

function text(html: string): string {
  return html.replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}

describe('broker faults in the reports', () => {
  const r = faultsResult();

  it('the console names each fault, how the broker ended, when it was back, and per QoS what was lost of what', () => {
    const out = renderSummary(r);
    expect(out).toContain('faults    1 kill-broker (SIGKILL) at 2.0 s: the broker was killed by SIGKILL, back after 67 ms\n');
    expect(out).toContain('            acknowledged then lost: QoS 1 65 of 220, QoS 2 75 of 220 · duplicated after: QoS 1 33, QoS 2 11\n');
    expect(out).toContain('          2 restart-broker (SIGTERM) at 3.0 s: the broker exited with code 0, back after 67 ms\n');
    expect(out).toContain('            acknowledged then lost: QoS 1 0 of 100 · no duplicates after\n');
    expect(out).toContain('          3 kill-broker (SIGKILL) at 3.9 s: did not happen, the run ended first\n');
  });

  it('report.md and report.html have a faults section with one row per fault and QoS level', () => {
    const md = renderMarkdown(r);
    expect(md).toContain('## Faults');
    expect(md).toContain('1. Kill-broker (SIGKILL) at 2.0 s: the broker was killed by SIGKILL, back after 67 ms.');
    expect(md).toContain('| 1 | kill-broker | QoS 1 | 220 | **65** | 33 |');
    expect(md).toContain('| 1 | kill-broker | QoS 2 | 220 | **75** | 11 |');
    expect(md).toContain('| 2 | restart-broker | QoS 1 | 100 | 0 | 0 |');
    expect(md).toContain('| 3 | kill-broker | – | 0 | 0 | 0 |');
    const html = renderHtml(r);
    expect(html).toContain('<a href="#faults">Faults</a>');
    expect(text(html)).toContain('1 kill-broker QoS 1 220 65 33');
    expect(text(html)).toContain('Acknowledged then lost: messages the broker had acknowledged');
    expect(JSON.parse(renderJson(r)).faults[0].delivery.qos2).toEqual({ acknowledged: 220, lostAcknowledged: 75, duplicated: 11 });
  });

  it('warns about each fault that lost acknowledged messages', () => {
    expect(verdictOf(r).warnings).toContain('fault 1 (kill-broker): 140 acknowledged messages lost across it');
    expect(verdictOf(r).warnings.filter((w) => w.startsWith('fault'))).toHaveLength(1);
  });

  it('a broker that did not come back fails the run with the reason', () => {
    const lost = brokerLostResult();
    const v = verdictOf(lost);
    expect(v.passed).toBe(false);
    expect(v.summary).toBe('the broker did not come back after a fault');
    expect(v.reasons[0]).toMatch(/^the broker did not come back within 2 s after fault 1 \(kill-broker\)/);
    expect(renderSummary(lost)).toMatch(/the broker was killed by SIGKILL; the broker did not come back within 2 s/);
    expect(renderMarkdown(lost)).toContain('| stopped by | the broker did not come back after a fault |');
  });

  it('a run without faults has no faults section', () => {
    const plain = fanoutResult();
    expect(renderMarkdown(plain)).not.toContain('## Faults');
    expect(renderHtml(plain)).not.toContain('id="faults"');
    expect(renderSummary(plain)).not.toMatch(/^faults/m);
  });
});
