/**
 * The few file operations the store needs, as promises over numeric descriptors (the log writer uses the callback
 * forms directly): positional writes that finish short writes, reads, fdatasync, and the directory fsync that makes
 * a rename durable. Errors are described in words for log lines.
 */
import { close, fdatasync, fstat, fsync, open, read, rename, unlink, write } from 'node:fs';
import { dirname } from 'node:path';

export function openFile(path: string, flags: string, mode = 0o644): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}

export function closeFile(fd: number): Promise<void> {
  return new Promise((resolve) => close(fd, () => resolve()));
}

/** Write buf[start, end) at `position`, however many calls it takes. */
export function writeAt(fd: number, buf: Buffer, start: number, end: number, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number): void => {
      if (off >= end) {
        resolve();
        return;
      }
      write(fd, buf, off, end - off, position + (off - start), (err, n) => {
        if (err) reject(err);
        else if (n === 0) reject(Object.assign(new Error('write wrote nothing'), { code: 'EIO' }));
        else step(off + n);
      });
    };
    step(start);
  });
}

/** Read up to `length` bytes at `position` into buf[offset...]; resolves with how many were read (0 at the end). */
export function readAt(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** The size of the open file `fd` (0 when it cannot be read). */
export function fileSize(fd: number): Promise<number> {
  return new Promise((resolve) => fstat(fd, (err, st) => resolve(err ? 0 : st.size)));
}

export function syncData(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export function renameFile(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => rename(from, to, (err) => (err ? reject(err) : resolve())));
}

export function removeFile(path: string): Promise<void> {
  return new Promise((resolve) => unlink(path, () => resolve()));
}

/**
 * fsync the directory holding `file`, so that a rename into it survives a crash of the machine. (Windows cannot open
 * a directory for it, and its file systems journal renames.)
 */
export async function syncDirOf(file: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fd = await openFile(dirname(file), 'r');
  try {
    await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
  } finally {
    await closeFile(fd);
  }
}

/** "no space left on device (ENOSPC)" rather than a stack. */
export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    EFBIG: 'file too large',
    EIO: 'input/output error',
    ENOTDIR: 'not a directory',
    EISDIR: 'is a directory',
  };
  if (e && typeof e.code === 'string') return `${words[e.code] ?? e.message} (${e.code})`;
  return e instanceof Error ? e.message : String(err);
}
