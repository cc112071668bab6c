/** The text report of a fuzz run (a string; the caller prints it). */
import { PLAN_KINDS } from './connection-plans.js';
import type { FuzzReport } from './run.js';

const MIB = 1024 * 1024;
const n = (x: number): string => Math.round(x).toLocaleString('en-US');

export function renderFuzzReport(r: FuzzReport): string {
  const s = r.stats;
  const lines: string[] = [];
  lines.push(`Fuzzed ${r.brokerLabel} with seed "${r.options.seed}"`);
  lines.push(
    `  sent              ${n(s.packetsWritten)} packets (${n(s.bytesWritten / 1024)} KiB) over ${n(s.connections)} connections ` +
      `in ${r.fuzzSeconds.toFixed(1)} s: ${n(r.packetsPerSecond)} packets/s, ${r.options.connections} connections at once`,
  );
  lines.push(`  connection kinds  ${PLAN_KINDS.filter((k) => s.byKind[k] > 0).map((k) => `${k} ${n(s.byKind[k])}`).join(', ')}`);
  lines.push(
    `  broker answers    closed ${n(s.closedByBroker)} connections itself, stopped reading ${n(s.heldBack)} floods; ` +
      `${n(s.garbageFirst)} opened with a non-CONNECT byte, ${n(s.garbageLeftOpenCount)} of them left open`,
  );
  lines.push(`  broker peak RSS   ${(r.brokerPeakRssBytes / MIB).toFixed(0)} MiB`);
  const loop = r.brokerLoopMaxMs === undefined ? 'not measurable from outside this broker' : `${n(r.brokerLoopMaxMs)} ms`;
  lines.push(`  event-loop delay  longest ${loop} (inside the broker)`);
  lines.push(
    `  ping probe        longest PINGREQ → PINGRESP ${n(r.pingLongestMs)} ms over ${n(r.pingAnswered)} pings ` +
      `(this process's own longest delay: ${n(r.probeProcessLoopMaxMs)} ms)`,
  );
  lines.push(
    `  connect probe     ${r.connectProbe.probes} probes, longest CONNECT → CONNACK ${n(r.connectProbe.longestMs)} ms, ` +
      `${r.connectProbe.failures.length} failed`,
  );
  if (r.steady) {
    const st = r.steady;
    lines.push(
      `  QoS 1 pair        ${n(st.sent)} sent, ${n(st.acknowledged)} acknowledged (${n(st.acknowledgedWhileAway)} while the ` +
        `subscriber was away), ${n(st.received)} received, ${n(st.lost)} lost, ${n(st.duplicated)} duplicated`,
    );
  } else {
    lines.push('  QoS 1 pair        not counted: the broker died');
  }
  if (r.crash) {
    lines.push('', `The broker process ${r.crash.status}. It printed:`, indent(r.crash.excerpt || '(nothing)'));
  }
  lines.push('');
  if (r.failures.length === 0) {
    lines.push('PASSED: no crash, no acknowledged message lost, every probe answered in time.');
  } else {
    lines.push(`FAILED (${r.failures.length}):`);
    for (const f of r.failures) lines.push(`  - ${f}`);
  }
  lines.push(
    '',
    `Replay: npm run fuzz -- --broker ${r.options.broker} --seed '${r.options.seed}' --packets ${r.options.packets}` +
      ` --connections ${r.options.connections}` +
      (r.options.kinds.length < PLAN_KINDS.length ? ` --without ${PLAN_KINDS.filter((k) => !r.options.kinds.includes(k)).join(',')}` : '') +
      r.options.conf.map((c) => ` --conf '${c}'`).join(''),
  );
  return lines.join('\n') + '\n';
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
