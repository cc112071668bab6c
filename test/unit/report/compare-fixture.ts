/**
 * A hand-built comparison for the compare renderer tests: the bundled broker, Mosquitto and Aedes started by mqbench,
 * and a remote broker with a hostile label and no process figures; a fan-out throughput scenario, a connection-rate
 * one (where Aedes lost a round and failed its thresholds once), a memory one, and a paced one with saturation
 * searches for two brokers.
 */
import type { BrokerInfo, BrokerSummary, CompareResult, CompareRun, SaturationResult, ScenarioComparison } from '../../../src/compare/result.js';
import type { LatencySummary } from '../../../src/metrics/histogram.js';
import type { PercentileCurve } from '../../../src/run/result.js';

export const BUNDLED = 'bundled';
export const MOSQUITTO = 'mosquitto 2.0.11';
export const AEDES = 'aedes 1.2.0';
/** Markup, a pipe, emphasis, an ANSI escape and a line break that would start a heading: none may reach a report raw. */
export const HOSTILE_BROKER = 'mqtt://evil<img src=x onerror=alert(1)>|**x**\u001b[31m\n# h';
export const HOSTILE_DESCRIPTION = 'Clients connect and leave <b>as fast as</b> | the broker "allows"';

const BROKERS: BrokerInfo[] = [
  { label: BUNDLED, kind: 'bundled', version: '0.1.0', url: 'mqtt://127.0.0.1:41883', local: true },
  { label: MOSQUITTO, kind: 'mosquitto', version: '2.0.11', url: 'mqtt://127.0.0.1:41884', local: true },
  { label: AEDES, kind: 'aedes', version: '1.2.0', url: 'mqtt://127.0.0.1:41885', local: true },
  { label: HOSTILE_BROKER, kind: 'remote', version: '', url: HOSTILE_BROKER, local: false },
];

function curve(p50: number, p99: number, p999: number, max: number): PercentileCurve {
  return [[0, Math.round(p50 / 3)], [50, p50], [90, Math.round((p50 + p99) / 2)], [99, p99], [99.9, p999], [100, max]];
}

function latency(p50: number, p99: number, p999: number): LatencySummary {
  return { count: 100_000, min: Math.round(p50 / 3), mean: p50 * 1.2, p50, p90: (p50 + p99) / 2, p95: p99 * 0.8, p99, p99_9: p999, max: p999 * 2, belowRange: 0, aboveRange: 0 };
}

interface Figures {
  broker: string;
  rounds?: number;
  received: [min: number, median: number, max: number];
  connects?: [min: number, median: number, max: number];
  e2e?: [p50: number, p99: number, p999: number];
  errors?: number;
  lost?: number;
  cpu?: [min: number, median: number, max: number];
  rss?: [min: number, median: number, max: number];
  perCpu?: number;
  perConnection?: [min: number, median: number, max: number];
  connected?: number;
  /** Rounds (1-based) whose thresholds failed. */
  failedRounds?: number[];
}

const spread = (t: [number, number, number]) => ({ min: t[0], median: t[1], max: t[2] });

function summaryOf(f: Figures): BrokerSummary {
  return {
    broker: f.broker,
    rounds: f.rounds ?? 3,
    receivedPerSec: spread(f.received),
    sentPerSec: spread(f.received.map((v) => v / 10) as [number, number, number]),
    connectsPerSec: spread(f.connects ?? [0, 0, 0]),
    retainedPerSec: spread([0, 0, 0]),
    p50: f.e2e?.[0],
    p99: f.e2e?.[1],
    p999: f.e2e?.[2],
    errors: f.errors ?? 0,
    lost: f.lost ?? 0,
    cpuSeconds: f.cpu === undefined ? undefined : spread(f.cpu),
    peakRssBytes: f.rss === undefined ? undefined : spread(f.rss),
    messagesPerCpuSecond: f.perCpu,
    bytesPerConnection: f.perConnection?.[1],
    e2eCurve: f.e2e === undefined ? undefined : curve(f.e2e[0], f.e2e[1], f.e2e[2], f.e2e[2] * 2),
  };
}

