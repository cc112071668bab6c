/**
 * The same scenarios against several brokers: local brokers started fresh for every run as processes of their own,
 * rounds alternating between brokers (A B A B), each run's broker CPU and peak memory read from /proc, then medians,
 * spread and ratios. Saturation mode raises a scenario's publish rates step by step until a limit is crossed.
 */
import { cpus, totalmem } from 'node:os';
import { median, spreadOf } from './median.js';
import type { Endpoint } from '../engine/transport.js';
import { startLocalBroker, type LocalBroker, type LocalBrokerKind, type LocalBrokerOptions } from '../launch/local-broker.js';
import { ProcessWindow } from '../launch/proc.js';
import { BrokerUnreachableError, readTls, runScenario } from '../run/run.js';
import type { RunResult } from '../run/result.js';
import { parseBrokerUrl } from '../scenario/read-broker.js';
import { applyOverrides, formatProblems } from '../scenario/index.js';
import { protocolName, type Scenario, type Step } from '../scenario/schema.js';
import {
  runLatency,
  type BrokerInfo,
  type CompareIncident,
  type BrokerSummary,
  type CompareResult,
  type CompareRun,
  type SaturationResult,
  type SaturationStep,
  type ScenarioComparison,
} from './result.js';

export interface SaturationOptions {
  /** Highest acceptable end-to-end p99, µs. */
  p99Us: number;
  /** Most messages lost (and errors) a step may have and still hold. */
  lost: number;
  errors: number;
  /** Each step offers this many times the previous step's rate. */
  factor: number;
  maxSteps: number;
}

export interface CompareOptions {
  scenarios: Scenario[];
  /** "bundled", "mosquitto", "aedes" (started here), or broker URLs (already running). */
  brokers: string[];
  rounds: number;
  /** mosquitto.conf lines for the bundled broker and Mosquitto. */
  conf: string[];
  workers: number;
  saturate: SaturationOptions | undefined;
  version: string;
  command: string;
  onStatus?(text: string): void;
  onRun?(run: CompareRun): void;
  signal?: AbortSignal;
}

interface Target {
  spec: string;
  label: string;
  kind: BrokerInfo['kind'];
  running: LocalBroker | undefined;
}

export class CompareError extends Error {}

const LOCAL: readonly string[] = ['bundled', 'mosquitto', 'aedes'];

export async function compare(opts: CompareOptions): Promise<CompareResult> {
  // A URL is shown without its credentials, in the table and in every report.
  const labels = uniqueLabels(opts.brokers.map(shownAs));
  const brokers: BrokerInfo[] = [];
  const runs: CompareRun[] = [];
  const scenarios: ScenarioComparison[] = [];
  const saturation: SaturationResult[] = [];
  const incidents: CompareIncident[] = [];
  for (const spec of opts.brokers) {
    if (!LOCAL.includes(spec)) {
      const parsed = parseBrokerUrl(spec);
      if ('error' in parsed) throw new CompareError(`--broker: ${parsed.error}${parsed.hint ? ` (${parsed.hint})` : ''}`);
    }
  }
  for (const scenario of opts.scenarios) {
    const targets = await startTargets(opts, labels, scenario);
    try {
      for (const t of targets) {
        if (!brokers.some((b) => b.label === t.label)) brokers.push(infoOf(t));
      }
      const forTarget = new Map(targets.map((t) => [t, scenarioFor(scenario, t)]));
      const scenarioRuns: CompareRun[] = [];
      for (let round = 1; round <= opts.rounds; round++) {
        for (const t of targets) {
          if (opts.signal?.aborted) break;
          opts.onStatus?.(`${scenario.name}: round ${round}/${opts.rounds} against ${t.label}`);
          const incident = (what: string) => {
            incidents.push({ scenario: scenario.name, broker: t.label, round, what });
            opts.onStatus?.(`${scenario.name}: round ${round} against ${t.label} lost: ${what}`);
          };
          // Every round on a broker process of its own: nothing (memory, sessions, retained messages, files) carries
          // over.
          if (round > 1) await restart(t, opts, scenario);
          const run = await guardedRun(forTarget.get(t)!, t, round, opts, scenarioRuns, incident);
          if (run === undefined) continue;
          scenarioRuns.push(run);
          runs.push(run);
          opts.onRun?.(run);
        }
      }
      scenarios.push(summarise(scenario, targets, scenarioRuns));
      if (opts.saturate && hasPacedPublish(scenario.groups.flatMap((g) => g.steps))) {
        for (const t of targets) {
          if (opts.signal?.aborted) break;
          saturation.push(
            await saturate(forTarget.get(t)!, t, opts, opts.saturate, (round, what) => incidents.push({ scenario: scenario.name, broker: t.label, round, what })),
          );
        }
      }
    } finally {
      await Promise.all(targets.map((t) => t.running?.stop()));
    }
  }
  return {
    tool: { name: 'mqbench', version: opts.version },
    generatedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    command: opts.command,
    rounds: opts.rounds,
    brokers,
    scenarios,
    runs,
    saturation,
    incidents,
  };
}

