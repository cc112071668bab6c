/**
 * The steady window of an mqbench run, cut where the engine actually sampled its per-second series.
 *
 * A worker closes second s of the series when its once-a-second timer fires, which may be well into second s + 1 (the
 * timer drifts, and a busy event loop delays it; a late tick even leaves a second empty and lands two seconds' worth
 * in the next). So a window of n labelled seconds is not n seconds long. Each progress report is taken at the moment
 * its second was closed: the window runs from the report that closed the last second before the window to the
 * report that closed the window's last second, its counts are the series' seconds in between, and its length is the
 * time between the two reports.
 */

export interface SeriesWindow {
  firstSecond: number;
  seconds: number;
}

/** A progress report as it arrived: the series second it closed, and when (seconds on any monotonic clock). */
export interface ClosedSecond {
  second: number;
  atSeconds: number;
}

export interface WindowCut<T extends ClosedSecond> {
  /** The report that closed the last second before the window, and the one that closed its last second. */
  start: T;
  end: T;
  /** Series seconds (start.second, end.second]: the counts between the two reports. */
  fromSecond: number;
  toSecond: number;
  lengthSeconds: number;
}

/**
 * The reports that bound `window`: the last one closing a second before the window, and the last one closing a
 * second within it. Undefined when the run has no report on either side (it ended early, or the window is empty).
 */
export function cutWindow<T extends ClosedSecond>(reports: readonly T[], window: SeriesWindow): WindowCut<T> | undefined {
  let start: T | undefined;
  let end: T | undefined;
  const last = window.firstSecond + window.seconds - 1;
  for (const r of reports) {
    if (r.second <= window.firstSecond - 1 && (start === undefined || r.second >= start.second)) start = r;
    if (r.second <= last && (end === undefined || r.second >= end.second)) end = r;
  }
  if (start === undefined || end === undefined || end.second <= start.second || !(end.atSeconds > start.atSeconds)) return undefined;
  return { start, end, fromSecond: start.second + 1, toSecond: end.second, lengthSeconds: end.atSeconds - start.atSeconds };
}

/** The per-second rate of a counter over a cut: its series seconds between the two reports over the time between them. */
export function rateOver(perSecond: readonly number[], cut: WindowCut<ClosedSecond>): number {
  let total = 0;
  for (let s = cut.fromSecond; s <= cut.toSecond; s++) total += perSecond[s] ?? 0;
  return total / cut.lengthSeconds;
}

/** The highest value of a gauge series; 0 for an empty one. */
export function peakOf(values: readonly number[]): number {
  let peak = 0;
  for (const v of values) if (v > peak) peak = v;
  return peak;
}

/** CPU seconds over wall seconds, as % of one core; null when either CPU reading is missing or no time passed. */
export function cpuPercent(cpuBefore: number | undefined, cpuAfter: number | undefined, wallSeconds: number): number | null {
  if (cpuBefore === undefined || cpuAfter === undefined || !(wallSeconds > 0)) return null;
  return ((cpuAfter - cpuBefore) / wallSeconds) * 100;
}
