/**
 * A packet whose handling is spread over turns of the event loop (a SUBSCRIBE or UNSUBSCRIBE with 100,000 filters),
 * so that one client's big request cannot stall every other client. The client is not read meanwhile: its next
 * packet is handled after this one, as if it had been handled at once.
 */
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { ConnState } from '../core/outlet.js';
import { WireError } from '../wire.js';

/** At least this many items (filters, retained messages) per turn for one client, so that its work progresses. */
export const MIN_SLICE = 100;

/**
 * Run `step` now, and on later turns until it is done. `step(units)` does at most about `units` units of work
 * (the turn's share left, see core/turn.ts), spends them, and returns true when the work is done.
 */
export function inSlices(core: Core, conn: Client, what: string, step: (units: number) => boolean): void {
  if (step(Math.max(core.turn.left, MIN_SLICE))) return;
  conn.pauseInput();
  const next = (): void => {
    if (conn.state === ConnState.Closed) return;
    try {
      if (!step(Math.max(core.turn.left, MIN_SLICE))) {
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
