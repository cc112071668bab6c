/**
 * Medians over rounds, and the bundled broker's goals under attack: memory growth bounded by what the attackers have
 * in flight plus a fixed budget, no event-loop delay above 100 ms, no crash, and each attack's own bound (a
 * connection closed on time, nothing lost, a CONNACK without a stall). Pure functions of the records.
 */
import type { WatchedBrokerKind } from '../harness/broker.js';
import type { Fact } from './attack.js';
import type { AbuseRecord } from './measure.js';

const MIB = 1024 * 1024;

/** Memory a broker may grow by under any attack beyond twice the attackers' bytes in flight: connections, buffers, heap. */
export const RSS_BUDGET_BYTES = 64 * MIB;
export const IN_FLIGHT_FACTOR = 2;
export const LOOP_DELAY_GOAL_MS = 100;

export interface AttackSummary {
  attack: string;
  broker: WatchedBrokerKind;
  brokerLabel: string;
  rounds: number;
  /** Rounds in which the broker process died. */
  crashes: number;
  /** Medians over rounds (null where no round could tell). */
  rssBeforeBytes: number | null;
  rssPeakBytes: number | null;
  rssAfterBytes: number | null;
  growthBytes: number | null;
  inFlightBytes: number | null;
  pingMaxMs: number | null;
  loopMaxMs: number | null;
  facts: Fact[];
  notes: string[];
  errors: string[];
  crashLines: string | null;
  rssGoalWaived: string | null;
}

export interface GoalCheck {
  goal: string;
  met: boolean;
  /** What was measured, for a missed goal's explanation. */
  measured: string;
}

/** The median of the numbers, null counting as larger than any number; null when the median is null or there is none. */
export function median(values: readonly (number | null)[]): number | null {
  if (values.length === 0) return null;
  const sorted = values.map((v) => v ?? Infinity).sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const m = Number.isInteger(mid) ? (sorted[mid - 1] + sorted[mid]) / 2 : sorted[Math.floor(mid)];
  return Number.isFinite(m) ? m : null;
}

/** One summary per attack and broker, in the order the records first name them. */
export function summarise(records: readonly AbuseRecord[]): AttackSummary[] {
  const keys: string[] = [];
  const groups = new Map<string, AbuseRecord[]>();
  for (const r of records) {
    const key = `${r.attack}\u0000${r.broker}`;
    if (!groups.has(key)) {
      keys.push(key);
      groups.set(key, []);
    }
    groups.get(key)!.push(r);
  }
  return keys.map((key) => summariseGroup(groups.get(key)!));
}

function summariseGroup(rs: AbuseRecord[]): AttackSummary {
  const growth = rs.map((r) => (r.rssPeakBytes === null || r.rssBeforeBytes === null ? null : r.rssPeakBytes - r.rssBeforeBytes));
  const labels: string[] = [];
  for (const r of rs) for (const f of r.facts) if (!labels.includes(f.label)) labels.push(f.label);
  const facts = labels.map((label) => {
    const seen = rs.flatMap((r) => r.facts.filter((f) => f.label === label));
    return { ...seen[0], value: median(seen.map((f) => f.value)) };
  });
  const crashed = rs.find((r) => r.crash !== null);
  return {
    attack: rs[0].attack,
    broker: rs[0].broker,
    brokerLabel: rs[0].brokerLabel,
    rounds: rs.length,
    crashes: rs.filter((r) => r.crash !== null).length,
    rssBeforeBytes: median(rs.map((r) => r.rssBeforeBytes)),
    rssPeakBytes: median(rs.map((r) => r.rssPeakBytes)),
    rssAfterBytes: median(rs.map((r) => r.rssAfterBytes)),
    growthBytes: median(growth),
    inFlightBytes: median(rs.map((r) => r.inFlightBytes)),
    pingMaxMs: median(rs.map((r) => r.pingMaxMs)),
    loopMaxMs: median(rs.map((r) => r.loopMaxMs)),
    facts,
    notes: [...new Set(rs.flatMap((r) => [...r.notes, ...r.brokerSaid.map((l) => `broker logged: ${l}`)]))],
    rssGoalWaived: rs.find((r) => r.rssGoalWaived !== null)?.rssGoalWaived ?? null,
    errors: [...new Set(rs.flatMap((r) => (r.error === null ? [] : [r.error])))],
    crashLines: crashed?.crashLines ?? null,
  };
}

/** The goals, checked against a summary (meant for the bundled broker; Mosquitto's are shown for information). */
export function judge(s: AttackSummary): GoalCheck[] {
  const checks: GoalCheck[] = [];
  checks.push({ goal: 'no crash', met: s.crashes === 0, measured: s.crashes === 0 ? 'none' : `crashed in ${s.crashes} of ${s.rounds} rounds` });
  if (s.rssGoalWaived === null) {
    const inFlight = s.inFlightBytes ?? 0;
    const allowed = IN_FLIGHT_FACTOR * inFlight + RSS_BUDGET_BYTES;
    checks.push({
      goal: `RSS growth ≤ ${IN_FLIGHT_FACTOR} × in flight + ${RSS_BUDGET_BYTES / MIB} MiB`,
      met: s.growthBytes !== null && s.growthBytes <= allowed,
      measured: s.growthBytes === null ? 'not measured' : `${mib(s.growthBytes)} grown, ${mib(allowed)} allowed`,
    });
  }
  if (s.loopMaxMs !== null || s.broker === 'bundled') {
    checks.push({
      goal: `event-loop delay ≤ ${LOOP_DELAY_GOAL_MS} ms`,
      met: s.loopMaxMs !== null && s.loopMaxMs <= LOOP_DELAY_GOAL_MS,
      measured: s.loopMaxMs === null ? 'not reported' : `${Math.round(s.loopMaxMs)} ms`,
    });
  }
  for (const f of s.facts) {
    if (f.atMost === undefined) continue;
    checks.push({
      goal: `${f.label} ≤ ${formatValue(f.atMost, f.unit)}`,
      met: f.value !== null && f.value <= f.atMost,
      measured: f.value === null ? (f.missing ?? 'never') : formatValue(f.value, f.unit),
    });
  }
  if (s.errors.length > 0) checks.push({ goal: 'the attack completes', met: false, measured: s.errors[0] });
  return checks;
}

/** A size for the tables: KiB below one MiB, one decimal below ten. */
export function mib(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs < MIB) return `${Math.round(bytes / 1024)} KiB`;
  return `${(bytes / MIB).toFixed(abs < 10 * MIB ? 1 : 0)} MiB`;
}

export function formatValue(value: number, unit: Fact['unit']): string {
  switch (unit) {
    case 'ms':
      return `${Math.round(value).toLocaleString('en-US')} ms`;
    case 's':
      return `${value.toFixed(1)} s`;
    case 'MiB':
      return `${value.toFixed(0)} MiB`;
    case 'count':
      return Math.round(value).toLocaleString('en-US');
  }
}