/**
 * One round, kept only when it measured the broker: a local broker that died is started afresh (the round it died in
 * is lost, with its last log lines as the reason), and a broker that could not be reached loses the round. A URL that
 * was never reached at all is a set-up mistake and ends the comparison.
 */
async function guardedRun(
  scenario: Scenario,
  t: Target,
  round: number,
  opts: CompareOptions,
  earlier: readonly CompareRun[],
  incident: (what: string) => void,
): Promise<CompareRun | undefined> {
  let run: CompareRun | undefined;
  try {
    run = await runOnce(scenario, t, round, opts);
  } catch (err) {
    if (!(err instanceof BrokerUnreachableError)) throw err;
    if (t.running === undefined && !earlier.some((r) => r.broker === t.label)) throw err;
    if (t.running?.exitStatus() === undefined) incident(err.message);
  }
  const died = t.running?.exitStatus();
  if (t.running !== undefined && (died !== undefined || run?.brokerLost !== undefined)) {
    // Its figures measured a broker that was not there for the whole run: the round is lost; the next starts afresh.
    const dead = t.running;
    await dead.stop();
    t.running = await startLocalBroker(t.spec as LocalBrokerKind, opts.conf, launchOptions(scenario));
    const what = run?.brokerLost !== undefined ? `: ${run.brokerLost}` : ` ${died} during the run${lastLines(dead.output())}`;
    incident(`${t.label}${what}; started again for the next round`);
    return undefined;
  }
  return run;
}

function lastLines(output: string): string {
  const tail = output.trim().split('\n').slice(-3).join(' | ').slice(-400);
  return tail === '' ? '' : ` (last output: ${tail})`;
}

function shownAs(spec: string): string {
  if (LOCAL.includes(spec)) return spec;
  const parsed = parseBrokerUrl(spec);
  return 'error' in parsed ? spec : parsed.target.url;
}

/**
 * The scenario as it runs against `t`: a broker mqbench started is reached on its loopback port; a URL replaces the
 * scenario's broker as `--broker` does for `mqbench run`, credentials in it included.
 */
function scenarioFor(scenario: Scenario, t: Target): Scenario {
  if (t.running) return scenario;
  const loaded = applyOverrides(scenario, { broker: t.spec });
  if ('problems' in loaded) throw new CompareError(formatProblems(loaded.problems));
  return loaded.scenario;
}

/** A fresh process for a broker mqbench started (a URL is left as it is). */
async function restart(t: Target, opts: CompareOptions, scenario: Scenario): Promise<void> {
  if (t.running === undefined) return;
  await t.running.stop();
  t.running = await startLocalBroker(t.spec as LocalBrokerKind, opts.conf, launchOptions(scenario));
}

/** What the scenario asks of a broker mqbench starts: persistence in a directory of its own. */
function launchOptions(scenario: Scenario): LocalBrokerOptions {
  return scenario.broker.persistence !== undefined ? { persistence: scenario.broker.persistence } : {};
}

/** "bundled", "bundled #2" when a broker is named twice. */
function uniqueLabels(specs: string[]): string[] {
  const seen = new Map<string, number>();
  return specs.map((s) => {
    const n = (seen.get(s) ?? 0) + 1;
    seen.set(s, n);
    return n === 1 ? s : `${s} #${n}`;
  });
}

