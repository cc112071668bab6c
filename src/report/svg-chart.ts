/**
 * Line charts as inline SVG text, for the self-contained HTML report: latency percentile curves on HdrHistogram's
 * log "nines" axis, and per-second (or per-interval) series. No script: tooltips are SVG <title> elements, which
 * every browser shows on hover.
 */
import type { PercentileCurve } from '../run/result.js';
import { formatClock, formatCount, formatPercentile, oneLine } from './format.js';

export interface ChartLine {
  name: string;
  color: string;
  /** SVG stroke-dasharray, "" for a solid line. */
  dash?: string;
}

/** Colour-blind-safe colours (Okabe–Ito), then the same again dashed. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#7f7f7f'];
const DASHES = ['', '6 3', '2 3'];

export function paletteLine(name: string, index: number): ChartLine {
  return { name, color: PALETTE[index % PALETTE.length], dash: DASHES[Math.floor(index / PALETTE.length) % DASHES.length] };
}

const WIDTH = 760;
const PLOT_HEIGHT = 240;
const MARGIN = { left: 72, right: 20, top: 14, bottom: 46 };
const LEGEND_ROW = 18;
/** Above this many x positions a time chart keeps each bucket's lowest and highest value instead of every point. */
const MAX_POINTS = 1200;
/** Up to this many x positions a time chart gets one hover band per position. */
const MAX_BANDS = 900;

interface Frame {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  sx: (v: number) => number;
  sy: (v: number) => number;
}

interface Tick {
  at: number;
  label: string;
  hint?: string;
}

/** A coordinate to two decimals, trailing zeros dropped: a hundredth of a pixel is invisible and bytes add up. */
function num(n: number): string {
  return String(Math.round(n * 100) / 100);
}

