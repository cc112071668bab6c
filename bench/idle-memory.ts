/**
 * The idle-clients memory row of `npm run bench:engine`: the job both loads run (mqbench and Node's floor), what
 * each reads, the marginal cost per client between two sizes, and the verdict on the goal.
 */

export type IdleTool = 'mqbench' | 'floor';

/** What an idle load process is asked to do: connect, subscribe, sit idle, then read its own memory. */
export interface IdleJob {
  tool: IdleTool;
  host: string;
  port: number;
  clients: number;
  /** Connections started per second, evenly spaced. */
  connectRate: number;
  keepAliveSeconds: number;
  /** Idle time after the last client has subscribed, before garbage is collected and memory read. */
  settleMs: number;
  /** Longest wait, from the first connect, for every client to be connected and subscribed. */
  connectDeadlineMs: number;
  /** mqbench's worker threads (the floor uses its main thread only). */
  workers: number;
  /** Files the process must be able to open (its sockets and a margin); checked before anything connects. */
  openFilesNeeded: number;
}

/** What `npm run bench:engine` sends its idle child process (idle-child.ts); the reply is an IdleReading. */
export type ToIdleChild = { type: 'run'; job: IdleJob };

/** One load process's memory with every client connected, subscribed and idle. */
export interface IdleReading {
  tool: IdleTool;
  clients: number;
  /** Resident memory of the whole process (VmRSS of /proc/self/status), bytes. */
  rssBytes: number;
  /**
   * V8's young generation in every thread (src/util/heap.ts), read with the RSS: its size follows how long the
   * connect burst was, not what the clients hold, so it is taken out of RSS before the per-client growth.
   */
  youngGenerationBytes: number;
  /** V8 heap in use after a full garbage collection, every thread of the process summed, bytes. */
  heapUsedBytes: number;
  /** The same per thread: the main thread first, then each worker thread. */
  threadHeapBytes: number[];
}

export interface IdleRecord {
  tool: IdleTool;
  clients: number;
  brokerLabel: string;
  /** Absent when the measurement failed; `error` says why. */
  reading?: IdleReading;
  error?: string;
}

/** Memory one more idle client costs: the growth between two sizes over the clients added. */
export interface MarginalCost {
  baseClients: number;
  topClients: number;
  /** RSS less the young generation: what the goal is judged on. */
  rssBytesPerClient: number;
  /** RSS as read, the young generation's growth included. */
  rawRssBytesPerClient: number;
  /** V8 heap in use after a full collection. */
  heapBytesPerClient: number;
}

/** The goal: mqbench's RSS and its heap each grow by at most this much per idle client. */
export const IDLE_GOAL_BYTES_PER_CLIENT = 4096;
/** What emqtt-bench's low-memory mode costs per subscriber, for the comparison printed beside the goal. */
export const EMQTT_BENCH_BYTES_PER_SUBSCRIBER = 8192;

/**
 * (value at the larger size − value at the smaller) ÷ (clients added): what threads and code cost once cancels out.
 * The young generation is a fixed cost too, capped per thread, but V8 leaves it grown after a longer connect burst,
 * so it is taken out of each RSS reading rather than left to cancel. Fails unless `top` has more clients than `base`.
 */
export function marginalCost(base: IdleReading, top: IdleReading): MarginalCost {
  const added = top.clients - base.clients;
  if (!(added > 0)) throw new RangeError(`the larger size (${top.clients}) must have more clients than the smaller (${base.clients})`);
  const settledRss = (r: IdleReading) => r.rssBytes - r.youngGenerationBytes;
  return {
    baseClients: base.clients,
    topClients: top.clients,
    rssBytesPerClient: (settledRss(top) - settledRss(base)) / added,
    rawRssBytesPerClient: (top.rssBytes - base.rssBytes) / added,
    heapBytesPerClient: (top.heapUsedBytes - base.heapUsedBytes) / added,
  };
}

export interface IdleVerdict {
  baseClients: number;
  topClients: number;
  /** Undefined when either of its measurements failed. */
  mqbench: MarginalCost | undefined;
  floor: MarginalCost | undefined;
  /** mqbench ÷ floor per client; undefined unless both were measured and both figures are above 0. */
  rssRatio: number | undefined;
  heapRatio: number | undefined;
  /** Node's floor alone costs more RSS per client than the goal allows. */
  floorAboveGoal: boolean;
  goalBytesPerClient: number;
  /** mqbench's per-client RSS and heap are both above 0 and at most the goal. */
  passed: boolean;
  /** Why the goal was not met, in words; undefined when it was. */
  shortfall: string | undefined;
}

/**
 * Judges mqbench's marginal cost against `goal` bytes per client, RSS and heap alike. A figure of 0 or less is not a
 * pass: it means the noise between the two readings was larger than what the added clients cost.
 */
export function judgeIdle(records: readonly IdleRecord[], baseClients: number, topClients: number, goal: number): IdleVerdict {
  const cost = (tool: IdleTool): MarginalCost | undefined => {
    const at = (clients: number) => records.find((r) => r.tool === tool && r.clients === clients)?.reading;
    const base = at(baseClients);
    const top = at(topClients);
    return base && top ? marginalCost(base, top) : undefined;
  };
  const mqbench = cost('mqbench');
  const floor = cost('floor');
  // Only between two figures above the noise: a per-client figure at or below 0 has no ratio.
  const ratio = (m: number | undefined, f: number | undefined) => (m !== undefined && f !== undefined && m > 0 && f > 0 ? m / f : undefined);
  const shortfall = idleShortfall(mqbench, goal);
  const floorAboveGoal = floor !== undefined && floor.rssBytesPerClient > goal;
  return {
    baseClients,
    topClients,
    mqbench,
    floor,
    rssRatio: ratio(mqbench?.rssBytesPerClient, floor?.rssBytesPerClient),
    heapRatio: ratio(mqbench?.heapBytesPerClient, floor?.heapBytesPerClient),
    floorAboveGoal,
    goalBytesPerClient: goal,
    passed: shortfall === undefined,
    shortfall,
  };
}

function idleShortfall(cost: MarginalCost | undefined, goal: number): string | undefined {
  if (cost === undefined) return 'not measured (see the failure below)';
  const problems: string[] = [];
  for (const [what, value] of [
    ['RSS', cost.rssBytesPerClient],
    ['heap', cost.heapBytesPerClient],
  ] as const) {
    if (!(value > 0)) problems.push(`${what} did not grow with the clients (noise larger than their cost)`);
    else if (value > goal) problems.push(`${what} is over by ${formatBytes(value - goal)}`);
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/**
 * Bytes in the unit per-client figures are compared in: B below 1 KiB, KiB (2 decimals below 10 KiB, else 1) below
 * 1 MiB, else MiB; a whole number of units without decimals ("4 KiB").
 */
export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '−' : '';
  const b = Math.abs(bytes);
  const whole = (text: string) => text.replace(/\.0+$/, '');
  if (b < 1024) return `${sign}${b.toFixed(0)} B`;
  if (b < 1024 * 1024) return `${sign}${whole((b / 1024).toFixed(b < 10 * 1024 ? 2 : 1))} KiB`;
  return `${sign}${whole((b / (1024 * 1024)).toFixed(1))} MiB`;
}
