/**
 * A problem in a file the broker reads (password file, ACL file), located by file and line, the way config problems
 * are reported.
 */
export interface FileProblem {
  file: string;
  /** 1-based; 0 when the problem concerns the whole file (it cannot be read). */
  line: number;
  message: string;
}

export function formatProblem(p: FileProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}: ${p.message}` : `${p.file}: ${p.message}`;
}

/** Why a file could not be read, in words. */
export function readErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  return e.message ?? String(err);
}

/** Problems in files the broker must read to start (password file, ACL file): none may be ignored. */
export class FileProblemsError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: FileProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}
