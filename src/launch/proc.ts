/** CPU time and memory of another process, from /proc (Linux); undefined where there is no /proc. */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | undefined;

/** utime + stime of `pid` in seconds, or undefined when it cannot be read. */
export function readProcessCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may itself contain spaces and parentheses; the fields after its last ')' do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Field 3 (state) is fields[0], so utime (14) and stime (15) are fields[11] and fields[12].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / clockTicks();
}

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Peak resident set size of `pid` in MiB (VmHWM), or undefined when it cannot be read. */
export function readProcessPeakRssMiB(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) / 1024 : undefined;
}

/** Resident set size of `pid` now, in bytes (VmRSS), or undefined when it cannot be read. */
export function readProcessRssBytes(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

/**
 * A process's CPU time and peak memory over a window: CPU as the difference of two readings, memory as the highest
 * resident size seen by sampling (VmHWM is the peak of the process's whole life, not of the window).
 */
export class ProcessWindow {
  private readonly startCpu: number | undefined;
  private peak = 0;
  private readonly timer: NodeJS.Timeout;
  /** Resident size when the window opened, bytes. */
  readonly baselineRssBytes: number;

  constructor(
    readonly pid: number,
    sampleMs = 100,
  ) {
    this.startCpu = readProcessCpuSeconds(pid);
    this.baselineRssBytes = readProcessRssBytes(pid) ?? 0;
    this.peak = this.baselineRssBytes;
    this.timer = setInterval(() => this.sample(), sampleMs);
    this.timer.unref();
  }

  private sample(): void {
    const rss = readProcessRssBytes(this.pid);
    if (rss !== undefined && rss > this.peak) this.peak = rss;
  }

  /** Close the window: CPU seconds used in it and the peak resident size, or undefined where /proc is missing. */
  close(): { cpuSeconds: number; peakRssBytes: number; baselineRssBytes: number } | undefined {
    clearInterval(this.timer);
    this.sample();
    const end = readProcessCpuSeconds(this.pid);
    if (this.startCpu === undefined || end === undefined) return undefined;
    return { cpuSeconds: end - this.startCpu, peakRssBytes: this.peak, baselineRssBytes: this.baselineRssBytes };
  }
}
