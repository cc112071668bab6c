import { describe, expect, it } from 'vitest';
import { renderSummary } from '../../../src/report/console.js';
import { fanoutResult } from './fixture.js';

const ANSI = /\u001b\[/;

describe('renderSummary', () => {
  const text = renderSummary(fanoutResult(), { color: false });
  const lines = text.trimEnd().split('\n');

  it('ends with the verdict and each failed threshold', () => {
    expect(lines.slice(-2)).toEqual(['FAILED  1 of 2 thresholds failed', '  ✗ lost = 22, limit == 0']);
  });

  it('shows the run, messages, delivery and errors', () => {
    expect(text).toContain('target    bundled mqtt://127.0.0.1:40123 (MQTT 5)');
    expect(text).toContain('messages  sent 15,000 (5,000/s over 3.0 s) · received 149,980 (49,993/s over 3.0 s)');
    expect(text).toContain('delivery  lost 22 · duplicated 2 · out of order 1 · 1,000 streams');
    expect(text).toContain('          QoS 1 promise BROKEN: 12 acknowledged messages lost');
    expect(text).toContain('errors    4: connect-refused 3 · takeover 1');
  });

  it('aligns a latency table in ms', () => {
    const header = lines.find((l) => l.startsWith('latency (ms)'));
    const e2e = lines.find((l) => /^\s+e2e\s/.test(l));
    expect(header).toBeDefined();
    expect(e2e).toBeDefined();
    const columns = (line: string): string[] => line.trim().split(/\s{2,}/);
    expect(columns(e2e ?? '').slice(-8)).toEqual(['149,980', '0.080', '0.42', '1.80', '2.60', '4.21', '12.3', '1,234']);
    // Right-aligned: every number column ends where its header ends.
    const end = (line: string, token: string): number => line.indexOf(token) + token.length;
    expect(end(e2e ?? '', '1,234')).toBe(header?.length);
    expect(end(e2e ?? '', '4.21')).toBe(end(header ?? '', '  p99 ') - 1);
  });

  it('prints no colour codes unless asked, and colours the verdict when asked', () => {
    expect(text).not.toMatch(ANSI);
    const colored = renderSummary(fanoutResult(), { color: true });
    expect(colored).toMatch(ANSI);
    expect(colored).toContain('\u001b[31m\u001b[1mFAILED\u001b[0m\u001b[0m');
    expect(colored.replace(/\u001b\[\d+m/g, '')).toBe(text);
  });

  it('says PASSED and why when every threshold held', () => {
    const r = fanoutResult();
    r.thresholds = r.thresholds.filter((t) => t.passed);
    r.passed = true;
    const out = renderSummary(r, { color: false }).trimEnd().split('\n');
    expect(out[out.length - 1]).toBe('PASSED  every threshold held (1 of 1)');
  });

  it('lists an interruption as a reason', () => {
    const r = fanoutResult();
    r.stoppedBy = 'interrupted';
    const out = renderSummary(r, { color: false }).trimEnd().split('\n');
    expect(out.slice(-3)).toEqual([
      'FAILED  interrupted; 1 of 2 thresholds failed',
      '  ✗ the run was interrupted before it ended',
      '  ✗ lost = 22, limit == 0',
    ]);
  });

  it('cannot be steered by control characters in run data', () => {
    const r = fanoutResult();
    r.notes = ['bad\u001b[2Jnote\nsecond line'];
    r.takeovers.clientIds = ['id\rwith\u0007bell'];
    const out = renderSummary(r, { color: false });
    expect(out).not.toMatch(ANSI);
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(out).toContain('note  bad\\x1b[2Jnote\\nsecond line');
    expect(out).toContain('takeovers 1 (id\\rwith\\x07bell)');
  });
});
