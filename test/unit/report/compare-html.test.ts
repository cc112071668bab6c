import { describe, expect, it } from 'vitest';
import { renderCompareHtml } from '../../../src/report/compare-html.js';
import { compareResult, HOSTILE_DESCRIPTION } from './compare-fixture.js';

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

/** One scenario's section. */
function section(html: string, id: string): string {
  const m = html.match(new RegExp(`<section id="${id}">[\\s\\S]*?\\n</section>`));
  expect(m, id).not.toBeNull();
  return m![0];
}

/** The cells of the table row whose first cell ends with `broker`, tags stripped. */
function rowCells(html: string, broker: string): string[] {
  for (const m of html.matchAll(/<tr>([\s\S]*?)<\/tr>/g)) {
    const cells = [...m[1].matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => c[1].replace(/<[^>]+>/g, ''));
    if (cells.length > 0 && cells[0] === broker) return cells;
  }
  throw new Error(`no row for ${broker}`);
}

describe('renderCompareHtml', () => {
  const html = renderCompareHtml(compareResult());

  it('is one well-nested document', () => {
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html.match(/<body/g)).toHaveLength(1);
    expect(nestingProblem(html)).toBeUndefined();
  });

  it('refers to nothing outside itself and runs no script', () => {
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<script\b/i);
    expect(html).not.toMatch(/<(img|iframe|object|embed|audio|video|source)\b/i);
    // Inside tags only: the hostile label's "src=" is text, and escaped.
    expect(html).not.toMatch(/<[^>]*\bsrc\s*=/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/@import/i);
    expect(html).not.toMatch(/<[^>]*\bon\w+\s*=/i);
    for (const m of html.matchAll(/\bhref="([^"]*)"/g)) expect(m[1]).toMatch(/^#[a-z0-9-]+$/);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
  });

  it('escapes a hostile broker label and description everywhere, charts included', () => {
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(html).toContain('mqtt://evil&lt;img src=x onerror=alert(1)&gt;|**x**\\x1b[31m\\n# h');
    expect(html).toContain(`<p class="description">Clients connect and leave &lt;b&gt;as fast as&lt;/b&gt; | the broker &quot;allows&quot;</p>`);
    expect(HOSTILE_DESCRIPTION).toContain('<b>');
    const r = compareResult();
    r.scenarios[0].scenario = '"><svg onload=alert(1)>';
    r.command = 'mqbench compare </code><script>alert(1)</script>';
    const hostile = renderCompareHtml(r);
    expect(hostile).not.toMatch(/<svg onload|<script/);
    expect(nestingProblem(hostile)).toBeUndefined();
  });

  it('draws a bar chart of the measure for every scenario, and overlaid latency curves where there is latency', () => {
    const ids = compareResult().scenarios.map((_, i) => `scenario-${i}`);
    for (const id of ids) expect(section(html, id).match(/<svg class="chart"/g)?.length ?? 0).toBeGreaterThanOrEqual(1);
    const fanout = section(html, 'scenario-0');
    expect(fanout).toContain('aria-label="fanout-qos1: messages received per second per broker"');
    expect(fanout).toContain('<title>bundled: 50,000 msg/s (min 49,200 msg/s, max 50,400 msg/s)</title>');
    expect(fanout).toContain('aria-label="fanout-qos1: end-to-end latency by percentile"');
    // One curve per broker with latency, in the broker's colour in every chart.
    expect(fanout.match(/<polyline/g)).toHaveLength(4);
    expect(fanout).toContain('stroke="#D55E00" stroke-width="2"');
    const connect = section(html, 'scenario-1');
    expect(connect).not.toContain('end-to-end latency by percentile');
    expect(connect).toContain('No end-to-end latency in this scenario');
    const idle = section(html, 'scenario-2');
    expect(idle).toContain('<title>bundled: 3.0 KiB (min 2.9 KiB, max 3.3 KiB)</title>');
    expect(idle).toContain('>10 KiB</text>');
  });

  it('has a table like the console’s, with ratios and n/a for missing process figures', () => {
    const fanout = section(html, 'scenario-0');
    expect(rowCells(fanout, 'mosquitto 2.0.11')).toEqual([
      'mosquitto 2.0.11', '5,889', '5,700–6,010', '12.4 ms', '48.0 ms', '95.5 ms', '0', '12', '9.98 s', '590', '7.0 MiB', '8.49×',
    ]);
    expect(rowCells(fanout, 'bundled').at(-1)).toBe('–');
    const remote = rowCells(fanout, 'mqtt://evil&lt;img src=x onerror=alert(1)&gt;|**x**\\x1b[31m\\n# h');
    expect(remote.slice(8)).toEqual(['n/a', 'n/a', 'n/a', '2.50×']);
    expect(fanout).toContain('<li>bundled ÷ mosquitto 2.0.11: <strong>8.49×</strong></li>');
    const idle = section(html, 'scenario-2');
    expect(idle).toContain('<th class="num">this ÷ bundled</th>');
    expect(idle).toContain('<li>mosquitto 2.0.11 ÷ bundled: <strong>0.33×</strong></li>');
    expect(html).not.toMatch(/NaN|undefined|Infinity|>null</);
  });

  it('draws saturation as received against offered per broker with the limit marked', () => {
    const s = section(html, 'saturation');
    expect(s.match(/<svg class="chart"/g)).toHaveLength(1);
    expect(s.match(/class="limit"/g)).toHaveLength(2);
    expect(s).toContain('bundled: highest sustained rate 6,750/s');
    expect(s).toContain('mosquitto 2.0.11: highest sustained rate 3,000/s');
    expect(rowCells(s, 'bundled').slice(0, 5)).toEqual(['bundled', '6,750/s', '10,125/s', 'p99 120.4 ms &gt; 50.0 ms', '5']);
    expect(s).toContain('did not hold</span>: p99 88.0 ms &gt; 50.0 ms, 12 lost');
  });

  it('describes the machine, the brokers and the command', () => {
    const m = section(html, 'machine');
    expect(m).toContain('<dt>CPU</dt><dd>2 cores, Intel(R) Xeon(R) CPU @ 2.20GHz</dd>');
    expect(m).toContain('<dt>memory</dt><dd>7.8 GiB</dd>');
    expect(m).toContain('<dt>Node</dt><dd>v20.19.0</dd>');
    expect(m).toContain('<code>mqbench compare scenarios/fanout-qos1.yaml');
    expect(rowCells(m, 'mosquitto 2.0.11').slice(1)).toEqual(['mosquitto', '2.0.11', 'mqtt://127.0.0.1:41884', 'measured (started by mqbench)']);
  });

  it('leaves out the saturation section when there was no search, and copes with nothing at all', () => {
    const r = compareResult();
    r.saturation = [];
    const plain = renderCompareHtml(r);
    expect(plain).not.toContain('id="saturation"');
    expect(plain).not.toContain('href="#saturation"');
    r.scenarios = [];
    r.brokers = [];
    r.runs = [];
    const empty = renderCompareHtml(r);
    expect(empty).toContain('<p>No scenario was compared.</p>');
    expect(nestingProblem(empty)).toBeUndefined();
  });
});

describe('incidents in compare.html', () => {
  it('have a section and a link of their own, escaped, only when there are some', () => {
    const r = compareResult();
    const html = renderCompareHtml(r);
    expect(html).toContain('<a href="#incidents">Incidents</a>');
    expect(html).toContain('<li class="fail">connect-storm, aedes 1.2.0, round 2: aedes 1.2.0 exited during the run (last output: RangeError: Maximum call stack size exceeded &lt;stack&gt;)</li>');
    r.incidents = [];
    expect(renderCompareHtml(r)).not.toContain('id="incidents"');
  });
});
