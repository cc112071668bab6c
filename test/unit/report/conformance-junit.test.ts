import { describe, expect, it } from 'vitest';
import { ALLOWED_MARK, renderJUnit } from '../../../src/report/conformance-junit.js';
import { allChecks, conformanceReport, HOSTILE_BROKER, MOSQUITTO, unreachableRun } from './conformance-fixture.js';

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = '[A-Za-z_][\\w.-]*';
/** What XML 1.0 allows as a character. */
const XML_CHAR = /^[\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Resolves references, rejecting a bare "&" or an unknown entity as a parser would. */
function decode(raw: string, where: string): string {
  return raw.replace(/&([^;]*);|&/g, (whole, ref: string | undefined) => {
    if (ref === undefined) throw new Error(`bare & in ${where}`);
    if (ref in ENTITIES) return ENTITIES[ref];
    const m = /^#(x[0-9a-fA-F]+|\d+)$/.exec(ref);
    if (m === null) throw new Error(`unknown entity ${whole} in ${where}`);
    return String.fromCodePoint(m[1].startsWith('x') ? parseInt(m[1].slice(1), 16) : Number(m[1]));
  });
}

/**
 * A strict little parser for the subset renderJUnit writes (declaration, elements, attributes, character data): it
 * throws on anything a conforming XML parser would reject there: unbalanced or crossed tags, a second root, "<" or a
 * bare "&" in text or attributes, unquoted or repeated attributes, characters outside XML 1.0.
 */
function parseXml(xml: string): XmlElement {
  if (!XML_CHAR.test(xml)) throw new Error('a character XML 1.0 does not allow');
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"\?>\n/.exec(xml);
  if (decl === null) throw new Error('no XML declaration');
  let pos = decl[0].length;
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  const tag = new RegExp(`<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*"[^"<]*")*)\\s*(/?)>`, 'y');
  while (pos < xml.length) {
    const lt = xml.indexOf('<', pos);
    const chunk = xml.slice(pos, lt < 0 ? xml.length : lt);
    const top = stack[stack.length - 1];
    if (top === root) {
      if (chunk.trim() !== '') throw new Error(`text outside the root: ${JSON.stringify(chunk)}`);
    } else top.text += decode(chunk, `<${top.name}>`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (m === null) throw new Error(`malformed markup at ${lt}: ${JSON.stringify(xml.slice(lt, lt + 60))}`);
    const [whole, closing, name, rawAttrs, selfClosing] = m;
    pos = lt + whole.length;
    if (closing === '/') {
      if (rawAttrs !== '' || selfClosing === '/') throw new Error(`malformed end tag ${whole}`);
      const open = stack.pop();
      if (open === undefined || open.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of rawAttrs.matchAll(new RegExp(`(${NAME})\\s*=\\s*"([^"]*)"`, 'g'))) {
      if (a[1] in attrs) throw new Error(`attribute ${a[1]} repeated in <${name}>`);
      attrs[a[1]] = decode(a[2], `${name}@${a[1]}`);
    }
    const el: XmlElement = { name, attrs, children: [], text: '' };
    if (top === root && root.children.length > 0) throw new Error('a second root element');
    top.children.push(el);
    if (selfClosing !== '/') stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root.children.length !== 1) throw new Error('no root element');
  return root.children[0];
}

function kids(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

function outcomeOf(testcase: XmlElement): string {
  const marks = testcase.children.filter((c) => ['failure', 'error', 'skipped'].includes(c.name));
  expect(marks.length).toBeLessThanOrEqual(1);
  return marks[0]?.name ?? 'passed';
}

describe('the XML checker', () => {
  it('rejects what a parser would reject', () => {
    const decl = '<?xml version="1.0" encoding="UTF-8"?>\n';
    expect(() => parseXml(`${decl}<a><b></a></b>`)).toThrow(/closes/);
    expect(() => parseXml(`${decl}<a>x & y</a>`)).toThrow(/bare &/);
    expect(() => parseXml(`${decl}<a t="<"/>`)).toThrow(/malformed/);
    expect(() => parseXml(`${decl}<a t="1" t="2"/>`)).toThrow(/repeated/);
    expect(() => parseXml(`${decl}<a>\u001b</a>`)).toThrow(/XML 1.0/);
    expect(() => parseXml(`${decl}<a/><b/>`)).toThrow(/second root/);
    expect(parseXml(`${decl}<a t="&quot;&#10;">x &lt; y</a>`)).toEqual({ name: 'a', attrs: { t: '"\n' }, children: [], text: 'x < y' });
  });
});

describe('renderJUnit', () => {
  const report = conformanceReport();
  const xml = renderJUnit(report);
  const root = parseXml(xml);
  const suites = kids(root, 'testsuite');

  it('is one well-formed <testsuites> document', () => {
    expect(root.name).toBe('testsuites');
    expect(root.attrs.name).toBe('mqbench conformance');
    expect(root.attrs.timestamp).toBe('2025-03-04T10:21:40');
  });

  it('has one suite per broker and version, one test case per check', () => {
    expect(suites.map((s) => s.attrs.name)).toEqual([
      `${MOSQUITTO} / MQTT 3.1.1`,
      `${MOSQUITTO} / MQTT 5.0`,
      `${HOSTILE_BROKER.replace('\u0007', '\\x07')} / MQTT 3.1.1`,
      `${HOSTILE_BROKER.replace('\u0007', '\\x07')} / MQTT 5.0`,
    ]);
    const cases = suites.flatMap((s) => kids(s, 'testcase'));
    expect(cases).toHaveLength(allChecks(report).length);
    for (const [i, suite] of suites.entries()) {
      const run = report.runs[Math.floor(i / 2)];
      const version = i % 2 === 0 ? '3.1.1' : '5.0';
      expect(kids(suite, 'testcase')).toHaveLength(run.checks.filter((o) => o.version === version).length);
      expect(suite.attrs.timestamp).toBe(run.startedAt.slice(0, 19));
      const props = Object.fromEntries(kids(kids(suite, 'properties')[0], 'property').map((p) => [p.attrs.name, p.attrs.value]));
      expect(props['mqtt.version']).toBe(version);
      expect(props['mqbench.version']).toBe('0.1.0');
    }
  });

  it('counts tests, failures, errors, skips and time in every suite and in total', () => {
    const sum = { tests: 0, failures: 0, errors: 0, skipped: 0 };
    for (const suite of suites) {
      const outcomes = kids(suite, 'testcase').map(outcomeOf);
      const counts = {
        tests: outcomes.length,
        failures: outcomes.filter((o) => o === 'failure').length,
        errors: outcomes.filter((o) => o === 'error').length,
        skipped: outcomes.filter((o) => o === 'skipped').length,
      };
      for (const k of Object.keys(counts) as (keyof typeof counts)[]) {
        expect(suite.attrs[k]).toBe(String(counts[k]));
        sum[k] += counts[k];
      }
      const time = kids(suite, 'testcase').reduce((t, c) => t + Number(c.attrs.time), 0);
      expect(Number(suite.attrs.time)).toBeCloseTo(time, 3);
    }
    for (const k of Object.keys(sum) as (keyof typeof sum)[]) expect(root.attrs[k]).toBe(String(sum[k]));
    // The fixture: one failure on Mosquitto 3.1.1, its error on 5.0, and two failures on the other broker.
    expect(suites.map((s) => [s.attrs.failures, s.attrs.errors, s.attrs.skipped])).toEqual([
      ['1', '0', '2'],
      ['0', '1', '2'],
      ['1', '0', '0'],
      ['1', '0', '0'],
    ]);
  });

  it('names a test case by its statements and short id, classed by version and chapter, timed in seconds', () => {
    const mosquitto5 = kids(suites[1], 'testcase');
    expect(mosquitto5.map((c) => c.attrs.name)).toEqual([
      '[MQTT-3.1.0-1] first-packet-not-connect',
      '[MQTT-3.1.0-2] second-connect',
      '[MQTT-3.3.1-4] qos-bits-11',
      '[MQTT-3.8.3-3] no-local',
      '[MQTT-3.8.3-4] shared-no-local',
      '[MQTT-4.7.1-1] [MQTT-4.7.1-2] hash-last',
    ]);
    expect(mosquitto5[1].attrs.classname).toBe('mqbench.conformance.5_0.3_1');
    expect(mosquitto5[5].attrs.classname).toBe('mqbench.conformance.5_0.4_7');
    expect(kids(suites[0], 'testcase')[1].attrs.time).toBe('1.500');
    for (const c of suites.flatMap((s) => kids(s, 'testcase'))) expect(c.attrs.time).toMatch(/^\d+\.\d{3}$/);
  });

  it('gives a failure its first line as message and the whole message with the packet trace as text', () => {
    const failure = kids(kids(suites[0], 'testcase')[2], 'failure')[0];
    expect(failure.attrs.message).toBe('CONNACK return code 0 for protocol level 7, expected 1 (unacceptable protocol version)');
    expect(failure.attrs.type).toBe('failure');
    expect(failure.text.split('\n')).toEqual([
      'CONNACK return code 0 for protocol level 7, expected 1 (unacceptable protocol version)',
      'the broker accepted the session anyway',
      '',
      'Packet trace:',
      'client 1 +0 ms sent connect(level=7 "mqc1a2b3c0c1")',
      'client 1 +3 ms received connack(rc=0 sp=0)',
      'client 1 +2,004 ms connection closed (by the client)',
    ]);
  });

  it('gives a skip the reason and the broker’s declaration, quoted', () => {
    const skipped = kids(kids(suites[1], 'testcase')[4], 'skipped')[0];
    expect(skipped.attrs.message).toBe('the broker does not offer sharedSubscriptions (broker declared: "CONNACK sharedSubscriptionAvailable=false")');
  });

  it('reports an error as <error>', () => {
    const error = kids(kids(suites[1], 'testcase')[5], 'error')[0];
    expect(error.attrs.message).toBe('cannot connect: ECONNRESET');
    expect(error.text).toBe('cannot connect: ECONNRESET');
  });

  it('reports an allowed failure as skipped by default, with the mark, the deviation and the trace', () => {
    const testcase = kids(suites[1], 'testcase')[2];
    expect(outcomeOf(testcase)).toBe('skipped');
    const skipped = kids(testcase, 'skipped')[0];
    expect(skipped.attrs.message).toBe(`${ALLOWED_MARK} the connection closed without DISCONNECT 0x81`);
    expect(skipped.text).toContain(`Known deviation of ${MOSQUITTO}: Mosquitto closes the connection without sending DISCONNECT 0x81 <Malformed Packet>`);
    expect(skipped.text).toContain('client 1 +1 ms connection closed (by the broker)');
  });

  it('reports allowed failures as failures when asked', () => {
    const asFailures = parseXml(renderJUnit(report, { allowedFailures: 'failure' }));
    const s = kids(asFailures, 'testsuite');
    expect(s.map((x) => [x.attrs.failures, x.attrs.skipped])).toEqual([
      ['2', '1'],
      ['1', '1'],
      ['1', '0'],
      ['1', '0'],
    ]);
    const failure = kids(kids(s[1], 'testcase')[2], 'failure')[0];
    expect(failure.attrs.message).toBe(`${ALLOWED_MARK} the connection closed without DISCONNECT 0x81`);
    expect(failure.attrs.type).toBe('allowed-failure');
    expect(asFailures.attrs.failures).toBe('5');
  });

  it('carries hostile text intact where XML can, and visibly escaped where it cannot', () => {
    const testcase = kids(suites[2], 'testcase')[1];
    const failure = kids(testcase, 'failure')[0];
    expect(failure.attrs.message).toBe('expected <connack rc="0"> & a "close"\\x00 got \\x1b[31mnothing\\x07\\x0c\\ud800 ]]>');
    expect(failure.text).toContain('client 1 +3 ms sent publish(q0 r0 d0 "a/<b>&"t"/\\x1b" 3B)');
    expect(failure.text).toContain('client 2 sent and received nothing');
    expect(xml).not.toContain('<b>');
    expect(xml).not.toContain('</script>');
  });

  it('keeps line breaks inside attributes as character references', () => {
    const r = conformanceReport();
    r.runs[0].checks[4].message = 'line one\nline two\r\tend';
    const skipped = kids(kids(kids(parseXml(renderJUnit(r)), 'testsuite')[0], 'testcase')[4], 'skipped')[0];
    expect(skipped.attrs.message.startsWith('line one\nline two\r\tend')).toBe(true);
  });

  it('lists an unreachable broker’s checks as errors and says why', () => {
    const r = conformanceReport();
    r.runs = [unreachableRun()];
    const doc = parseXml(renderJUnit(r));
    const s = kids(doc, 'testsuite');
    expect(s.map((x) => [x.attrs.tests, x.attrs.errors])).toEqual([
      ['1', '1'],
      ['1', '1'],
    ]);
    const props = kids(kids(s[0], 'properties')[0], 'property').map((p) => [p.attrs.name, p.attrs.value]);
    expect(props).toContainEqual(['broker.unreachable', 'cannot connect: ECONNREFUSED 127.0.0.1:1883']);
    expect(kids(s[0], 'system-err')[0].text).toBe('broker not reachable: cannot connect: ECONNREFUSED 127.0.0.1:1883');
  });
});
