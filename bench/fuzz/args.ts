/** Command-line options of `npm run fuzz`. */
import { UsageError, pickKinds, scanOptions, unknownNames, wholeNumber } from '../options.js';
import { WATCHED_BROKER_KINDS, type WatchedBrokerKind } from '../harness/broker.js';
import { PLAN_KINDS, type PlanKind } from './connection-plans.js';

export interface FuzzArgs {
  broker: WatchedBrokerKind;
  /** Undefined: a fresh seed, printed so that the run can be replayed. */
  seed: string | undefined;
  packets: number;
  connections: number;
  limitSeconds: number;
  kinds: PlanKind[];
  conf: string[];
  probeLimitMs: number;
  jsonFile: string | undefined;
  help: boolean;
}

export const DEFAULT_PACKETS = 200_000;
export const MIN_PACKETS = 1_000;

export const FUZZ_USAGE = `Usage: npm run fuzz -- [options]

Fuzzes a broker over real sockets: about 200 connections at once send valid, mutated and hostile MQTT packet
streams (every packet type and v5 property, bit flips, truncations, wrong and huge lengths, duplicated and foreign
properties, wills and retained messages on topics of thousands of levels, unique 60 KB topics, floods from clients
that never read, packets sent one byte per write, silent connections, packets announced big and never finished).
The broker runs as a process of its own. Meanwhile a QoS 1 publisher and a persistent-session subscriber count
every message, a fresh client connects every second, and a PINGREQ every 20 ms times the broker's responsiveness.

Exits 1 when the broker process dies, an acknowledged QoS 1 message is lost, or a probe waits longer than the
probe limit; 2 on bad options; 3 when Mosquitto is asked for and missing; 4 when the broker does not start.

Options:
  --broker <name>       bundled (the broker of this repository, default) or mosquitto
  --packets <n>         packets to write, at least ${MIN_PACKETS.toLocaleString('en-US')} (default ${DEFAULT_PACKETS.toLocaleString('en-US')});
                        --packets 1000000 runs a million, in about a minute or two on two cores
  --seed <text>         the seed of every byte sent (default: a fresh one, printed); the same seed replays the
                        same connections, though how many of them run depends on timing
  --connections <n>     fuzz connections open at once (default 200)
  --limit <s>           longest time the fuzzers get to write the packets; running short fails (default 600)
  --without <kinds>     leave out connection kinds (comma-separated): ${PLAN_KINDS.join(', ')}
  --probe-limit <ms>    a CONNECT or PINGREQ probe answered later than this fails the run (default 2000)
  --conf <line>         a mosquitto.conf line for the broker (repeatable)
  --json <file>         also write the report as JSON
  --help                show this text
`;

const VALUE_OPTIONS = ['broker', 'packets', 'seed', 'connections', 'limit', 'without', 'probe-limit', 'conf', 'json'];

export function parseFuzzArgs(argv: readonly string[]): FuzzArgs {
  const args: FuzzArgs = {
    broker: 'bundled',
    seed: undefined,
    packets: DEFAULT_PACKETS,
    connections: 200,
    limitSeconds: 600,
    kinds: [...PLAN_KINDS],
    conf: [],
    probeLimitMs: 2_000,
    jsonFile: undefined,
    help: false,
  };
  const problems: string[] = [];
  args.help = scanOptions(argv, VALUE_OPTIONS, problems, (name, value) => apply(args, name, value));
  if (args.kinds.length === 0) problems.push('--without leaves no kind of connection to run');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return args;
}

function apply(args: FuzzArgs, name: string, value: string): string | undefined {
  switch (name) {
    case 'broker':
      if (!(WATCHED_BROKER_KINDS as readonly string[]).includes(value)) return unknownNames('broker', [value], WATCHED_BROKER_KINDS);
      args.broker = value as WatchedBrokerKind;
      return undefined;
    case 'seed':
      if (value === '') return '--seed needs a non-empty value';
      args.seed = value;
      return undefined;
    case 'packets':
      return wholeNumber(value, name, MIN_PACKETS, 1e9, (n) => (args.packets = n));
    case 'connections':
      return wholeNumber(value, name, 1, 10_000, (n) => (args.connections = n));
    case 'limit':
      return wholeNumber(value, name, 1, 86_400, (n) => (args.limitSeconds = n));
    case 'probe-limit':
      return wholeNumber(value, name, 10, 600_000, (n) => (args.probeLimitMs = n));
    case 'without': {
      const kinds = pickKinds(value, PLAN_KINDS, 'connection kind');
      if (typeof kinds === 'string') return kinds;
      args.kinds = args.kinds.filter((k) => !kinds.includes(k));
      return undefined;
    }
    case 'conf':
      args.conf.push(value);
      return undefined;
    case 'json':
      args.jsonFile = value;
      return undefined;
    default:
      return `unknown option "--${name}"`;
  }
}
