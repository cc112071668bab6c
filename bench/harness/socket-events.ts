/** Waiting on socket events with a timeout, so that no step of an attack or a probe can hang. */
import type { Socket } from 'node:net';

/** Resolves with the first of `names` that `socket` emits, or 'timeout' after `timeoutMs`. */
export function waitForEvent(socket: Socket, names: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const handlers = names.map((name) => [name, () => finish(name)] as const);
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    function finish(what: string): void {
      clearTimeout(timer);
      for (const [name, handler] of handlers) socket.off(name, handler);
      resolve(what);
    }
    for (const [name, handler] of handlers) socket.once(name, handler);
  });
}

