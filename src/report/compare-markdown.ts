/**
 * docs/benchmarks.md: a comparison as a GitHub-flavoured Markdown document: the machine and brokers, the exact
 * command, a table per scenario with the bundled broker's ratio to each other broker, the saturation searches, and
 * how to read the figures.
 */
import type { CompareResult, ScenarioComparison } from '../compare/result.js';
import {
  brokerFigures,
  bundledLabel,
  describeRounds,
  machineFacts,
  MEASURES,
  missesRounds,
  processNote,
  rateUnit,
  ratioCell,
  ratioHead,
  ratioLines,
  ratioMeaning,
  saturationByScenario,
  saturationFacts,
  showsBytesPerConnection,
  showsFaultLoss,
  FAULT_LOSS_MEANING,
  thresholdNotes,
  incidentLines,
} from './compare-facts.js';
import { formatCount, formatMs, oneLine } from './format.js';
import { code, markdownTable as table, md, mdStart, type MarkdownAlign as Align } from './markdown.js';

export function renderBenchmarksMarkdown(result: CompareResult): string {
  const out: string[] = [];
  const bundled = bundledLabel(result);

  out.push('# Benchmarks', '');
  out.push(
    `${result.brokers.length > 0 ? result.brokers.map((b) => md(b.label)).join(' vs ') : 'No broker'}: ` +
      `mqbench ${md(result.tool.version)}, ${md(describeRounds(result.rounds))}, generated ${md(result.generatedAt)}.`,
    '',
  );

  out.push('## Machine', '');
  const m = machineFacts(result.machine);
  out.push(
    ...table(['', ''], [
      ['CPU', md(m.cpu)],
      ['memory', md(m.memory)],
      ['Node', md(m.node)],
      ['platform', md(m.platform)],
    ], ['left', 'left']),
    '',
  );

  out.push('## Brokers', '');
  if (result.brokers.length === 0) {
    out.push('None.', '');
  } else {
    out.push(
      ...table(
        ['broker', 'kind', 'version', 'address', 'CPU and memory'],
        result.brokers.map((b) => [md(b.label), md(b.kind), md(b.version === '' ? 'n/a' : b.version), code(b.url), processNote(b)]),
        ['left', 'left', 'left', 'left', 'left'],
      ),
      '',
    );
  }

  out.push('## Command', '');
  out.push(...fenced(result.command), '');

  out.push('## Results', '');
  if (result.scenarios.length === 0) out.push('No scenario was compared.', '');
  for (const s of result.scenarios) out.push(...scenarioSection(result, s, bundled), '');

  if (result.saturation.length > 0) {
    out.push('## Saturation', '');
    out.push('The offered publish rate raised step by step until a step broke a limit; the highest rate that held is the sustained rate.', '');
    const rows: string[][] = [];
    for (const [scenario, list] of saturationByScenario(result)) {
      list.forEach((s, i) => {
        const f = saturationFacts(s);
        rows.push([i === 0 ? md(scenario) : '', md(s.broker), `**${f.sustained}**`, f.failedAt, md(f.why), formatCount(f.steps), md(f.limits)]);
      });
    }
    out.push(
      ...table(
        ['scenario', 'broker', 'highest sustained rate', 'failed at', 'why', 'steps', 'limits'],
        rows,
        ['left', 'left', 'right', 'right', 'left', 'right', 'left'],
      ),
      '',
    );
  }

  const incidents = incidentLines(result);
  if (incidents.length > 0) {
    out.push('## Incidents', '', 'Rounds lost (left out of the medians) and brokers restarted:', '');
    for (const line of incidents) out.push(`- ${md(line)}`);
    out.push('');
  }

  out.push('## How to read this', '');
  out.push(
    `- Each scenario ran ${formatCount(result.rounds)} ${result.rounds === 1 ? 'time' : 'times'} against every broker, the brokers ` +
      'taking turns (A B A B) so that a slow moment of the machine does not fall on one broker only. Rates, latencies, CPU ' +
      'and memory are medians over those rounds; min–max is the lowest and highest round.',
    '- Errors and lost messages are totals over all rounds.',
    ...(result.scenarios.some(showsFaultLoss) ? [`- ${FAULT_LOSS_MEANING[0].toUpperCase()}${FAULT_LOSS_MEANING.slice(1)}.`] : []),
    '- Latency is end to end where a scenario is about messages, from the send time stamped in the payload to arrival at ' +
      'a subscriber; where it is about connections, it is the time from sending CONNECT to receiving CONNACK.',
    '- CPU time is what the broker process used over a round; msg per CPU s divides the messages the subscribers received by that time, ' +
      'so it compares how much work each broker gets out of a CPU second, whatever the rate it was offered.',
    '- CPU and memory are the broker process’s own, measured only for brokers mqbench started; a broker it did not start ' +
      '(a URL) shows n/a. Memory per connection (peak memory growth ÷ most connections open at once) is shown where a ' +
      'scenario holds its connections; where they come and go it would measure the churn, so only peak memory is shown.',
    '- The ratio divides the bundled broker’s figure by the other broker’s on the scenario’s measure, so above 1 means the ' +
      'bundled broker does more. For memory it is the other way round (the other broker’s memory per connection ÷ the ' +
      'bundled broker’s), so above 1 still favours the bundled broker.',
    '- Figures from one machine compare brokers with each other on that machine; they are not limits of the brokers elsewhere.',
  );
  return out.join('\n').replace(/\n+$/, '') + '\n';
}

