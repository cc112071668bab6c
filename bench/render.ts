/**
 * Tables of the benchmark results, as padded text for the console and as Markdown for the docs; each function returns
 * the text and prints nothing.
 */
import type { BrokerKind } from './broker-process.js';
import { IDLE_FIRST_READING_MS, ROWS, type BenchRow } from './rows.js';
import {
  findRatio,
  type BrokerSummary,
  type ConnectSummary,
  type IdleSummary,
  type Metric,
  type MessageSummary,
  type Ratio,
  type RunRecord,
  type Spread,
} from './summary.js';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
/** A generator process this busy may be what limits the rate. */
const GENERATOR_BUSY_PERCENT = 90;

/** Cells of one table; `right[i]` right-aligns column i. */
export interface Table {
  header: string[];
  rows: string[][];
  right: boolean[];
}

export type Format = 'text' | 'markdown';

export function formatTable(table: Table, format: Format): string {
  return format === 'markdown' ? renderMarkdownTable(table) : renderTable(table.header, table.rows, table.right);
}

/** Message rows: throughput, broker CPU per message, exact delivery counts, bundled ÷ each other broker. */
export function messageTable(summaries: readonly BrokerSummary[], ratios: readonly Ratio[]): Table {
  const header = [
    'row', 'broker', 'msg/s', 'min – max', 'CPU µs/msg', 'min – max', 'broker CPU', 'gen CPU', 'lost / dup / out of order',
    'bundled ÷ this: msg/s', 'CPU/msg', 'note',
  ];
  const rows: string[][] = [];
  for (const row of ROWS) {
    if (row.kind !== 'messages') continue;
    const group = summaries.filter((s): s is MessageSummary => s.row === row.name && s.kind === 'messages');
    group.forEach((s, i) => {
      const measured = s.runs > 0;
      const notes: string[] = [];
      if (s.failed > 0) notes.push(`${s.failed} of ${s.failed + s.runs} runs failed`);
      if (s.beyondWindow > 0) notes.push(`${integer.format(s.beyondWindow)} deliveries older than the sequence window`);
      if (s.unacknowledged > 0) notes.push(`${integer.format(s.unacknowledged)} QoS flows unfinished`);
      if (s.unexpected > 0) notes.push(`${integer.format(s.unexpected)} unexpected packets`);
      if (measured && s.generatorCpuPercent >= GENERATOR_BUSY_PERCENT) notes.push('generator near a full core: it may be the limit');
      const rate = findRatio(ratios, s.row, 'rate', 'bundled', s.broker);
      const cpu = findRatio(ratios, s.row, 'cpu-per-message', 'bundled', s.broker);
      rows.push([
        i === 0 ? rowTitle(row) : '',
        s.brokerLabel,
        measured ? integer.format(s.rate.median) : 'failed',
        measured ? range(s.rate, integer.format) : '',
        s.cpuPerMessage ? significant(s.cpuPerMessage.median) : 'n/a',
        s.cpuPerMessage ? range(s.cpuPerMessage, significant) : '',
        s.brokerCpuPercent === null ? 'n/a' : `${s.brokerCpuPercent.toFixed(0)}%`,
        measured ? `${s.generatorCpuPercent.toFixed(0)}%` : '',
        measured ? `${integer.format(s.lost)} / ${integer.format(s.duplicates)} / ${integer.format(s.outOfOrder)}` : '',
        rate === undefined ? '' : times(rate),
        cpu === undefined ? '' : times(cpu),
        notes.join('; '),
      ]);
    });
  }
  return { header, rows, right: [false, false, true, true, true, true, true, true, true, true, true, false] };
}

/**
 * For each message row where Mosquitto ran with Nagle's algorithm on and off: which setting gave it the higher rate,
 * and which the lower CPU per message.
 */
export function nagleVerdicts(summaries: readonly BrokerSummary[]): string[] {
  const out: string[] = [];
  for (const row of ROWS) {
    const on = summaries.find((s): s is MessageSummary => s.row === row.name && s.broker === 'mosquitto' && s.kind === 'messages' && s.runs > 0);
    const off = summaries.find((s): s is MessageSummary => s.row === row.name && s.broker === 'mosquitto-nodelay' && s.kind === 'messages' && s.runs > 0);
    if (on === undefined || off === undefined) continue;
    const faster = off.rate.median > on.rate.median ? 'with set_tcp_nodelay true' : "with Nagle's algorithm on (its default)";
    let cheaper = '';
    if (on.cpuPerMessage !== null && off.cpuPerMessage !== null) {
      cheaper = off.cpuPerMessage.median < on.cpuPerMessage.median ? 'with set_tcp_nodelay true' : "with Nagle's algorithm on";
    }
    out.push(`${rowTitle(row)}: Mosquitto's higher msg/s ${faster}${cheaper ? `, its lower CPU per message ${cheaper}` : ''}.`);
  }
  return out;
}