/** The rounds behind a summary: the lowest, the median and the highest, in that order. */
function runsOf(scenario: string, f: Figures): CompareRun[] {
  const runs: CompareRun[] = [];
  const pick = (t: [number, number, number] | undefined, i: number): number => (t === undefined ? 0 : [t[0], t[1], t[2]][i]);
  const rounds = f.rounds ?? 3;
  for (let i = 0; i < rounds; i++) {
    runs.push({
      scenario,
      broker: f.broker,
      round: i + 1,
      receivedPerSec: pick(f.received, i),
      sentPerSec: pick(f.received, i) / 10,
      connectsPerSec: pick(f.connects, i),
      retainedPerSec: 0,
      e2e: f.e2e === undefined ? undefined : latency(f.e2e[0], f.e2e[1], f.e2e[2]),
      connect: latency(900, 4_000, 9_000),
      retained: undefined,
      errors: i === 0 ? f.errors ?? 0 : 0,
      lost: i === 0 ? f.lost ?? 0 : 0,
      duplicated: 0,
      peakConnected: f.connected ?? 11,
      process: f.cpu === undefined || f.rss === undefined ? undefined : { cpuSeconds: pick(f.cpu, i), peakRssBytes: pick(f.rss, i) },
      messagesPerCpuSecond: f.perCpu,
      bytesPerConnection: f.perConnection === undefined ? undefined : pick(f.perConnection, i),
      e2eCurve: f.e2e === undefined ? undefined : curve(f.e2e[0], f.e2e[1], f.e2e[2], f.e2e[2] * 2),
      passed: !(f.failedRounds ?? []).includes(i + 1),
      durationMs: 20_000,
    });
  }
  return runs;
}

interface ScenarioFigures {
  scenario: string;
  description: string;
  measure: ScenarioComparison['measure'];
  brokers: Figures[];
  ratios: Record<string, number>;
}

const SCENARIOS: ScenarioFigures[] = [
  {
    scenario: 'fanout-qos1',
    description: '5 publishers as fast as the flow gate allows, 10 subscribers each, QoS 1',
    measure: 'throughput',
    brokers: [
      { broker: BUNDLED, received: [49_200, 50_000, 50_400], e2e: [850, 3_200, 7_900], cpu: [4.1, 4.21, 4.4], rss: [50_000_000, 52_428_800, 53_000_000], perCpu: 11_876.5 },
      { broker: MOSQUITTO, received: [5_700, 5_889, 6_010], e2e: [12_400, 48_000, 95_500], lost: 12, cpu: [9.9, 9.98, 10.1], rss: [7_000_000, 7_340_032, 7_400_000], perCpu: 590.1 },
      { broker: AEDES, received: [15_900, 16_129, 16_300], e2e: [4_100, 22_000, 61_000], errors: 3, cpu: [19.2, 19.6, 19.9], rss: [90_000_000, 94_371_840, 95_000_000], perCpu: 822.9 },
      { broker: HOSTILE_BROKER, received: [19_500, 20_000, 20_300], e2e: [2_000, 9_000, 30_000] },
    ],
    ratios: { [MOSQUITTO]: 50_000 / 5_889, [AEDES]: 50_000 / 16_129, [HOSTILE_BROKER]: 2.5 },
  },
  {
    scenario: 'connect-storm',
    description: HOSTILE_DESCRIPTION,
    measure: 'connect-rate',
    brokers: [
      { broker: BUNDLED, received: [0, 0, 0], connects: [4_000, 4_200, 4_350], cpu: [1.5, 1.62, 1.7], rss: [60_000_000, 62_914_560, 63_000_000], perConnection: [6_000, 6_144, 6_300], connected: 10_000 },
      { broker: MOSQUITTO, received: [0, 0, 0], connects: [3_400, 3_500, 3_600], cpu: [1.1, 1.2, 1.3], rss: [20_000_000, 20_971_520, 21_000_000], perConnection: [2_000, 2_048, 2_100], connected: 10_000 },
      { broker: AEDES, rounds: 2, received: [0, 0, 0], connects: [1_200, 1_250, 1_300], cpu: [6.0, 6.4, 6.8], rss: [200_000_000, 209_715_200, 210_000_000], perConnection: [20_000, 20_480, 21_000], connected: 10_000, errors: 41, failedRounds: [2] },
      { broker: HOSTILE_BROKER, received: [0, 0, 0], connects: [1_900, 2_000, 2_100], connected: 10_000 },
    ],
    ratios: { [MOSQUITTO]: 4_200 / 3_500, [AEDES]: 4_200 / 1_250, [HOSTILE_BROKER]: 2.1 },
  },
  {
    scenario: 'idle-10k',
    description: '10,000 clients connect, subscribe, and stay idle for 30 s',
    measure: 'memory',
    brokers: [
      { broker: BUNDLED, received: [0, 0, 0], connects: [3_000, 3_100, 3_200], cpu: [0.8, 0.85, 0.9], rss: [80_000_000, 81_000_000, 82_000_000], perConnection: [3_000, 3_100, 3_400], connected: 10_000 },
      { broker: MOSQUITTO, received: [0, 0, 0], connects: [3_000, 3_050, 3_100], cpu: [0.5, 0.55, 0.6], rss: [18_000_000, 18_500_000, 19_000_000], perConnection: [1_000, 1_024, 1_050], connected: 10_000 },
      { broker: AEDES, received: [0, 0, 0], connects: [1_000, 1_100, 1_150], cpu: [3.1, 3.3, 3.5], rss: [150_000_000, 152_000_000, 155_000_000], perConnection: [9_700, 9_830, 9_900], connected: 10_000 },
      { broker: HOSTILE_BROKER, received: [0, 0, 0], connects: [2_000, 2_100, 2_200], connected: 10_000 },
    ],
    // The remote broker has no memory figure, so no ratio.
    ratios: { [MOSQUITTO]: 1_024 / 3_100, [AEDES]: 9_830 / 3_100 },
  },
  {
    scenario: 'paced-qos0',
    description: '1 publisher at 2,000 msg/s to 5 subscribers, QoS 0',
    measure: 'throughput',
    brokers: [
      { broker: BUNDLED, received: [9_990, 10_000, 10_002], e2e: [310, 900, 1_800], cpu: [1.0, 1.1, 1.2], rss: [40_000_000, 41_000_000, 42_000_000], perCpu: 9_090.9 },
      { broker: MOSQUITTO, received: [9_980, 9_998, 10_000], e2e: [260, 800, 2_600], cpu: [0.9, 0.95, 1.0], rss: [6_000_000, 6_100_000, 6_200_000], perCpu: 10_524.2 },
      { broker: AEDES, received: [9_900, 9_990, 10_000], e2e: [1_100, 5_200, 9_900], cpu: [2.9, 3.0, 3.1], rss: [88_000_000, 89_000_000, 90_000_000], perCpu: 3_330 },
      { broker: HOSTILE_BROKER, received: [9_995, 10_000, 10_001], e2e: [700, 2_100, 4_400] },
    ],
    ratios: { [MOSQUITTO]: 10_000 / 9_998, [AEDES]: 10_000 / 9_990, [HOSTILE_BROKER]: 1 },
  },
];