async function startTargets(opts: CompareOptions, labels: string[], scenario: Scenario): Promise<Target[]> {
  const targets: Target[] = [];
  try {
    for (const [i, spec] of opts.brokers.entries()) {
      if (LOCAL.includes(spec)) {
        const running = await startLocalBroker(spec as LocalBrokerKind, opts.conf, launchOptions(scenario));
        const label = labels[i] === spec ? running.label : `${running.label}${labels[i].slice(spec.length)}`;
        targets.push({ spec, label, kind: spec as LocalBrokerKind, running });
      } else {
        targets.push({ spec, label: labels[i], kind: 'remote', running: undefined });
      }
    }
  } catch (err) {
    await Promise.all(targets.map((t) => t.running?.stop()));
    throw err;
  }
  return targets;
}

function infoOf(t: Target): BrokerInfo {
  return {
    label: t.label,
    kind: t.kind,
    version: t.running?.version ?? 'unknown',
    url: t.running ? `mqtt://${t.running.host}:${t.running.port}` : shownAs(t.spec),
    local: t.running !== undefined,
  };
}

function endpointOf(t: Target, scenario: Scenario): { endpoint: Endpoint; url: string } {
  if (t.running) {
    return {
      endpoint: { transport: 'mqtt', hosts: [{ host: t.running.host, port: t.running.port }], path: '', tls: undefined },
      url: `mqtt://${t.running.host}:${t.running.port}`,
    };
  }
  const target = scenario.broker.target;
  if (target.kind !== 'remote') throw new CompareError(`${t.label}: the scenario does not name a broker URL`);
  return {
    endpoint: { transport: target.transport, hosts: target.hosts, path: target.path, tls: readTls(scenario.broker.tls) },
    url: target.url,
  };
}

async function runOnce(scenario: Scenario, t: Target, round: number, opts: CompareOptions): Promise<CompareRun> {
  const { endpoint, url } = endpointOf(t, scenario);
  // A fault replaces the broker process: CPU and memory of one process no longer describe the round.
  const window = t.running && scenario.faults.length === 0 ? new ProcessWindow(t.running.pid) : undefined;
  const started = Date.now();
  const { result } = await runScenario(
    {
      scenario,
      endpoint,
      target: { kind: t.kind === 'bundled' ? 'bundled' : 'remote', url, protocol: protocolName(scenario.broker.protocolVersion) },
      workers: opts.workers,
      version: opts.version,
      broker: t.running,
    },
    { signal: opts.signal },
  );
  const proc = window?.close();
  return runOf(scenario, t.label, round, result, proc, Date.now() - started);
}

function runOf(
  scenario: Scenario,
  broker: string,
  round: number,
  r: RunResult,
  proc: { cpuSeconds: number; peakRssBytes: number; baselineRssBytes: number } | undefined,
  durationMs: number,
): CompareRun {
  const peakConnected = Math.max(0, ...r.series.gauges.connectionsOpen);
  const received = r.totals.counters.messagesReceived;
  return {
    scenario: scenario.name,
    broker,
    round,
    // The run report's own rates (metrics/rates.ts), so that compare and report.md never disagree.
    receivedPerSec: r.totals.receivedPerSec ?? 0,
    sentPerSec: r.totals.sentPerSec ?? 0,
    connectsPerSec: r.totals.connectsPerSec ?? 0,
    retainedPerSec: r.totals.retainedPerSec ?? 0,
    e2e: r.latency.e2e,
    connect: r.latency.connect,
    retained: r.latency.retained,
    errors: r.totals.errorsTotal,
    lost: r.delivery.total.lost,
    duplicated: r.delivery.total.duplicated,
    ...(r.faults.length > 0
      ? { faultsLost: r.faults.reduce((n, f) => n + f.delivery.qos1.lostAcknowledged + f.delivery.qos2.lostAcknowledged, 0) }
      : {}),
    ...(r.stoppedBy === 'broker-lost' ? { brokerLost: r.faults.find((f) => f.error !== null)?.error ?? 'the broker did not come back after a fault' } : {}),
    peakConnected,
    process: proc ? { cpuSeconds: proc.cpuSeconds, peakRssBytes: proc.peakRssBytes } : undefined,
    messagesPerCpuSecond: proc && proc.cpuSeconds > 0 && received > 0 ? received / proc.cpuSeconds : undefined,
    bytesPerConnection: proc && peakConnected > 0 ? Math.max(0, proc.peakRssBytes - proc.baselineRssBytes) / peakConnected : undefined,
    e2eCurve: r.curves.run.e2e,
    passed: r.passed,
    durationMs,
  };
}