/**
 * Idle rows: broker memory per idle subscribed connection 1 s after the last SUBACK and after the longer idle time
 * (`idleSeconds`), each against the floor and the bundled broker.
 */
export function idleTable(summaries: readonly BrokerSummary[], ratios: readonly Ratio[], idleSeconds: number): Table {
  const later = idleSeconds * 1000 > IDLE_FIRST_READING_MS;
  const header = [
    'row', 'broker', 'bytes/connection at 1 s', 'min – max', '÷ floor', 'bundled ÷ this',
    ...(later ? [`at ${integer.format(idleSeconds)} s idle`, 'min – max', '÷ floor', 'bundled ÷ this'] : []),
    'connect time', 'note',
  ];
  const rows: string[][] = [];
  for (const row of ROWS) {
    if (row.kind !== 'idle') continue;
    const group = summaries.filter((s): s is IdleSummary => s.row === row.name && s.kind === 'idle');
    group.forEach((s, i) => {
      const measured = s.runs > 0;
      const idle = s.idleBytesPerConnection;
      rows.push([
        i === 0 ? row.title : '',
        s.brokerLabel,
        measured ? integer.format(s.bytesPerConnection.median) : 'failed',
        measured ? range(s.bytesPerConnection, integer.format) : '',
        overFloor(ratios, s, 'bytes-per-connection'),
        bundledOver(ratios, s, 'bytes-per-connection'),
        ...(later
          ? [
              idle ? integer.format(idle.median) : measured ? 'n/a' : '',
              idle ? range(idle, integer.format) : '',
              overFloor(ratios, s, 'idle-bytes-per-connection'),
              bundledOver(ratios, s, 'idle-bytes-per-connection'),
            ]
          : []),
        measured ? `${s.connectSeconds.median.toFixed(1)} s` : '',
        s.failed > 0 ? `${s.failed} of ${s.failed + s.runs} runs failed` : '',
      ]);
    });
  }
  return { header, rows, right: header.map((_, i) => i > 1 && i < header.length - 1) };
}

/** Connect rows: broker CPU per short connection, connection rate and CONNECT → CONNACK latency. */
export function connectTable(summaries: readonly BrokerSummary[], ratios: readonly Ratio[]): Table {
  const header = ['row', 'broker', 'CPU µs/connection', 'min – max', 'conn/s', 'CONNACK p50', 'p99', '÷ floor', 'bundled ÷ this', 'note'];
  const rows: string[][] = [];
  for (const row of ROWS) {
    if (row.kind !== 'connect') continue;
    const group = summaries.filter((s): s is ConnectSummary => s.row === row.name && s.kind === 'connect');
    group.forEach((s, i) => {
      const measured = s.runs > 0;
      rows.push([
        i === 0 ? row.title : '',
        s.brokerLabel,
        s.cpuPerConnection ? significant(s.cpuPerConnection.median) : measured ? 'n/a' : 'failed',
        s.cpuPerConnection ? range(s.cpuPerConnection, significant) : '',
        measured ? integer.format(s.rate.median) : '',
        measured ? `${significant(s.connackP50Ms)} ms` : '',
        measured ? `${significant(s.connackP99Ms)} ms` : '',
        overFloor(ratios, s, 'cpu-per-connection'),
        bundledOver(ratios, s, 'cpu-per-connection'),
        s.failed > 0 ? `${s.failed} of ${s.failed + s.runs} runs failed` : '',
      ]);
    });
  }
  return { header, rows, right: [false, false, true, true, true, true, true, true, true, false] };
}

