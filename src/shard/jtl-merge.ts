/**
 * results.jtl of a merged run: every shard's rows, their timestamps moved onto the merged timeline (shard 0's clock)
 * and their thread columns set to the whole run's clients, interleaved by timestamp as far as each file's own order
 * allows (a k-way merge; each shard writes its rows about a second at a time). Files are read and written in
 * pieces, so a long run's results need not fit in memory.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { JTL_COLUMNS, JTL_HEADER } from '../report/jtl.js';

const CHUNK = 1 << 20;
const TIMESTAMP = 0;
const GRP_THREADS = JTL_COLUMNS.indexOf('grpThreads');
const ALL_THREADS = JTL_COLUMNS.indexOf('allThreads');

export interface JtlPart {
  path: string;
  /** Added to each row's timestamp (ms, rounded per row). */
  correctionMs: number;
}

export class JtlMergeError extends Error {}

/** Writes the merged file to `out`; returns the number of rows. */
export function mergeJtlFiles(parts: readonly JtlPart[], out: string, clients: number): number {
  const readers = parts.map((p) => new RecordReader(p.path));
  const heads: Array<{ ts: number; fields: string[] } | null> = [];
  try {
    for (const [i, r] of readers.entries()) {
      const header = r.next();
      if (header !== null && header.join(',') + '\n' !== JTL_HEADER) {
        throw new JtlMergeError(`${parts[i].path}: not a results.jtl written by mqbench (its header differs)`);
      }
      heads.push(advance(r, parts[i].correctionMs, clients));
    }
    const fd = openSync(out, 'w');
    let rows = 0;
    try {
      let buffer = JTL_HEADER;
      for (;;) {
        let best = -1;
        for (let i = 0; i < heads.length; i++) {
          const h = heads[i];
          if (h !== null && (best < 0 || h.ts < heads[best]!.ts)) best = i;
        }
        if (best < 0) break;
        buffer += heads[best]!.fields.join(',') + '\n';
        rows++;
        if (buffer.length > CHUNK) {
          writeSync(fd, buffer);
          buffer = '';
        }
        heads[best] = advance(readers[best], parts[best].correctionMs, clients);
      }
      writeSync(fd, buffer);
    } finally {
      closeSync(fd);
    }
    return rows;
  } finally {
    for (const r of readers) r.close();
  }
}

function advance(r: RecordReader, correctionMs: number, clients: number): { ts: number; fields: string[] } | null {
  const fields = r.next();
  if (fields === null) return null;
  const ts = Math.round(Number(fields[TIMESTAMP]) + correctionMs);
  fields[TIMESTAMP] = String(ts);
  if (fields.length > ALL_THREADS) {
    fields[GRP_THREADS] = String(clients);
    fields[ALL_THREADS] = String(clients);
  }
  return { ts, fields };
}

/** CSV records of a file, as JMeter quotes them (a quoted field may hold commas, quotes and line breaks). */
class RecordReader {
  private readonly fd: number;
  private text = '';
  private pos = 0;
  private eof = false;
  private readonly chunk = Buffer.alloc(CHUNK);
  private pending = Buffer.alloc(0);

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw new JtlMergeError(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The next record's fields (raw: quoted fields keep their quotes), or null at the end. */
  next(): string[] | null {
    for (;;) {
      const end = recordEnd(this.text, this.pos);
      if (end >= 0) {
        const record = this.text.slice(this.pos, end);
        this.pos = end + 1;
        if (record === '') continue;
        return splitFields(record);
      }
      if (this.eof) {
        const record = this.text.slice(this.pos);
        this.text = '';
        this.pos = 0;
        return record === '' ? null : splitFields(record);
      }
      const n = readSync(this.fd, this.chunk, 0, CHUNK, null);
      if (n === 0) this.eof = true;
      // A character cut in two at the end of the chunk is kept as bytes until its rest arrives.
      else {
        const bytes = Buffer.concat([this.pending, this.chunk.subarray(0, n)]);
        const cut = completeUtf8(bytes);
        this.pending = Buffer.from(bytes.subarray(cut));
        this.text = this.text.slice(this.pos) + bytes.toString('utf8', 0, cut);
        this.pos = 0;
      }
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Length of `bytes` without a UTF-8 sequence cut off at its end. */
function completeUtf8(bytes: Buffer): number {
  const i = bytes.length;
  // Back over continuation bytes to the lead byte of the last character, at most 3.
  let k = i - 1;
  while (k >= 0 && k >= i - 4 && (bytes[k] & 0xc0) === 0x80) k--;
  if (k < 0) return i;
  const lead = bytes[k];
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return i - k < need ? k : i;
}

/** Index of the line break that ends the record starting at `from` (outside quotes), or -1 when it is not all there yet. */
function recordEnd(text: string, from: number): number {
  let quoted = false;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x0a && !quoted) return i;
  }
  return -1;
}

function splitFields(record: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < record.length; i++) {
    const c = record.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x2c && !quoted) {
      out.push(record.slice(start, i));
      start = i + 1;
    }
  }
  out.push(record.slice(start));
  return out;
}
