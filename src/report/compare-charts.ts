/**
 * The compare report's own chart kinds as inline SVG, drawn in the run report's frame, axes and legend: bars of one
 * figure per broker with min–max whiskers, and received rate against offered rate for saturation searches.
 */
import { formatRateNumber, oneLine } from './format.js';
import {
  drawAxes,
  drawPolyline,
  emptyChart,
  escapeXml,
  labelledTicks,
  niceTicks,
  openChart,
  svgNumber as num,
  type ChartFrame,
  type ChartLine,
  type ChartTick,
} from './svg-chart.js';

export interface Bar {
  name: string;
  color: string;
  /** The bar's height; undefined draws no bar and says n/a. */
  value: number | undefined;
  /** The whisker's ends; none is drawn when either is missing or they are equal. */
  min?: number | undefined;
  max?: number | undefined;
}

export interface BarChartOptions {
  yTitle: string;
  /** A value as the bar's label and tooltip print it. */
  format: (v: number) => string;
  /** A value as the y axis prints it; `format` when not given. */
  tick?: (v: number) => string;
  /** The y axis's ticks from 0 to at least the given top; round decimal steps when not given. */
  ticks?: (top: number) => number[];
}

/** Widest bar, px: a chart of two brokers should not be two slabs. */
const MAX_BAR = 90;
/** The y axis reaches this much above the tallest bar or whisker, so that its label stays inside the plot. */
const HEADROOM = 1.12;
/** About how wide one character of a tick label is, px, to cut a broker name to its slot. */
const CHAR_WIDTH = 7;

function usable(n: number | undefined): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

function cut(text: string, chars: number): string {
  const n = Math.max(3, chars);
  return text.length <= n ? text : `${text.slice(0, n - 1)}…`;
}

/** One bar per broker from zero (a bar that does not start at zero misstates the ratio), with min–max whiskers. */
export function barChart(label: string, bars: readonly Bar[], o: BarChartOptions): string {
  // Names and labels come from the command line and the network: controls have no place in SVG text.
  label = oneLine(label);
  if (bars.length === 0 || !bars.some((b) => usable(b.value))) return emptyChart(label, 'no figures to compare');
  let yMax = 0;
  for (const b of bars) {
    if (usable(b.value)) yMax = Math.max(yMax, b.value);
    if (usable(b.max)) yMax = Math.max(yMax, b.max);
  }
  const { head, frame } = openChart(label, []);
  // Room above the tallest bar for its value label.
  const yTicks = o.ticks !== undefined ? o.ticks(yMax * HEADROOM) : labelledTicks(yMax * HEADROOM, o.tick ?? o.format);
  const f = frame(0, bars.length, { kind: 'linear', top: yTicks[yTicks.length - 1] });
  let body = drawAxes(f, [], yTicks, o.tick ?? o.format, 'broker', o.yTitle);
  const slot = f.sx(1) - f.sx(0);
  const width = Math.min(MAX_BAR, slot * 0.55);
  bars.forEach((bar, i) => {
    const b = { ...bar, name: oneLine(bar.name) };
    const cx = f.sx(i + 0.5);
    const name = `<text class="tick" x="${num(cx)}" y="${f.y0 + 16}" text-anchor="middle"><title>${escapeXml(b.name)}</title>` +
      `${escapeXml(cut(b.name, Math.floor(slot / CHAR_WIDTH) - 1))}</text>`;
    if (!usable(b.value)) {
      body += name + `<text class="tick" x="${num(cx)}" y="${f.y0 - 8}" text-anchor="middle">n/a</text>`;
      return;
    }
    const top = f.sy(b.value);
    const spread = usable(b.min) && usable(b.max) && b.max > b.min;
    const tip = `${b.name}: ${o.format(b.value)}${spread ? ` (min ${o.format(b.min as number)}, max ${o.format(b.max as number)})` : ''}`;
    let g = `<g><title>${escapeXml(tip)}</title>`;
    g += `<rect x="${num(cx - width / 2)}" y="${num(top)}" width="${num(width)}" height="${num(Math.max(0, f.y0 - top))}" fill="${escapeXml(b.color)}" fill-opacity="0.85"/>`;
    let labelY = top;
    if (spread) {
      const lo = f.sy(b.min as number);
      const hi = f.sy(b.max as number);
      const cap = Math.min(14, width / 2);
      g +=
        `<path class="whisker" d="M${num(cx)},${num(lo)}V${num(hi)}M${num(cx - cap / 2)},${num(lo)}H${num(cx + cap / 2)}` +
        `M${num(cx - cap / 2)},${num(hi)}H${num(cx + cap / 2)}"/>`;
      labelY = Math.min(top, hi);
    }
    g += `<text class="value" x="${num(cx)}" y="${num(labelY - 6)}" text-anchor="middle">${escapeXml(o.format(b.value))}</text></g>`;
    body += g + name;
  });
  return `${head}${body}</svg>`;
}

