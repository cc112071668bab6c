/**
 * Bounds how far publishers run ahead of subscribers: publishers stop sending while `cap` deliveries are outstanding
 * (sent × subscribers − received) and resume once half of them have arrived. Without it a broker that fans out slower
 * than it reads piles up tens of seconds of messages in socket buffers and its own queues, and the end of a run
 * could not tell a message still on its way from a lost one.
 */

/** No delivery for this long while publishers wait: whatever is outstanding was dropped by the broker. */
const STALL_MS = 200;

export class DeliveryGate {
  /** Deliveries sent and not yet received or written off. */
  private outstanding = 0;
  private readonly waiters = new Set<() => void>();
  private progressed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly checkStall = (): void => this.onStallCheck();

  /** `cap` 0 means no bound; `fanOut` is the subscriber count, the deliveries one PUBLISH makes. */
  constructor(
    readonly cap: number,
    private readonly fanOut: number,
  ) {}

  /** Whether `messages` more may be sent now. */
  allows(messages: number): boolean {
    return this.cap === 0 || this.outstanding + messages * this.fanOut <= this.cap;
  }

  /** The largest batch that fits in the cap at all (so that `allows` can ever be true for it). */
  largestBatch(preferred: number): number {
    return this.cap === 0 ? preferred : Math.max(1, Math.min(preferred, Math.floor(this.cap / this.fanOut / 4)));
  }

  sent(messages: number): void {
    this.outstanding += messages * this.fanOut;
  }

  delivered(count: number): void {
    this.outstanding -= count;
    this.progressed = true;
    if (this.waiters.size > 0 && this.outstanding <= this.cap / 2) this.release();
  }

  /** Calls `resume` once sending may go on; a waiter already registered is not added twice. */
  wait(resume: () => void): void {
    this.waiters.add(resume);
    if (this.timer === undefined) {
      this.progressed = false;
      this.timer = setTimeout(this.checkStall, STALL_MS);
    }
  }

  /** Publishing stopped: nobody waits any more. */
  close(): void {
    this.waiters.clear();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onStallCheck(): void {
    this.timer = undefined;
    if (this.waiters.size === 0) return;
    if (!this.progressed) {
      // The outstanding deliveries are not coming; the loss shows in the run's totals, not here.
      this.outstanding = 0;
      this.release();
      return;
    }
    this.progressed = false;
    this.timer = setTimeout(this.checkStall, STALL_MS);
  }

  private release(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const resume of waiters) resume();
  }
}