function scenarioSection(result: CompareResult, s: ScenarioComparison, bundled: string | undefined): string[] {
  const m = MEASURES[s.measure];
  const out: string[] = [`### ${md(s.scenario)}`, ''];
  if (s.description.trim() !== '') out.push(mdStart(s.description.trim()), '');
  out.push(`Measured by ${md(m.what)}; ${m.better} is better. Latency: ${md(m.latency)}.`, '');
  if (s.brokers.length === 0) {
    out.push('No broker ran this scenario.');
    return out;
  }
  const bytes = showsBytesPerConnection(s);
  const rounds = missesRounds(result, s);
  const ratio = bundled !== undefined && s.brokers.some((b) => b.broker === bundled);
  const head = ['broker', `${rateUnit(s)} (median)`, 'min–max', 'p50', 'p99', 'p99.9', 'errors', 'lost', 'CPU time', 'msg per CPU s', 'peak memory'];
  const align: Align[] = ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'];
  if (bytes) {
    head.push('memory per connection');
    align.push('right');
  }
  if (showsFaultLoss(s)) {
    head.push('lost across faults');
    align.push('right');
  }
  if (rounds) {
    head.push('rounds');
    align.push('right');
  }
  if (ratio) {
    head.push(md(ratioHead(s, bundled as string)));
    align.push('right');
  }
  const rows = s.brokers.map((b) => {
    const row = [md(b.broker), ...brokerFigures(result, s, b, formatMs)];
    if (ratio) row.push(ratioCell(s, b.broker, bundled));
    return row;
  });
  out.push(...table(head, rows, align));
  const ratios = ratioLines(s, bundled);
  if (ratios.length > 0) {
    out.push('');
    for (const r of ratios) out.push(`- ${md(r.left)} ÷ ${md(r.right)}: **${r.value}**`);
    out.push('', `${md(ratioMeaning(s))}.`);
  }
  const notes = thresholdNotes(result, s);
  if (notes.length > 0) {
    out.push('');
    for (const n of notes) out.push(`- ${md(n.broker)}: thresholds failed in ${formatCount(n.failed)} of ${formatCount(n.runs)} rounds`);
  }
  return out;
}

/** A shell block that no backtick run inside the command can close early. */
function fenced(command: string): string[] {
  const text = oneLine(command);
  let fence = '```';
  while (text.includes(fence)) fence += '`';
  return [`${fence}sh`, text, fence];
}
