/**
 * The HTML reports as a reader sees them at 1,280 px, in headless Chromium: the page and its main tables fit without
 * horizontal scrolling, conformance.html's broker columns stay legible and leave the requirement room, compare.html
 * shows every column of its summary, and no chart repeats a tick label ("0 0 0 1 1 1").
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { CheckOutcome, StatementOutcome } from '../../../src/conformance/runner.js';
import { STATEMENTS, type MqttVersion } from '../../../src/conformance/statements.js';
import { renderCompareHtml } from '../../../src/report/compare-html.js';
import type { ConformanceReport, ConformanceRun } from '../../../src/report/conformance-model.js';
import { renderConformanceHtml } from '../../../src/report/conformance-html.js';
import { renderHtml } from '../../../src/report/html.js';
import { CHROMIUM_INSTALL_HINT, findChromium, launchChromium, pngSize, requireChromium } from '../../helpers/chromium.js';
import { runInline } from '../../helpers/run-scenario.js';
import { compareResult } from '../../unit/report/compare-fixture.js';
import { fanoutResult } from '../../unit/report/fixture.js';

const WIDTH = 1280;
const executable = findChromium();

/** A conformance report shaped like a real one: every statement, three brokers, cells with several failing checks. */
function wideConformanceReport(): ConformanceReport {
  const brokers = ['bundled (mqbench 0.1.0)', 'mosquitto 2.0.11', 'mqtts://broker.example.com:8883'];
  const runs: ConformanceRun[] = brokers.map((broker, b) => {
    const checks: CheckOutcome[] = [];
    const statements: StatementOutcome[] = STATEMENTS.map((st, i) => {
      if (st.check !== 'wire') {
        return { id: st.id, version: st.version, chapter: st.chapter, summary: st.summary, status: 'not-checked', note: st.reason, checks: [] };
      }
      const failing = b > 0 && i % 9 === b;
      const ids = [1, 2, 3].slice(0, failing ? 3 : 1).map((k) => `${st.version}/${st.chapter}/${failing ? 'reserved-flags-on-pubrel' : 'keeps'}-${i}-${k}`);
      for (const id of ids) {
        checks.push({
          id, version: st.version as MqttVersion, statements: [st.id], title: `the broker keeps ${st.id}`,
          status: failing ? 'fail' : 'pass', allowed: failing && b === 1 ? true : undefined, message: failing ? 'closed without DISCONNECT' : undefined,
          durationMs: 3,
        });
      }
      return { id: st.id, version: st.version, chapter: st.chapter, summary: st.summary, status: failing ? 'fail' : 'pass', checks: ids };
    });
    return { broker, reachable: true, capabilities: {}, checks, statements, startedAt: '2026-01-01T00:00:00.000Z', durationMs: 20_000 };
  });
  return { tool: { name: 'mqbench', version: '0.1.0' }, generatedAt: '2026-01-01T00:00:30.000Z', versions: ['3.1.1', '5.0'], runs };
}

interface Layout {
  documentWidth: number;
  /** Scrolling containers of tables that are wider than their box. */
  overflowing: Array<{ section: string; scrollWidth: number; clientWidth: number }>;
  /** Per chart, tick labels that appear twice on one axis. */
  repeatedTicks: Array<{ chart: string; labels: string[] }>;
}

/**
 * Measured in the page (a script, as text: this project's TypeScript has no DOM types). Every <details> is opened
 * first, so folded tables are measured too.
 */
const LAYOUT_SCRIPT = `(() => {
  for (const d of document.querySelectorAll('details')) d.open = true;
  const overflowing = [...document.querySelectorAll('.scroll')]
    .filter((s) => s.scrollWidth > s.clientWidth + 1)
    .map((s) => ({ section: s.closest('section')?.id ?? '', scrollWidth: s.scrollWidth, clientWidth: s.clientWidth }));
  const repeatedTicks = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    // One axis's labels share a line: the y axis's their x and right alignment, the x axis's their y.
    const axes = new Map();
    for (const t of svg.querySelectorAll('text.tick')) {
      const label = t.lastChild?.nodeType === 3 ? t.lastChild.textContent : t.textContent;
      if (label === 'n/a') continue;
      const key = t.getAttribute('text-anchor') === 'end' ? 'y@' + t.getAttribute('x') : 'x@' + t.getAttribute('y');
      axes.set(key, [...(axes.get(key) ?? []), label]);
    }
    for (const labels of axes.values()) {
      if (new Set(labels).size !== labels.length) repeatedTicks.push({ chart: svg.getAttribute('aria-label') ?? '', labels });
    }
  }
  return { documentWidth: document.documentElement.scrollWidth, overflowing, repeatedTicks };
})()`;

