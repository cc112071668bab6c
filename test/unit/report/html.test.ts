import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../../src/report/html.js';
import { emptyResult, fanoutResult, HOSTILE_ID } from './fixture.js';

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', '!DOCTYPE']);

/** Checks that tags nest properly (SVG children self-close), returning the first problem found. */
function nestingProblem(html: string): string | undefined {
  const stack: string[] = [];
  const body = html.replace(/<style>[\s\S]*?<\/style>/, '');
  for (const m of body.matchAll(/<(\/?)([!A-Za-z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (VOID.has(name) || selfClosing === '/') continue;
    if (closing === '') stack.push(name);
    else if (stack.pop() !== name) return `</${name}> at ${m.index}`;
  }
  return stack.length > 0 ? `unclosed ${stack.join(' ')}` : undefined;
}

describe('renderHtml', () => {
  const html = renderHtml(fanoutResult());

  it('is one well-nested document', () => {
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html.match(/<html/g)).toHaveLength(1);
    expect(html.match(/<body/g)).toHaveLength(1);
    expect(nestingProblem(html)).toBeUndefined();
  });

  it('refers to nothing outside itself and runs no script', () => {
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<script\b/i);
    expect(html).not.toMatch(/<(img|iframe|object|embed|audio|video|source)\b/i);
    expect(html).not.toMatch(/\bsrc\s*=/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/@import/i);
    expect(html).not.toMatch(/https?:\/\//i);
    for (const m of html.matchAll(/\bhref="([^"]*)"/g)) expect(m[1]).toMatch(/^#[a-z]+$/);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
  });

  it('escapes a hostile client id, topic and error detail', () => {
    expect(html).not.toContain(HOSTILE_ID);
    expect(html).toContain('<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>');
    expect(html).toContain('<code>bench/a|b,&quot;c&quot;</code>');
    expect(html).toContain('closed by the broker\\nafter &quot;another&quot; &lt;client&gt;');
    const r = fanoutResult();
    r.scenario.name = '"><svg onload=alert(1)>';
    r.notes = ['<img src=x onerror=alert(1)>'];
    const hostile = renderHtml(r);
    expect(hostile).not.toMatch(/<svg onload|<img/);
    expect(hostile).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(nestingProblem(hostile)).toBeUndefined();
  });

  it('states the verdict and the same numbers as the other reports', () => {
    expect(html).toContain('<title>mqbench: qos1-fanout (FAILED)</title>');
    expect(html).toContain('<p class="word"><strong>FAILED</strong> 1 of 2 thresholds failed</p>');
    expect(html).toContain('<li>threshold failed: lost = 22, limit == 0</li>');
    expect(html).toContain('<td class="num">4.21 ms</td><td class="num">12.3 ms</td><td class="num">1,234 ms</td>');
    expect(html).toContain('<li class="broken">QoS 1 promise BROKEN: 12 acknowledged messages lost</li>');
    expect(html).toContain('<dt>e2e</dt><dd>send time in the payload to arrival at a subscriber, live messages only</dd>');
    expect(html).toContain('<strong>49,993/s</strong>');
    expect(html).toContain('<span class="fail">FAIL</span></td><td><code>lost == 0</code></td><td>lost = 22, limit == 0</td>');
    expect(html).not.toMatch(/NaN|undefined/);
  });

  it('draws an SVG per chart', () => {
    const labels = [...html.matchAll(/<svg class="chart[^"]*"[^>]*aria-label="([^"]*)"/g)].map((m) => m[1]);
    expect(labels).toEqual([
      'Messages per second',
      'Open connections',
      'Latency percentiles: all clients',
      'Latency percentiles: group publishers',
      'Latency percentiles: group subscribers',
      'Errors per second by kind',
      'Subscriber latency per interval: subscribers',
    ]);
    expect(html.match(/<svg\b/g)).toHaveLength(labels.length);
    expect(html.match(/<\/svg>/g)).toHaveLength(labels.length);
  });

  it('plots percentiles on the nines axis, one line per latency kind', () => {
    const chart = /<svg[^>]*aria-label="Latency percentiles: all clients"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
    for (const tick of ['0%', '90%', '99%', '99.9%', '99.99%', 'max']) expect(chart).toContain(`>${tick}</text>`);
    expect(chart.match(/<polyline/g)).toHaveLength(3);
    for (const kind of ['connect', 'publish', 'e2e']) expect(chart).toContain(`>${kind}</text>`);
    expect(chart).toContain('<title>e2e: 99.9% at or below 12.3 ms</title>');
    expect(chart).toContain('latency (ms, log scale)');
  });

  it('plots throughput per second from the series', () => {
    const chart = /<svg[^>]*aria-label="Messages per second"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
    expect(chart.match(/<polyline/g)).toHaveLength(2);
    expect(chart).toContain('<title>second 2: sent/s 5,000 · received/s 50,000</title>');
  });

  it('renders a run with nothing in it', () => {
    const empty = renderHtml(emptyResult());
    expect(nestingProblem(empty)).toBeUndefined();
    expect(empty).toContain('<strong>PASSED</strong> no thresholds were set');
    expect(empty).toContain('<p>No latency samples.</p>');
    expect(empty).not.toMatch(/NaN|undefined|Infinity/);
  });
});
