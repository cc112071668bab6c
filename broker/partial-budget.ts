/**
 * The broker-wide budget for bytes held in packets still arriving (partial_packet_budget). A connection whose
 * big packet would exceed it stops being read until other packets complete or their connections close; a packet is
 * never refused for want of budget when no other connection holds any, so one packet of the maximum size still gets
 * through.
 */
import type { ByteBudget } from '../src/protocol/frame-reader.js';

export class PartialBudget implements ByteBudget {
  used = 0;
  private waiters: (() => void)[] = [];
  private wakeScheduled = false;

  constructor(readonly limit: number) {}

  take(n: number, held: number): boolean {
    if (this.used > held && this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used -= n;
    if (this.waiters.length > 0 && !this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(this.wakeAll);
    }
  }

  wait(wake: () => void): void {
    this.waiters.push(wake);
  }

  /** Connections waiting for budget. */
  get waiting(): number {
    return this.waiters.length;
  }

  private readonly wakeAll = (): void => {
    this.wakeScheduled = false;
    const list = this.waiters;
    this.waiters = [];
    // Each retries; those still refused wait again.
    for (const wake of list) wake();
  };
}
