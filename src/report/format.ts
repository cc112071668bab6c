/**
 * Number and text formatting shared by every report: latencies in ms from µs, counts and rates with thousands
 * separators, durations, and clean-up of strings that came from the wire. Nothing here ever prints NaN or undefined.
 */

// A fixed locale: a report must read the same on every machine, whatever LANG says.
const INTEGER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const ONE_DECIMAL = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** What a missing or non-finite number prints as. */
export const NOT_AVAILABLE = 'n/a';

function usable(n: number | null | undefined): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

/** An integer count with thousands separators: 1234567 → "1,234,567". */
export function formatCount(n: number | null | undefined): string {
  if (!usable(n)) return NOT_AVAILABLE;
  return INTEGER.format(Math.round(n));
}

/**
 * A latency given in µs, as a number of milliseconds with a precision that suits its size: "0.042", "0.42", "4.21",
 * "12.3", "1,234". The decimals shrink as the value grows so that every figure has about three significant digits.
 */
export function formatMsNumber(us: number | null | undefined): string {
  if (!usable(us)) return NOT_AVAILABLE;
  if (us === 0) return '0';
  const ms = us / 1000;
  const abs = Math.abs(ms);
  // Decide on the rounded value so that 9.996 ms prints as "10.0", not "10.00".
  if (Number(abs.toFixed(1)) >= 100) return INTEGER.format(ms);
  if (Number(abs.toFixed(2)) >= 10) return ms.toFixed(1);
  if (Number(abs.toFixed(3)) >= 0.1) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** A latency given in µs, with its unit: "0.42 ms", "12.3 ms", "1,234 ms". */
export function formatMs(us: number | null | undefined): string {
  const n = formatMsNumber(us);
  return n === NOT_AVAILABLE ? n : `${n} ms`;
}

/** A rate per second without the unit: "5,000", "12.5", "0.3". */
export function formatRateNumber(perSec: number | null | undefined): string {
  if (!usable(perSec)) return NOT_AVAILABLE;
  if (Number.isInteger(perSec) || Math.abs(perSec) >= 100) return INTEGER.format(perSec);
  return ONE_DECIMAL.format(perSec);
}

/** A rate per second: "5,000/s". */
export function formatRate(perSec: number | null | undefined): string {
  const n = formatRateNumber(perSec);
  return n === NOT_AVAILABLE ? n : `${n}/s`;
}

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** A byte count: "812 B", "1.5 KiB", "23.4 MiB". */
export function formatBytes(n: number | null | undefined): string {
  if (!usable(n)) return NOT_AVAILABLE;
  if (Math.abs(n) < 1024) return `${formatCount(n)} B`;
  let value = n;
  let unit = -1;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** A run duration in ms: "850 ms", "12.4 s", "2 min 05 s", "1 h 02 min". */
export function formatDuration(ms: number | null | undefined): string {
  if (!usable(ms)) return NOT_AVAILABLE;
  if (ms < 1000) return `${formatCount(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalSec = Math.round(ms / 1000);
  const h = Math.floor(totalSec / 3600);
  const min = Math.floor((totalSec % 3600) / 60);
  const sec = totalSec % 60;
  if (h === 0) return `${min} min ${String(sec).padStart(2, '0')} s`;
  return `${h} h ${String(min).padStart(2, '0')} min`;
}

/** Seconds as a clock for the live line: "00:12", "01:05", "1:02:03". */
export function formatClock(seconds: number | null | undefined): string {
  if (!usable(seconds) || seconds < 0) return '--:--';
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600);
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, '0');
  const ss = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Milliseconds since the start of the run, as "+12.345 s". */
export function formatOffset(ms: number | null | undefined): string {
  if (!usable(ms)) return NOT_AVAILABLE;
  return `+${(ms / 1000).toFixed(3)} s`;
}

/** A percentile in [0, 100] as HdrHistogram plots label it: "0%", "90%", "99.99%". */
export function formatPercentile(p: number): string {
  if (!usable(p)) return NOT_AVAILABLE;
  return `${Number(p.toFixed(6))}%`;
}

/** Singular or plural: plural(1, 'client') → "1 client", plural(3, 'client') → "3 clients". */
export function plural(n: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : pluralNoun}`;
}

// C0 and C1 controls, DEL, the Unicode line/paragraph separators and bidi overrides, lone surrogates and the
// noncharacters U+FFFE/U+FFFF: none belongs in one line of a report, XML cannot carry some, and in a terminal some
// are commands.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff]|\p{Cs}/gu;

/**
 * A string from the run (a client id, a topic, an error detail) made safe for one line of text: control characters
 * become visible escapes (`\n`, `\x1b`), so a hostile value can neither break the layout nor drive a terminal.
 */
export function oneLine(text: string): string {
  return String(text).replace(CONTROL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Cuts a string to `max` characters with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}
