/**
 * Runs one job in a child Node process of this folder and waits for its one reply, so that the load (the raw
 * generator or mqbench) never shares a process, hence a core, with the broker or the benchmark itself.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type ChildReply<R> = { type: 'result'; result: R } | { type: 'error'; message: string };

/**
 * Forks `./<entry>` next to this file, with Node's `nodeOptions` (e.g. --expose-gc) beside this process's own, and
 * sends it `message`; settles with the child's result, or fails with its error, its exit before replying, or after
 * `limitMs` (the child is then killed).
 */
export function forkJob<R>(entry: string, message: object, limitMs: number, what: string, nodeOptions: readonly string[] = []): Promise<R> {
  const file = fileURLToPath(new URL(`./${entry}`, import.meta.url));
  const child: ChildProcess = fork(file, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, ...nodeOptions],
  });
  return new Promise<R>((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | undefined, value?: R): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else {
        resolve(value as R);
      }
    };
    const timer = setTimeout(() => settle(new Error(`${what} did not finish within ${limitMs / 1000} s`)), limitMs);
    child.on('message', (reply: ChildReply<R>) => {
      if (reply.type === 'result') settle(undefined, reply.result);
      else settle(new Error(reply.message));
    });
    child.once('error', (err) => settle(err));
    child.once('exit', (code, signal) => settle(new Error(`${what} exited with ${signal ?? `code ${code}`} before reporting`)));
    child.send(message);
  });
}
