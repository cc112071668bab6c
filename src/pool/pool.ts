/**
 * The worker pool of a run: one piscina thread per worker, each running one long-lived task for the whole run
 * (atomics disabled, so a thread keeps serving its sockets between messages), progress streamed over a
 * MessageChannel, and stop by message.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { EngineInit } from '../engine/engine.js';
import type { FromWorker, ToWorker, WorkerResult, WorkerTask } from './messages.js';

export interface PoolEvents {
  message(m: FromWorker): void;
}

export class RunPool {
  private readonly piscina: Piscina;
  private readonly ports: MessagePort[] = [];
  private readonly results: Promise<WorkerResult>[] = [];

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

  private faultMarked(worker: number, index: number): void {
    const m = this.marking.get(index);
    if (m === undefined) return;
    m.left.delete(worker);
    if (m.left.size === 0) m.done();
  }

  /** Tell every worker to stop (after `drainMs` of receiving) and wait for their reports. */
  async stop(drainMs: number): Promise<WorkerResult[]> {
    const msg: ToWorker = { type: 'stop', drainMs };
    for (const p of this.ports) p.postMessage(msg);
    try {
      return await Promise.all(this.results);
    } finally {
      for (const p of this.ports) p.close();
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
