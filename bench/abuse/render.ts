/** bench:abuse results as a console table and as Markdown; each function returns the text and prints nothing. */
import { renderTable } from '../render.js';
import type { Attack } from './attack.js';
import { IN_FLIGHT_FACTOR, LOOP_DELAY_GOAL_MS, RSS_BUDGET_BYTES, formatValue, judge, mib, type AttackSummary } from './goals.js';

const MIB = 1024 * 1024;

const HEADER = [
  'attack',
  'broker',
  'RSS before',
  'peak',
  'after',
  'growth',
  'in flight',
  'growth ÷ in flight',
  'ping max',
  'loop max',
  'crash',
  'measured',
  'goals',
];
const RIGHT = [false, false, true, true, true, true, true, true, true, true, false, false, false];

function cells(s: AttackSummary): string[] {
  const size = (b: number | null): string => (b === null ? 'n/a' : mib(b));
  const ratio =
    s.growthBytes === null || s.inFlightBytes === null || s.inFlightBytes === 0 ? 'n/a' : `${(s.growthBytes / s.inFlightBytes).toFixed(1)}×`;
  const ms = (v: number | null): string => (v === null ? 'n/a' : `${Math.round(v).toLocaleString('en-US')} ms`);
  const facts = s.facts.map((f) => `${f.label} ${f.value === null ? (f.missing ?? 'never') : formatValue(f.value, f.unit)}`).join('; ');
  return [
    s.attack,
    s.brokerLabel,
    size(s.rssBeforeBytes),
    size(s.rssPeakBytes),
    size(s.rssAfterBytes),
    size(s.growthBytes),
    size(s.inFlightBytes),
    ratio,
    ms(s.pingMaxMs),
    ms(s.loopMaxMs),
    s.crashes === 0 ? 'no' : s.rounds > 1 ? `yes (${s.crashes}/${s.rounds})` : 'yes',
    facts + (s.errors.length > 0 ? `${facts ? '; ' : ''}failed: ${s.errors[0]}` : ''),
    goalsCell(s),
  ];
}

function goalsCell(s: AttackSummary): string {
  const missed = judge(s).filter((c) => !c.met);
  const verdict =
    (missed.length === 0 ? 'met' : `MISSED ${missed.map((c) => `${c.goal} (${c.measured})`).join(', ')}`) +
    (s.rssGoalWaived === null ? '' : '; RSS growth not judged (state, see notes)');
  return s.broker === 'bundled' ? verdict : `(${verdict})`;
}

export function renderAbuseTable(summaries: readonly AttackSummary[]): string {
  return renderTable(HEADER, summaries.map(cells), RIGHT);
}

export function goalsText(): string {
  return (
    `Goals for the bundled broker: no crash; RSS growth (peak − before) ≤ ${IN_FLIGHT_FACTOR} × the bytes the attackers ` +
    `have in flight + a fixed budget of ${RSS_BUDGET_BYTES / MIB} MiB (connections, socket buffers, heap headroom); ` +
    `no event-loop delay above ${LOOP_DELAY_GOAL_MS} ms (measured inside the broker); and each attack's own bound ` +
    `where it has one. Mosquitto's figures are for comparison only (shown in parentheses).`
  );
}

/** Which bundled summaries missed a goal, one line each. */
export function renderMisses(summaries: readonly AttackSummary[]): string[] {
  return summaries
    .filter((s) => s.broker === 'bundled')
    .flatMap((s) =>
      judge(s)
        .filter((c) => !c.met)
        .map((c) => `${s.attack}: ${c.goal}: ${c.measured}`),
    );
}

export interface MarkdownContext {
  startedAt: Date;
  rounds: number;
  conf: string[];
  trickleBytes: number;
  environment: string;
  attacks: readonly Attack[];
}

export function renderAbuseMarkdown(summaries: readonly AttackSummary[], ctx: MarkdownContext): string {
  const lines: string[] = [];
  lines.push('# Broker abuse benchmark', '');
  lines.push(
    `\`npm run bench:abuse\` on ${ctx.startedAt.toISOString().slice(0, 10)}, ${ctx.environment}; ` +
      `${ctx.rounds} round${ctx.rounds === 1 ? '' : 's'} per broker, brokers alternating, a fresh broker process per ` +
      `measurement; medians. mosquitto.conf lines for both brokers: ${ctx.conf.length > 0 ? ctx.conf.map((c) => `\`${c}\``).join(', ') : 'none (defaults)'}.`,
    '',
  );
  lines.push(goalsText(), '');
  lines.push('## Attacks', '');
  for (const a of ctx.attacks) lines.push(`- **${a.name}**: ${a.title}${a.name === 'trickle' ? ` (${ctx.trickleBytes.toLocaleString('en-US')} bytes each)` : ''}`);
  lines.push('', '## Results', '');
  lines.push(`| ${HEADER.join(' | ')} |`);
  lines.push(`|${RIGHT.map((r) => (r ? '---:' : '---')).join('|')}|`);
  for (const s of summaries) lines.push(`| ${cells(s).map(escapeCell).join(' | ')} |`);
  lines.push('');
  lines.push(
    'RSS before: the broker idle, just before the attack; peak: the highest resident size during it; after: one second ' +
      'after the attackers left. In flight: the most bytes the attackers had sent that the broker still holds by right ' +
      '(wills, subscriptions, retained messages, unfinished packets) or had not yet confirmed reading (a PINGREQ or ' +
      'PUBACK not yet answered). Ping max: the longest PINGREQ → PINGRESP of a client pinging every 20 ms; loop max: ' +
      'the longest event-loop delay the bundled broker measured in itself (`perf_hooks.monitorEventLoopDelay`).',
    '',
  );
  const misses = renderMisses(summaries);
  lines.push('## Verdict', '');
  lines.push(misses.length === 0 ? 'The bundled broker met every goal.' : `The bundled broker missed ${misses.length} goal(s):`);
  if (misses.length > 0) lines.push('', ...misses.map((m) => `- ${m}`));
  const crashes = summaries.filter((s) => s.crashLines !== null);
  if (crashes.length > 0) {
    lines.push('', '## Crashes', '');
    for (const s of crashes) lines.push(`${s.attack} on ${s.brokerLabel}:`, '', '```', s.crashLines!, '```', '');
  }
  const notes = summaries.filter((s) => s.notes.length > 0 || (s.rssGoalWaived !== null && s.broker === 'bundled'));
  if (notes.length > 0) {
    lines.push('', '## Notes', '');
    for (const s of notes) {
      if (s.rssGoalWaived !== null && s.broker === 'bundled') lines.push(`- ${s.attack}: RSS growth is reported, not judged: ${s.rssGoalWaived}.`);
      for (const n of s.notes) lines.push(`- ${s.attack} on ${s.brokerLabel}: ${n}`);
    }
  }
  return lines.join('\n') + '\n';
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
