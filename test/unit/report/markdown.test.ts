import { describe, expect, it } from 'vitest';
import { code, md, mdStart, renderMarkdown } from '../../../src/report/markdown.js';
import { fanoutResult, HOSTILE_ID } from './fixture.js';

/** Cells of a GFM table row: split on pipes that are not escaped. */
function cells(row: string): string[] {
  return row.slice(1, -1).split(/(?<!\\)\|/);
}

describe('renderMarkdown', () => {
  const text = renderMarkdown(fanoutResult());

  it('opens with the verdict and why', () => {
    expect(text.startsWith('# mqbench report: qos1-fanout\n')).toBe(true);
    expect(text).toContain('## Verdict\n\n**FAILED**: 1 of 2 thresholds failed\n\n- threshold failed: lost = 22, limit == 0\n');
    expect(text.indexOf('## Verdict')).toBeLessThan(text.indexOf('## Run'));
  });

  it('states the run facts and throughput', () => {
    expect(text).toContain('| target | bundled mqtt://127.0.0.1:40123 (MQTT 5) |');
    expect(text).toContain('| clients | 110 (3 gave up) |');
    expect(text).toContain('Sent **15,000 (5,000/s over 3.0 s)**, from 1.000 s to 4.000 s of the run.');
    expect(text).toContain('Received **149,980 (49,993/s over 3.0 s)**');
    expect(text).toContain('from the first to the last message of that kind');
    expect(text).toContain('| bytes received | 9.2 MiB (9,598,720) |');
    expect(text).toContain('| subscribers | 100 | 0 | 149,980 | – | 49,993/s | 4 |');
  });

  it('has a latency table in ms with what each latency measures', () => {
    expect(text).toContain(
      '| all clients | e2e | 149,980 | 0.080 ms | 0.42 ms | 1.80 ms | 2.60 ms | 4.21 ms | 12.3 ms | 1,234 ms | 0.61 ms |',
    );
    expect(text).toContain('| publishers | publish | 15,000 | 0.15 ms | 0.60 ms |');
    expect(text).toContain('- **e2e**: send time in the payload to arrival at a subscriber');
    expect(text).toContain('- **connect**: socket open to CONNACK');
  });

  it('accounts for delivery with the QoS verdicts', () => {
    expect(text).toContain('Received 149,980 over 1,000 receiver-stream pairs: 22 lost, 2 duplicated, 1 out of order.');
    expect(text).toContain('- **QoS 1 promise BROKEN: 12 acknowledged messages lost**');
    expect(text).toContain('| QoS 1 | 1,000 | 150,000 | 149,990 | 149,980 | 22 | 12 | 2 | 1 | 0 |');
    expect(text).toContain('2 streams lost, duplicated or reordered something:');
  });

  it('says when a QoS promise held', () => {
    const r = fanoutResult();
    r.delivery.verdicts = [{ qos: 1, held: true, detail: 'at least once: held', counts: r.delivery.total }];
    expect(renderMarkdown(r)).toContain('- QoS 1 promise held: nothing acknowledged was lost');
  });

  it('lists errors with examples, takeovers, notes, thresholds and intervals', () => {
    expect(text).toContain('| `connect-refused` | 3 |');
    expect(text).toContain('| `connect-refused` | `sub-101` | +0.012 s | ECONNREFUSED 127.0.0.1:40123 |');
    expect(text).toContain('1 takeover (a connection closed because another client connected with the same id)');
    expect(text).toContain('- sub-7 reconnected 3 times: its client id is shared with another client');
    expect(text).toContain('| **FAIL** | `lost == 0` | lost = 22, limit == 0 |');
    expect(text).toContain('| pass | `e2e.p99 < 20ms` | e2e.p99 = 4.21ms, limit &lt; 20ms |');
    expect(text).toContain('### subscribers (one row per 1s)');
    expect(text).toContain('| 0 | 39,000 | 0.080 ms | 0.40 ms | 1.70 ms | 4.00 ms | 9.00 ms | 0.60 ms |');
    expect(text).toContain('| 1 | 0 | – | – | – | – | – | – |');
  });

  it('keeps hostile values inside code spans and every table row the width of its header', () => {
    for (const line of text.split('\n')) {
      if (!line.includes('<script>')) continue;
      expect(line.replace(/`[^`]*`/g, '')).not.toContain('<');
    }
    expect(text).toContain(`\`${HOSTILE_ID}\``);
    expect(text).toContain('`bench/a\\|b,"c"`');
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^\| (---|---:)( \| (---|---:))* \|$/.test(lines[i])) continue;
      const width = cells(lines[i - 1]).length;
      for (let j = i + 1; j < lines.length && lines[j].startsWith('|'); j++) expect(cells(lines[j]), lines[j]).toHaveLength(width);
    }
    expect(text).not.toMatch(/NaN|undefined/);
  });
});

describe('Markdown escaping', () => {
  it('makes text inert', () => {
    expect(md('<b>x</b> & y')).toBe('&lt;b&gt;x&lt;/b&gt; &amp; y');
    expect(md('a|b *c* _d_ [e](f) `g`')).toBe('a\\|b \\*c\\* \\_d\\_ \\[e\\](f) \\`g\\`');
    expect(md('line\nbreak')).toBe('line\\\\nbreak');
    expect(mdStart('# not a heading')).toBe('\\# not a heading');
    expect(mdStart('1. not a list')).toBe('1\\. not a list');
    expect(md('version 0.1.0')).toBe('version 0.1.0');
  });

  it('fences code spans around backticks', () => {
    expect(code('plain')).toBe('`plain`');
    expect(code('a`b')).toBe('``a`b``');
    expect(code('`x')).toBe('`` `x ``');
    expect(code('a|b')).toBe('`a\\|b`');
  });
});
