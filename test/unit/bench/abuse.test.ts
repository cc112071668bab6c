import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../bench/options.js';
import { parseAbuseArgs } from '../../../bench/abuse/args.js';
import { ATTACKS } from '../../../bench/abuse/attacks/index.js';
import { RSS_BUDGET_BYTES, judge, median, summarise } from '../../../bench/abuse/goals.js';
import type { AbuseRecord } from '../../../bench/abuse/measure.js';
import { renderAbuseMarkdown, renderAbuseTable, renderMisses } from '../../../bench/abuse/render.js';
import { firstErrorLine } from '../../../bench/harness/broker.js';

const MIB = 1024 * 1024;

function record(over: Partial<AbuseRecord> = {}): AbuseRecord {
  return {
    attack: 'trickle',
    broker: 'bundled',
    brokerLabel: 'bundled 0.1.0',
    round: 1,
    rssBeforeBytes: 50 * MIB,
    rssPeakBytes: 60 * MIB,
    rssAfterBytes: 55 * MIB,
    inFlightBytes: 6 * MIB,
    pingMaxMs: 12,
    loopMaxMs: 20,
    crash: null,
    crashLines: null,
    facts: [],
    notes: [],
    rssGoalWaived: null,
    brokerSaid: [],
    error: null,
    ...over,
  };
}

const missed = (r: AbuseRecord[]): string[] => judge(summarise(r)[0]).filter((c) => !c.met).map((c) => c.goal);

describe('bench:abuse goals', () => {
  it('are met by a broker that grows within twice the bytes in flight plus the budget, never stalls and stays up', () => {
    const atLimit = record({ rssPeakBytes: 50 * MIB + 2 * 6 * MIB + RSS_BUDGET_BYTES });
    expect(missed([atLimit])).toEqual([]);
  });

  it('are missed by growth beyond the allowance, a long event-loop delay, a crash, or an attack that cannot finish', () => {
    expect(missed([record({ rssPeakBytes: 50 * MIB + 2 * 6 * MIB + RSS_BUDGET_BYTES + 1 })])).toEqual(['RSS growth ≤ 2 × in flight + 64 MiB']);
    expect(missed([record({ loopMaxMs: 101 })])).toEqual(['event-loop delay ≤ 100 ms']);
    expect(missed([record({ crash: 'exited with code 1', crashLines: 'RangeError' })])).toEqual(['no crash']);
    expect(missed([record({ error: 'no CONNACK within 10000 ms' })])).toEqual(['the attack completes']);
    // The bundled broker always reports its loop delay; a missing report is not a pass.
    expect(missed([record({ loopMaxMs: null })])).toEqual(['event-loop delay ≤ 100 ms']);
  });

  it("checks each attack's own bound, a value that never came counting as missed", () => {
    const fact = { label: 'closed after', unit: 'ms' as const, atMost: 4_000, missing: 'still open after 12 s' };
    expect(missed([record({ facts: [{ ...fact, value: 3_100 }] })])).toEqual([]);
    expect(missed([record({ facts: [{ ...fact, value: 4_001 }] })])).toEqual(['closed after ≤ 4,000 ms']);
    const never = judge(summarise([record({ facts: [{ ...fact, value: null }] })])[0]).find((c) => !c.met);
    expect(never?.measured).toBe('still open after 12 s');
  });

  it('reports but does not judge memory an attack declares to be state', () => {
    expect(missed([record({ rssPeakBytes: 900 * MIB, rssGoalWaived: 'subscriptions are state' })])).toEqual([]);
  });

  it('takes medians over rounds, any crash counting, and judges Mosquitto without an event-loop figure', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(median([1, null, null])).toBeNull();
    expect(median([])).toBeNull();
    const rounds = [record({ loopMaxMs: 10 }), record({ loopMaxMs: 500, round: 2 }), record({ loopMaxMs: 30, round: 3, crash: 'killed by SIGSEGV' })];
    const s = summarise(rounds)[0];
    expect([s.loopMaxMs, s.crashes, s.rounds]).toEqual([30, 1, 3]);
    const mosquitto = summarise([record({ broker: 'mosquitto', brokerLabel: 'mosquitto 2.0.11', loopMaxMs: null })])[0];
    expect(judge(mosquitto).map((c) => c.goal)).not.toContain('event-loop delay ≤ 100 ms');
  });

  it('lists only the bundled broker as missing goals, and renders both as a table and as Markdown', () => {
    const summaries = summarise([
      record({ crash: 'exited with code 1', crashLines: 'RangeError: Maximum call stack size exceeded' }),
      record({ broker: 'mosquitto', brokerLabel: 'mosquitto 2.0.11', loopMaxMs: null, rssPeakBytes: 900 * MIB }),
    ]);
    expect(renderMisses(summaries)).toEqual(['trickle: no crash: crashed in 1 of 1 rounds']);
    const table = renderAbuseTable(summaries);
    expect(table).toContain('growth ÷ in flight');
    expect(table).toContain('MISSED no crash');
    const markdown = renderAbuseMarkdown(summaries, {
      startedAt: new Date('2025-01-01T00:00:00Z'),
      rounds: 1,
      conf: ['max_queued_messages 100'],
      trickleBytes: 6_400,
      environment: 'Node v20',
      attacks: ATTACKS.filter((a) => a.name === 'trickle'),
    });
    expect(markdown).toContain('| trickle | bundled 0.1.0 |');
    expect(markdown).toContain('RangeError: Maximum call stack size exceeded');
    expect(markdown).toContain('`max_queued_messages 100`');
    expect(markdown).toContain('The bundled broker missed 1 goal(s)');
  });
});

describe('bench:abuse arguments', () => {
  it('runs every attack on both brokers once by default', () => {
    const a = parseAbuseArgs([]);
    expect(a.brokers).toEqual(['bundled', 'mosquitto']);
    expect(a.attacks).toEqual([...ATTACKS]);
    expect([a.rounds, a.trickleBytes, a.markdownFile]).toEqual([1, 6_400, undefined]);
  });

  it('picks attacks by name or number, in their own order', () => {
    const a = parseAbuseArgs(['--only', 'filters,1', '--rounds=3', '--markdown', 'docs/abuse.md', '--conf', 'max_connections 5000']);
    expect(a.attacks.map((x) => x.name)).toEqual([ATTACKS[0].name, 'filters']);
    expect([a.rounds, a.markdownFile, a.conf]).toEqual([3, 'docs/abuse.md', ['max_connections 5000']]);
  });

  it('reports every mistake at once', () => {
    let error: unknown;
    try {
      parseAbuseArgs(['--only', 'filter', '--brokers', 'aedes', '--rounds', '0', '--markdwn', 'x.md']);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).toContain('unknown attack "filter" (did you mean filters?)');
    expect(message).toContain('unknown broker "aedes"');
    expect(message).toContain('--rounds must be a whole number from 1');
    expect(message).toContain('unknown option "--markdwn" (did you mean --markdown?)');
  });
});

describe('crash reports', () => {
  it('name the error a dead Node process printed, whatever came before it', () => {
    const log = 'file:///x/router.js:131\n    const hash = node.children.get("#");\n               ^\n\nRangeError: Maximum call stack size exceeded\n    at Map.get (<anonymous>)\n';
    expect(firstErrorLine(log)).toBe('RangeError: Maximum call stack size exceeded');
    expect(firstErrorLine('1700000000: Client c1 disconnected.\n')).toBeUndefined();
  });
});
