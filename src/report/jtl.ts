/**
 * results.jtl: the run's samples in JMeter's CSV result format, for `jmeter -g results.jtl -o dashboard` and any
 * tool that reads JMeter results.
 *
 * The columns are the ones JMeter 5 writes by default plus its `sample_count` pair, in the order JMeter itself
 * writes them. The order matters: when the dashboard generator reads a file's header it accepts only known column
 * names in JMeter's canonical order (CSVSaveService.splitHeader); a header it rejects makes it fall back to the
 * jmeter.properties columns, and every row then fails with "Mismatch between expected number of columns". So
 * SampleCount and ErrorCount sit between Latency and IdleTime, where JMeter puts them, not at the end.
 *
 * Quoting follows CSVSaveService.quoteDelimiters: a field holding a comma, a double quote, CR or LF is enclosed in
 * double quotes with inner quotes doubled; JMeter's reader (csvReadFile) accepts line breaks inside quotes. Every
 * line ends with "\n" and there are no blank lines (the reader takes a blank line for a one-column row and fails).
 *
 * Field mapping from an engine row: timeStamp and elapsed in ms as given; success as "true"/"false"; responseCode
 * "200" / responseMessage "OK" for a success and "500" with the row's message for a failure (the dashboard's error
 * table keys errors by "code/message", and counts codes 200 to 399 as successes); failureMessage is the message of a
 * failed row; Latency equals elapsed (an MQTT acknowledgement is the whole response); IdleTime and Connect are 0.
 * The dashboard counts each row as one sample whatever its SampleCount says: the engine's per-second publish and
 * receive rows aggregate many messages, and SampleCount/ErrorCount carry how many.
 */
import type { JtlRow } from '../engine/engine.js';

export const JTL_COLUMNS = [
  'timeStamp', 'elapsed', 'label', 'responseCode', 'responseMessage', 'threadName', 'dataType', 'success',
  'failureMessage', 'bytes', 'sentBytes', 'grpThreads', 'allThreads', 'URL', 'Latency', 'SampleCount', 'ErrorCount',
  'IdleTime', 'Connect',
] as const;

/** The header line, with its line break: the first thing written to results.jtl. */
export const JTL_HEADER = JTL_COLUMNS.join(',') + '\n';

/** What the rows themselves do not carry; the CLI knows it when it writes a batch. */
export interface JtlContext {
  /** The broker the run targeted (JMeter's URL column). */
  url?: string;
  /**
   * Clients connected when the batch was taken (JMeter's grpThreads and allThreads: a run is one thread group
   * whose threads are its clients). Unknown is written as 0.
   */
  activeClients?: number;
}

/** A whole results.jtl: the header and one line per row. */
export function renderJtl(rows: readonly JtlRow[], context: JtlContext = {}): string {
  return JTL_HEADER + renderJtlRows(rows, context);
}

/**
 * Lines for a batch of rows, each ending in "\n" ("" for no rows): for appending to a results.jtl that was started
 * with `JTL_HEADER` while the run goes on.
 */
export function renderJtlRows(rows: readonly JtlRow[], context: JtlContext = {}): string {
  if (rows.length === 0) return '';
  const url = csvField(context.url ?? '');
  const threads = integer(context.activeClients ?? 0);
  let out = '';
  for (const row of rows) out += renderRow(row, url, threads) + '\n';
  return out;
}

function renderRow(row: JtlRow, url: string, threads: string): string {
  const [timeStampMs, elapsedMs, label, success, message, thread, bytes, sentBytes, sampleCount, errorCount] = row;
  const elapsed = integer(elapsedMs);
  return [
    integer(timeStampMs),
    elapsed,
    csvField(label),
    success ? '200' : '500',
    csvField(message !== '' ? message : success ? 'OK' : 'failed'),
    csvField(thread),
    '',
    success ? 'true' : 'false',
    success ? '' : csvField(message),
    integer(bytes),
    integer(sentBytes),
    threads,
    threads,
    url,
    elapsed,
    integer(sampleCount),
    integer(errorCount),
    '0',
    '0',
  ].join(',');
}

/** JMeter parses these columns as Java longs: a fraction or "NaN" would stop the dashboard generator. */
function integer(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n)) : '0';
}

/** A CSV field as JMeter quotes it. */
export function csvField(text: string): string {
  const s = String(text);
  if (!/[",\r\n]/.test(s)) return s;
  return `"${s.replace(/"/g, '""')}"`;
}
