/** Messages between a benchmark and the bundled broker it runs as a child process (bench/harness/broker-child.ts). */

export interface StartBrokerChild {
  type: 'start';
  /** mosquitto.conf lines, after the child's own defaults (loopback listener on a free port, anonymous, errors logged). */
  conf: string[];
  /** How often the child reports its event-loop delay. */
  reportEveryMs: number;
}

export type ToBrokerChild = StartBrokerChild;

export type FromBrokerChild =
  | { type: 'listening'; host: string; port: number; version: string }
  | { type: 'start-failed'; message: string }
  /** The longest event-loop delay since the previous report, from `perf_hooks.monitorEventLoopDelay`. */
  | { type: 'loop-delay'; maxMs: number };
