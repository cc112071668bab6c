/**
 * The broker's timer facility on a fake clock: any delay, ordering, cancel and reschedule, and an exception in one
 * callback reaching the error handler instead of the others or the process.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_NODE_DELAY_MS, Timer, Timers } from '../../../src/util/timers.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Timers', () => {
  it('fires a delay beyond 2^31 - 1 ms at its time, not at once and not at the clamp', () => {
    const timers = new Timers(() => {});
    const fired: number[] = [];
    const delay = 4_294_967_294 * 1000;
    timers.schedule(new Timer(() => fired.push(performance.now())), delay);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(MAX_NODE_DELAY_MS);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(delay - MAX_NODE_DELAY_MS - 2);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(10);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(delay);
    timers.close();
  });

  it('fires in deadline order, honours cancel and reschedule', () => {
    const timers = new Timers(() => {});
    const order: string[] = [];
    const t = (name: string) => new Timer(() => order.push(name));
    const a = t('a');
    const b = t('b');
    const c = t('c');
    const d = t('d');
    timers.schedule(a, 300);
    timers.schedule(b, 100);
    timers.schedule(c, 200);
    timers.schedule(d, 50);
    timers.cancel(c);
    timers.schedule(d, 400);
    expect(d.scheduled).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(order).toEqual(['b', 'a', 'd']);
    expect(timers.size).toBe(0);
    expect(c.scheduled).toBe(false);
    timers.close();
  });

  it('hands an exception to its handler with the timer, and runs the other due callbacks', () => {
    const errors: unknown[] = [];
    const owner = { name: 'session' };
    const timers = new Timers((err, timer) => errors.push([String(err), timer.owner]));
    const ran: string[] = [];
    timers.schedule(new Timer(() => ran.push('first')), 10);
    timers.schedule(new Timer(() => { throw new Error('boom'); }, owner), 10);
    timers.schedule(new Timer(() => ran.push('last')), 10);
    vi.advanceTimersByTime(20);
    expect(ran).toEqual(['first', 'last']);
    expect(errors).toEqual([['Error: boom', owner]]);
    timers.close();
  });

  it('orders any set of deadlines like a sort would (1,000 random delays, some cancelled)', () => {
    const timers = new Timers(() => {});
    const fired: number[] = [];
    let seed = 7;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const expected: [number, number][] = [];
    for (let i = 0; i < 1_000; i++) {
      const delay = Math.floor(rand() * 1e6);
      const timer = new Timer(() => fired.push(i));
      timers.schedule(timer, delay);
      if (rand() < 0.2) timers.cancel(timer);
      else expected.push([delay, i]);
    }
    vi.advanceTimersByTime(2e6);
    const byDelay = expected.sort((x, y) => x[0] - y[0] || 0).map(([d]) => d);
    expect(fired.map((i) => expected.find(([, j]) => j === i)![0])).toEqual(byDelay);
    timers.close();
  });
});
