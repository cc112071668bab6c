/**
 * What the core tells the persistent store (broker/persist/) about each change to the state that outlives a restart,
 * and what it asks of it: when output that depends on those changes may leave, and whether the store is behind.
 * The core calls nothing else of the store; with persistence off there is no store and nothing is called.
 */
import type { Msg } from './message.js';
import type { Session, SessionLog } from './session.js';

/** Something that waits for records to reach the disk (a connection holding output back, see persist/output-gate.ts). */
export interface DurableWatcher {
  /** Every record of batch `batch` and of the batches before it is durable. */
  durable(batch: number): void;
}

export interface Durable extends SessionLog {
  /**
   * A session connected, or went offline (its expiry then counts), or its expiry changed. The store keeps the sessions
   * that outlive their connection (expiry ≠ 0) and sets `session.durable`; one whose expiry became 0 is forgotten.
   */
  sessionChanged(session: Session): void;
  sessionEnded(session: Session): void;
  /** A retained message was set, or cleared (an empty payload), for its topic. */
  retainChanged(msg: Msg): void;

  /**
   * The batch that has to reach the disk before output depending on the records appended so far may leave; 0 when
   * nothing appended is waiting for the disk.
   */
  pendingBatch(): number;
  /** Records appended since the start: a connection that saw this unchanged while handling a packet waits for nothing. */
  readonly appended: number;
  watch(w: DurableWatcher): void;
  unwatch(w: DurableWatcher): void;
  /** More bytes wait for the disk than the store's bound: clients adding records are held back until `drained`. */
  readonly congested: boolean;
  /** Call `resume` once, when the store is below its bound again. */
  whenDrained(resume: () => void): void;
}