/**
 * Whether the scenario is about messages, retained messages (every publish is retained, so what subscribers get is
 * mostly the copies their SUBSCRIBE brought), connection rate, or memory per connection.
 */
export function measureOf(scenario: Scenario): ScenarioComparison['measure'] {
  const steps = scenario.groups.flatMap((g) => flatten(g.steps));
  const publishes = steps.filter((s) => s.kind === 'publish');
  if (publishes.length > 0) return publishes.every((s) => s.retain) ? 'retained' : 'throughput';
  const churns = steps.some((s) => s.kind === 'disconnect') || scenario.groups.some((g) => g.arrival.kind === 'rate');
  const holds = steps.some((s) => s.kind === 'wait');
  return churns && !holds ? 'connect-rate' : 'memory';
}

function flatten(steps: Step[]): Step[] {
  return steps.flatMap((s) => (s.kind === 'repeat' ? [s, ...flatten(s.steps)] : [s]));
}

function summarise(scenario: Scenario, targets: Target[], runs: CompareRun[]): ScenarioComparison {
  const measure = measureOf(scenario);
  const brokers: BrokerSummary[] = targets.map((t) => {
    const mine = runs.filter((r) => r.broker === t.label);
    const withProc = mine.filter((r) => r.process !== undefined);
    const rateOfRun = (r: CompareRun) => (measure === 'retained' ? r.retainedPerSec : r.receivedPerSec);
    const byThroughput = [...mine].sort((a, b) => rateOfRun(a) - rateOfRun(b));
    const middle = byThroughput[Math.floor((byThroughput.length - 1) / 2)];
    const defined = (xs: (number | undefined)[]) => xs.filter((x): x is number => x !== undefined);
    const latency = mine.map((r) => runLatency(measure, r));
    return {
      broker: t.label,
      rounds: mine.length,
      receivedPerSec: spreadOf(mine.map((r) => r.receivedPerSec)),
      sentPerSec: spreadOf(mine.map((r) => r.sentPerSec)),
      connectsPerSec: spreadOf(mine.map((r) => r.connectsPerSec)),
      retainedPerSec: spreadOf(mine.map((r) => r.retainedPerSec)),
      p50: median(defined(latency.map((l) => l?.p50))),
      p99: median(defined(latency.map((l) => l?.p99))),
      p999: median(defined(latency.map((l) => l?.p99_9))),
      errors: mine.reduce((n, r) => n + r.errors, 0),
      lost: mine.reduce((n, r) => n + r.lost, 0),
      ...(scenario.faults.length > 0 ? { faultsLost: mine.reduce((n, r) => n + (r.faultsLost ?? 0), 0) } : {}),
      cpuSeconds: withProc.length > 0 ? spreadOf(withProc.map((r) => r.process!.cpuSeconds)) : undefined,
      peakRssBytes: withProc.length > 0 ? spreadOf(withProc.map((r) => r.process!.peakRssBytes)) : undefined,
      messagesPerCpuSecond: median(defined(mine.map((r) => r.messagesPerCpuSecond))),
      bytesPerConnection: median(defined(mine.map((r) => r.bytesPerConnection))),
      e2eCurve: middle?.e2eCurve,
    };
  });
  const ratios: Record<string, number> = {};
  const bundled = brokers.find((b) => targets.find((t) => t.label === b.broker)?.kind === 'bundled');
  if (bundled) {
    for (const other of brokers) {
      if (other === bundled) continue;
      const ratio =
        measure === 'throughput'
          ? bundled.receivedPerSec.median / other.receivedPerSec.median
          : measure === 'retained'
            ? bundled.retainedPerSec.median / other.retainedPerSec.median
          : measure === 'connect-rate'
            ? bundled.connectsPerSec.median / other.connectsPerSec.median
            : other.bytesPerConnection !== undefined && bundled.bytesPerConnection !== undefined
              ? other.bytesPerConnection / bundled.bytesPerConnection
              : NaN;
      if (Number.isFinite(ratio)) ratios[other.broker] = ratio;
    }
  }
  return {
    scenario: scenario.name,
    description: scenario.description,
    measure,
    brokers,
    ratios,
    ...(scenario.faults.length > 0 ? { faults: scenario.faults.length } : {}),
  };
}

