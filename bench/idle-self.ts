/**
 * How an idle load process reads its own memory: a full garbage collection of the thread first (Node must run with
 * --expose-gc), then its V8 heap and the process's resident memory from /proc/self/status.
 */
import { readProcessRssBytes } from '../src/launch/proc.js';
import { readHeap, type HeapReading } from '../src/util/heap.js';

/** This thread's V8 heap after a full collection. */
export function collectedHeap(): HeapReading {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the idle-clients row reads live memory only: run Node with --expose-gc');
  gc();
  return readHeap();
}

/** VmRSS of this process, bytes. */
export function selfRssBytes(): number {
  const rss = readProcessRssBytes(process.pid);
  if (rss === undefined) throw new Error('cannot read this process\'s resident memory from /proc/self/status');
  return rss;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
