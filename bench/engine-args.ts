/** Command-line options of `npm run bench:engine`. */
import { suggest } from '../src/util/suggest.js';
import { IDLE_GOAL_BYTES_PER_CLIENT } from './idle-memory.js';
import { scanOptions, splitList, UsageError } from './options.js';

export type EngineRowName = 'fan-in' | 'scale' | 'idle';

export interface EngineRow {
  name: EngineRowName;
  title: string;
}

export const ENGINE_ROWS: readonly EngineRow[] = [
  { name: 'fan-in', title: 'QoS 0 fan-in through Mosquitto' },
  { name: 'scale', title: '10,000 clients' },
  { name: 'idle', title: 'idle clients memory' },
];

export interface EngineBenchOptions {
  rows: EngineRow[];
  rounds: number;
  /** mqbench worker threads. */
  workers: number;
  warmupSeconds: number;
  durationSeconds: number;
  clients: number;
  rampSeconds: number;
  holdSeconds: number;
  /** idle: the larger and the smaller number of idle clients; per-client figures are the growth between them. */
  idleClients: number;
  idleBase: number;
  jsonFile: string | undefined;
  help: boolean;
}

/** mqbench must reach this share of the raw generator's rate. */
export const FAN_IN_GOAL = 0.95;
/** Idle clients connect at this rate, as the scale row's do. */
export const IDLE_CONNECT_RATE = 2500;
/** Idle time after the last SUBACK before memory is read. */
export const IDLE_SETTLE_SECONDS = 2;
export const IDLE_KEEPALIVE_SECONDS = 60;

export const ENGINE_USAGE = `Usage: npm run bench:engine -- [options]

Shows that mqbench's own engine is not the bottleneck:
  fan-in  QoS 0 fan-in through Mosquitto (4 publishers → 1 subscriber, 64-byte payloads), measured by the raw-socket
          generator of bench:broker and by mqbench (runScenario), alternately, each with a fresh Mosquitto; mqbench
          must reach ${FAN_IN_GOAL * 100}% of the raw generator's median rate.
  scale   many concurrent clients (default 10,000) from mqbench against the bundled broker: every client connected at
          once, no errors.
  idle    memory per idle client: clients connect at ${IDLE_CONNECT_RATE.toLocaleString('en-US')}/s to the bundled broker, each subscribes to a
          topic of its own at QoS 1 (keep alive ${IDLE_KEEPALIVE_SECONDS} s), and all sit idle ${IDLE_SETTLE_SECONDS} s; then, after a full garbage
          collection in every thread, mqbench's resident memory (less V8's young generation) and V8 heap in use are
          read, at two sizes; the growth per added client is compared with Node's floor (raw sockets that send
          CONNECT and SUBSCRIBE, then only hold the connection) and with the goal: at most ${IDLE_GOAL_BYTES_PER_CLIENT / 1024} KiB of RSS and
          ${IDLE_GOAL_BYTES_PER_CLIENT / 1024} KiB of heap per client.
Broker, load and benchmark each run in a process of their own. Everything is printed whatever the verdicts; the
exit code is then 1 if any goal of the rows run was not met (the idle memory goal too), 0 if all were.

Options:
  --only <rows>       rows to run: fan-in, scale, idle (comma-separated or repeated; default all)
  --rounds <n>        fan-in rounds of raw, mqbench measurements; medians are compared (default 3)
  --workers <n>       mqbench worker threads (default 1)
  --duration <s>      fan-in measured window, after the warm-up (default 5)
  --warmup <s>        fan-in traffic before the window opens (default 1)
  --clients <n>       scale: concurrent clients (default 10000)
  --ramp <s>          scale: every client has started within this time (default 4)
  --hold <s>          scale: everybody stays connected this long after the ramp (default 5)
  --idle-clients <n>  idle: the larger number of idle clients (default 10000)
  --idle-base <n>     idle: the smaller number, whose memory is subtracted (default 1000)
  --json <file>       also write every measurement to this file
  --help              show this text
`;

const VALUE_OPTIONS = ['only', 'rounds', 'workers', 'duration', 'warmup', 'clients', 'ramp', 'hold', 'idle-clients', 'idle-base', 'json'];

export function parseEngineBenchArgs(argv: readonly string[]): EngineBenchOptions {
  const options: EngineBenchOptions = {
    rows: [...ENGINE_ROWS],
    rounds: 3,
    workers: 1,
    warmupSeconds: 1,
    durationSeconds: 5,
    clients: 10_000,
    rampSeconds: 4,
    holdSeconds: 5,
    idleClients: 10_000,
    idleBase: 1_000,
    jsonFile: undefined,
    help: false,
  };
  const problems: string[] = [];
  let only: EngineRowName[] | undefined;
  options.help = scanOptions(argv, VALUE_OPTIONS, problems, (name, value) => {
    if (name === 'only') {
      const known = ENGINE_ROWS.map((r) => r.name);
      for (const item of splitList(value)) {
        if ((known as string[]).includes(item)) {
          only = [...(only ?? []), item as EngineRowName];
        } else {
          const hint = suggest(item, known);
          problems.push(`unknown row "${item}"${hint ? ` (did you mean ${hint}?)` : ''}; known: ${known.join(', ')}`);
        }
      }
      return undefined;
    }
    if (name === 'json') {
      options.jsonFile = value;
      return undefined;
    }
    return setNumber(options, name, value);
  });
  if (only) options.rows = ENGINE_ROWS.filter((r) => only!.includes(r.name));
  if (options.idleBase >= options.idleClients) {
    problems.push(`--idle-base (${options.idleBase}) must be smaller than --idle-clients (${options.idleClients})`);
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return options;
}

type NumericKey =
  | 'rounds'
  | 'workers'
  | 'durationSeconds'
  | 'warmupSeconds'
  | 'clients'
  | 'rampSeconds'
  | 'holdSeconds'
  | 'idleClients'
  | 'idleBase';

/** Option name → key, bounds, and whether it must be whole. */
const NUMBERS: Record<string, { key: NumericKey; min: number; max: number; integer: boolean }> = {
  rounds: { key: 'rounds', min: 1, max: 1000, integer: true },
  workers: { key: 'workers', min: 1, max: 256, integer: true },
  duration: { key: 'durationSeconds', min: 1, max: 3600, integer: true },
  warmup: { key: 'warmupSeconds', min: 0, max: 3600, integer: false },
  // One listener and one talker at the least.
  clients: { key: 'clients', min: 2, max: 1_000_000, integer: true },
  ramp: { key: 'rampSeconds', min: 1, max: 3600, integer: true },
  // The hold's first and last seconds are left out of its window.
  hold: { key: 'holdSeconds', min: 3, max: 3600, integer: true },
  'idle-clients': { key: 'idleClients', min: 2, max: 1_000_000, integer: true },
  'idle-base': { key: 'idleBase', min: 1, max: 999_999, integer: true },
};

function setNumber(options: EngineBenchOptions, name: string, value: string): string | undefined {
  const spec = NUMBERS[name];
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < spec.min || n > spec.max || (spec.integer && !Number.isInteger(n))) {
    return `--${name} must be ${spec.integer ? 'a whole number' : 'a number'} from ${spec.min} to ${spec.max}, got "${value}"`;
  }
  options[spec.key] = n;
  return undefined;
}
