/**
 * Log lines in Mosquitto's wording with its Unix-time prefix, filtered by log type, so existing greps and habits
 * keep working. Callers test the flag before building a line: a disabled type costs one property read.
 */
import type { LogType } from './options.js';

export class Log {
  readonly error: boolean;
  readonly warning: boolean;
  readonly notice: boolean;
  readonly info: boolean;
  readonly subscribe: boolean;
  readonly unsubscribe: boolean;
  /** Per-packet lines ("Received PUBLISH from ..."): Mosquitto's debug type, what `-v` shows. */
  readonly debug: boolean;

  constructor(
    types: ReadonlySet<LogType>,
    private readonly sink: (line: string) => void,
  ) {
    this.error = types.has('error');
    this.warning = types.has('warning');
    this.notice = types.has('notice');
    this.info = types.has('information');
    this.subscribe = types.has('subscribe');
    this.unsubscribe = types.has('unsubscribe');
    this.debug = types.has('debug');
  }

  line(text: string): void {
    this.sink(`${Math.floor(Date.now() / 1000)}: ${text}`);
  }
}

/** Mosquitto's protocol tag in "(p2, c1, k60)": 1 for 3.1, 2 for 3.1.1, 5 for 5.0. */
export function protocolTag(version: number): number {
  return version === 3 ? 1 : version === 4 ? 2 : 5;
}
