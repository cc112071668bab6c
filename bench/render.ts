/** Plain-text tables of the benchmark results; each function returns the text and prints nothing. */
import { ROWS } from './rows.js';
import type { BrokerSummary, RowRatio, RunRecord } from './summary.js';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function renderSummary(summaries: readonly BrokerSummary[], ratios: readonly RowRatio[]): string {
  const header = ['row', 'broker', 'msg/s median', 'min – max', '±', 'broker CPU', 'gen CPU', 'lost', 'bundled ÷ mosquitto', 'note'];
  const lines: string[][] = [];
  for (const row of ROWS) {
    const group = summaries.filter((s) => s.row === row.name);
    const ratio = ratios.find((r) => r.row === row.name)?.bundledOverMosquitto;
    group.forEach((s, i) => {
      const measured = s.runs > 0;
      lines.push([
        i === 0 ? row.title : '',
        s.brokerLabel,
        measured ? integer.format(s.median) : 'failed',
        measured ? `${integer.format(s.min)} – ${integer.format(s.max)}` : '',
        measured ? `${s.spreadPercent.toFixed(1)}%` : '',
        s.brokerCpuPercent === null ? 'n/a' : `${s.brokerCpuPercent.toFixed(0)}%`,
        measured ? `${s.generatorCpuPercent.toFixed(0)}%` : '',
        measured ? integer.format(s.lost) : '',
        i === 0 && ratio !== undefined ? `${ratio.toFixed(2)}×` : '',
        s.failed > 0 ? `${s.failed} of ${s.failed + s.runs} runs failed` : '',
      ]);
    });
  }
  return renderTable(header, lines, [false, false, true, true, true, true, true, true, true, false]);
}

export function renderRuns(records: readonly RunRecord[]): string {
  const header = ['row', 'broker', 'round', 'msg/s', 'sent msg/s', 'sent', 'received', 'lost', 'dup', 'broker CPU', 'gen CPU', 'broker RSS', 'note'];
  const lines = records.map((r) => {
    const res = r.result;
    if (!res) return [r.row, r.brokerLabel, String(r.round), '', '', '', '', '', '', '', '', '', `failed: ${firstLine(r.error)}`];
    const notes: string[] = [];
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
      res.brokerCpuPercent === null ? 'n/a' : `${res.brokerCpuPercent.toFixed(0)}%`,
      `${res.generatorCpuPercent.toFixed(0)}%`,
      res.brokerPeakRssMiB === null ? 'n/a' : `${res.brokerPeakRssMiB.toFixed(0)} MiB`,
      notes.join('; '),
    ];
  });
  return renderTable(header, lines, [false, false, true, true, true, true, true, true, true, true, true, true, false]);
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

function firstLine(text: string | undefined): string {
  return (text ?? 'unknown error').split('\n')[0];
}