function hasPacedPublish(steps: Step[]): boolean {
  return flatten(steps).some((s) => s.kind === 'publish' && s.clientIntervalUs > 0);
}

/** Messages per second the scenario's paced publishers offer at `factor` times their written rate. */
function offeredRate(scenario: Scenario, factor: number): number {
  let rate = 0;
  for (const g of scenario.groups) {
    for (const s of flatten(g.steps)) {
      if (s.kind === 'publish' && s.clientIntervalUs > 0) rate += (g.clients * 1e6 * factor) / s.clientIntervalUs;
    }
  }
  return rate;
}

/** The scenario with every paced publish step's rate multiplied by `factor`. */
function scaled(scenario: Scenario, factor: number): Scenario {
  const copy = structuredClone(scenario);
  for (const g of copy.groups) {
    for (const s of flatten(g.steps)) {
      if (s.kind === 'publish' && s.clientIntervalUs > 0) s.clientIntervalUs = s.clientIntervalUs / factor;
    }
  }
  return copy;
}

/** A saturation step holds only while publishers send at least this share of the offered rate. */
const SENT_SHORTFALL = 0.95;

async function saturate(
  scenario: Scenario,
  t: Target,
  opts: CompareOptions,
  limits: SaturationOptions,
  incident: (step: number, what: string) => void,
): Promise<SaturationResult> {
  const steps: SaturationStep[] = [];
  let sustained: number | undefined;
  let factor = 1;
  for (let k = 0; k < limits.maxSteps; k++) {
    if (opts.signal?.aborted) break;
    const offered = offeredRate(scenario, factor);
    opts.onStatus?.(`${scenario.name}: saturation step ${k + 1} against ${t.label}, offering ${Math.round(offered)} msg/s`);
    await restart(t, opts, scenario);
    const run = await guardedRun(scaled(scenario, factor), t, k + 1, opts, [], (what) => incident(k + 1, what)).catch((err: unknown) => {
      if (err instanceof BrokerUnreachableError) {
        incident(k + 1, err.message);
        return undefined;
      }
      throw err;
    });
    if (run === undefined) {
      steps.push({ offeredPerSec: offered, sentPerSec: 0, receivedPerSec: 0, p99Us: undefined, lost: 0, errors: 0, held: false, why: 'the broker failed (see incidents)' });
      break;
    }
    const sent = run.sentPerSec;
    const p99 = run.e2e?.p99;
    const reasons: string[] = [];
    // Publishers held back (by the broker's flow control or TCP) send less than offered: that rate did not hold,
    // even when every message sent arrived on time.
    if (sent < offered * SENT_SHORTFALL) reasons.push(`publishers sent ${Math.round(sent)}/s of ${Math.round(offered)}/s offered`);
    if (p99 === undefined) reasons.push('nothing received');
    else if (p99 > limits.p99Us) reasons.push(`p99 ${(p99 / 1000).toFixed(1)} ms > ${(limits.p99Us / 1000).toFixed(1)} ms`);
    if (run.lost > limits.lost) reasons.push(`${run.lost} lost`);
    if (run.errors > limits.errors) reasons.push(`${run.errors} errors`);
    const held = reasons.length === 0;
    steps.push({ offeredPerSec: offered, sentPerSec: sent, receivedPerSec: run.receivedPerSec, p99Us: p99, lost: run.lost, errors: run.errors, held, why: held ? undefined : reasons.join(', ') });
    if (!held) break;
    sustained = offered;
    factor *= limits.factor;
  }
  return { scenario: scenario.name, broker: t.label, limits: { p99Us: limits.p99Us, lost: limits.lost, errors: limits.errors }, steps, sustainedPerSec: sustained };
}
