/**
 * A run's heap request: every worker thread answers with its own V8 heap while its clients are connected, one
 * request at a time, and a full collection is reported only where Node exposes one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunControl, WorkerHeap } from '../../../src/run/run.js';
import { runInline } from '../../helpers/run-scenario.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe('worker heaps during a run', () => {
  it('each of three workers reports its heap once, a second request while one is out is refused', async () => {
    const abort = new AbortController();
    let heaps: WorkerHeap[] | undefined;
    let overlap: unknown;
    let failure: unknown;
    const ask = async (run: RunControl): Promise<void> => {
      try {
        // Once the clients have connected, so the heaps hold them.
        await new Promise((resolve) => setTimeout(resolve, 800));
        const first = run.workerHeaps(true, 5_000);
        overlap = await run.workerHeaps(false, 5_000).catch((err: Error) => err);
        heaps = await first;
      } catch (err) {
        failure = err;
      } finally {
        abort.abort();
      }
    };
    const { result } = await runInline(
      `
name: heaps
duration: 20s
drain: 0s
groups:
  - name: idle
    clients: 30
    steps:
      - connect
      - subscribe: { topic: "heaps/{client}", qos: 1 }
`,
      stops,
      { onStart: (run) => void ask(run), signal: abort.signal },
      3,
    );
    expect(failure).toBeUndefined();
    expect(result.stoppedBy).toBe('interrupted');
    expect(result.totals.errorsTotal).toBe(0);
    expect((overlap as Error).message).toBe('a heap request is already out');
    expect(heaps!.map((h) => h.worker)).toEqual([0, 1, 2]);
    for (const h of heaps!) {
      // A worker thread's heap holds at least its code and its clients: more than a megabyte, less than a gigabyte.
      expect(h.usedBytes).toBeGreaterThan(1 << 20);
      expect(h.usedBytes).toBeLessThan(1 << 30);
      // New space is committed from the start: a semi-space is at least 512 KiB.
      expect(h.youngGenerationBytes).toBeGreaterThanOrEqual(512 * 1024);
      expect(h.youngGenerationBytes).toBeLessThan(1 << 30);
      // The test process does not run with --expose-gc, so no worker can have collected.
      expect(h.collected).toBe(typeof (globalThis as { gc?: unknown }).gc === 'function');
    }
  });
});
