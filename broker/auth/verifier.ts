/**
 * Password checks with a bound on how many run at once. PBKDF2 runs on libuv's thread pool (four threads by
 * default, shared with file writes such as the log): a flood of CONNECTs must not occupy all of it, nor queue
 * without limit. Checks beyond the running bound wait in order; a check whose client has gone by the time its turn
 * comes is skipped.
 */
import { checkPassword, type PasswordEntry } from './password-file.js';

/** Password checks running at once. */
export const VERIFY_CONCURRENCY = 2;
/** Checks waiting beyond those: more are refused at once (the client is told the server is busy). */
export const VERIFY_QUEUE_LIMIT = 100_000;

export interface VerifyJob {
  entry: PasswordEntry;
  password: Buffer;
  /** False once nobody waits for the answer (the client disconnected): the check is skipped (done(false)). */
  wanted(): boolean;
  done(ok: boolean): void;
}

export class PasswordVerifier {
  private running = 0;
  private queue: (VerifyJob | undefined)[] = [];
  private head = 0;
  /** next() is on the stack: a check answered synchronously ($6$) must not start another recursively. */
  private draining = false;
  /** Checks made, and checks skipped because their client had gone. */
  checked = 0;
  skipped = 0;

  constructor(
    readonly concurrency = VERIFY_CONCURRENCY,
    readonly queueLimit = VERIFY_QUEUE_LIMIT,
  ) {}

  get waiting(): number {
    return this.queue.length - this.head;
  }

  get active(): number {
    return this.running;
  }

  /** Start or queue `job`; false when the queue is full (nothing was done and `done` will not be called). */
  submit(job: VerifyJob): boolean {
    if (this.running < this.concurrency) {
      this.start(job);
      return true;
    }
    if (this.waiting >= this.queueLimit) return false;
    this.queue.push(job);
    return true;
  }

  private start(job: VerifyJob): void {
    this.running++;
    this.checked++;
    let finished = false;
    checkPassword(job.entry, job.password, (ok) => {
      // checkPassword answers once; the guard keeps the count right should that ever change.
      if (finished) return;
      finished = true;
      this.running--;
      try {
        job.done(ok);
      } finally {
        if (!this.draining) this.next();
      }
    });
  }

  private next(): void {
    this.draining = true;
    try {
      this.drain();
    } finally {
      this.draining = false;
    }
  }

  private drain(): void {
    while (this.running < this.concurrency && this.head < this.queue.length) {
      const job = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (!job.wanted()) {
        // Answered without a check: nobody is waiting for a yes.
        this.skipped++;
        job.done(false);
        continue;
      }
      this.start(job);
    }
  }
}