/** Text for SVG and HTML: one line (controls become visible escapes, see oneLine) with markup characters as entities. */
export function escapeXml(text: string): string {
  return oneLine(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Round tick steps (1, 2, 2.5, 5 × 10^k) from 0 to at least `max`. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = magnitude * 10;
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  }
  const ticks: number[] = [];
  for (let v = 0; v < max + step / 2 && ticks.length < 50; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/**
 * Round ticks from 0 to at least `max` whose labels, as `format` prints them, all differ: wider steps (fewer ticks)
 * until they do. Counts from 0 to 1 get "0 1", not "0 0 0 1 1 1" (0.2, 0.4, … printed as whole numbers).
 */
export function labelledTicks(max: number, format: (v: number) => string, count = 5): number[] {
  for (let n = count; n >= 1; n--) {
    const ticks = niceTicks(max, n);
    if (distinctLabels(ticks, format)) return ticks;
  }
  // Even a single step prints as the same text as 0 (a range far below the format's precision): widen it until not.
  let top = niceTicks(max, 1).at(-1) ?? 1;
  for (let k = 0; k < 12 && !distinctLabels([0, top], format); k++) top *= 10;
  return [0, top];
}

function distinctLabels(ticks: readonly number[], format: (v: number) => string): boolean {
  return new Set(ticks.map(format)).size === ticks.length;
}

function legendRows(lines: readonly ChartLine[]): ChartLine[][] {
  const rows: ChartLine[][] = [];
  let row: ChartLine[] = [];
  let used = 0;
  const room = WIDTH - MARGIN.left - MARGIN.right;
  for (const line of lines) {
    const w = legendItemWidth(line);
    if (row.length > 0 && used + w > room) {
      rows.push(row);
      row = [];
      used = 0;
    }
    row.push(line);
    used += w;
  }
  if (row.length > 0) rows.push(row);
  return rows;
}

function legendItemWidth(line: ChartLine): number {
  return 34 + Math.min(line.name.length, 48) * 7;
}

function legendLabel(name: string): string {
  return name.length > 48 ? `${name.slice(0, 47)}…` : name;
}

/** How values map to the plot's height: linear from 0 to `top`, or log10 from `lo` to `hi` (both > 0). */
type YScale = { kind: 'linear'; top: number } | { kind: 'log'; lo: number; hi: number };

function open(label: string, lines: readonly ChartLine[]): { head: string; frame: (xMin: number, xMax: number, y: YScale) => Frame; legend: string; height: number } {
  const rows = legendRows(lines);
  const height = MARGIN.top + PLOT_HEIGHT + MARGIN.bottom + rows.length * LEGEND_ROW + 6;
  const head =
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" ` +
    `role="img" aria-label="${escapeXml(label)}">`;
  const frame = (xMin: number, xMax: number, y: YScale): Frame => {
    const x0 = MARGIN.left;
    const x1 = WIDTH - MARGIN.right;
    const y0 = MARGIN.top + PLOT_HEIGHT;
    const y1 = MARGIN.top;
    const xSpan = xMax > xMin ? xMax - xMin : 1;
    let share: (v: number) => number;
    if (y.kind === 'linear') {
      const top = y.top > 0 ? y.top : 1;
      share = (v) => v / top;
    } else {
      const lo = Math.log10(y.lo);
      const span = Math.log10(y.hi) - lo || 1;
      // Zero has no place on a log axis: it sits on the bottom edge with the lowest tick.
      share = (v) => (v > y.lo ? (Math.log10(v) - lo) / span : 0);
    }
    return {
      x0, x1, y0, y1,
      sx: (v) => x0 + ((v - xMin) / xSpan) * (x1 - x0),
      sy: (v) => y0 - share(v) * (y0 - y1),
    };
  };
  let legend = '';
  const top = MARGIN.top + PLOT_HEIGHT + MARGIN.bottom;
  rows.forEach((row, r) => {
    let x = MARGIN.left;
    const y = top + r * LEGEND_ROW + 4;
    for (const line of row) {
      legend +=
        `<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${line.color}" stroke-width="2.5"` +
        `${line.dash ? ` stroke-dasharray="${line.dash}"` : ''}/>` +
        `<text class="legend" x="${x + 28}" y="${y + 4}">${escapeXml(legendLabel(line.name))}</text>`;
      x += legendItemWidth(line);
    }
  });
  return { head, frame, legend, height };
}

function axes(f: Frame, xTicks: readonly Tick[], yTicks: readonly number[], yFormat: (v: number) => string, xTitle: string, yTitle: string): string {
  let s = '';
  for (const v of yTicks) {
    const y = num(f.sy(v));
    s += `<line class="grid" x1="${f.x0}" y1="${y}" x2="${f.x1}" y2="${y}"/>`;
    s += `<text class="tick" x="${f.x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(yFormat(v))}</text>`;
  }
  for (const t of xTicks) {
    const x = num(f.sx(t.at));
    s += `<line class="grid" x1="${x}" y1="${f.y1}" x2="${x}" y2="${f.y0}"/>`;
    s +=
      `<text class="tick" x="${x}" y="${f.y0 + 16}" text-anchor="middle">` +
      `${t.hint !== undefined ? `<title>${escapeXml(t.hint)}</title>` : ''}${escapeXml(t.label)}</text>`;
  }
  s += `<line class="axis" x1="${f.x0}" y1="${f.y0}" x2="${f.x1}" y2="${f.y0}"/>`;
  s += `<line class="axis" x1="${f.x0}" y1="${f.y1}" x2="${f.x0}" y2="${f.y0}"/>`;
  s += `<text class="axis-title" x="${num((f.x0 + f.x1) / 2)}" y="${f.y0 + 36}" text-anchor="middle">${escapeXml(xTitle)}</text>`;
  s +=
    `<text class="axis-title" x="16" y="${num((f.y0 + f.y1) / 2)}" text-anchor="middle" ` +
    `transform="rotate(-90 16 ${num((f.y0 + f.y1) / 2)})">${escapeXml(yTitle)}</text>`;
  return s;
}

function polyline(points: ReadonlyArray<readonly [number, number]>, line: ChartLine, f: Frame): string {
  if (points.length === 0) return '';
  if (points.length === 1) {
    return `<circle cx="${num(f.sx(points[0][0]))}" cy="${num(f.sy(points[0][1]))}" r="3" fill="${line.color}"/>`;
  }
  let d = '';
  for (const [x, y] of points) d += `${num(f.sx(x))},${num(f.sy(y))} `;
  return (
    `<polyline fill="none" stroke="${line.color}" stroke-width="2" stroke-linejoin="round"` +
    `${line.dash ? ` stroke-dasharray="${line.dash}"` : ''} points="${d.trimEnd()}"/>`
  );
}

/** Powers of ten around [low, high] (with 2× and 5× steps when they span few decades). */
export function logTicks(low: number, high: number): number[] {
  const lo = Math.floor(Math.log10(Math.max(low, 1e-9)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(high, low))));
  const fine = hi - lo <= 3;
  const ticks: number[] = [];
  for (let k = lo; k <= hi; k++) {
    const base = 10 ** k;
    ticks.push(base);
    if (fine && k < hi) ticks.push(2 * base, 5 * base);
  }
  return ticks.map((v) => Number(v.toPrecision(12)));
}

/** Axis labels are round numbers: "2" rather than "2.00", "0.5" rather than "0.50". */
export function roundTick(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** A chart frame that says there is nothing to draw. */
export function emptyChart(label: string, message: string): string {
  const height = 80;
  return (
    `<svg class="chart empty" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" ` +
    `role="img" aria-label="${escapeXml(label)}">` +
    `<rect class="frame" x="0.5" y="0.5" width="${WIDTH - 1}" height="${height - 1}" rx="4"/>` +
    `<text class="tick" x="${WIDTH / 2}" y="${height / 2}" text-anchor="middle" dominant-baseline="middle">${escapeXml(message)}</text></svg>`
  );
}

// ---- latency percentile curves ----------------------------------------------------------------------------------

export interface CurveLine extends ChartLine {
  curve: PercentileCurve;
}

/** HdrHistogram's x position of a percentile: the number of nines, log10(1 / (1 - p)). 0% → 0, 90% → 1, 99% → 2. */
export function ninesOf(percentile: number): number {
  return Math.log10(100 / (100 - percentile));
}

/**
 * Latency (ms) against percentile on the log "nines" axis HdrHistogram plots use: 0%, 90%, 99%, 99.9%, ... The 100%
 * point has no place on that axis; it is drawn at the last tick, labelled "max". `formatMs` prints a µs value as ms.
 */
export function percentileChart(label: string, lines: readonly CurveLine[], formatMs: (us: number) => string): string {
  const drawn = lines
    .map((l) => ({ ...l, curve: l.curve.filter(([p, v]) => p >= 0 && p <= 100 && Number.isFinite(v)) }))
    .filter((l) => l.curve.length > 0);
  if (drawn.length === 0) return emptyChart(label, 'no latency samples');
  let finiteMax = 0;
  let hasMax = false;
  let yMax = 0;
  let yLow = Infinity;
  // The lowest median of the lines: the scale the body of the distributions lives at.
  let yMedianLow = Infinity;
  for (const l of drawn) {
    for (const [p, v] of l.curve) {
      if (p >= 100) hasMax = true;
      else finiteMax = Math.max(finiteMax, ninesOf(p));
      if (v > yMax) yMax = v;
      if (v > 0 && v < yLow) yLow = v;
    }
    const median = l.curve.find(([p]) => p >= 50);
    if (median !== undefined && median[1] > 0) yMedianLow = Math.min(yMedianLow, median[1]);
  }
  if (!Number.isFinite(yMedianLow)) yMedianLow = 0;
  let xEnd = Math.max(hasMax ? 2 : 1, Math.ceil(finiteMax - 1e-9));
  if (hasMax && xEnd - finiteMax < 0.5) xEnd += 1;
  const xOf = (p: number): number => (p >= 100 ? xEnd : Math.min(xEnd, ninesOf(p)));

  const { head, frame, legend } = open(label, drawn);
  // A tail a hundred times the median flattens a linear plot into a line along the bottom; a log axis keeps both
  // the body and the tail readable.
  const log = yMedianLow > 0 && yMax / yMedianLow > 100;
  let yTicks: number[];
  let f: Frame;
  if (log) {
    yTicks = logTicks(yLow, yMax);
    f = frame(0, xEnd, { kind: 'log', lo: yTicks[0], hi: yTicks[yTicks.length - 1] });
  } else {
    yTicks = labelledTicks(yMax, (us) => roundTick(formatMs(us)));
    f = frame(0, xEnd, { kind: 'linear', top: yTicks[yTicks.length - 1] });
  }
  const xTicks: Tick[] = [];
  for (let k = 0; k <= xEnd; k++) {
    if (hasMax && k === xEnd) xTicks.push({ at: k, label: 'max', hint: '100%' });
    else xTicks.push({ at: k, label: formatPercentile(100 * (1 - 10 ** -k)) });
  }
  const yTitle = log ? 'latency (ms, log scale)' : 'latency (ms)';
  let body = axes(f, xTicks, yTicks, (us) => roundTick(formatMs(us)), 'percentile', yTitle);
  let hover = '';
  for (const l of drawn) {
    body += polyline(l.curve.map(([p, v]) => [xOf(p), v] as const), l, f);
    for (const [p, v] of l.curve) {
      hover +=
        `<circle class="hit" cx="${num(f.sx(xOf(p)))}" cy="${num(f.sy(v))}" r="5">` +
        `<title>${escapeXml(`${l.name}: ${formatPercentile(p)} at or below ${formatMs(v)} ms`)}</title></circle>`;
    }
  }
  return `${head}${body}${hover}${legend}</svg>`;
}

// ---- per-second series ------------------------------------------------------------------------------------------

export interface SeriesLine extends ChartLine {
  /** One value per x position (second or interval), starting at 0. */
  values: readonly number[];
}

export interface SeriesChartOptions {
  /** Axis titles. */
  xTitle: string;
  yTitle: string;
  /** A value as the tooltips print it. */
  format: (v: number) => string;
  /** A value as the y axis prints it; `format` when not given. */
  tick?: (v: number) => string;
  /** Positions are seconds (ticks read as a clock) or plain indexes. */
  xKind: 'seconds' | 'index';
  /** The tooltip's name for a position, e.g. "second" or "interval". */
  positionName: string;
}

export function seriesChart(label: string, lines: readonly SeriesLine[], o: SeriesChartOptions): string {
  const length = lines.reduce((n, l) => Math.max(n, l.values.length), 0);
  if (length === 0 || lines.length === 0) return emptyChart(label, 'no data');
  let yMax = 0;
  for (const l of lines) for (const v of l.values) if (Number.isFinite(v) && v > yMax) yMax = v;
  const { head, frame, legend } = open(label, lines);
  const yTicks = labelledTicks(yMax, o.tick ?? o.format);
  const xMax = Math.max(1, length - 1);
  const f = frame(0, xMax, { kind: 'linear', top: yTicks[yTicks.length - 1] });
  const xTicks = niceTicks(xMax, 8)
    .filter((v) => v <= xMax && Number.isInteger(v))
    .map((v) => ({ at: v, label: o.xKind === 'seconds' ? clockTick(v, xMax) : formatCount(v) }));
  let body = axes(f, xTicks, yTicks, o.tick ?? o.format, o.xTitle, o.yTitle);
  for (const l of lines) {
    if (l.values.length > MAX_POINTS) body += polyline(decimate(l.values), l, f);
    else for (const run of finiteRuns(l.values)) body += polyline(run, l, f);
  }
  let bands = '';
  if (length <= MAX_BANDS) {
    const half = (f.sx(1) - f.sx(0)) / 2;
    for (let i = 0; i < length; i++) {
      const x = Math.max(f.x0, f.sx(i) - half);
      const w = Math.min(f.x1, f.sx(i) + half) - x;
      const parts = lines.map((l) => `${l.name} ${i < l.values.length && Number.isFinite(l.values[i]) ? o.format(l.values[i]) : '-'}`);
      bands +=
        `<rect class="band" x="${num(x)}" y="${f.y1}" width="${num(Math.max(w, 0.5))}" height="${f.y0 - f.y1}">` +
        `<title>${escapeXml(`${o.positionName} ${i}: ${parts.join(' · ')}`)}</title></rect>`;
    }
  }
  return `${head}${bands}${body}${legend}</svg>`;
}

function clockTick(seconds: number, span: number): string {
  return span < 120 ? `${seconds}s` : formatClock(seconds);
}

/** Points of a series split where a value is missing (NaN), so a line never bridges a gap. */
export function finiteRuns(values: readonly number[]): Array<Array<[number, number]>> {
  const runs: Array<Array<[number, number]>> = [];
  let run: Array<[number, number]> = [];
  values.forEach((v, i) => {
    if (Number.isFinite(v)) {
      run.push([i, v]);
    } else if (run.length > 0) {
      runs.push(run);
      run = [];
    }
  });
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Points of a series, thinned when it is long: each bucket of positions keeps its lowest and its highest value, so
 * spikes and dips stay visible.
 */
export function decimate(values: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (values.length <= MAX_POINTS) {
    values.forEach((v, i) => {
      if (Number.isFinite(v)) out.push([i, v]);
    });
    return out;
  }
  const size = Math.ceil(values.length / (MAX_POINTS / 2));
  for (let start = 0; start < values.length; start += size) {
    let lo = -1;
    let hi = -1;
    for (let i = start; i < Math.min(values.length, start + size); i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      if (lo < 0 || v < values[lo]) lo = i;
      if (hi < 0 || v > values[hi]) hi = i;
    }
    if (lo < 0) continue;
    if (lo === hi) out.push([lo, values[lo]]);
    else if (lo < hi) out.push([lo, values[lo]], [hi, values[hi]]);
    else out.push([hi, values[hi]], [lo, values[lo]]);
  }
  return out;
}

// The building blocks of the charts above, for reports that draw other kinds (bars, rate against rate) in the same
// frame, axes and legend.
export { axes as drawAxes, num as svgNumber, open as openChart, polyline as drawPolyline, type Frame as ChartFrame, type Tick as ChartTick };
