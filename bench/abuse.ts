/**
 * `npm run bench:abuse`: attacks on the bundled broker and Mosquitto, alternating, a fresh broker process per
 * measurement; prints a table, optionally writes Markdown and JSON, and exits 1 when the bundled broker misses a goal.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { findMosquitto, mosquittoVersion } from '../src/launch/mosquitto.js';
import { UsageError } from './options.js';
import { ABUSE_USAGE, parseAbuseArgs, type AbuseArgs } from './abuse/args.js';
import { mib, summarise } from './abuse/goals.js';
import { measure, type AbuseRecord } from './abuse/measure.js';
import { goalsText, renderAbuseMarkdown, renderAbuseTable, renderMisses } from './abuse/render.js';
import { ensureOpenFiles } from './engine-fd-limit.js';
import { BrokerStartError } from './harness/broker.js';
import { endChildrenOnSignals } from './harness/children.js';

const EXIT_GOAL_MISSED = 1;
const EXIT_USAGE = 2;
const EXIT_NO_MOSQUITTO = 3;
const EXIT_BROKER_START = 4;
/** The connection flood opens 3,000 sockets in the attack process, and the broker accepts as many. */
const OPEN_FILES_NEEDED = 8_192;

async function main(argv: readonly string[]): Promise<number> {
  let args: AbuseArgs;
  try {
    args = parseAbuseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${ABUSE_USAGE}`);
    return EXIT_USAGE;
  }
  if (args.help) {
    process.stdout.write(ABUSE_USAGE);
    return 0;
  }
  let mosquittoLabel: string | undefined;
  if (args.brokers.includes('mosquitto')) {
    const binary = findMosquitto();
    if (!binary) {
      process.stderr.write('mosquitto was not found (PATH, /usr/sbin, MQBENCH_MOSQUITTO); install it or use --brokers bundled.\n');
      return EXIT_NO_MOSQUITTO;
    }
    mosquittoLabel = `mosquitto ${mosquittoVersion(binary)}`;
  }
  const files = ensureOpenFiles(process.pid, OPEN_FILES_NEEDED, 'bench:abuse');
  if (files.problem) process.stderr.write(`warning: ${files.problem}\n`);
  endChildrenOnSignals();

  const startedAt = new Date();
  const environment = `Node ${process.version}, ${cpus().length} CPUs${mosquittoLabel ? `, ${mosquittoLabel}` : ''}`;
  process.stdout.write(
    `mqbench abuse benchmark: ${args.brokers.join(' vs ')}, ${args.rounds} round(s), ${environment}\n` +
      `mosquitto.conf for every broker: ${args.conf.length > 0 ? args.conf.join('; ') : 'defaults'}\n`,
  );
  const records: AbuseRecord[] = [];
  try {
    for (const attack of args.attacks) {
      for (let round = 1; round <= args.rounds; round++) {
        for (const broker of args.brokers) {
          process.stderr.write(`${attack.name} on ${broker}, round ${round}/${args.rounds} …\n`);
          const record = await measure(attack, broker, round, { conf: args.conf, trickleBytes: args.trickleBytes });
          records.push(record);
          process.stderr.write(progressLine(record));
        }
      }
    }
  } catch (err) {
    if (!(err instanceof BrokerStartError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT_BROKER_START;
  }

  const summaries = summarise(records);
  process.stdout.write(`\n${renderAbuseTable(summaries)}\n${goalsText()}\n`);
  const misses = renderMisses(summaries);
  process.stdout.write(
    misses.length === 0
      ? '\nThe bundled broker met every goal.\n'
      : `\nThe bundled broker missed ${misses.length} goal(s):\n${misses.map((m) => `  - ${m}`).join('\n')}\n`,
  );
  for (const s of summaries.filter((x) => x.crashLines !== null)) {
    process.stdout.write(`\n${s.attack} on ${s.brokerLabel}: the process died. It printed:\n${s.crashLines}\n`);
  }
  if (args.markdownFile) {
    mkdirSync(dirname(args.markdownFile), { recursive: true });
    const markdown = renderAbuseMarkdown(summaries, {
      startedAt,
      rounds: args.rounds,
      conf: args.conf,
      trickleBytes: args.trickleBytes,
      environment,
      attacks: args.attacks,
    });
    writeFileSync(args.markdownFile, markdown);
    process.stdout.write(`\nWrote ${args.markdownFile}\n`);
  }
  if (args.jsonFile) {
    mkdirSync(dirname(args.jsonFile), { recursive: true });
    const report = { startedAt: startedAt.toISOString(), environment, options: { ...args, attacks: args.attacks.map((a) => a.name) }, summaries, records };
    writeFileSync(args.jsonFile, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`Wrote ${args.jsonFile}\n`);
  }
  return misses.length > 0 ? EXIT_GOAL_MISSED : 0;
}

function progressLine(r: AbuseRecord): string {
  const size = (b: number | null): string => (b === null ? 'n/a' : mib(b));
  const growth = r.rssPeakBytes !== null && r.rssBeforeBytes !== null ? r.rssPeakBytes - r.rssBeforeBytes : null;
  const loop = r.loopMaxMs === null ? '' : `, loop max ${Math.round(r.loopMaxMs)} ms`;
  const what = r.error ? `; failed: ${r.error}` : r.crash ? `; CRASHED (${r.crash})` : '';
  return `  RSS ${size(r.rssBeforeBytes)} → peak ${size(r.rssPeakBytes)} (${growth === null ? '' : growth >= 0 ? '+' : ''}${size(growth)}), in flight ${size(r.inFlightBytes)}, ping max ${Math.round(r.pingMaxMs ?? 0)} ms${loop}${what}\n`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench:abuse failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
