import { describe, expect, it } from 'vitest';
import type { MqttVersion } from '../../../src/conformance/statements.js';
import { renderConformanceMatrix } from '../../../src/report/conformance-matrix.js';
import type { ConformanceReport } from '../../../src/report/conformance-model.js';
import {
  conformanceReport,
  EMPTY_SUBSCRIBE_DEVIATION,
  HOSTILE_MESSAGE,
  MOSQUITTO,
  QOS_BITS_DEVIATION,
  unreachableRun,
} from './conformance-fixture.js';

/** The distinct statements of a version the runs report, as the matrix must list them. */
function statementIds(report: ConformanceReport, version: MqttVersion): string[] {
  return [...new Set(report.runs.flatMap((r) => r.statements.filter((s) => s.version === version).map((s) => s.id)))];
}

/** Splits a GFM table row on the pipes that are not escaped. */
function cells(line: string): string[] {
  return line
    .slice(2, -2)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** The rows (header first, rule skipped) of the first table after `heading`. */
function tableAfter(md: string, heading: string): string[][] {
  const lines = md.split('\n');
  let i = lines.indexOf(heading);
  expect(i).toBeGreaterThanOrEqual(0);
  while (!lines[i].startsWith('|')) i++;
  const rows: string[][] = [];
  for (; i < lines.length && lines[i].startsWith('|'); i++) rows.push(cells(lines[i]));
  return [rows[0], ...rows.slice(2)];
}

describe('renderConformanceMatrix, Markdown', () => {
  const report = conformanceReport();
  const md = renderConformanceMatrix(report, 'markdown');

  it('has one table per version: a row per statement, a column per broker', () => {
    for (const version of ['3.1.1', '5.0'] as const) {
      const [header, ...rows] = tableAfter(md, `## MQTT ${version}`);
      expect(header).toEqual([
        'Statement',
        'Requirement',
        'Chapter',
        MOSQUITTO,
        'mqtt://evil&lt;b&gt;&amp;"co"\\\\x07/&lt;/script&gt;',
        'Not checked because',
      ]);
      expect(rows.map((r) => r[0])).toEqual(statementIds(report, version).map((id) => `\`${id}\``));
      for (const r of rows) expect(r).toHaveLength(header.length);
    }
  });

  it('marks each cell by outcome, naming the failing checks', () => {
    const rows = new Map(tableAfter(md, '## MQTT 5.0').slice(1).map((r) => [r[0], r]));
    expect(rows.get('`MQTT-3.1.0-1`')?.slice(2, 5)).toEqual(['3.1 CONNECT', '✓', '✓']);
    expect(rows.get('`MQTT-3.3.1-4`')?.slice(3, 5)).toEqual(['✗ allowed: `5.0/3.3/qos-bits-11`', '✓']);
    expect(rows.get('`MQTT-3.8.3-3`')?.slice(3, 5)).toEqual(['✓', '✗ `5.0/3.8/no-local`']);
    expect(rows.get('`MQTT-3.8.3-4`')?.slice(3, 5)).toEqual(['–', '✓']);
    expect(rows.get('`MQTT-4.7.1-2`')?.slice(2, 5)).toEqual(['4.7 Topic names and topic filters', '! `5.0/4.7/hash-last`', '✓']);
    const notChecked = rows.get('`MQTT-3.1.2-20`');
    expect(notChecked?.slice(3)).toEqual(['·', '·', 'Obliges the client; the server side of keep alive is MQTT-3.1.2-22']);
    // A statement a check could cover but none does says so.
    expect(rows.get('`MQTT-3.3.1-2`')?.slice(3)).toEqual(['·', '·', 'no check covers it']);
    const v311 = new Map(tableAfter(md, '## MQTT 3.1.1').slice(1).map((r) => [r[0], r]));
    expect(v311.get('`MQTT-3.1.2-2`')?.slice(3, 5)).toEqual(['✗ `3.1.1/3.1/unsupported-level`', '✓']);
  });

  it('gives a verdict per broker, allowed failures apart', () => {
    const [header, ...rows] = tableAfter(md, '## Verdict');
    expect(header.slice(0, 2)).toEqual(['Broker', 'Verdict']);
    expect(rows[0].slice(0, 8)).toEqual([MOSQUITTO, '**DOES NOT CONFORM**: 1 check failed, 1 check errored', '11', '5', '1', '2', '2', '1']);
    expect(rows[1][1]).toBe('**DOES NOT CONFORM**: 2 checks failed');
  });

  it('lists the failed checks of each broker with messages, traces and the known deviations', () => {
    const failed = md.slice(md.indexOf('## Failed checks'));
    const mosquitto = failed.slice(failed.indexOf(`### ${MOSQUITTO}`), failed.indexOf('### mqtt://evil'));
    expect(mosquitto).toContain('- **✗ fail** `3.1.1/3.1/unsupported-level` \\[MQTT-3.1.2-2\\]');
    expect(mosquitto).toContain('  the broker accepted the session anyway');
    expect(mosquitto).toContain('  client 1 +3 ms received connack(rc=0 sp=0)');
    expect(mosquitto).toContain('- **✗ allowed failure** `5.0/3.3/qos-bits-11`');
    expect(mosquitto).toContain('- **! error** `5.0/4.7/hash-last`');
    const known = mosquitto.slice(mosquitto.indexOf(`#### Known deviations of ${MOSQUITTO}`));
    expect(known.split('\n').filter((l) => l.startsWith('- '))).toEqual([
      `- \`3.1.1/3.8/empty-subscribe\`: ${EMPTY_SUBSCRIBE_DEVIATION}`,
      '- `5.0/3.3/qos-bits-11`: Mosquitto closes the connection without sending DISCONNECT 0x81 &lt;Malformed Packet&gt;; the spec ' +
        'says it "MUST" send it &amp; then close.',
    ]);
    // A deviation whose check passed explains nothing here.
    expect(md).not.toContain('Mosquitto 1.x delivered');
    expect(failed).not.toContain('#### Known deviations of mqtt://evil');
  });

  it('keeps a hostile message inside a fence it cannot close, with control characters escaped', () => {
    const start = md.indexOf('`3.1.1/3.1/second-connect` \\[MQTT-3.1.0-2\\]');
    const block = md.slice(start, md.indexOf('\n\n- ', start));
    expect(block).toContain('  ```text\n  expected <connack rc="0"> & a "close"\\x00 got \\x1b[31mnothing\\x07\\x0c');
    expect(md).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    const fenced = conformanceReport();
    fenced.runs[1].checks[1].message = 'a ``` b ```` c';
    const out = renderConformanceMatrix(fenced, 'markdown');
    expect(out).toContain('  `````text\n  a ``` b ```` c');
    expect(HOSTILE_MESSAGE).toContain('<connack');
  });

  it('says an unreachable broker was unreachable instead of listing its checks', () => {
    const r = conformanceReport();
    r.runs.push(unreachableRun());
    const out = renderConformanceMatrix(r, 'markdown');
    expect(out).toContain('### mqtt://127.0.0.1:1883\n\nUnreachable: cannot connect: ECONNREFUSED 127.0.0.1:1883\n');
    expect(tableAfter(out, '## MQTT 3.1.1')[0]).toHaveLength(7);
  });
});

const VOID = new Set(['meta', '!DOCTYPE', 'col', 'wbr']);

/** Checks that tags nest properly, returning the first problem found. */
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

/** The text of an element's content with the tags removed and the five entities resolved. */
function textOf(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

describe('renderConformanceMatrix, HTML', () => {
  const report = conformanceReport();
  report.runs.push(unreachableRun());
  const html = renderConformanceMatrix(report, 'html');

  it('is one well-nested page', () => {
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(nestingProblem(html)).toBeUndefined();
  });

  it('refers to nothing outside itself and runs no script', () => {
    expect(html).not.toMatch(/<script\b/i);
    expect(html).not.toMatch(/<(link|img|iframe|object|embed|audio|video|source|form)\b/i);
    expect(html).not.toMatch(/\b(src|action|srcset)\s*=/i);
    expect(html).not.toMatch(/url\(|@import/i);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\bon[a-z]+\s*=/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
  });

  it('links every failing cell to a listed failure on the same page', () => {
    const ids = new Set([...html.matchAll(/\bid="([^"]*)"/g)].map((m) => m[1]));
    const hrefs = [...html.matchAll(/\bhref="([^"]*)"/g)].map((m) => m[1]);
    // Five failing or errored cells on Mosquitto (the error covers two statements), two on the other broker.
    expect(hrefs.length).toBe(7);
    for (const href of hrefs) {
      expect(href).toMatch(/^#[a-z0-9-]+$/);
      expect(ids.has(href.slice(1))).toBe(true);
    }
  });

  it('has a table per version with a row per statement and a column per broker', () => {
    for (const [version, id] of [['3.1.1', 'v311'], ['5.0', 'v50']] as const) {
      const section = html.slice(html.indexOf(`<section id="${id}">`), html.indexOf('</section>', html.indexOf(`<section id="${id}">`)));
      const rows = [...section.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => m[1]);
      const header = [...rows[0].matchAll(/<th[^>]*>([\s\S]*?)<\/th>/g)].map((m) => textOf(m[1]));
      expect(header).toEqual(['Statement', 'Requirement', 'Chapter', MOSQUITTO, 'mqtt://evil<b>&"co"\\x07/</script>', 'mqtt://127.0.0.1:1883', 'Not checked because']);
      const body = rows.slice(1);
      expect(body.map((r) => textOf(/<td><code>(.*?)<\/code>/.exec(r)?.[1] ?? ''))).toEqual(statementIds(report, version));
      for (const r of body) expect([...r.matchAll(/<td\b/g)]).toHaveLength(header.length);
    }
    expect(html).toContain('<td class="cell allowed"><span title="allowed failure">✗</span> <a href="#b0-f2"><code>5.0/<wbr>3.3/<wbr>qos-bits-11</code></a></td>');
    expect(html).toContain('<td class="cell skip"><span title="skipped">–</span></td>');
  });

  it('lists failed checks with messages and traces, and the known deviations under their own heading', () => {
    expect(html).toContain(`<h4>Known deviations of ${MOSQUITTO}</h4>`);
    const dl = html.slice(html.indexOf('<dl class="deviations">'), html.indexOf('</dl>'));
    expect(textOf(dl)).toContain(QOS_BITS_DEVIATION);
    expect(textOf(dl)).toContain(EMPTY_SUBSCRIBE_DEVIATION);
    expect(html).not.toContain('Mosquitto 1.x delivered');
    expect(html).toContain('<details><summary>packet trace (3 events)</summary><pre>client 1 +0 ms sent connect(level=7 &quot;mqc1a2b3c0c1&quot;)');
    expect(html).toContain('<p class="fail">Unreachable: cannot connect: ECONNREFUSED 127.0.0.1:1883</p>');
  });

  it('escapes every string from the run', () => {
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('</script>');
    expect(html).not.toContain('<connack');
    expect(html).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(html).toContain('expected &lt;connack rc=&quot;0&quot;&gt; &amp; a &quot;close&quot;\\x00 got \\x1b[31mnothing');
    expect(html).toContain('<th class="broker">mqtt://evil&lt;b&gt;&amp;&quot;co&quot;\\x07/&lt;/script&gt;</th>');
    // Every "&" starts one of the references the renderer writes.
    for (const m of html.matchAll(/&[^;\s]*;?/g)) expect(m[0]).toMatch(/^&(amp|lt|gt|quot|#39);$/);
  });
});
