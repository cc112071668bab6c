/** Command-line options of `npm run bench:broker`. */
import { UsageError, pickKinds, pickNamed, scanOptions } from './options.js';
import { BROKER_KINDS, type BrokerKind } from './broker-process.js';
import { SEQ_HEADER_BYTES } from './mqtt-wire.js';
import { DEFAULT_ROWS, ROWS, type BenchRow } from './rows.js';

/** How Mosquitto is run in the QoS 1/2 rows: Nagle's algorithm on (its default), off, or each in turn. */
export type NodelayMode = 'both' | 'on' | 'off';

export interface BenchOptions {
  /** Measured in this order within each round (A B A B …). */
  brokers: BrokerKind[];
  rows: BenchRow[];
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
  drainSeconds: number;
  /** Idle rows: how long the connections stay idle before the second memory reading (0: no second reading). */
  idleSeconds: number;
  window: number;
  maxUndelivered: number;
  payloadBytes: number;
  /** mosquitto.conf lines every broker gets: the defaults below, then `--conf` lines (a later line wins). */
  conf: string[];
  /** Mosquitto in the QoS 1/2 rows: `on` adds `set_tcp_nodelay true`, `both` measures it with and without. */
  nodelay: NodelayMode;
  jsonFile: string | undefined;
  /** Markdown file whose generated block (between the markers) gets the result tables. */
  markdownFile: string | undefined;
  help: boolean;
}

/**
 * Mosquitto's defaults (20 messages in flight and 1000 queued per client, then drop) make a subscriber that is
 * slower than its publishers for a moment lose messages, and a QoS 2 publisher with more than 20 messages in flight
 * have the extra ones acknowledged and dropped. The benchmark measures throughput, so both limits are lifted, for
 * every broker alike; `--conf "max_inflight_messages 20" --conf "max_queued_messages 1000"` restores them.
 */
export const DEFAULT_CONF: readonly string[] = ['max_inflight_messages 0', 'max_queued_messages 0'];

/** The lines around the generated block in a Markdown file (see --markdown). */
export const MARKDOWN_BEGIN = '<!-- bench:broker results: begin -->';
export const MARKDOWN_END = '<!-- bench:broker results: end -->';

export { UsageError };

/**
 * The brokers one row is measured with, in turn each round. QoS 1/2 rows measure Mosquitto with Nagle's algorithm on
 * (its default) and/or off, as `nodelay` says; connection rows add Node's bare-socket floor and leave out the sink
 * (which only mirrors messages).
 */
export function rowBrokers(row: BenchRow, brokers: readonly BrokerKind[], nodelay: NodelayMode): BrokerKind[] {
  if (row.kind === 'messages') {
    const out: BrokerKind[] = [];
    for (const b of brokers) {
      if (b !== 'mosquitto' || row.qos === 0) out.push(b);
      else {
        if (nodelay !== 'on') out.push('mosquitto');
        if (nodelay !== 'off') out.push('mosquitto-nodelay');
      }
    }
    return out;
  }
  return [...brokers.filter((b) => b === 'bundled' || b === 'mosquitto'), 'floor'];
}

/** mosquitto.conf lines of one measurement: the defaults, the row's own lines, then --conf lines (a later line wins). */
export function rowConf(row: BenchRow, conf: readonly string[]): string[] {
  const own = row.kind === 'messages' ? row.conf : [];
  return [...DEFAULT_CONF, ...own, ...conf.slice(DEFAULT_CONF.length)];
}

export const USAGE = `Usage: npm run bench:broker -- [options]

Measures the bundled broker against Mosquitto, each in its own process with the same mosquitto.conf settings,
driven by a raw-socket load generator in a third process: messages received by subscribers per second and broker
CPU per message, counting exactly which messages were lost, duplicated or out of order; broker memory per idle
subscribed connection and CPU per short connection, beside Node's bare-socket floor measured in the same run.

Options:
  --brokers <list>    brokers to measure, in this order each round: bundled, mosquitto, sink (the generator's own
                      ceiling in the message rows: a stand-in that acknowledges and mirrors everything without
                      routing). Default: bundled,mosquitto. The connection rows add the floor (a bare Node net server).
  --only <rows>       rows to run, by name or number (comma-separated or repeated), or "all"; * marks rows left
                      out by default:
${ROWS.map((r, i) => `                      ${r.optional ? '*' : ' '} ${String(i + 1).padStart(1)}  ${r.name.padEnd(16)} ${r.title}`).join('\n')}
  --rounds <n>        rounds of A B measurements; the median is reported (default 3)
  --duration <s>      measured window per run, after the warm-up (default 5)
  --warmup <s>        traffic before the window opens (default 1)
  --drain <s>         longest wait for deliveries after publishing stops (default 10)
  --idle <s>          idle rows: memory is read 1 s after the last SUBACK and again after this long idle, once
                      a Node.js broker's runtime has given back what the connect burst grew; 0 reads only the
                      first (default 60)
  --window <n>        unacknowledged QoS 1/2 packet ids per publisher (default 128)
  --max-undelivered <n>
                      publishers pause while this many deliveries are on their way (sent × subscribers − received),
                      so queues and socket buffers stay bounded and a run drains quickly; 0 leaves only TCP
                      backpressure and the QoS 1/2 window (default 65536)
  --payload <bytes>   payload size, at least ${SEQ_HEADER_BYTES} (the publisher index and sequence number) (default 64)
  --conf <line>       extra mosquitto.conf line for every broker (repeatable); defaults: ${DEFAULT_CONF.join('; ')};
                      a row's own lines (qos1-fan-out: Mosquitto's default limits) come before these
  --mosquitto-nodelay both|on|off
                      Mosquitto keeps Nagle's algorithm on unless set_tcp_nodelay is true; in the QoS 1/2 rows it
                      is measured both ways (both, the default), or only with (on) or without (off) that line
  --json <file>       also write every measurement to this file
  --markdown <file>   write the result tables into <file>, between the lines ${MARKDOWN_BEGIN}
                      and ${MARKDOWN_END} (replacing what is there; the block is appended when missing)
  --help              show this text
`;

