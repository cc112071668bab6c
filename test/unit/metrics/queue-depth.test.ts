import { describe, expect, it } from 'vitest';
import { behindBySecond, groupQueueDepth, progressAt } from '../../../src/metrics/queue-depth.js';

describe('queue depth', () => {
  it('reads a progress record as a step function', () => {
    const p = [0, 10, 2, 30, 5, 31];
    expect([0, 1, 2, 3, 4, 5, 6].map((s) => progressAt(p, s))).toEqual([10, 10, 30, 30, 30, 31, 31]);
    expect(progressAt([], 3)).toBe(0);
  });

  it('is what was sent minus what arrived, per second, summed over the streams', () => {
    // 200/s sent for 2 s; taken at 50/s, then the backlog at full speed after second 3.
    const sent = [0, 200, 1, 400];
    const received = [0, 50, 1, 100, 2, 150, 3, 400];
    expect(behindBySecond([{ sent, received }], 5)).toEqual([150, 300, 250, 0, 0]);
    const other = { sent: [1, 10], received: [] };
    expect(behindBySecond([{ sent, received }, other], 3)).toEqual([150, 310, 260]);
  });

  it('never goes below zero for a stream read a moment after its publisher', () => {
    expect(behindBySecond([{ sent: [0, 5], received: [0, 7] }], 2)).toEqual([0, 0]);
  });

  it('sums a group and names its worst subscribers', () => {
    const q = groupQueueDepth(
      [
        { clientId: 'a', streams: [{ sent: [0, 10], received: [0, 10] }] },
        { clientId: 'b', streams: [{ sent: [0, 10], received: [0, 4, 1, 10] }] },
        { clientId: 'c', streams: [] },
      ],
      2,
    );
    expect(q).toMatchObject({ subscribers: 2, seconds: 2, total: [6, 0], max: [6, 0] });
    expect(q.worst.map((w) => [w.clientId, w.peak])).toEqual([['b', 6], ['a', 0]]);
  });
});
