/** Plain-text tables of `npm run bench:engine`; each function returns the text and prints nothing. */
import { renderTable } from './render.js';
import type { FanInRecord, FanInVerdict, ScaleRecord, ScaleVerdict, ToolSummary } from './engine-records.js';
import type { IdleVerdict } from './idle-memory.js';
import { idleGoalRow } from './idle-render.js';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const TOOL_LABEL = { raw: 'raw generator', mqbench: 'mqbench' } as const;

export function renderGoals(fanIn: FanInVerdict | undefined, scale: ScaleVerdict | undefined, idle?: IdleVerdict): string {
  const rows: string[][] = [];
  if (fanIn) {
    const measured =
      fanIn.ratio === undefined
        ? 'not measured (see the failed runs below)'
        : `mqbench ${integer.format(fanIn.mqbench.median)} ÷ raw ${integer.format(fanIn.raw.median)} msg/s = ${fanIn.ratio.toFixed(3)}`;
    rows.push(['QoS 0 fan-in through Mosquitto', measured, `≥ ${fanIn.goal.toFixed(2)}`, verdict(fanIn.passed)]);
  }
  if (scale) {
    const errors = scale.errorsTotal === 0 ? 'no errors' : `${integer.format(scale.errorsTotal)} errors`;
    const failed = scale.failedClients > 0 ? `, ${integer.format(scale.failedClients)} clients gave up` : '';
    rows.push([
      `${integer.format(scale.clients)} clients (bundled broker)`,
      scale.measured
        ? `${integer.format(scale.peakConnections)} connected at once, ${errors}${failed}`
        : 'not measured (see the failure below)',
      `all, no errors`,
      verdict(scale.passed),
    ]);
  }
  if (idle) rows.push(idleGoalRow(idle));
  return renderTable(['goal', 'measured', 'target', 'verdict'], rows, [false, false, false, false]);
}

export function renderFanInSummary(verdict: FanInVerdict): string {
  const row = (s: ToolSummary): string[] => {
    const measured = s.runs > 0;
    return [
      TOOL_LABEL[s.tool],
      measured ? integer.format(s.median) : 'failed',
      measured ? `${integer.format(s.min)} – ${integer.format(s.max)}` : '',
      measured ? `${s.spreadPercent.toFixed(1)}%` : '',
      measured ? integer.format(s.sentPerSecond) : '',
      percent(s.brokerCpuPercent),
      percent(s.loadCpuPercent),
      measured ? integer.format(s.lost) : '',
      ms(s.e2eP50Us),
      ms(s.e2eP99Us),
      s.failed > 0 ? `${s.failed} of ${s.failed + s.runs} runs failed` : '',
    ];
  };
  const header = ['load', 'msg/s median', 'min – max', '±', 'sent msg/s', 'broker CPU', 'load CPU', 'lost', 'e2e p50', 'e2e p99', 'note'];
  return renderTable(header, [row(verdict.raw), row(verdict.mqbench)], [false, true, true, true, true, true, true, true, true, true, false]);
}

export function renderFanInRuns(records: readonly FanInRecord[]): string {
  const header = ['round', 'load', 'broker', 'msg/s', 'sent msg/s', 'lost', 'broker CPU', 'load CPU', 'e2e p50', 'e2e p99', 'note'];
  const rows = records.map((r) => {
    const m = r.measurement;
    if (!m) return [String(r.round), TOOL_LABEL[r.tool], r.brokerLabel, '', '', '', '', '', '', '', `failed: ${firstLine(r.error)}`];
    return [
      String(r.round),
      TOOL_LABEL[r.tool],
      r.brokerLabel,
      integer.format(m.receivedPerSecond),
      integer.format(m.sentPerSecond),
      integer.format(m.lost),
      percent(m.brokerCpuPercent),
      percent(m.loadCpuPercent),
      ms(m.e2eP50Us),
      ms(m.e2eP99Us),
      '',
    ];
  });
  return renderTable(header, rows, [true, false, false, true, true, true, true, true, true, true, false]);
}

export function renderScale(record: ScaleRecord, verdict: ScaleVerdict): string {
  const r = record.result;
  const rows: string[][] = [
    ['broker', record.brokerLabel],
    [
      'scenario',
      `${integer.format(record.clients)} clients started over ${record.rampSeconds} s ` +
        `(${integer.format(record.clients / record.rampSeconds)}/s), held ${record.holdSeconds} s; ` +
        `${integer.format(record.talkers)} of them publish`,
    ],
  ];
  if (!r) {
    rows.push(['result', 'failed']);
    return renderTable(['measure', 'value'], rows, [false, false]) + `\n${record.error ?? 'unknown error'}\n`;
  }
  const run = r.run;
  const connect = run.latency.connect;
  const errorKinds = Object.entries(verdict.errors)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind} ${integer.format(n)}`);
  const e2e = run.latency.e2e;
  rows.push(
    ['clients connected (peak)', `${integer.format(verdict.peakConnections)} of ${integer.format(record.clients)}`],
    ['connect latency', connect ? `p50 ${ms(connect.p50)}, p99 ${ms(connect.p99)}, max ${ms(connect.max)} (${integer.format(connect.count)} connects)` : 'none measured'],
    ['errors', errorKinds.length > 0 ? errorKinds.join(', ') : 'none'],
    ['clients that gave up', integer.format(verdict.failedClients)],
    [
      'messages',
      `${integer.format(run.totals.counters.messagesSent)} sent, ${integer.format(run.totals.counters.messagesReceived)} received, ` +
        `${integer.format(r.lost)} lost` + (e2e ? `; e2e p50 ${ms(e2e.p50)}, p99 ${ms(e2e.p99)}` : ''),
    ],
    ['broker CPU', `${percent(r.brokerRunCpuPercent)} over the run, ${percent(r.brokerCpuPercent)} during the hold`],
    ['broker peak RSS', mib(r.brokerPeakRssMiB)],
    ['mqbench CPU', `${percent(r.loadRunCpuPercent)} over the run, ${percent(r.loadCpuPercent)} during the hold`],
    ['mqbench peak RSS', mib(r.loadPeakRssMiB)],
    [
      'open files allowed',
      `broker ${limitText(record.brokerOpenFiles, record.brokerOpenFilesRaisedFrom)}, ` +
        `mqbench ${limitText(r.openFileLimit, r.openFileLimitRaisedFrom)}`,
    ],
  );
  return renderTable(['measure', 'value'], rows, [false, false]);
}

function verdict(passed: boolean): string {
  return passed ? 'PASS' : 'FAIL';
}

function percent(p: number | null): string {
  return p === null ? 'n/a' : `${p.toFixed(0)}%`;
}

function ms(us: number | null | undefined): string {
  if (us === null || us === undefined) return 'n/a';
  const v = us / 1000;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ms`;
}

function mib(v: number | null): string {
  return v === null ? 'n/a' : `${v.toFixed(0)} MiB`;
}

function limitText(v: number | 'unlimited' | null, raisedFrom: number | null): string {
  if (v === null) return 'n/a';
  const text = v === 'unlimited' ? 'unlimited' : integer.format(v);
  return raisedFrom === null ? text : `${text} (raised from ${integer.format(raisedFrom)})`;
}

function firstLine(text: string | undefined): string {
  return (text ?? 'unknown error').split('\n')[0];
}