const LIMITS = { p99Us: 50_000, lost: 0, errors: 0 };

function saturation(): SaturationResult[] {
  const held = (offered: number, received: number, p99: number) => ({ offeredPerSec: offered, sentPerSec: offered, receivedPerSec: received, p99Us: p99, lost: 0, errors: 0, held: true, why: undefined });
  return [
    {
      scenario: 'paced-qos0',
      broker: BUNDLED,
      limits: { ...LIMITS },
      steps: [
        held(2_000, 10_000, 900),
        held(3_000, 15_000, 1_400),
        held(4_500, 22_500, 2_900),
        held(6_750, 33_750, 8_800),
        { offeredPerSec: 10_125, sentPerSec: 10_125, receivedPerSec: 41_200, p99Us: 120_400, lost: 0, errors: 0, held: false, why: 'p99 120.4 ms > 50.0 ms' },
      ],
      sustainedPerSec: 6_750,
    },
    {
      scenario: 'paced-qos0',
      broker: MOSQUITTO,
      limits: { ...LIMITS },
      steps: [
        held(2_000, 9_998, 800),
        held(3_000, 14_990, 4_100),
        { offeredPerSec: 4_500, sentPerSec: 4_500, receivedPerSec: 20_100, p99Us: 88_000, lost: 12, errors: 0, held: false, why: 'p99 88.0 ms > 50.0 ms, 12 lost' },
      ],
      sustainedPerSec: 3_000,
    },
  ];
}

export function compareResult(): CompareResult {
  const runs: CompareRun[] = [];
  // Alternating as the orchestration runs them: round 1 of every broker, then round 2, ...
  for (const s of SCENARIOS) {
    const perBroker = s.brokers.map((f) => runsOf(s.scenario, f));
    for (let round = 0; round < 3; round++) for (const list of perBroker) if (round < list.length) runs.push(list[round]);
  }
  return {
    tool: { name: 'mqbench', version: '0.1.0' },
    generatedAt: '2025-06-01T12:00:00.000Z',
    machine: { cpus: 2, cpuModel: 'Intel(R) Xeon(R) CPU @ 2.20GHz', memoryBytes: 8_340_000_000, node: 'v20.19.0', platform: 'linux x64' },
    command: 'mqbench compare scenarios/fanout-qos1.yaml scenarios/connect-storm.yaml scenarios/idle-10k.yaml scenarios/paced-qos0.yaml --broker bundled --broker mosquitto --broker aedes --broker mqtt://remote:1883 --rounds 3 --saturate',
    rounds: 3,
    brokers: BROKERS.map((b) => ({ ...b })),
    scenarios: SCENARIOS.map((s) => ({
      scenario: s.scenario,
      description: s.description,
      measure: s.measure,
      brokers: s.brokers.map(summaryOf),
      ratios: { ...s.ratios },
    })),
    runs,
    saturation: saturation(),
    incidents: [{ scenario: 'connect-storm', broker: 'aedes 1.2.0', round: 2, what: 'aedes 1.2.0 exited during the run (last output: RangeError: Maximum call stack size exceeded <stack>)' }],
  };
}
