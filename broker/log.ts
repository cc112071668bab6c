/**
 * Log lines in Mosquitto's wording with its Unix-time prefix, filtered by log type, so existing greps and habits
 * keep working. Callers test the flag before building a line: a disabled type costs one property read. Lines are
 * capped (a 65,535-character client id does not make a 65 KB line), and standard output and error are written
 * without ever blocking the event loop: a reader that stops reading costs dropped lines, not a stalled broker.
 */
import { close as fsClose, openSync, write as fsWrite } from 'node:fs';

/** Mosquitto's log types (`log_type` lines). */
export type LogType = 'error' | 'warning' | 'notice' | 'information' | 'subscribe' | 'unsubscribe' | 'debug';

export const ALL_LOG_TYPES: readonly LogType[] = ['error', 'warning', 'notice', 'information', 'subscribe', 'unsubscribe', 'debug'];

/** Longest line logged, in characters (Mosquitto cuts its lines at 1,000 bytes too). */
export const LOG_LINE_MAX = 1000;

export class Log {
  error = false;
  warning = false;
  notice = false;
  info = false;
  subscribe = false;
  unsubscribe = false;
  /** Per-packet lines ("Received PUBLISH from ..."): Mosquitto's debug type, what `-v` shows. */
  debug = false;
  /** `connection_messages`: clients connecting and disconnecting are logged (at notice, their wills at debug). */
  connections = true;
  private sink: (line: string) => void = () => undefined;
  private stamp: () => string = unixSeconds;

  constructor(types: ReadonlySet<LogType>, sink: (line: string) => void, stamp: () => string = unixSeconds, connections = true) {
    this.configure(types, sink, stamp, connections);
  }

  /** New settings (a reload): types, destination, time format, connection lines. */
  configure(types: ReadonlySet<LogType>, sink: (line: string) => void, stamp: () => string = unixSeconds, connections = true): void {
    this.error = types.has('error');
    this.warning = types.has('warning');
    this.notice = types.has('notice');
    this.info = types.has('information');
    this.subscribe = types.has('subscribe');
    this.unsubscribe = types.has('unsubscribe');
    this.debug = types.has('debug');
    this.connections = connections;
    this.sink = sink;
    this.stamp = stamp;
  }

  line(text: string): void {
    const capped = text.length > LOG_LINE_MAX ? `${text.slice(0, LOG_LINE_MAX - 1)}…` : text;
    this.sink(`${this.stamp()}: ${capped}`);
  }
}

function unixSeconds(): string {
  return String(Math.floor(Date.now() / 1000));
}

/** Mosquitto's protocol tag in "(p2, c1, k60)": 1 for 3.1, 2 for 3.1.1, 5 for 5.0. */
export function protocolTag(version: number): number {
  return version === 3 ? 1 : version === 4 ? 2 : 5;
}

/** Bytes of lines waiting for a slow reader before further lines are dropped. */
const PENDING_LIMIT = 1024 * 1024;
const RETRY_MS = 20;

/**
 * Lines to a file descriptor, one write in flight at a time on libuv's thread pool: a pipe nobody reads blocks a
 * pool thread, never the event loop. Lines logged while a write is in flight, or in the same turn of the event loop,
 * are joined into the next write. Beyond PENDING_LIMIT bytes waiting, lines are dropped and counted, and a line
 * saying how many is written once the reader catches up.
 */
export class LineWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private broken = false;
  private idle: (() => void)[] = [];
  /** Lines dropped because the reader was too slow. */
  dropped = 0;
  private droppedUnreported = 0;

  constructor(readonly fd: number) {}

  readonly write = (line: string): void => {
    if (this.broken) return;
    if (this.pendingBytes + line.length > PENDING_LIMIT) {
      this.dropped++;
      this.droppedUnreported++;
      return;
    }
    if (this.droppedUnreported > 0 && this.pendingBytes === 0) {
      const note = `${Math.floor(Date.now() / 1000)}: ${this.droppedUnreported} log lines dropped: the log output was not read fast enough.\n`;
      this.droppedUnreported = 0;
      this.pending.push(note);
      this.pendingBytes += note.length;
    }
    this.pending.push(line + '\n');
    this.pendingBytes += line.length + 1;
    if (!this.writing) {
      // The lines of one turn of the event loop (a connection storm logs three per client) go out in one write.
      this.writing = true;
      setImmediate(this.nextLater);
    }
  };

  private readonly nextLater = (): void => this.next();

  /** Write nothing more (the file is about to be closed). */
  stop(): void {
    this.broken = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Resolves once everything written so far is out, or after `timeoutMs`, whichever comes first. */
  flush(timeoutMs = 1000): Promise<void> {
    if (!this.writing || this.broken) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      const self = this;
      function done(): void {
        clearTimeout(timer);
        const i = self.idle.indexOf(done);
        if (i >= 0) self.idle.splice(i, 1);
        resolve();
      }
      this.idle.push(done);
    });
  }

  private next(): void {
    if (this.pending.length === 0) {
      this.writing = false;
      const idle = this.idle;
      this.idle = [];
      for (const f of idle) f();
      return;
    }
    this.writing = true;
    const buf = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingBytes = 0;
    this.send(buf, 0);
  }

  private send(buf: Buffer, off: number): void {
    fsWrite(this.fd, buf, off, buf.length - off, null, (err, n) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => this.send(buf, off), RETRY_MS).unref();
          return;
        }
        // The reader is gone (EPIPE, EBADF): nothing more can be logged there.
        this.broken = true;
        this.writing = false;
        this.pending = [];
        for (const f of this.idle.splice(0)) f();
        return;
      }
      if (off + n < buf.length) this.send(buf, off + n);
      else this.next();
    });
  }
}

/**
 * `log_dest file <path>`: lines appended to a file, readable by its owner only (as Mosquitto creates it). Throws
 * Mosquitto's line when the file cannot be opened.
 */
export function openLogFile(path: string): LineWriter {
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o600);
  } catch (err) {
    throw new Error(`Error: Unable to open log file ${path} for writing (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
  return new LineWriter(fd);
}

/** Close a file's writer once what was written to it has gone out (a reload reopens the file: log rotation). */
export async function closeLogFile(w: LineWriter): Promise<void> {
  await w.flush(2_000);
  w.stop();
  await new Promise<void>((resolve) => fsClose(w.fd, () => resolve()));
}

const writers = new Map<number, LineWriter>();

/** The process-wide writer for `fd` (1: standard output, 2: standard error), so lines from every user keep their order. */
export function lineWriter(fd: 1 | 2): LineWriter {
  let w = writers.get(fd);
  if (w === undefined) {
    w = new LineWriter(fd);
    writers.set(fd, w);
  }
  return w;
}
