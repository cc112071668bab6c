/**
 * Keeps unpaced publishers from running away from their subscribers, across worker threads.
 *
 * An unpaced publisher sends as fast as the socket takes it, and a broker reads eagerly into its own queues, so
 * without a bound the measured "throughput" is how fast those queues grow (and latency rises without end). Each
 * publisher may have at most `limit` messages sent and not yet received by its subscribers. Subscribers in any
 * thread count what they receive per publisher in shared memory; with several subscribers a publisher's messages
 * count as received once every subscriber has had them on average (received / subscribers heard from).
 */
export interface FlowGateInit {
  /** Two Int32 counters per publisher slot: deliveries received, and receivers heard from. */
  shared: SharedArrayBuffer;
  /** First slot of each group (slot = offset + index within the group). */
  groupOffsets: number[];
  /** Messages a publisher may have outstanding. */
  limit: number;
}

/** Without any receiver after this long, a publisher is taken to have no subscribers and is not held back. */
const NO_RECEIVER_GRACE_US = 500_000;

export class FlowGate {
  private readonly counts: Int32Array;

  constructor(private readonly init: FlowGateInit) {
    this.counts = new Int32Array(init.shared);
  }

  static create(publishers: number, groupOffsets: number[], limit: number): FlowGateInit {
    return { shared: new SharedArrayBuffer(Math.max(1, publishers) * 8), groupOffsets, limit };
  }

  slot(group: number, index: number): number {
    return this.init.groupOffsets[group] + index;
  }

  get slots(): number {
    return this.counts.length >> 1;
  }

  /** A subscriber received one message from the publisher in `slot`; `newPublisher` on its first from it. */
  received(slot: number, newPublisher: boolean): void {
    const c = this.counts;
    // A payload from another run sharing the broker may name any publisher.
    if (slot < 0 || slot * 2 >= c.length) return;
    Atomics.add(c, slot * 2, 1);
    if (newPublisher) Atomics.add(c, slot * 2 + 1, 1);
  }

  /**
   * May the publisher in `slot`, having sent `sent` messages since `startUs`, send more now? A publisher that was
   * held (`resuming`) goes on only once a quarter of its budget is free again, so it sends in large pieces rather
   * than a trickle of small writes.
   */
  open(slot: number, sent: number, startUs: number, nowUs: number, resuming: boolean): boolean {
    const limit = resuming ? this.init.limit - (this.init.limit >> 2) : this.init.limit;
    if (sent < limit) return true;
    const c = this.counts;
    const receivers = Atomics.load(c, slot * 2 + 1);
    if (receivers === 0) return nowUs - startUs > NO_RECEIVER_GRACE_US;
    return sent - Atomics.load(c, slot * 2) / receivers < limit;
  }
}
