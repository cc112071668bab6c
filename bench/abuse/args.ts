/** Command-line options of `npm run bench:abuse`. */
import { UsageError, pickKinds, pickNamed, scanOptions, wholeNumber } from '../options.js';
import { WATCHED_BROKER_KINDS, type WatchedBrokerKind } from '../harness/broker.js';
import type { Attack } from './attack.js';
import { ATTACKS } from './attacks/index.js';
import { IN_FLIGHT_FACTOR, LOOP_DELAY_GOAL_MS, RSS_BUDGET_BYTES } from './goals.js';

export interface AbuseArgs {
  /** Measured in this order within each round (A B A B …). */
  brokers: WatchedBrokerKind[];
  attacks: Attack[];
  rounds: number;
  conf: string[];
  trickleBytes: number;
  markdownFile: string | undefined;
  jsonFile: string | undefined;
  help: boolean;
}

export const ABUSE_USAGE = `Usage: npm run bench:abuse -- [options]

Attacks the bundled broker and Mosquitto alternately, each measurement with a fresh broker process and the same
mosquitto.conf lines, and reports per attack and broker: resident memory before, at the peak and after the
attackers leave (from /proc), its growth, the bytes the attackers have in flight and the ratio, the longest
PINGREQ → PINGRESP of an outside probe, the bundled broker's own longest event-loop delay, whether it crashed, and
what the attack itself measured.

Goals for the bundled broker (exit 1 when one is missed; Mosquitto's figures are for comparison): no crash, RSS growth
≤ ${IN_FLIGHT_FACTOR} × in flight + ${RSS_BUDGET_BYTES / 1024 / 1024} MiB, no event-loop delay above ${LOOP_DELAY_GOAL_MS} ms, and each attack's own bound.

Attacks:
${ATTACKS.map((a) => `  ${a.name.padEnd(18)} ${a.title}`).join('\n')}

Options:
  --brokers <list>      brokers in the order they take turns: bundled, mosquitto (default bundled,mosquitto)
  --only <attacks>      attacks to run, by name or number (comma-separated or repeated)
  --rounds <n>          measurements per attack and broker, alternating brokers; medians are reported (default 1)
  --trickle-bytes <n>   bytes each of the 1,000 trickling clients sends one byte per write (default 6400; the trickle
                        stops after 30 s whatever it has sent, and the report says how far it got)
  --conf <line>         a mosquitto.conf line for both brokers (repeatable)
  --markdown <file>     also write the results as Markdown
  --json <file>         also write every measurement as JSON
  --help                show this text
`;

const VALUE_OPTIONS = ['brokers', 'only', 'rounds', 'trickle-bytes', 'conf', 'markdown', 'json'];

export function parseAbuseArgs(argv: readonly string[]): AbuseArgs {
  const args: AbuseArgs = {
    brokers: ['bundled', 'mosquitto'],
    attacks: [...ATTACKS],
    rounds: 1,
    conf: [],
    trickleBytes: 6_400,
    markdownFile: undefined,
    jsonFile: undefined,
    help: false,
  };
  const problems: string[] = [];
  let only: Attack[] | undefined;
  args.help = scanOptions(argv, VALUE_OPTIONS, problems, (name, value) => {
    switch (name) {
      case 'brokers': {
        const kinds = pickKinds(value, WATCHED_BROKER_KINDS, 'broker');
        if (typeof kinds === 'string') return kinds;
        args.brokers = kinds;
        return undefined;
      }
      case 'only': {
        const picked = pickNamed(value, ATTACKS, 'attack');
        if (typeof picked === 'string') return picked;
        only = [...(only ?? []), ...picked];
        return undefined;
      }
      case 'rounds':
        return wholeNumber(value, name, 1, 100, (n) => (args.rounds = n));
      case 'trickle-bytes':
        return wholeNumber(value, name, 1, 1_000_000, (n) => (args.trickleBytes = n));
      case 'conf':
        args.conf.push(value);
        return undefined;
      case 'markdown':
        args.markdownFile = value;
        return undefined;
      case 'json':
        args.jsonFile = value;
        return undefined;
      default:
        return `unknown option "--${name}"`;
    }
  });
  if (only) args.attacks = ATTACKS.filter((a) => only!.includes(a));
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return args;
}
