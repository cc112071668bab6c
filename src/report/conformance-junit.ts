/**
 * junit.xml: the conformance checks as JUnit XML for CI test reporters (GitHub Actions reporters, Jenkins, GitLab):
 * one <testsuite> per broker and MQTT version, one <testcase> per check.
 *
 * The shape follows the common ground of the Ant/Surefire schema (junit-10.xsd) that these consumers read:
 * <testsuites> with totals, <testsuite name tests failures errors skipped time timestamp> holding <properties> and
 * <testcase name classname time>, and at most one of <failure>, <error> or <skipped message> in a test case.
 */
import type { CheckOutcome } from '../conformance/runner.js';
import type { MqttVersion } from '../conformance/statements.js';
import { checkParts, firstLine, statementTags, traceLines } from './conformance-facts.js';
import type { ConformanceReport, ConformanceRun } from './conformance-model.js';

export interface JUnitOptions {
  /**
   * How a failure accepted with --allow-fail appears. 'skipped' (the default): every consumer counts a <failure> as a
   * red test, so the published report would fail a build that mqbench itself passed; as <skipped> it stays visible
   * with its reason and does not. 'failure': a <failure> whose message starts "(allowed: known deviation)".
   */
  allowedFailures?: 'skipped' | 'failure';
}

export const ALLOWED_MARK = '(allowed: known deviation)';

interface SuiteCounts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  seconds: number;
}

