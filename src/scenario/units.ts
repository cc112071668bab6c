/**
 * Durations, rates, sizes and message counts as written in scenarios. Durations come out in integer milliseconds,
 * rates in events per second, sizes in bytes.
 */

export type Parsed<T> = { value: T } | { error: string; hint?: string };

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * `500ms`, `10s`, `1.5s`, `2m`, `1h`, `1m30s` → milliseconds. A bare number other than 0 is rejected: `10` could
 * mean seconds or milliseconds, and guessing wrong silently changes a test by a factor of a thousand.
 */
export function parseDuration(input: string | number): Parsed<number> {
  if (typeof input === 'number') {
    if (input === 0) return { value: 0 };
    return {
      error: `a duration needs a unit, got the bare number ${input}`,
      hint: `write ${input}s or ${input}ms (units: ms, s, m, h)`,
    };
  }
  const text = input.trim();
  if (text === '') return { error: 'the duration is empty', hint: 'write e.g. 500ms, 10s, 2m or 1h' };
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) {
    if (Number(text) === 0) return { value: 0 };
    return { error: `a duration needs a unit, got "${text}"`, hint: `write ${text}s or ${text}ms (units: ms, s, m, h)` };
  }
  if (text.startsWith('-')) return { error: `a duration cannot be negative, got "${text}"` };
  let total = 0;
  let i = 0;
  while (i < text.length) {
    const numStart = i;
    while (i < text.length && isDigitOrDot(text.charCodeAt(i))) i++;
    const num = text.slice(numStart, i);
    const unitStart = i;
    while (i < text.length && isLetter(text.charCodeAt(i))) i++;
    const unit = text.slice(unitStart, i);
    if (num === '' || !/^\d+(\.\d+)?$/.test(num) || unit === '') {
      return { error: `"${text}" is not a duration`, hint: 'write e.g. 500ms, 10s, 2m, 1h or 1m30s' };
    }
    const scale = DURATION_UNITS_MS[unit];
    if (scale === undefined) {
      return {
        error: `"${text}" has an unknown duration unit "${unit}"`,
        hint: unitHint(unit) ?? 'units are ms, s, m and h',
      };
    }
    total += Number(num) * scale;
  }
  // Sums of decimal fractions (1.1s) carry binary noise; anything within a nanosecond of a whole millisecond is whole.
  const rounded = Math.round(total);
  if (Math.abs(total - rounded) > 1e-6) {
    return { error: `"${text}" is not a whole number of milliseconds`, hint: 'durations are kept in whole milliseconds' };
  }
  if (!Number.isSafeInteger(rounded)) return { error: `"${text}" is too long a duration` };
  return { value: rounded };
}

function unitHint(unit: string): string | undefined {
  switch (unit.toLowerCase()) {
    case 'sec':
    case 'secs':
    case 'second':
    case 'seconds':
      return 'write s for seconds (units: ms, s, m, h)';
    case 'min':
    case 'mins':
    case 'minute':
    case 'minutes':
      return 'write m for minutes (units: ms, s, m, h)';
    case 'hr':
    case 'hour':
    case 'hours':
      return 'write h for hours (units: ms, s, m, h)';
    case 'us':
    case 'µs':
    case 'ns':
      return 'durations are kept in whole milliseconds; the smallest unit is ms';
    case 'd':
    case 'day':
    case 'days':
      return 'write hours instead, e.g. 24h';
    default:
      return undefined;
  }
}

const RATE_UNITS_PER_SEC: Record<string, number> = {
  s: 1,
  sec: 1,
  second: 1,
  m: 1 / 60,
  min: 1 / 60,
  minute: 1 / 60,
  h: 1 / 3600,
  hour: 1 / 3600,
};

/** `100/s`, `6000/min`, `0.5/s`, `30/h` → events per second (positive; may be fractional). */
export function parseRate(input: string | number): Parsed<number> {
  if (typeof input === 'number') {
    return { error: `a rate needs a time unit, got the bare number ${input}`, hint: `write ${input}/s or ${input}/min` };
  }
  const text = input.trim();
  const slash = text.indexOf('/');
  if (slash < 0) {
    if (/^[+-]?\d+(\.\d+)?$/.test(text)) {
      return { error: `a rate needs a time unit, got "${text}"`, hint: `write ${text}/s or ${text}/min` };
    }
    return { error: `"${text}" is not a rate`, hint: 'write e.g. 100/s, 6000/min or 30/h' };
  }
  const num = text.slice(0, slash).trim();
  const unit = text.slice(slash + 1).trim();
  if (!/^[+-]?\d+(\.\d+)?$/.test(num)) {
    return { error: `"${text}" is not a rate`, hint: 'write e.g. 100/s, 6000/min or 30/h' };
  }
  const perUnit = RATE_UNITS_PER_SEC[unit];
  if (perUnit === undefined) {
    return { error: `"${text}" has an unknown rate unit "${unit}"`, hint: 'rates are per s, min or h, e.g. 100/s' };
  }
  const n = Number(num);
  if (n < 0) return { error: `a rate cannot be negative, got "${text}"` };
  if (n === 0) return { error: `a rate must be above zero, got "${text}"`, hint: 'leave the rate out to go as fast as possible' };
  return { value: n * perUnit };
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1_024,
  mib: 1_048_576,
  gib: 1_073_741_824,
};

/** `64`, `64B`, `1KB` (1000), `1KiB` (1024), `1.5MB`, `1MiB` → whole bytes. */
export function parseSize(input: string | number): Parsed<number> {
  if (typeof input === 'number') {
    if (!Number.isInteger(input)) return { error: `a size is a whole number of bytes, got ${input}` };
    if (input < 0) return { error: `a size cannot be negative, got ${input}` };
    return { value: input };
  }
  const text = input.trim();
  const m = /^([+-]?\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text);
  if (!m) return { error: `"${text}" is not a size`, hint: 'write e.g. 64, 512B, 1KB, 4KiB or 1MiB' };
  const scale = SIZE_UNITS[m[2].toLowerCase() || 'b'];
  if (scale === undefined) {
    return { error: `"${text}" has an unknown size unit "${m[2]}"`, hint: 'units are B, KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers of 1024)' };
  }
  const n = Number(m[1]);
  if (n < 0) return { error: `a size cannot be negative, got "${text}"` };
  const bytes = n * scale;
  if (Math.abs(bytes - Math.round(bytes)) > 1e-6) return { error: `"${text}" is not a whole number of bytes` };
  return { value: Math.round(bytes) };
}

/** `100 messages` / `100 msgs` / `1 message` → 100 (a count of received messages, at least 1). */
export function parseMessageCount(input: string): Parsed<number> | undefined {
  const m = /^\s*(\d+)\s*(messages|message|msgs|msg)\s*$/.exec(input);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (n < 1) return { error: `a message count must be at least 1, got "${input.trim()}"` };
  return { value: n };
}

/** Milliseconds as the shortest scenario-style text: 90000 → "1m30s", 1500 → "1500ms", 0 → "0s". */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 1000 !== 0) return `${ms}ms`;
  let s = ms / 1000;
  let out = '';
  const h = Math.floor(s / 3600);
  if (h > 0) out += `${h}h`;
  s -= h * 3600;
  const m = Math.floor(s / 60);
  if (m > 0) out += `${m}m`;
  s -= m * 60;
  if (s > 0) out += `${s}s`;
  return out;
}

function isDigitOrDot(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e;
}

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0xb5;
}
