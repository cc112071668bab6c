/**
 * The backlog a slow consumer builds, as the report shows it: messages behind per subscriber at the end of every
 * second, from the engine's own counts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runInline } from '../../helpers/run-scenario.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe('queue depth', () => {
  it('rises while scenarios/slow-consumer.yaml falls behind and drains when it catches up', async () => {
    const yaml = readFileSync(resolve(__dirname, '../../../scenarios/slow-consumer.yaml'), 'utf8');
    const { result: r } = await runInline(yaml, stops);
    const q = r.groups.find((g) => g.name === 'laggard')!.queueDepth!;
    expect(q.subscribers).toBe(1);
    expect(q.worst.map((w) => w.clientId)).toEqual(['laggard']);
    // 200/s arrive from 0.3 s to 1.8 s, 50/s are taken: by the end of second 1 about 300 − 85 are queued.
    expect(q.total[1]).toBeGreaterThan(150);
    expect(q.total[0]).toBeLessThan(q.total[1]);
    // Back at 2 s on the same session, it takes the backlog at full speed: nothing is behind at the end.
    expect(q.total[q.seconds - 1]).toBe(0);
    expect(q.max).toEqual(q.total);
    // Consistency with the counters: at the end of a second, behind = sent − received so far (one stream, one reader).
    const sent = r.series.counters.messagesSent;
    const received = r.series.counters.messagesReceived;
    let s = 0;
    let got = 0;
    for (let i = 0; i < q.seconds; i++) {
      s += sent[i] ?? 0;
      got += received[i] ?? 0;
      expect(Math.abs(q.total[i] - Math.max(0, s - got))).toBeLessThanOrEqual(2);
    }
  });

  it('stays at zero for subscribers that keep up', async () => {
    const { result: r } = await runInline(
      `
name: keeps-up
groups:
  - name: subs
    clients: 2
    steps:
      - connect
      - subscribe: { topic: "up/#", qos: 1 }
  - name: pubs
    clients: 2
    startTime: 300ms
    steps:
      - connect
      - publish: { topic: "up/{client}", qos: 1, rate: 100/s, count: 150 }
      - disconnect
`,
      stops,
    );
    const q = r.groups.find((g) => g.name === 'subs')!.queueDepth!;
    expect(q.subscribers).toBe(2);
    // A message in transit at a second's end may count; a subscriber that keeps up is never more than a few behind.
    expect(Math.max(...q.max)).toBeLessThanOrEqual(5);
    expect(q.total[q.seconds - 1]).toBe(0);
    expect(r.groups.find((g) => g.name === 'pubs')!.queueDepth).toBeUndefined();
  });
});