const VALUE_OPTIONS = [
  'brokers', 'only', 'rounds', 'duration', 'warmup', 'drain', 'idle', 'window', 'max-undelivered', 'payload', 'conf',
  'mosquitto-nodelay', 'json', 'markdown',
];

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    brokers: ['bundled', 'mosquitto'],
    rows: [...DEFAULT_ROWS],
    rounds: 3,
    durationSeconds: 5,
    warmupSeconds: 1,
    drainSeconds: 10,
    idleSeconds: 60,
    window: 128,
    maxUndelivered: 65_536,
    payloadBytes: 64,
    conf: [...DEFAULT_CONF],
    nodelay: 'both',
    jsonFile: undefined,
    markdownFile: undefined,
    help: false,
  };
  const problems: string[] = [];
  let onlyRows: BenchRow[] | undefined;
  options.help = scanOptions(argv, VALUE_OPTIONS, problems, (name, value) =>
    applyOption(options, name, value, (rows) => (onlyRows = [...(onlyRows ?? []), ...rows])),
  );
  if (onlyRows) options.rows = ROWS.filter((r) => onlyRows!.includes(r));
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return options;
}

function applyOption(
  options: BenchOptions,
  name: string,
  value: string,
  addRows: (rows: BenchRow[]) => void,
): string | undefined {
  switch (name) {
    case 'brokers': {
      const kinds = pickKinds(value, BROKER_KINDS, 'broker');
      if (typeof kinds === 'string') return kinds;
      options.brokers = kinds;
      return undefined;
    }
    case 'only': {
      if (value.trim() === 'all') {
        addRows([...ROWS]);
        return undefined;
      }
      const rows = pickNamed(value, ROWS, 'row');
      if (typeof rows === 'string') return rows;
      addRows(rows);
      return undefined;
    }
    case 'rounds':
      return setNumber(options, 'rounds', name, value, 1, 1000, true);
    case 'duration':
      return setNumber(options, 'durationSeconds', name, value, 0.1, 3600, false);
    case 'warmup':
      return setNumber(options, 'warmupSeconds', name, value, 0, 3600, false);
    case 'drain':
      return setNumber(options, 'drainSeconds', name, value, 0.5, 3600, false);
    case 'idle':
      return setNumber(options, 'idleSeconds', name, value, 0, 3600, false);
    case 'window':
      // The id run is eight windows long and ids are 16-bit.
      return setNumber(options, 'window', name, value, 1, 8191, true);
    case 'max-undelivered':
      return setNumber(options, 'maxUndelivered', name, value, 0, 100_000_000, true);
    case 'payload':
      return setNumber(options, 'payloadBytes', name, value, SEQ_HEADER_BYTES, 1_000_000, true);
    case 'conf':
      // The bundled broker has no such option (it never delays), so the line would stop it from starting.
      if (/^\s*set_tcp_nodelay\b/.test(value)) return '--conf "set_tcp_nodelay ..." applies to Mosquitto only: use --mosquitto-nodelay on';
      options.conf.push(value);
      return undefined;
    case 'mosquitto-nodelay':
      if (value !== 'both' && value !== 'on' && value !== 'off') return `--mosquitto-nodelay must be both, on or off, got "${value}"`;
      options.nodelay = value;
      return undefined;
    case 'json':
      options.jsonFile = value;
      return undefined;
    case 'markdown':
      options.markdownFile = value;
      return undefined;
    default:
      return `unknown option "--${name}"`;
  }
}

type NumericKey =
  | 'rounds'
  | 'durationSeconds'
  | 'warmupSeconds'
  | 'drainSeconds'
  | 'idleSeconds'
  | 'window'
  | 'maxUndelivered'
  | 'payloadBytes';

function setNumber(
  options: BenchOptions,
  key: NumericKey,
  name: string,
  value: string,
  min: number,
  max: number,
  integer: boolean,
): string | undefined {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    return `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${value}"`;
  }
  options[key] = n;
  return undefined;
}
