import { describe, expect, it } from 'vitest';
import type { CompareResult } from '../../../src/compare/result.js';
import { renderCompareTable } from '../../../src/report/compare-console.js';
import { renderCompareHtml } from '../../../src/report/compare-html.js';
import { renderBenchmarksMarkdown } from '../../../src/report/compare-markdown.js';
import { BUNDLED, compareResult, MOSQUITTO } from './compare-fixture.js';

/** The fixture's first scenario as a durability scenario: one kill -9, with what each broker lost across it. */
function withFaults(): CompareResult {
  const r = compareResult();
  const s = r.scenarios[0];
  s.faults = 1;
  for (const b of s.brokers) b.faultsLost = b.broker === MOSQUITTO ? 191 : b.broker === BUNDLED ? 346 : 0;
  return r;
}

describe('messages lost across faults in compare', () => {
  const r = withFaults();

  it('is a column of the scenario with faults, and only of it, in every report', () => {
    const console = renderCompareTable(r, { color: false });
    const head = console.split('\n').find((l) => l.startsWith('broker ') && l.includes('lost/faults'));
    expect(head).toBeDefined();
    expect(console.split('\n').filter((l) => l.startsWith('broker ') && l.includes('lost/faults'))).toHaveLength(1);
    expect(console).toMatch(new RegExp(`^${MOSQUITTO.replace(/\./g, '\\.')} .* 191$`, 'm'));
    expect(console).toContain('lost/faults: messages a broker acknowledged (QoS 1 and 2) before one of the scenario’s faults');
    const md = renderBenchmarksMarkdown(r);
    expect(md).toContain('| lost across faults |');
    expect(md).toContain('- Lost across faults: messages a broker acknowledged');
    expect(md.match(/lost across faults \|/g)).toHaveLength(1);
    const html = renderCompareHtml(r);
    expect(html).toContain('<th class="num">lost across faults</th>');
    expect(html).toContain('>346<');
  });

  it('is left out where no scenario has faults', () => {
    const plain = compareResult();
    expect(renderCompareTable(plain, { color: false })).not.toContain('lost/faults');
    expect(renderBenchmarksMarkdown(plain)).not.toContain('lost across faults');
    expect(renderCompareHtml(plain)).not.toContain('lost across faults');
  });
});
