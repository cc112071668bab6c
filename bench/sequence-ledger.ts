/**
 * Which sequence numbers of one publisher reached one subscriber, so that lost, duplicated and out-of-order
 * deliveries are counted exactly rather than inferred from packet counts and DUP flags.
 *
 * The ledger keeps a bitmap of the last `windowBits` sequences, [base, base + windowBits), as a ring. A delivery of
 * sequence `s`:
 * - `s` at or above every sequence seen so far: new. When it does not fit in the window, the window slides up (in
 *   whole 32-bit words) and the sequences it leaves behind are settled: arrived or not, they are no longer looked at.
 * - inside the window, below the highest seen: its bit says whether it is a duplicate; if not, it is new but out of
 *   order (it came after a later one).
 * - below the window: `beyondWindow`. Whether it repeats a settled sequence or fills a gap can no longer be told, so
 *   it is counted apart and never as distinct. With a window far longer than any broker reorders (millions of
 *   sequences), it stays 0 and every count is exact.
 *
 * At the end, `lost(sent)` is `sent - distinct`: the sequences 0..sent-1 that never arrived.
 *
 * Memory is the bitmap, `windowBits / 8` bytes, fixed for the ledger's life; `record` allocates nothing.
 */

export class SequenceLedger {
  /** Different sequences delivered (within the window when they arrived). */
  distinct = 0;
  /** Deliveries of a sequence already delivered. */
  duplicates = 0;
  /** New sequences delivered after a higher one. */
  outOfOrder = 0;
  /** Deliveries of a sequence below the window: not classified (see above). */
  beyondWindow = 0;
  /** One past the highest sequence delivered (0 before any). */
  private high = 0;
  /** Lowest sequence the window still covers; a multiple of 32. */
  private base = 0;
  private readonly bits: Uint32Array;
  private readonly size: number;
  private readonly mask: number;

  /** `windowBits`: a power of two from 64 up. */
  constructor(windowBits: number) {
    if (!Number.isInteger(windowBits) || windowBits < 64 || (windowBits & (windowBits - 1)) !== 0 || windowBits > 2 ** 30) {
      throw new RangeError(`a sequence window must be a power of two from 64 to 2^30 bits, got ${windowBits}`);
    }
    this.size = windowBits;
    this.mask = windowBits - 1;
    this.bits = new Uint32Array(windowBits >>> 5);
  }

  /** Accounts one delivery of sequence `seq` (a whole number below 2^53). */
  record(seq: number): void {
    if (seq >= this.high) {
      if (seq - this.base >= this.size) this.slide(seq);
      this.high = seq + 1;
      // Bits of sequences at or above `high` were cleared when their slots left the window.
      const slot = seq & this.mask;
      this.bits[slot >>> 5] |= 1 << (slot & 31);
      this.distinct++;
      return;
    }
    if (seq < this.base) {
      this.beyondWindow++;
      return;
    }
    const slot = seq & this.mask;
    const word = slot >>> 5;
    const bit = 1 << (slot & 31);
    if ((this.bits[word] & bit) !== 0) {
      this.duplicates++;
      return;
    }
    this.bits[word] |= bit;
    this.distinct++;
    this.outOfOrder++;
  }

  /** Sequences 0..sent-1 that never arrived. */
  lost(sent: number): number {
    return Math.max(0, sent - this.distinct);
  }

  /** One past the highest sequence delivered. */
  get next(): number {
    return this.high;
  }

  /** Moves the window up so that `seq` is its top slot or below, clearing the slots of the sequences it leaves. */
  private slide(seq: number): void {
    const target = seq - this.size + 1;
    const newBase = Math.ceil(target / 32) * 32;
    const leaving = newBase - this.base;
    if (leaving >= this.size) {
      this.bits.fill(0);
    } else {
      const words = this.bits.length;
      let word = (this.base & this.mask) >>> 5;
      for (let n = leaving >>> 5; n > 0; n--) {
        this.bits[word] = 0;
        word = word + 1 === words ? 0 : word + 1;
      }
    }
    this.base = newBase;
  }
}

/** The largest power-of-two window from 64 to `max` bits whose `ledgers` bitmaps together fit in `budgetBytes`. */
export function ledgerWindowBits(ledgers: number, budgetBytes: number, max = 2 ** 24): number {
  const perLedger = Math.floor((budgetBytes * 8) / Math.max(1, ledgers));
  let bits = 64;
  while (bits * 2 <= perLedger && bits * 2 <= max) bits *= 2;
  return bits;
}
