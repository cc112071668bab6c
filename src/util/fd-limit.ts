/**
 * The process's limit on open file descriptors (sockets count): read from /proc, raised from the soft to the hard
 * limit with prlimit(1) when that is possible, and checked against what a run needs before anything connects.
 * Linux only; elsewhere the limits are unknown and nothing is checked.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface FdLimits {
  soft: number;
  hard: number;
}

/** The current limits, or undefined where /proc does not tell. "unlimited" reads as Infinity. */
export function readFdLimits(): FdLimits | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'latin1');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const read = (v: string) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: read(m[1]), hard: read(m[2]) };
}

/**
 * Raise the soft limit to the hard limit (any process may), through prlimit(1) since Node has no setrlimit. Returns
 * the limits afterwards.
 */
export function raiseFdLimit(): FdLimits | undefined {
  const before = readFdLimits();
  if (before === undefined || before.soft >= before.hard) return before;
  const hard = before.hard === Infinity ? 'unlimited' : String(before.hard);
  spawnSync('prlimit', [`--pid=${process.pid}`, `--nofile=${hard}:${hard}`], { stdio: 'ignore', timeout: 5_000 });
  return readFdLimits();
}

/** Descriptors the process uses besides its sockets (stdio, the event loop, worker threads, files). */
export const FD_OVERHEAD = 64;

/**
 * Why `needed` descriptors will not fit, with the numbers and the command that would make them fit; undefined when
 * they do (or the limits are unknown).
 */
export function fdShortfall(needed: number, limits: FdLimits | undefined, what: string): string | undefined {
  if (limits === undefined || needed <= limits.soft) return undefined;
  const advice =
    needed <= limits.hard
      ? `raise the soft limit: ulimit -n ${needed} (the hard limit allows up to ${limits.hard})`
      : `raise the hard limit as root, e.g. ulimit -Hn ${needed} && ulimit -n ${needed}, or LimitNOFILE=${needed} for a systemd service, or --ulimit nofile=${needed}:${needed} for docker run`;
  return `${what} needs about ${needed} open files, and this process may open ${limits.soft} (hard limit ${limits.hard === Infinity ? 'unlimited' : limits.hard}): ${advice}`;
}
