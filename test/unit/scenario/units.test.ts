import { describe, expect, it } from 'vitest';
import { formatDurationMs, parseDuration, parseMessageCount, parseRate, parseSize } from '../../../src/scenario/units.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1_500],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.1s', 1_100],
    [' 10s ', 10_000],
    ['0s', 0],
    ['0', 0],
    [0, 0],
  ])('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toEqual({ value: ms });
  });

  it('rejects bare numbers other than 0, suggesting units', () => {
    expect(parseDuration(10)).toEqual({
      error: 'a duration needs a unit, got the bare number 10',
      hint: 'write 10s or 10ms (units: ms, s, m, h)',
    });
    expect(parseDuration('250')).toMatchObject({ error: 'a duration needs a unit, got "250"' });
  });

  it('rejects what does not parse, with a hint where one helps', () => {
    expect(parseDuration('10 sec')).toMatchObject({ error: '"10 sec" is not a duration' });
    expect(parseDuration('10sec')).toEqual({
      error: '"10sec" has an unknown duration unit "sec"',
      hint: 'write s for seconds (units: ms, s, m, h)',
    });
    expect(parseDuration('5us')).toMatchObject({ hint: 'durations are kept in whole milliseconds; the smallest unit is ms' });
    expect(parseDuration('2d')).toMatchObject({ hint: 'write hours instead, e.g. 24h' });
    expect(parseDuration('abc')).toMatchObject({ error: '"abc" is not a duration' });
    expect(parseDuration('1.2.3s')).toMatchObject({ error: '"1.2.3s" is not a duration' });
    expect(parseDuration('s')).toMatchObject({ error: '"s" is not a duration' });
    expect(parseDuration('')).toMatchObject({ error: 'the duration is empty' });
    expect(parseDuration('-5s')).toEqual({ error: 'a duration cannot be negative, got "-5s"' });
    expect(parseDuration('1.5ms')).toMatchObject({ error: '"1.5ms" is not a whole number of milliseconds' });
  });
});

describe('parseRate', () => {
  it.each([
    ['100/s', 100],
    ['6000/min', 100],
    ['60/m', 1],
    ['3600/h', 1],
    ['0.5/s', 0.5],
    ['10 / s', 10],
    ['5/second', 5],
  ])('%j is %d per second', (input, perSec) => {
    expect(parseRate(input)).toEqual({ value: perSec });
  });

  it('rejects negative, zero, unitless and unknown rates', () => {
    expect(parseRate('-5/s')).toEqual({ error: 'a rate cannot be negative, got "-5/s"' });
    expect(parseRate('0/s')).toMatchObject({ error: 'a rate must be above zero, got "0/s"' });
    expect(parseRate(100)).toEqual({ error: 'a rate needs a time unit, got the bare number 100', hint: 'write 100/s or 100/min' });
    expect(parseRate('100')).toMatchObject({ error: 'a rate needs a time unit, got "100"' });
    expect(parseRate('100/d')).toMatchObject({ error: '"100/d" has an unknown rate unit "d"' });
    expect(parseRate('fast')).toMatchObject({ error: '"fast" is not a rate' });
    expect(parseRate('x/s')).toMatchObject({ error: '"x/s" is not a rate' });
  });
});

describe('parseSize', () => {
  it.each([
    [64, 64],
    ['64', 64],
    ['64B', 64],
    ['1KB', 1_000],
    ['1kb', 1_000],
    ['1KiB', 1_024],
    ['1MiB', 1_048_576],
    ['1.5MB', 1_500_000],
    ['2 GiB', 2_147_483_648],
    ['0', 0],
  ])('%j is %d bytes', (input, bytes) => {
    expect(parseSize(input)).toEqual({ value: bytes });
  });

  it('rejects fractions of bytes, negative sizes and unknown units', () => {
    expect(parseSize(1.5)).toMatchObject({ error: 'a size is a whole number of bytes, got 1.5' });
    expect(parseSize(-1)).toMatchObject({ error: 'a size cannot be negative, got -1' });
    expect(parseSize('-1KB')).toMatchObject({ error: 'a size cannot be negative, got "-1KB"' });
    expect(parseSize('1.5B')).toMatchObject({ error: '"1.5B" is not a whole number of bytes' });
    expect(parseSize('1TB')).toMatchObject({ error: '"1TB" has an unknown size unit "TB"' });
    expect(parseSize('big')).toMatchObject({ error: '"big" is not a size' });
  });
});

describe('parseMessageCount', () => {
  it('reads counts of messages and leaves other text alone', () => {
    expect(parseMessageCount('100 messages')).toEqual({ value: 100 });
    expect(parseMessageCount('1 message')).toEqual({ value: 1 });
    expect(parseMessageCount('50msgs')).toEqual({ value: 50 });
    expect(parseMessageCount('0 messages')).toMatchObject({ error: 'a message count must be at least 1, got "0 messages"' });
    expect(parseMessageCount('1s')).toBeUndefined();
  });
});

describe('formatDurationMs', () => {
  it.each([
    [0, '0s'],
    [1_500, '1500ms'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [3_723_000, '1h2m3s'],
  ])('%d ms reads %s', (ms, text) => {
    expect(formatDurationMs(ms)).toBe(text);
    expect(parseDuration(text)).toEqual({ value: ms });
  });
});
