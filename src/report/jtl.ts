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
 * What the rows mean (the engine writes them, engine.ts `collectClientSamples` and `jtlSample`), as JMeter reads
 * them with `sampleresult.timestamp.start=true` (`jmeter -Jsampleresult.timestamp.start=true -g results.jtl …`):
 *
 * - `timeStamp` is when the sample started (ms since 1970); a row summarising a second's samples starts at that
 *   second's beginning. JMeter's default takes timeStamp as the end and would place every sample `elapsed` earlier.
 * - A row may summarise N samples of one client: `SampleCount` is N, `elapsed` the TOTAL of their times (JMeter
 *   divides by SampleCount: the Aggregate Report's average is Σelapsed / ΣSampleCount), `ErrorCount` how many of
 *   them failed (error % = ΣErrorCount / ΣSampleCount), and `success` is false when any did.
 * - Labels, each followed by the group's name: `publish` acknowledged QoS 1/2 publishes (time to PUBACK or PUBCOMP
 *   from the intended send time; refusals in ErrorCount), `send` QoS 0 publishes (elapsed 0: nothing answers them),
 *   `receive` deliveries of timestamped live messages (time end to end; retained copies and untimed messages are
 *   only in summary.json), `connect`, `subscribe`, `unsubscribe`, `disconnect` single samples, and `connection` one
 *   failed sample per connection error (take-over, timeout, protocol error, connection lost).
 *
 * Throughput read this way is coarser than summary.json's rates: JMeter spans first start to last end, and a
 * summarised row's end is its start plus the total of its times, so the span can be off by up to a second at each
 * end; summary.json's rates use each message's own time (metrics/rates.ts).
 *
 * Field mapping from an engine row: timeStamp and elapsed in ms as given; success as "true"/"false"; responseCode
 * "200" / responseMessage "OK" for a success and "500" with the row's message for a failure (the dashboard's error
 * table keys errors by "code/message", and counts codes 200 to 399 as successes); failureMessage is the message of a
 * failed row; Latency equals elapsed (an MQTT acknowledgement is the whole response); IdleTime and Connect are 0.
 * JMeter's Aggregate and Summary Reports honour SampleCount and ErrorCount; the HTML dashboard generator counts each
 * row as one sample whatever its SampleCount says.
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
