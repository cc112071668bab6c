/**
 * How an idle load process reads its own memory: a full garbage collection of the thread first (Node must run with
 * --expose-gc), then the V8 heap in use and the process's resident memory from /proc/self/status.
 */
import { getHeapStatistics } from 'node:v8';
import { readProcessRssBytes } from '../src/launch/proc.js';

/** This thread's V8 heap in use after a full collection, bytes. */
export function collectedHeapBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the idle-clients row reads live memory only: run Node with --expose-gc');
  gc();
  return getHeapStatistics().used_heap_size;
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
