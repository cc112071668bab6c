/**
 * results.jtl read back the way JMeter reads it: CSVSaveService.csvReadFile's record splitting (with its errors on
 * stray quotes), and the Aggregate Report's arithmetic per label (SamplingStatCalculator over StatCalculator):
 *
 * - a row is a StatisticalSampleResult (the header has SampleCount): it adds SampleCount samples and its elapsed to
 *   the sum, so average = Σelapsed / ΣSampleCount;
 * - its ErrorCount column is its number of errors: error % = ΣErrorCount / ΣSampleCount;
 * - with sampleresult.timestamp.start=true a row starts at timeStamp and ends at timeStamp + elapsed; throughput is
 *   ΣSampleCount over (latest end − earliest start).
 */

/** Records as JMeter's CSVSaveService.csvReadFile splits them, including its errors on stray quotes. */
export function readCsv(text: string): string[][] {
  const records: string[][] = [];
  let i = 0;
  while (i < text.length) {
    const fields: string[] = [];
    let field = '';
    let state: 'initial' | 'plain' | 'quoted' | 'embedded' = 'initial';
    let ended = false;
    while (i < text.length && !ended) {
      const ch = text[i++];
      const delimOrEol = ch === ',' || ch === '\n' || ch === '\r';
      if (state === 'initial') {
        if (ch === '"') state = 'quoted';
        else if (delimOrEol) fields.push('');
        else {
          field += ch;
          state = 'plain';
        }
      } else if (state === 'plain') {
        if (ch === '"') throw new Error(`quote in plain field: ${field}`);
        if (delimOrEol) {
          fields.push(field);
          field = '';
          state = 'initial';
        } else field += ch;
      } else if (state === 'quoted') {
        if (ch === '"') state = 'embedded';
        else field += ch;
      } else if (ch === '"') {
        field += '"';
        state = 'quoted';
      } else if (delimOrEol) {
        fields.push(field);
        field = '';
        state = 'initial';
      } else throw new Error(`single quote in quoted field: ${field}`);
      if ((ch === '\n' || ch === '\r') && state !== 'quoted') ended = true;
    }
    if (!ended) {
      if (state === 'quoted') throw new Error('missing trailing quote');
      if (field !== '' || state === 'embedded') fields.push(field);
    }
    records.push(fields);
  }
  return records;
}

export interface JMeterAggregate {
  label: string;
  rows: number;
  samples: number;
  errors: number;
  sumElapsedMs: number;
  /** Σelapsed / ΣSampleCount, ms. */
  averageMs: number;
  /** ΣErrorCount / ΣSampleCount, 0..1. */
  errorRate: number;
  firstStartMs: number;
  lastEndMs: number;
  /** Samples per second from the earliest start to the latest end. */
  throughputPerSec: number;
}

/** The Aggregate Report's rows for a results.jtl text, by label. */
export function jmeterAggregateReport(text: string): Map<string, JMeterAggregate> {
  const [header, ...records] = readCsv(text);
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`results.jtl has no ${name} column`);
    return i;
  };
  const [ts, elapsed, label, count, errors] = ['timeStamp', 'elapsed', 'label', 'SampleCount', 'ErrorCount'].map(col);
  const out = new Map<string, JMeterAggregate>();
  for (const r of records) {
    if (r.length !== header.length) throw new Error(`a row has ${r.length} fields, the header ${header.length}`);
    const start = Number.parseInt(r[ts], 10);
    const e = Number.parseInt(r[elapsed], 10);
    const n = Number.parseInt(r[count], 10);
    const errs = Number.parseInt(r[errors], 10);
    for (const v of [start, e, n, errs]) if (!Number.isSafeInteger(v)) throw new Error(`not a Java long: ${r.join(',')}`);
    let a = out.get(r[label]);
    if (a === undefined) {
      a = { label: r[label], rows: 0, samples: 0, errors: 0, sumElapsedMs: 0, averageMs: 0, errorRate: 0, firstStartMs: start, lastEndMs: start + e, throughputPerSec: 0 };
      out.set(r[label], a);
    }
    a.rows++;
    a.samples += n;
    a.errors += errs;
    a.sumElapsedMs += e;
    a.firstStartMs = Math.min(a.firstStartMs, start);
    a.lastEndMs = Math.max(a.lastEndMs, start + e);
  }
  for (const a of out.values()) {
    a.averageMs = a.samples > 0 ? a.sumElapsedMs / a.samples : 0;
    a.errorRate = a.samples > 0 ? a.errors / a.samples : 0;
    const span = a.lastEndMs - a.firstStartMs;
    a.throughputPerSec = span > 0 ? (a.samples * 1000) / span : 0;
  }
  return out;
}
