/**
 * Headline rates against the bundled broker: one definition (messages after the first ÷ time from the first to the
 * last message of that kind), the same for the run and for each group, and equal to what a fixed schedule offers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../../src/run/result.js';
import { runInline } from '../../helpers/run-scenario.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

async function run(yaml: string): Promise<RunResult> {
  return (await runInline(yaml, stops)).result;
}

describe('headline rates', () => {
  it('three publishers at 50/s each read 150/s sent and 300/s received by two subscribers, run and group alike', async () => {
    const r = await run(`
name: rates-qos2
groups:
  - name: subscribers
    clients: 2
    steps:
      - connect
      - subscribe: { topic: "rates/#", qos: 1 }
  - name: publishers
    clients: 3
    startTime: 500ms
    steps:
      - connect
      - publish: { topic: "rates/{client}", qos: 1, rate: 50/s, count: 100 }
      - disconnect
`);
    expect(r.totals.counters.messagesSent).toBe(300);
    expect(r.totals.sentPerSec).toBeGreaterThan(150 * 0.97);
    expect(r.totals.sentPerSec).toBeLessThan(150 * 1.03);
    expect(r.totals.receivedPerSec).toBeGreaterThan(300 * 0.95);
    expect(r.totals.receivedPerSec).toBeLessThan(300 * 1.05);
    const publishers = r.groups.find((g) => g.name === 'publishers')!;
    const subscribers = r.groups.find((g) => g.name === 'subscribers')!;
    // One definition: the only sending group's rate is the run's, the only receiving group's likewise.
    expect(publishers.totals.sentPerSec).toBeCloseTo(r.totals.sentPerSec!, 6);
    expect(subscribers.totals.receivedPerSec).toBeCloseTo(r.totals.receivedPerSec!, 6);
  });

  it('a consumer that lags long after the publisher stopped does not dilute the sent rate', async () => {
    const r = await run(`
name: rates-slow
broker: { protocol: 5 }
groups:
  - name: laggard
    steps:
      - connect: { consumeRate: 100/s }
      - subscribe: { topic: rates/slow, qos: 1 }
      - wait: 2500ms
      - disconnect
  - name: firehose
    startTime: 300ms
    steps:
      - connect
      - publish: { topic: rates/slow, qos: 1, rate: 200/s, count: 200 }
      - disconnect
`);
    const firehose = r.groups.find((g) => g.name === 'firehose')!;
    expect(r.totals.sentPerSec).toBeGreaterThan(200 * 0.97);
    expect(r.totals.sentPerSec).toBeLessThan(200 * 1.03);
    expect(firehose.totals.sentPerSec).toBeCloseTo(r.totals.sentPerSec!, 6);
    // The consumer takes 100 a second, whatever the publisher offered.
    expect(r.totals.receivedPerSec).toBeGreaterThan(100 * 0.9);
    expect(r.totals.receivedPerSec).toBeLessThan(100 * 1.1);
  });

  it('connections per second by the same definition: 40 clients at 100/s read 100/s, the seconds around them aside', async () => {
    const r = await run(`
name: rates-connect
groups:
  - name: arrivals
    clients: 40
    connectRate: 100/s
    startTime: 300ms
    steps:
      - connect
      - wait: 1200ms
      - disconnect
`);
    expect(r.totals.counters.connectsOk).toBe(40);
    // 39 intervals of 10 ms between the first and the last CONNACK, give or take the scheduling of each.
    expect(r.totals.connectsPerSec).toBeGreaterThan(100 * 0.9);
    expect(r.totals.connectsPerSec).toBeLessThan(100 * 1.1);
    expect(r.totals.connectedSpan!.lastMs - r.totals.connectedSpan!.firstMs).toBeGreaterThan(350);
    expect(r.groups[0].totals.connectsPerSec).toBeCloseTo(r.totals.connectsPerSec!, 6);
  });
});