async function layoutOf(page: Page): Promise<Layout> {
  return (await page.evaluate(LAYOUT_SCRIPT)) as Layout;
}

if (executable === undefined) {
  describe('HTML reports at 1,280 px in Chromium', () => {
    // CI sets MQBENCH_REQUIRE_CHROMIUM=1: there a missing browser fails the run instead of passing it unchecked.
    if (requireChromium) {
      it('has a Chromium to look with', () => {
        throw new Error(`MQBENCH_REQUIRE_CHROMIUM=1 but no Chromium was found: ${CHROMIUM_INSTALL_HINT}`);
      });
    } else it.skip(`skipped: no Chromium; ${CHROMIUM_INSTALL_HINT}`, () => undefined);
  });
} else describe('HTML reports at 1,280 px in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqbench-pages-'));
  const stops: (() => Promise<void>)[] = [];
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;

  beforeAll(async () => {
    browser = await launchChromium(executable, { width: WIDTH, height: 900 });
  }, 60_000);
  afterEach(async () => {
    while (stops.length > 0) await stops.pop()!();
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(name: string, html: string): Promise<{ page: Page; layout: Layout }> {
    const file = join(dir, name);
    writeFileSync(file, html);
    const page = await browser!.context.newPage();
    await page.goto(`file://${file}`, { timeout: 15_000 });
    const shot = await page.screenshot({ fullPage: true, timeout: 15_000 });
    expect(pngSize(shot).width, `${name}: screenshot width`).toBe(WIDTH);
    const layout = await layoutOf(page);
    expect(layout.documentWidth, `${name}: page width`).toBeLessThanOrEqual(WIDTH);
    expect(layout.overflowing, `${name}: tables wider than the page`).toEqual([]);
    expect(layout.repeatedTicks, `${name}: repeated tick labels`).toEqual([]);
    return { page, layout };
  }

  it('report.html of a real run of scenarios/slow-consumer.yaml (two connections, small counts on every chart)', async () => {
    const yaml = readFileSync(resolve(__dirname, '../../../scenarios/slow-consumer.yaml'), 'utf8');
    const { result } = await runInline(yaml, stops);
    const { page } = await open('slow-consumer.html', renderHtml(result));
    expect(await page.locator('svg.chart').count()).toBeGreaterThanOrEqual(4);
    await page.close();
  }, 90_000);

  it('report.html of a busy run with a hostile client id', async () => {
    const { page } = await open('fanout.html', renderHtml(fanoutResult()));
    await page.close();
  }, 60_000);

  it('compare.html: every column of the summary on screen, "peak memory" included', async () => {
    const { page } = await open('compare.html', renderCompareHtml(compareResult()));
    const heads = page.locator('table.compare th', { hasText: 'peak memory' });
    expect(await heads.count()).toBeGreaterThan(0);
    for (const box of await Promise.all((await heads.all()).map((h) => h.boundingBox()))) {
      expect(box!.x + box!.width).toBeLessThanOrEqual(WIDTH);
    }
    await page.close();
  }, 60_000);

  it('conformance.html: broker names wrap between words, the requirement keeps its room', async () => {
    const { page } = await open('conformance.html', renderConformanceHtml(wideConformanceReport()));
    const lineHeight = (await page.evaluate('Number.parseFloat(getComputedStyle(document.body).lineHeight)')) as number;
    for (const th of await page.locator('table.matrix th.broker').all()) {
      const box = (await th.boundingBox())!;
      expect(box.width, await th.innerText()).toBeGreaterThanOrEqual(90);
      // "mqtts://broker.example.com:8883" may take a few lines; a letter or two per line would take ten or more.
      expect(box.height, await th.innerText()).toBeLessThanOrEqual(5 * lineHeight);
    }
    for (const th of await page.locator('table.matrix th:nth-child(2)').all()) {
      expect((await th.boundingBox())!.width).toBeGreaterThanOrEqual(300);
    }
    await page.close();
  }, 60_000);
});
