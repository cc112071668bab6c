/**
 * A broker process's resident memory over a measurement, from /proc: sampled often enough to see a peak that
 * lasts a fraction of a second, and checked against the kernel's own high-water mark.
 */
import { readProcessPeakRssMiB, readProcessRssBytes } from '../../src/launch/proc.js';

const MIB = 1024 * 1024;

export class RssWatch {
  /** Highest resident size seen, bytes (0 where /proc cannot be read). */
  private sampledPeak = 0;
  private lastHighWater = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    sampleMs = 20,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), sampleMs);
    this.timer.unref();
  }

  /** Resident size now, bytes; undefined once the process is gone. */
  now(): number | undefined {
    return readProcessRssBytes(this.pid);
  }

  /** The highest resident size of the process's life so far (its VmHWM, or the highest sample once it is gone). */
  peak(): number {
    this.sample();
    return Math.max(this.sampledPeak, this.lastHighWater);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const rss = readProcessRssBytes(this.pid);
    if (rss !== undefined && rss > this.sampledPeak) this.sampledPeak = rss;
    const hwm = readProcessPeakRssMiB(this.pid);
    if (hwm !== undefined) this.lastHighWater = Math.round(hwm * MIB);
  }
}
