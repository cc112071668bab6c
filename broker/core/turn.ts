/**
 * How much spreadable work (subscriptions added or removed, retained messages sent after a SUBSCRIBE) the broker
 * does in one turn of the event loop, for all clients together. Packets are still handled as they arrive; only work
 * that can wait for the next turn does, once the turn's share is spent, so that many clients asking for a lot at
 * once (a hundred subscriptions to `#` on a broker holding 100,000 retained messages) cannot stall the others.
 */

/** Units of spreadable work per turn: one subscription added or removed, or one retained message sent. */
export const WORK_PER_TURN = 4_000;

export class TurnBudget {
  private used = 0;
  private resetScheduled = false;

  constructor(readonly perTurn = WORK_PER_TURN) {}

  /** Units left in this turn (0 once spent). */
  get left(): number {
    return this.used >= this.perTurn ? 0 : this.perTurn - this.used;
  }

  spend(units: number): void {
    this.used += units;
    if (!this.resetScheduled) {
      this.resetScheduled = true;
      setImmediate(this.reset);
    }
  }

  private readonly reset = (): void => {
    this.used = 0;
    this.resetScheduled = false;
  };
}
