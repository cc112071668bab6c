/**
 * Worker thread entry: runs one engine for the whole run, streams progress over its MessagePort, and stops when
 * told to (by message, never by abort, so it can drain and report).
 */
import { Engine } from '../engine/engine.js';
import { warmUp } from '../engine/warm-up.js';
import { readHeap, type HeapReading } from '../util/heap.js';
import type { FromWorker, ToWorker, WorkerResult, WorkerTask } from './messages.js';

export default async function runWorker(task: WorkerTask): Promise<WorkerResult> {
  const port = task.port;
  const post = (m: FromWorker) => port.postMessage(m);
  const engine = new Engine(task.init, {
    progress: (snapshot) => post({ type: 'progress', worker: task.worker, snapshot }),
    idle: () => post({ type: 'idle', worker: task.worker }),
  });
  const stopped = new Promise<number>((resolve) => {
    port.on('message', (m: ToWorker) => {
      if (m.type === 'start') engine.start(m.epochNs, m.epochWallMs);
      else if (m.type === 'stop') resolve(m.drainMs);
      else if (m.type === 'fault') {
        engine.markFault();
        post({ type: 'fault-marked', worker: task.worker, index: m.index });
      }
      else if (m.type === 'heap') post({ type: 'heap', worker: task.worker, ...heapNow(m.collect) });
    });
  });
  await warmUp();
  post({ type: 'ready', worker: task.worker });
  const drainMs = await stopped;
  const report = await engine.stop(drainMs);
  port.close();
  return { worker: task.worker, report };
}

/** This thread's V8 heap; after a full collection when asked and Node exposes `gc` (--expose-gc). */
function heapNow(collect: boolean): HeapReading & { collected: boolean } {
  const gc = (globalThis as { gc?: () => void }).gc;
  const collected = collect && gc !== undefined;
  if (collected) gc();
  return { ...readHeap(), collected };
}
