import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatClock,
  formatCount,
  formatDuration,
  formatMs,
  formatMsNumber,
  formatOffset,
  formatPercentile,
  formatRate,
  oneLine,
} from '../../../src/report/format.js';

describe('formatMs', () => {
  it('shows µs values as ms with about three significant digits', () => {
    expect(formatMs(420)).toBe('0.42 ms');
    expect(formatMs(42)).toBe('0.042 ms');
    expect(formatMs(4_210)).toBe('4.21 ms');
    expect(formatMs(12_300)).toBe('12.3 ms');
    expect(formatMs(123_456)).toBe('123 ms');
    expect(formatMs(1_234_000)).toBe('1,234 ms');
    expect(formatMs(0)).toBe('0 ms');
  });

  it('picks the precision from the rounded value', () => {
    expect(formatMsNumber(9_996)).toBe('10.0');
    expect(formatMsNumber(99_960)).toBe('100');
    expect(formatMsNumber(99)).toBe('0.099');
    expect(formatMsNumber(99.6)).toBe('0.10');
  });

  it('never prints NaN or undefined', () => {
    expect(formatMs(Number.NaN)).toBe('n/a');
    expect(formatMs(undefined)).toBe('n/a');
    expect(formatMs(null)).toBe('n/a');
    expect(formatMs(Number.POSITIVE_INFINITY)).toBe('n/a');
  });
});

describe('counts and rates', () => {
  it('uses thousands separators whatever the locale', () => {
    expect(formatCount(1_234_567)).toBe('1,234,567');
    expect(formatCount(0)).toBe('0');
    expect(formatRate(5_000)).toBe('5,000/s');
    expect(formatRate(49_993.3)).toBe('49,993/s');
    expect(formatRate(12.5)).toBe('12.5/s');
    expect(formatRate(Number.NaN)).toBe('n/a');
  });

  it('formats bytes, durations, clocks, offsets and percentiles', () => {
    expect(formatBytes(812)).toBe('812 B');
    expect(formatBytes(1_536)).toBe('1.5 KiB');
    expect(formatBytes(9_598_720)).toBe('9.2 MiB');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_400)).toBe('12.4 s');
    expect(formatDuration(125_000)).toBe('2 min 05 s');
    expect(formatDuration(3_720_000)).toBe('1 h 02 min');
    expect(formatClock(12.7)).toBe('00:12');
    expect(formatClock(65)).toBe('01:05');
    expect(formatClock(3_723)).toBe('1:02:03');
    expect(formatOffset(2_345)).toBe('+2.345 s');
    expect(formatPercentile(99.9)).toBe('99.9%');
    expect(formatPercentile(100 * (1 - 10 ** -4))).toBe('99.99%');
  });
});

describe('oneLine', () => {
  it('makes line breaks and terminal escapes visible instead of acting on them', () => {
    expect(oneLine('a\nb\r\tc')).toBe('a\\nb\\r\\tc');
    expect(oneLine('\u001b[31mred')).toBe('\\x1b[31mred');
    expect(oneLine('x\u202ey')).toBe('x\\u202ey');
    expect(oneLine('plain ü')).toBe('plain ü');
  });
});
