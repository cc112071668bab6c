import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../bench/options.js';
import { DEFAULT_PACKETS, FUZZ_USAGE, parseFuzzArgs } from '../../../bench/fuzz/args.js';
import { PLAN_KINDS } from '../../../bench/fuzz/connection-plans.js';

describe('npm run fuzz arguments', () => {
  it('has defaults: the bundled broker, 200 connections, a fresh seed, every kind of connection', () => {
    const a = parseFuzzArgs([]);
    expect([a.broker, a.connections, a.packets, a.seed, a.probeLimitMs]).toEqual(['bundled', 200, DEFAULT_PACKETS, undefined, 2_000]);
    expect(a.kinds).toEqual([...PLAN_KINDS]);
  });

  it('takes a million packets, a seed, Mosquitto, kinds to leave out and conf lines', () => {
    const a = parseFuzzArgs(['--packets', '1000000', '--seed=abc', '--broker', 'mosquitto', '--without', 'deep-will,flood', '--conf', 'max_queued_messages 10']);
    expect([a.packets, a.seed, a.broker, a.conf]).toEqual([1_000_000, 'abc', 'mosquitto', ['max_queued_messages 10']]);
    expect(a.kinds).toEqual(PLAN_KINDS.filter((k) => k !== 'deep-will' && k !== 'flood'));
    expect(FUZZ_USAGE).toContain('--packets 1000000');
  });

  it('reports every mistake at once, with hints', () => {
    let error: unknown;
    try {
      parseFuzzArgs(['--packet', '5', '--broker', 'mosquito', '--packets', '10', '--without', 'deepwill', '--seed']);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).toContain('unknown option "--packet" (did you mean --packets?)');
    expect(message).toContain('unknown broker "mosquito" (did you mean mosquitto?)');
    expect(message).toContain('--packets must be a whole number from 1,000');
    expect(message).toContain('unknown connection kind "deepwill" (did you mean deep-will?)');
    expect(message).toContain('--seed needs a value');
  });

  it('refuses to leave out every kind', () => {
    expect(() => parseFuzzArgs(['--without', PLAN_KINDS.join(',')])).toThrow('leaves no kind of connection');
  });
});
