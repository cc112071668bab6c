/**
 * Retained copies (a PUBLISH with the retain flag that a SUBSCRIBE brought) are not end-to-end latencies of live
 * messages: they get their own histogram and counter, and stay out of e2e, the live p99, the interval statistics and
 * the lost/duplicated/out-of-order judgement.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunProgress } from '../../../src/run/run.js';
import { runInline } from '../../helpers/run-scenario.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe('retained copies', () => {
  it('count apart from live deliveries: their age is not an end-to-end latency', async () => {
    const progress: RunProgress[] = [];
    const { result: r } = await runInline(
      `
name: retained-apart
groups:
  - name: early
    steps:
      - connect
      - subscribe: { topic: "keep/#", qos: 1, sampleEvery: 250ms }
      - wait: 2500ms
      - disconnect
  - name: keepers
    clients: 5
    startTime: 300ms
    steps:
      - connect
      - publish: { topic: "keep/{i}", qos: 1, retain: true, count: 1 }
      - disconnect
  - name: late
    clients: 2
    startTime: 1300ms
    steps:
      - connect
      - subscribe: { topic: "keep/#", qos: 1, sampleEvery: 250ms }
      - wait: 1s
      - disconnect
`,
      stops,
      { onProgress: (p) => progress.push(p) },
    );
    // Live: the early subscriber saw each keeper's message as it was published, within milliseconds.
    expect(r.latency.e2e?.count).toBe(5);
    expect(r.latency.e2e!.max).toBeLessThan(500_000);
    // Retained: each late subscriber was sent the 5 stored messages, about a second old.
    expect(r.latency.retained?.count).toBe(10);
    expect(r.latency.retained!.min).toBeGreaterThan(700_000);
    expect(r.totals.counters.retainedReceived).toBe(10);
    expect(r.totals.counters.messagesReceived).toBe(15);
    const late = r.groups.find((g) => g.name === 'late')!;
    expect(late.latency.e2e).toBeUndefined();
    expect(late.latency.retained?.count).toBe(10);
    // Interval statistics of the late group: no interval holds a retained copy's age.
    expect(late.intervals.reduce((n, i) => n + i.messages, 0)).toBe(0);
    // Delivery: the 5 live streams are judged (nothing lost); the retained copies are not streams at all.
    expect(r.delivery.total).toMatchObject({ streams: 5, received: 5, lost: 0, duplicated: 0 });
    expect(r.notes.join(' ')).not.toMatch(/did not cover the whole stream/);
    // The live p99 never showed a retained copy's age.
    for (const p of progress) if (p.p99Us !== undefined) expect(p.p99Us).toBeLessThan(500_000);
  });

  it('with retain-as-published the flag marks live messages too: those stay end-to-end latencies, stored copies do not', async () => {
    const { result: r } = await runInline(
      `
name: retained-rap
broker: { protocol: 5 }
groups:
  - name: mirror
    steps:
      - connect
      - subscribe: { topic: "rap/#", qos: 1, retainAsPublished: true }
      - wait: 1500ms
      - disconnect
  - name: keepers
    clients: 3
    startTime: 300ms
    steps:
      - connect
      - publish: { topic: "rap/{i}", qos: 1, retain: true, count: 2, rate: 10/s }
      - disconnect
  - name: late
    startTime: 1200ms
    steps:
      - connect
      - subscribe: { topic: "rap/#", qos: 1, retainAsPublished: true }
      - wait: 500ms
      - disconnect
`,
      stops,
    );
    // The mirror saw 6 live messages, each with the retain flag as published.
    expect(r.groups.find((g) => g.name === 'mirror')!.latency.e2e?.count).toBe(6);
    expect(r.groups.find((g) => g.name === 'mirror')!.latency.retained).toBeUndefined();
    // The late subscriber was sent the 3 stored ones: published before it subscribed, so retained copies.
    const late = r.groups.find((g) => g.name === 'late')!;
    expect(late.latency.retained?.count).toBe(3);
    expect(late.latency.e2e).toBeUndefined();
    expect(r.totals.counters.retainedReceived).toBe(3);
    expect(r.delivery.total).toMatchObject({ streams: 3, received: 6, lost: 0 });
  });
});
