/**
 * A packet whose handling is spread over turns of the event loop (a SUBSCRIBE or UNSUBSCRIBE with 100,000 filters),
 * so that one client's big request cannot stall every other client. The client is not read meanwhile: its next
 * packet is handled after this one, as if it had been handled at once.
 */
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { ConnState } from '../core/outlet.js';
import { WireError } from '../wire.js';

/** Items (topic filters) handled per turn of the event loop. */
export const SLICE = 2_000;

/** Run `step` (one slice per call; true when the work is done) now, and on later turns until it is done. */
export function inSlices(core: Core, conn: Client, what: string, step: () => boolean): void {
  if (step()) return;
  conn.pauseInput();
  const next = (): void => {
    if (conn.state === ConnState.Closed) return;
    try {
      if (!step()) {
        setImmediate(next);
        return;
      }
    } catch (err) {
      if (err instanceof WireError) conn.fail(err.rc, err.message);
      else core.fault(conn, err, what);
      return;
    }
    conn.resumeInput();
  };
  setImmediate(next);
}
