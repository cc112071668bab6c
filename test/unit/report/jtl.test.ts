import { describe, expect, it } from 'vitest';
import type { JtlRow } from '../../../src/engine/engine.js';
import { csvField, JTL_COLUMNS, JTL_HEADER, renderJtl, renderJtlRows } from '../../../src/report/jtl.js';
import { readCsv } from '../../helpers/jmeter.js';

/**
 * JMeter's column order (CSVSaveService.headerLabelMethods). Its header parser rejects unknown names and any name
 * out of this order, and the dashboard generator then fails on every row.
 */
const JMETER_ORDER = [
  'timeStamp', 'elapsed', 'label', 'responseCode', 'responseMessage', 'threadName', 'dataType', 'success',
  'failureMessage', 'bytes', 'sentBytes', 'grpThreads', 'allThreads', 'URL', 'Filename', 'Latency', 'Encoding',
  'SampleCount', 'ErrorCount', 'Hostname', 'IdleTime', 'Connect',
];
const NUMERIC = ['timeStamp', 'elapsed', 'bytes', 'sentBytes', 'grpThreads', 'allThreads', 'Latency', 'SampleCount', 'ErrorCount', 'IdleTime', 'Connect'];

const ROWS: JtlRow[] = [
  [1_763_919_600_123, 2, 'connect publishers', true, '', 'pub-1', 0, 0, 1, 0],
  [1_763_919_601_000, 4, 'publish publishers', true, '', 'pub-1', 0, 6_400, 100, 0],
  [1_763_919_601_000, 1, 'receive subscribers', true, '', 'sub, "the first"', 64_000, 0, 1_000, 0],
  [1_763_919_601_500, 5_000, 'subscribe subscribers', false, 'SUBACK failure, 0x80\nnot authorised', 'sub-2', 0, 0, 1, 1],
  [1_763_919_602_000, 0, 'disconnect subscribers', true, 'abrupt', 'sub-3', 0, 0, 1, 0],
];

function byName(record: string[]): Record<string, string> {
  return Object.fromEntries(JTL_COLUMNS.map((c, i) => [c, record[i]]));
}

describe('renderJtl', () => {
  it('writes the header JMeter writes, sample counts in their place', () => {
    expect(JTL_HEADER).toBe(
      'timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,' +
        'grpThreads,allThreads,URL,Latency,SampleCount,ErrorCount,IdleTime,Connect\n',
    );
    const positions = JTL_COLUMNS.map((c) => JMETER_ORDER.indexOf(c));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it('writes one record per row that JMeter reads back field for field', () => {
    const text = renderJtl(ROWS, { url: 'mqtt://127.0.0.1:1883', activeClients: 110 });
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toMatch(/\n\n/);
    const records = readCsv(text);
    expect(records).toHaveLength(ROWS.length + 1);
    expect(records[0]).toEqual([...JTL_COLUMNS]);
    for (const record of records.slice(1)) {
      expect(record).toHaveLength(JTL_COLUMNS.length);
      const r = byName(record);
      for (const c of NUMERIC) expect(r[c], c).toMatch(/^-?\d+$/);
      expect(['true', 'false']).toContain(r.success);
    }
    const [connect, , receive, failed, disconnect] = records.slice(1).map(byName);
    expect(connect).toMatchObject({
      timeStamp: '1763919600123', elapsed: '2', label: 'connect publishers', responseCode: '200', responseMessage: 'OK',
      threadName: 'pub-1', success: 'true', failureMessage: '', grpThreads: '110', allThreads: '110',
      URL: 'mqtt://127.0.0.1:1883', Latency: '2', SampleCount: '1', ErrorCount: '0', IdleTime: '0', Connect: '0',
    });
    expect(receive).toMatchObject({ threadName: 'sub, "the first"', bytes: '64000', SampleCount: '1000' });
    expect(failed).toMatchObject({
      success: 'false', responseCode: '500', responseMessage: 'SUBACK failure, 0x80\nnot authorised',
      failureMessage: 'SUBACK failure, 0x80\nnot authorised', ErrorCount: '1', elapsed: '5000',
    });
    expect(disconnect).toMatchObject({ responseCode: '200', responseMessage: 'abrupt', failureMessage: '' });
  });

  it('quotes commas, quotes and line breaks the way JMeter does', () => {
    expect(csvField('plain text')).toBe('plain text');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    const line = renderJtlRows([[1, 2, 'l,x', false, 'm"q', 't\nu', 0, 0, 1, 1]]);
    expect(line).toBe('1,2,"l,x",500,"m""q","t\nu",,false,"m""q",0,0,0,0,,2,1,1,0,0\n');
  });

  it('writes whole numbers even when a row carries a fraction or NaN', () => {
    const [, record] = readCsv(renderJtl([[1_000.6, Number.NaN, 'x', true, '', 't', 1.4, Number.POSITIVE_INFINITY, 2, 0]]));
    expect(byName(record)).toMatchObject({ timeStamp: '1001', elapsed: '0', bytes: '1', sentBytes: '0', Latency: '0' });
  });

  it('streams: the header, then batches, adds up to the whole file', () => {
    const streamed = JTL_HEADER + renderJtlRows(ROWS.slice(0, 2)) + renderJtlRows([]) + renderJtlRows(ROWS.slice(2));
    expect(streamed).toBe(renderJtl(ROWS));
    expect(renderJtlRows([])).toBe('');
    expect(renderJtl([])).toBe(JTL_HEADER);
  });
});
