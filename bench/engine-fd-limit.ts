/**
 * Open-file limits of the processes that hold 10,000 sockets. Node raises its own soft limit to the hard one at
 * start-up; any other process is raised with prlimit(1) where the hard limit allows it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface OpenFileLimit {
  /** What `ulimit -n` shows inside the process, and the most it may be raised to without privileges. */
  soft: number;
  hard: number;
}

export interface OpenFileCheck {
  /** The limit in force after any raise; undefined where /proc cannot tell. */
  limit: OpenFileLimit | undefined;
  /** The soft limit was raised from this value. */
  raisedFrom?: number;
  /** Why the process cannot open `needed` files; undefined when it can (or when it cannot be told). */
  problem?: string;
}

/** The open-file limit of `pid` from /proc/<pid>/limits ("unlimited" reads as Infinity); undefined when unreadable. */
export function readOpenFileLimit(pid: number | 'self'): OpenFileLimit | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/limits`, 'latin1');
  } catch {
    return undefined;
  }
  return parseOpenFileLimit(text);
}

export function parseOpenFileLimit(limitsText: string): OpenFileLimit | undefined {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limitsText);
  if (!m) return undefined;
  const value = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
  const soft = value(m[1]);
  const hard = value(m[2]);
  return Number.isNaN(soft) || Number.isNaN(hard) ? undefined : { soft, hard };
}

/** Makes sure `pid` may open `needed` files: raises its soft limit when the hard one allows, says why not otherwise. */
export function ensureOpenFiles(pid: number, needed: number, who: string): OpenFileCheck {
  const limit = readOpenFileLimit(pid);
  if (limit === undefined || limit.soft >= needed) return { limit };
  if (limit.hard < needed) {
    return {
      limit,
      problem:
        `${who} may open at most ${limit.hard} files (hard limit; ulimit -n is ${limit.soft}), and ${needed} are needed. ` +
        `Raise the hard limit (as root: ulimit -Hn ${needed} in the shell that starts the benchmark, or a nofile line in ` +
        '/etc/security/limits.conf), or run fewer clients with --clients.',
    };
  }
  try {
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${needed}:${limit.hard}`], { stdio: 'pipe' });
  } catch (err) {
    return {
      limit,
      problem:
        `${who} has ulimit -n ${limit.soft} and ${needed} files are needed; raising it with prlimit failed ` +
        `(${firstLine((err as Error).message)}). Run the benchmark from a shell with ulimit -n ${needed} or more.`,
    };
  }
  const raised = readOpenFileLimit(pid);
  if (raised === undefined || raised.soft < needed) {
    return { limit: raised ?? limit, problem: `${who}: ulimit -n stayed at ${(raised ?? limit).soft} after prlimit; ${needed} are needed.` };
  }
  return { limit: raised, raisedFrom: limit.soft };
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}