/** Every measurement, one table per kind of row (empty kinds left out). */
export function runTables(records: readonly RunRecord[]): Table[] {
  const tables: Table[] = [];
  const failed = (r: RunRecord, width: number): string[] => {
    const cells = [r.row, r.brokerLabel, String(r.round), ...Array<string>(width - 4).fill('')];
    cells.push(`failed: ${firstLine(r.error)}`);
    return cells;
  };
  const of = (kind: BenchRow['kind']): RunRecord[] => records.filter((r) => ROWS.find((row) => row.name === r.row)?.kind === kind);

  const messages = of('messages');
  if (messages.length > 0) {
    const header = ['row', 'broker', 'round', 'msg/s', 'sent msg/s', 'sent', 'received', 'lost', 'dup', 'out of order', 'CPU µs/msg', 'broker CPU', 'gen CPU', 'broker RSS', 'note'];
    const rows = messages.map((r) => {
      const res = r.result;
      if (res?.kind !== 'messages') return failed(r, header.length);
      const notes: string[] = [];
      if (res.beyondWindow > 0) notes.push(`${integer.format(res.beyondWindow)} older than the ${integer.format(res.windowBits)}-sequence window`);
      if (res.unacknowledged > 0) notes.push(`${integer.format(res.unacknowledged)} QoS flows unfinished`);
      if (res.unexpected > 0) notes.push(`${integer.format(res.unexpected)} unexpected packets`);
      if (res.drainTimedOut) notes.push(`deliveries still arriving after ${res.drainSeconds.toFixed(1)} s drain`);
      return [
        r.row,
        r.brokerLabel,
        String(r.round),
        integer.format(res.receivedPerSecond),
        integer.format(res.sentPerSecond),
        integer.format(res.sent),
        integer.format(res.received),
        integer.format(res.lost),
        integer.format(res.duplicates),
        integer.format(res.outOfOrder),
        res.brokerCpuMicrosPerMessage === null ? 'n/a' : significant(res.brokerCpuMicrosPerMessage),
        res.brokerCpuPercent === null ? 'n/a' : `${res.brokerCpuPercent.toFixed(0)}%`,
        `${res.generatorCpuPercent.toFixed(0)}%`,
        res.brokerPeakRssMiB === null ? 'n/a' : `${res.brokerPeakRssMiB.toFixed(0)} MiB`,
        notes.join('; '),
      ];
    });
    tables.push({ header, rows, right: [false, false, true, true, true, true, true, true, true, true, true, true, true, true, false] });
  }

  const idle = of('idle');
  if (idle.length > 0) {
    const header = ['row', 'broker', 'round', 'connections', 'RSS before', 'RSS at 1 s', 'bytes/connection', 'RSS idle', 'bytes/connection', 'connect time', 'note'];
    const rows = idle.map((r) => {
      const res = r.result;
      if (res?.kind !== 'idle') return failed(r, header.length);
      return [
        r.row,
        r.brokerLabel,
        String(r.round),
        integer.format(res.connections),
        mib(res.rssBeforeBytes),
        mib(res.rssAfterBytes),
        integer.format(res.bytesPerConnection),
        res.rssIdleBytes === null ? '' : mib(res.rssIdleBytes),
        res.idleBytesPerConnection === null ? '' : integer.format(res.idleBytesPerConnection),
        `${res.connectSeconds.toFixed(1)} s`,
        '',
      ];
    });
    tables.push({ header, rows, right: header.map((_, i) => i > 1 && i < header.length - 1) });
  }

  const connect = of('connect');
  if (connect.length > 0) {
    const header = ['row', 'broker', 'round', 'connections', 'conn/s', 'CPU µs/connection', 'CONNACK p50', 'p99', 'max', 'note'];
    const rows = connect.map((r) => {
      const res = r.result;
      if (res?.kind !== 'connect') return failed(r, header.length);
      return [
        r.row,
        r.brokerLabel,
        String(r.round),
        integer.format(res.connections),
        integer.format(res.connectionsPerSecond),
        res.brokerCpuMicrosPerConnection === null ? 'n/a' : significant(res.brokerCpuMicrosPerConnection),
        `${significant(res.connackP50Ms)} ms`,
        `${significant(res.connackP99Ms)} ms`,
        `${significant(res.connackMaxMs)} ms`,
        '',
      ];
    });
    tables.push({ header, rows, right: [false, false, true, true, true, true, true, true, true, false] });
  }
  return tables;
}

/** Columns padded to their widest cell; `right[i]` right-aligns column i. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], right: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(format)].join('\n') + '\n';
}

export function renderMarkdownTable(table: Table): string {
  const escape = (c: string): string => c.replace(/\|/g, '\\|');
  const line = (cells: readonly string[]): string => `| ${cells.map(escape).join(' | ')} |`;
  return (
    [line(table.header), `| ${table.right.map((r) => (r ? '---:' : '---')).join(' | ')} |`, ...table.rows.map(line)].join('\n') +
    '\n'
  );
}

/** Three significant digits, without exponent: 0.385, 4.41, 12.3, 1,234. */
export function significant(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return integer.format(n);
  return Number(n.toPrecision(3)).toString();
}

function rowTitle(row: BenchRow): string {
  return row.kind === 'messages' && row.limits ? `${row.title}, ${row.limits}` : row.title;
}

function range(s: Spread, format: (n: number) => string): string {
  return `${format(s.min)} – ${format(s.max)}`;
}

function times(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}

function overFloor(ratios: readonly Ratio[], s: BrokerSummary, metric: Metric): string {
  if (s.broker === 'floor') return '1.00×';
  const r = findRatio(ratios, s.row, metric, s.broker, 'floor');
  return r === undefined ? '' : times(r);
}

function bundledOver(ratios: readonly Ratio[], s: BrokerSummary, metric: Metric): string {
  const other: BrokerKind = s.broker;
  if (other === 'bundled') return '';
  const r = findRatio(ratios, s.row, metric, 'bundled', other);
  return r === undefined ? '' : times(r);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function firstLine(text: string | undefined): string {
  return (text ?? 'unknown error').split('\n')[0];
}
