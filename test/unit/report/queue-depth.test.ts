import { describe, expect, it } from 'vitest';
import { renderSummary } from '../../../src/report/console.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderJson } from '../../../src/report/json.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import { fanoutResult, slowConsumerResult } from './fixture.js';

describe('queue depth in the reports', () => {
  const r = slowConsumerResult();

  it('names the peak, when, who, and where it ended, in every report', () => {
    const line = 'up to 215 behind at the end of second 1 (laggard); 0 at the end (1 subscriber)';
    expect(renderSummary(r)).toContain(`backlog   laggard: ${line}`);
    expect(renderMarkdown(r)).toContain('Up to 215 behind at the end of second 1 (laggard); 0 at the end (1 subscriber).');
    expect(renderHtml(r)).toContain('Up to 215 behind at the end of second 1 (laggard); 0 at the end (1 subscriber).');
  });

  it('gives the series second by second: a table in report.md, a chart in report.html, the arrays in summary.json', () => {
    const text = renderMarkdown(r);
    expect(text).toContain('| second | behind (all subscribers) | most behind (one subscriber) |');
    expect(text).toContain('| 1 | 215 | 215 |');
    expect(renderHtml(r)).toContain('aria-label="Queue depth: laggard"');
    const json = JSON.parse(renderJson(r));
    expect(json.groups[0].queueDepth.total).toEqual([104, 215, 0, 0]);
  });

  it('leaves a message or two in transit at the end of a second out of the console summary, not out of report.md', () => {
    const quick = slowConsumerResult();
    const g = quick.groups[0];
    g.totals.receivedPerSec = 300;
    g.queueDepth = { subscribers: 2, seconds: 3, total: [2, 1, 0], max: [1, 1, 0], worst: [{ clientId: 'sub-0', peak: 1, behind: [1, 1, 0] }] };
    expect(renderSummary(quick)).not.toContain('backlog');
    expect(renderMarkdown(quick)).toContain('Up to 1 behind at the end of second 0 (sub-0); 0 at the end (2 subscribers).');
  });

  it('says so when nothing could be followed', () => {
    expect(renderMarkdown(fanoutResult())).toContain('## Queue depth\n\nNone: no subscriber had a stream to follow.');
    expect(renderSummary(fanoutResult())).not.toContain('backlog');
  });
});

describe("the broker's own view ($SYS) beside queue depth", () => {
  it('names the peak of the store, its retained part and the end in every report; the console only beside a backlog', () => {
    const r = slowConsumerResult();
    const line =
      "the broker's store ($SYS/broker/store/messages/count): up to 276 messages at second 2, 61 retained among them; 61 at the end; 0 dropped during the run";
    expect(renderSummary(r)).toContain(`backlog   laggard: up to 215 behind at the end of second 1 (laggard); 0 at the end (1 subscriber)\n          ${line}\n`);
    expect(renderMarkdown(r)).toContain(`### The broker's view ($SYS)`);
    expect(renderMarkdown(r)).toContain("The broker's store ($SYS/broker/store/messages/count): up to 276 messages at second 2");
    expect(renderHtml(r)).toContain('The broker&#39;s store ($SYS/broker/store/messages/count): up to 276 messages at second 2');
    const quiet = slowConsumerResult();
    quiet.groups[0].queueDepth = { subscribers: 1, seconds: 2, total: [0, 0], max: [0, 0], worst: [{ clientId: 'laggard', peak: 0, behind: [0, 0] }] };
    expect(renderSummary(quiet)).not.toContain("the broker's store");
  });

  it('gives the store, retained, held for sessions and the engine’s depth second by second; each value holds until the next', () => {
    const r = slowConsumerResult();
    const text = renderMarkdown(r);
    expect(text).toContain('| second | store | retained | held for sessions | behind (all subscribers, mqbench) | dropped since the broker started |');
    expect(text).toContain('| 1 | 180 | 61 | 119 | 215 | 4 |');
    expect(text).toContain('| 3 | 61 | 61 | 0 | 0 | 4 |');
    const html = renderHtml(r);
    expect(html).toContain('aria-label="Queue depth: the broker&#39;s view"');
    expect(html).toContain('held for sessions, broker ($SYS)');
    const json = JSON.parse(renderJson(r));
    expect(json.broker.sys.storedMessages[2]).toEqual({ second: 2, value: 276 });
  });

  it('says why there are no figures, and says nothing when $SYS was not read', () => {
    const r = slowConsumerResult();
    r.broker.sys = { storedMessages: [], retainedMessages: [], dropped: [], clientsConnected: [], missing: "no SUBACK within 10 s (the scenario's replyTimeout)" };
    expect(renderMarkdown(r)).toContain("The broker published no $SYS figures: no SUBACK within 10 s (the scenario's replyTimeout).");
    expect(renderMarkdown(r)).not.toContain('| second | store |');
    expect(renderSummary(r)).toContain("the broker published no $SYS figures: no SUBACK within 10 s (the scenario's replyTimeout)");
    r.broker.sys = null;
    expect(renderMarkdown(r)).not.toContain("The broker's view");
    expect(renderHtml(r)).not.toContain("The broker&#39;s view");
    expect(renderSummary(r)).not.toContain('$SYS');
  });
});
