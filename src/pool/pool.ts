/**
 * The worker pool of a run: one piscina thread per worker, each running one long-lived task for the whole run
 * (atomics disabled, so a thread keeps serving its sockets between messages), progress streamed over a
 * MessageChannel, and stop by message.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { EngineInit } from '../engine/engine.js';
import type { FromWorker, ToWorker, WorkerResult, WorkerTask } from './messages.js';

/** How long the worker threads sit idle between their last report and their teardown (see stop()). */
const WORKER_SETTLE_MS = 200;

export interface PoolEvents {
  message(m: FromWorker): void;
}

/** One worker thread's V8 heap, as it answered a heap request (see util/heap.ts). */
export interface WorkerHeap {
  worker: number;
  usedBytes: number;
  youngGenerationBytes: number;
  /** A full garbage collection ran just before the reading (Node runs with --expose-gc). */
  collected: boolean;
}

interface HeapRequest {
  answers: (WorkerHeap | undefined)[];
  left: number;
  resolve(heaps: WorkerHeap[]): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class RunPool {
  private readonly piscina: Piscina;
  private readonly ports: MessagePort[] = [];
  private readonly results: Promise<WorkerResult>[] = [];
  private heapRequest: HeapRequest | undefined;

  /** Per fault being marked: the workers yet to confirm, and what to call once none is left. */
  private readonly marking = new Map<number, { left: Set<number>; done: () => void }>();

  constructor(inits: EngineInit[], events: PoolEvents) {
    this.piscina = new Piscina({
      filename: workerFile(),
      minThreads: inits.length,
      maxThreads: inits.length,
      idleTimeout: 60_000,
      atomics: 'disabled',
    });
    inits.forEach((init, worker) => {
      const channel = new MessageChannel();
      channel.port1.on('message', (m: FromWorker) => {
        if (m.type === 'fault-marked') this.faultMarked(m.worker, m.index);
        else if (m.type === 'heap') this.onHeap(m);
        else events.message(m);
      });
      this.ports.push(channel.port1);
      const task: WorkerTask = { worker, init, port: channel.port2 };
      this.results.push(this.piscina.run(task, { transferList: [channel.port2] }) as Promise<WorkerResult>);
    });
  }

  /** Start every worker's clients on one timeline. */
  start(epochNs: bigint, epochWallMs: number): void {
    const msg: ToWorker = { type: 'start', epochNs, epochWallMs };
    for (const p of this.ports) p.postMessage(msg);
  }

  /**
   * Tell every worker that broker fault `index` happened, and wait until each has marked it (or `timeoutMs` has
   * passed: a worker that does not answer is not waited for; the run goes on). Resolves with the workers that did
   * not answer.
   */
  markFault(index: number, timeoutMs: number): Promise<number[]> {
    const left = new Set(this.ports.map((_, w) => w));
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(), timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.marking.delete(index);
        resolve([...left]);
      };
      this.marking.set(index, { left, done: finish });
      const msg: ToWorker = { type: 'fault', index };
      for (const p of this.ports) p.postMessage(msg);
    });
  }

  /**
   * Every worker's V8 heap in use, asked for by message and answered between its socket events; with `collect`, each
   * runs a full garbage collection first where Node exposes one (--expose-gc), so the figure is live memory. Fails
   * when a worker has not answered within `timeoutMs`, or while another request is still out.
   */
  heapUsed(collect: boolean, timeoutMs: number): Promise<WorkerHeap[]> {
    if (this.heapRequest !== undefined) return Promise.reject(new Error('a heap request is already out'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const silent = request.answers.flatMap((a, worker) => (a === undefined ? [worker] : []));
        this.heapRequest = undefined;
        reject(new Error(`worker thread(s) ${silent.join(', ')} did not report their heap within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const request: HeapRequest = {
        answers: Array.from({ length: this.ports.length }, () => undefined),
        left: this.ports.length,
        resolve,
        reject,
        timer,
      };
      this.heapRequest = request;
      const msg: ToWorker = { type: 'heap', collect };
      for (const p of this.ports) p.postMessage(msg);
    });
  }

  private faultMarked(worker: number, index: number): void {
    const m = this.marking.get(index);
    if (m === undefined) return;
    m.left.delete(worker);
    if (m.left.size === 0) m.done();
  }

  private onHeap(m: WorkerHeap): void {
    const request = this.heapRequest;
    // A late answer to a request that has timed out.
    if (request === undefined || request.answers[m.worker] !== undefined) return;
    request.answers[m.worker] = { worker: m.worker, usedBytes: m.usedBytes, youngGenerationBytes: m.youngGenerationBytes, collected: m.collected };
    if (--request.left > 0) return;
    clearTimeout(request.timer);
    this.heapRequest = undefined;
    request.resolve(request.answers as WorkerHeap[]);
  }

  /** Tell every worker to stop (after `drainMs` of receiving) and wait for their reports. */
  async stop(drainMs: number): Promise<WorkerResult[]> {
    const msg: ToWorker = { type: 'stop', drainMs };
    for (const p of this.ports) p.postMessage(msg);
    try {
      return await Promise.all(this.results);
    } finally {
      for (const p of this.ports) p.close();
      // Node 20 can abort the whole process when a worker thread's isolate is torn down while V8 is still compiling
      // its code on a background thread (an assertion in NodePlatform::ForIsolate, seen once in a full test run:
      // "Assertion failed: (data.first) != nullptr", from a TurboFan job). The threads sit idle a moment first, so
      // the compile work queued by their last busy moments has finished; idle, they queue none.
      await sleep(WORKER_SETTLE_MS);
      await this.piscina.destroy();
    }
  }

  /** A worker that fails ends the run: its task's rejection. */
  failure(): Promise<never> {
    return Promise.race(this.results).then(
      () => new Promise<never>(() => undefined),
      (err: unknown) => Promise.reject(err),
    );
  }
}

/**
 * The compiled worker entry. Under the test runner this module is the TypeScript source, so the built file is
 * found at the same place under dist/.
 */
export function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return fileURLToPath(new URL('./worker.js', import.meta.url));
  const built = here.replace(/[/\\]src[/\\]pool[/\\]pool\.ts$/, '/dist/src/pool/worker.js');
  if (!existsSync(built)) throw new Error(`worker thread entry ${built} is missing: run "npm run build" first`);
  return built;
}
