/**
 * A run stopped before it completed: what a subscriber had not received by the end, after the last sequence it did
 * receive, is in flight at stop — not lost, and no QoS verdict counts it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runInline } from '../../helpers/run-scenario.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

// The subscriber takes 50 messages a second while 400 a second are acknowledged: when the run stops, the broker
// still holds most of them for it.
const BACKLOG = (duration: string) => `
name: backlog-at-stop
broker: { protocol: 5 }
duration: ${duration}
drain: 200ms
groups:
  - name: slow
    steps:
      - connect: { consumeRate: 50/s }
      - subscribe: { topic: backlog/t, qos: 1 }
  - name: fast
    startTime: 300ms
    steps:
      - connect
      - publish: { topic: backlog/t, qos: 1, rate: 400/s, count: 100000 }
`;

describe('in flight at stop', () => {
  it('when the duration ends: the backlog is in flight, nothing acknowledged is lost, QoS 1 held', async () => {
    const { result: r } = await runInline(BACKLOG('2s'), stops);
    expect(r.stoppedBy).toBe('duration');
    const d = r.delivery.total;
    expect(d.acknowledged).toBeGreaterThan(400);
    expect(d.received).toBeLessThan(d.acknowledged / 2);
    // Every message sent is either received (once: nothing was duplicated) or in flight at stop.
    expect(d.received - d.duplicated + d.inFlightAtStop + d.lost).toBe(d.sent);
    expect(d.inFlightAtStop).toBeGreaterThan(200);
    expect(d.lost).toBe(0);
    expect(d.lostAcknowledged).toBe(0);
    expect(r.delivery.verdicts).toEqual([expect.objectContaining({ qos: 1, held: true })]);
    expect(r.notes.join(' ')).toMatch(/in flight at stop/);
  });

  it('when interrupted: the same, and the run still fails for being interrupted', async () => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 2_000);
    const { result: r } = await runInline(BACKLOG('30s'), stops, { signal: abort.signal }).finally(() => clearTimeout(timer));
    expect(r.stoppedBy).toBe('interrupted');
    expect(r.delivery.total.inFlightAtStop).toBeGreaterThan(200);
    expect(r.delivery.total.lostAcknowledged).toBe(0);
    expect(r.delivery.verdicts).toEqual([expect.objectContaining({ qos: 1, held: true })]);
    expect(r.passed).toBe(false);
  });
});
