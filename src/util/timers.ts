/**
 * One timer facility for many deadlines: any delay from a millisecond to the 136 years a v5 Session Expiry Interval
 * can ask for. Node's setTimeout fires at once beyond 2^31 - 1 ms, so deadlines are kept in a binary heap and a
 * single Node timer is armed for the earliest one, capped at that limit and re-armed when it wakes early. The broker
 * and each engine thread have one. Leaf module.
 *
 * An exception in a callback is handed to `onError` with the timer that threw, never to the process.
 */

/** Longest delay Node's timers honour (about 24.8 days). */
export const MAX_NODE_DELAY_MS = 2 ** 31 - 1;

/** Longest run of due callbacks before the event loop gets a turn. */
const SLICE_MS = 20;

/**
 * A deadline. `run` is called with `owner`, so one shared function can serve every timer of a kind: a hundred
 * thousand clients or sessions then hold no closure each. (The owner type defaults to `any` so that a field typed
 * plain `Timer` holds a timer of any owner.)
 */
export class Timer<O = any> {
  /** Deadline on the monotonic clock (performance.now()), ms. */
  due = 0;
  /** Position in the heap; -1 while not scheduled. */
  index = -1;

  constructor(
    readonly run: (owner: O) => void,
    /** Who the timer serves (a session, a connection): passed to `run`, and named to the error handler. */
    readonly owner: O = null as O,
  ) {}

  get scheduled(): boolean {
    return this.index >= 0;
  }
}


export class Timers {
  private readonly heap: Timer[] = [];
  private node: NodeJS.Timeout | null = null;
  /** Deadline the Node timer is armed for, or Infinity. */
  private armedFor = Infinity;
  private closed = false;

  constructor(private readonly onError: (err: unknown, timer: Timer) => void) {}

  /** The monotonic clock the deadlines are on, ms. */
  now(): number {
    return performance.now();
  }

  get size(): number {
    return this.heap.length;
  }

  /** (Re)schedule `t` to run `delayMs` from now. Any finite delay ≥ 0 works, however large. */
  schedule(t: Timer, delayMs: number): void {
    if (this.closed) return;
    if (!(delayMs >= 0)) delayMs = 0;
    if (t.index >= 0) this.remove(t);
    t.due = this.now() + delayMs;
    this.push(t);
    if (t.due < this.armedFor) this.arm();
  }

  cancel(t: Timer): void {
    if (t.index >= 0) this.remove(t);
  }

  /** Drop every timer (the broker is shutting down). */
  close(): void {
    this.closed = true;
    for (const t of this.heap) t.index = -1;
    this.heap.length = 0;
    if (this.node) clearTimeout(this.node);
    this.node = null;
    this.armedFor = Infinity;
  }

  private arm(): void {
    if (this.node) clearTimeout(this.node);
    this.node = null;
    this.armedFor = Infinity;
    const first = this.heap[0];
    if (first === undefined) return;
    const wait = Math.min(Math.max(0, Math.ceil(first.due - this.now())), MAX_NODE_DELAY_MS);
    this.armedFor = first.due;
    this.node = setTimeout(this.fire, wait);
    this.node.unref();
  }

  private readonly fire = (): void => {
    this.node = null;
    this.armedFor = Infinity;
    const now = this.now();
    // Run what is due; a callback may schedule or cancel timers, including ones due now. Many deadlines at once
    // (thousands of sessions expiring together) run in slices so the event loop keeps turning.
    for (let n = 1; ; n++) {
      const t = this.heap[0];
      if (t === undefined || t.due > now) break;
      if ((n & 63) === 0 && this.now() - now > SLICE_MS) break;
      this.remove(t);
      try {
        t.run(t.owner);
      } catch (err) {
        this.onError(err, t);
      }
    }
    if (!this.closed) this.arm();
  };

  // ---- binary heap on `due` ----------------------------------------------------------------------------------

  private push(t: Timer): void {
    const h = this.heap;
    t.index = h.length;
    h.push(t);
    this.up(t.index);
  }

  private remove(t: Timer): void {
    const h = this.heap;
    const i = t.index;
    const last = h.pop()!;
    t.index = -1;
    if (last === t) return;
    h[i] = last;
    last.index = i;
    this.up(i);
    this.down(last.index);
  }

  private up(i: number): void {
    const h = this.heap;
    const t = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].due <= t.due) break;
      h[i] = h[p];
      h[i].index = i;
      i = p;
    }
    h[i] = t;
    t.index = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const t = h[i];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1].due < h[c].due) c++;
      if (h[c].due >= t.due) break;
      h[i] = h[c];
      h[i].index = i;
      i = c;
    }
    h[i] = t;
    t.index = i;
  }
}