/** Ticks in whole steps of KiB, MiB or GiB (1, 2, 2.5, 5 × 10^k of the unit), for byte counts. */
export function binaryTicks(top: number): number[] {
  if (!(top > 0) || !Number.isFinite(top)) return [0, 1024];
  let unit = 1;
  while (top / unit >= 1024 && unit < 1024 ** 4) unit *= 1024;
  return niceTicks(top / unit).map((v) => v * unit);
}

export interface RatePoint {
  offered: number;
  received: number;
  held: boolean;
  /** The point's tooltip. */
  note: string;
}

export interface RateLine extends ChartLine {
  points: readonly RatePoint[];
  /** The highest offered rate that held, marked by a vertical line in the line's colour. */
  limit: number | undefined;
}

/**
 * Received rate against offered rate, one line per broker: held steps are filled dots, failed ones hollow, and each
 * broker's highest sustained rate is a dashed vertical line.
 */
export function saturationChart(label: string, lines: readonly RateLine[]): string {
  label = oneLine(label);
  const drawn = lines
    .map((l) => ({ ...l, name: oneLine(l.name), points: l.points.filter((p) => usable(p.offered) && usable(p.received)) }))
    .filter((l) => l.points.length > 0);
  if (drawn.length === 0) return emptyChart(label, 'no saturation steps');
  let xMax = 0;
  let yMax = 0;
  for (const l of drawn) {
    for (const p of l.points) {
      xMax = Math.max(xMax, p.offered);
      yMax = Math.max(yMax, p.received);
    }
  }
  const { head, frame, legend } = openChart(label, drawn);
  const yTicks = labelledTicks(yMax, formatRateNumber);
  const xTickValues = labelledTicks(xMax, formatRateNumber, 6);
  const xTop = xTickValues[xTickValues.length - 1];
  const f = frame(0, xTop, { kind: 'linear', top: yTicks[yTicks.length - 1] });
  const xTicks: ChartTick[] = xTickValues.map((v) => ({ at: v, label: formatRateNumber(v) }));
  let body = drawAxes(f, xTicks, yTicks, formatRateNumber, 'offered messages per second', 'received messages per second');
  let marks = '';
  drawn.forEach((l, i) => {
    if (usable(l.limit)) {
      const x = num(f.sx(l.limit));
      marks +=
        `<g><title>${escapeXml(`${l.name}: highest sustained rate ${formatRateNumber(l.limit)}/s`)}</title>` +
        `<line class="limit" x1="${x}" y1="${f.y1}" x2="${x}" y2="${f.y0}" stroke="${escapeXml(l.color)}" stroke-dasharray="5 4"/>` +
        `<text class="limit-label" ${labelX(f.sx(l.limit), f)} y="${f.y1 + 12 + i * 14}">${escapeXml(`${cut(l.name, 28)} ${formatRateNumber(l.limit)}/s`)}</text></g>`;
    }
    const sorted = [...l.points].sort((a, b) => a.offered - b.offered);
    body += drawPolyline(sorted.map((p) => [p.offered, p.received] as const), l, f);
    for (const p of sorted) {
      const fill = p.held ? escapeXml(l.color) : 'none';
      marks +=
        `<circle class="${p.held ? 'held' : 'failed'}" cx="${num(f.sx(p.offered))}" cy="${num(f.sy(p.received))}" r="4" ` +
        `fill="${fill}" stroke="${escapeXml(l.color)}" stroke-width="2"><title>${escapeXml(`${l.name}: ${p.note}`)}</title></circle>`;
    }
  });
  return `${head}${body}${marks}${legend}</svg>`;
}

/** A limit's label beside its line, on the side with room: right of it in the left half, left of it in the right. */
function labelX(x: number, f: ChartFrame): string {
  return x <= (f.x0 + f.x1) / 2 ? `x="${num(x + 4)}"` : `x="${num(x - 4)}" text-anchor="end"`;
}