export function renderJUnit(report: ConformanceReport, options: JUnitOptions = {}): string {
  const allowedAs = options.allowedFailures ?? 'skipped';
  const total: SuiteCounts = { tests: 0, failures: 0, errors: 0, skipped: 0, seconds: 0 };
  const suites: string[] = [];
  let suiteId = 0;
  for (const run of report.runs) {
    for (const version of report.versions) {
      const checks = run.checks.filter((o) => o.version === version);
      const counts = countSuite(checks, allowedAs);
      total.tests += counts.tests;
      total.failures += counts.failures;
      total.errors += counts.errors;
      total.skipped += counts.skipped;
      total.seconds += counts.seconds;
      suites.push(renderSuite(report, run, version, checks, counts, suiteId++, allowedAs));
    }
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({
      name: 'mqbench conformance',
      tests: total.tests,
      failures: total.failures,
      errors: total.errors,
      skipped: total.skipped,
      time: seconds(total.seconds),
      timestamp: junitTimestamp(report.generatedAt),
    })}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

function countSuite(checks: readonly CheckOutcome[], allowedAs: 'skipped' | 'failure'): SuiteCounts {
  const c: SuiteCounts = { tests: checks.length, failures: 0, errors: 0, skipped: 0, seconds: 0 };
  for (const o of checks) {
    c.seconds += durationSeconds(o);
    if (o.status === 'error') c.errors++;
    else if (o.status === 'skip') c.skipped++;
    else if (o.status === 'fail') {
      if (o.allowed === true && allowedAs === 'skipped') c.skipped++;
      else c.failures++;
    }
  }
  return c;
}

function renderSuite(
  report: ConformanceReport,
  run: ConformanceRun,
  version: MqttVersion,
  checks: readonly CheckOutcome[],
  counts: SuiteCounts,
  id: number,
  allowedAs: 'skipped' | 'failure',
): string {
  const lines: string[] = [];
  lines.push(
    `  <testsuite${attrs({
      name: `${run.broker} / MQTT ${version}`,
      id,
      package: `mqbench.conformance.${versionSegment(version)}`,
      tests: counts.tests,
      failures: counts.failures,
      errors: counts.errors,
      skipped: counts.skipped,
      time: seconds(counts.seconds),
      timestamp: junitTimestamp(run.startedAt),
    })}>`,
  );
  const props: [string, string][] = [
    ['broker', run.broker],
    ['mqtt.version', version],
    ['mqbench.version', report.tool.version],
    ['broker.reachable', String(run.reachable)],
  ];
  if (!run.reachable) props.push(['broker.unreachable', run.unreachableReason ?? 'no reason given']);
  const declared = run.capabilities[version]?.declared;
  if (declared !== undefined && declared.length > 0) props.push(['broker.declared', declared.join('; ')]);
  lines.push('    <properties>');
  for (const [name, value] of props) lines.push(`      <property${attrs({ name, value })}/>`);
  lines.push('    </properties>');
  for (const o of checks) lines.push(...renderCase(run, o, allowedAs));
  if (!run.reachable) lines.push(`    <system-err>${text(`broker not reachable: ${run.unreachableReason ?? 'no reason given'}`)}</system-err>`);
  lines.push('  </testsuite>');
  return lines.join('\n');
}

function renderCase(run: ConformanceRun, o: CheckOutcome, allowedAs: 'skipped' | 'failure'): string[] {
  const { chapter, name } = checkParts(o);
  const tags = statementTags(o.statements);
  const open = `    <testcase${attrs({
    name: tags === '' ? name : `${tags} ${name}`,
    classname: `mqbench.conformance.${versionSegment(o.version)}${chapter === '' ? '' : `.${chapter.replace(/\./g, '_')}`}`,
    time: seconds(durationSeconds(o)),
  })}`;
  const message = o.message ?? '';
  switch (o.status) {
    case 'pass':
      return [`${open}/>`];
    case 'skip': {
      const reason = o.declaration === undefined ? message : `${message} (broker declared: "${o.declaration}")`;
      return [open + '>', `      <skipped${attrs({ message: reason })}/>`, '    </testcase>'];
    }
    case 'error':
      return [open + '>', `      <error${attrs({ message: firstLine(message), type: 'error' })}>${text(details(run, o))}</error>`, '    </testcase>'];
    case 'fail': {
      const allowed = o.allowed === true;
      const summary = allowed ? `${ALLOWED_MARK} ${firstLine(message)}` : firstLine(message);
      const element = allowed && allowedAs === 'skipped' ? 'skipped' : 'failure';
      const attributes: Record<string, string> = { message: summary };
      if (element === 'failure') attributes.type = allowed ? 'allowed-failure' : 'failure';
      return [
        open + '>',
        `      <${element}${attrs(attributes)}>${text(details(run, o))}</${element}>`,
        '    </testcase>',
      ];
    }
  }
}

/** The body of a failure or error: the whole message, the known deviation if any, then the packet trace. */
function details(run: ConformanceRun, o: CheckOutcome): string {
  const parts = [o.message ?? ''];
  const deviation = run.deviations?.[o.id];
  if (o.status === 'fail' && deviation !== undefined) parts.push(`Known deviation of ${run.broker}: ${deviation}`);
  const trace = traceLines(o);
  if (trace.length > 0) parts.push(`Packet trace:\n${trace.join('\n')}`);
  return parts.join('\n\n');
}

function versionSegment(version: MqttVersion): string {
  return version.replace(/\./g, '_');
}

function durationSeconds(o: CheckOutcome): number {
  return Number.isFinite(o.durationMs) && o.durationMs > 0 ? o.durationMs / 1000 : 0;
}

/** Seconds with at most three decimals and no exponent, as the Surefire schema's time pattern allows. */
function seconds(s: number): string {
  return (Number.isFinite(s) && s > 0 ? s : 0).toFixed(3);
}

/** The Ant schema's timestamp: ISO 8601 to the second without a zone (UTC here); "" when the input is no time. */
function junitTimestamp(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : new Date(t).toISOString().slice(0, 19);
}

/**
 * Characters XML 1.0 does not allow (C0 controls but tab, LF and CR; lone surrogates; U+FFFE and U+FFFF), and the C1
 * controls and DEL it only discourages: none can be carried, so each becomes a visible escape like "\x1b".
 */
const NOT_XML = /[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

function visible(s: string): string {
  return s.replace(NOT_XML, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Character data: markup characters as entities, CR as a reference so parsers do not fold it into LF. */
function text(s: string): string {
  return visible(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

/** Attributes in order; tab, LF and CR as references because attribute normalisation would turn them into spaces. */
function attrs(values: Record<string, string | number>): string {
  let out = '';
  for (const [name, value] of Object.entries(values)) {
    const escaped = visible(String(value))
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/\t/g, '&#9;')
      .replace(/\n/g, '&#10;')
      .replace(/\r/g, '&#13;');
    out += ` ${name}="${escaped}"`;
  }
  return out;
}
