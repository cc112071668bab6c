/**
 * Hand-built RunResults for the renderer tests: a busy QoS 1 fan-out run with a failed threshold, errors, a broken
 * stream and a hostile client id, and an empty run with nothing in it.
 */
import type { DeliveryCounts, DeliverySummary, DeliveryVerdict } from '../../../src/metrics/delivery.js';
import type { LatencySummary } from '../../../src/metrics/histogram.js';
import type { CounterName, CounterSeries } from '../../../src/metrics/series.js';
import type { Threshold, ThresholdResult } from '../../../src/metrics/thresholds.js';
import type { GroupResult, PercentileCurve, RunResult, Totals } from '../../../src/run/result.js';

export const HOSTILE_ID = '<script>alert(1)</script>';

export function latency(values: Partial<LatencySummary> & { count: number }): LatencySummary {
  return {
    min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p99_9: 0, max: 0, belowRange: 0, aboveRange: 0, ...values,
  };
}

export function counts(values: Partial<DeliveryCounts> = {}): DeliveryCounts {
  return {
    streams: 0, sent: 0, acknowledged: 0, received: 0, duplicated: 0, outOfOrder: 0, late: 0, lost: 0,
    lostAcknowledged: 0, inFlightAtStop: 0, ...values,
  };
}

function counters(values: Partial<Record<CounterName, number>> = {}): Record<CounterName, number> {
  return {
    connectsOk: 0, connectsFailed: 0, disconnects: 0, subscribesOk: 0, subscribesFailed: 0, messagesSent: 0,
    bytesSent: 0, messagesReceived: 0, bytesReceived: 0, acksReceived: 0, publishesFailed: 0, retainedReceived: 0, ...values,
  };
}

function totals(c: Partial<Record<CounterName, number>>, errors: Record<string, number>, sent: number, received: number): Totals {
  let errorsTotal = 0;
  for (const n of Object.values(errors)) errorsTotal += n;
  const sentMessages = c.messagesSent ?? 0;
  const receivedMessages = (c.messagesReceived ?? 0) - (c.retainedReceived ?? 0);
  return {
    counters: counters(c),
    errors,
    errorsTotal,
    sentPerSec: sentMessages > 1 ? sent : null,
    receivedPerSec: receivedMessages > 1 ? received : null,
    connectsPerSec: (c.connectsOk ?? 0) > 1 ? (c.connectsOk! - 1) / 0.5 : null,
    retainedPerSec: (c.retainedReceived ?? 0) > 1 ? (c.retainedReceived! - 1) / 0.5 : null,
    connectedSpan: (c.connectsOk ?? 0) > 0 ? { firstMs: 200, lastMs: 700 } : null,
    sentSpan: sentMessages > 0 ? { firstMs: 1_000, lastMs: 1_000 + (sent > 0 ? ((sentMessages - 1) / sent) * 1000 : 0) } : null,
    receivedSpan:
      receivedMessages > 0 ? { firstMs: 1_001, lastMs: 1_001 + (received > 0 ? ((receivedMessages - 1) / received) * 1000 : 0) } : null,
    busiestSent: sentMessages > 0 ? { second: 2, messages: Math.min(sentMessages, Math.ceil(sent)) } : null,
    busiestReceived: receivedMessages > 0 ? { second: 2, messages: Math.min(receivedMessages, Math.ceil(received)) } : null,
  };
}

function threshold(source: string, t: Omit<Threshold, 'source'>): Threshold {
  return { source, ...t };
}

function series(seconds: number): CounterSeries {
  const sent = [0, 4000, 5000, 5000, 1000].slice(0, seconds);
  const received = [0, 39_000, 50_000, 49_980, 11_000].slice(0, seconds);
  const row = (values: number[]): number[] => values.slice(0, seconds);
  return {
    seconds,
    counters: {
      connectsOk: row([110, 0, 0, 0, 0]),
      connectsFailed: row([3, 0, 0, 0, 0]),
      disconnects: row([0, 0, 0, 0, 110]),
      subscribesOk: row([100, 0, 0, 0, 0]),
      subscribesFailed: row([0, 0, 0, 0, 0]),
      messagesSent: sent,
      bytesSent: row(sent.map((n) => n * 64)),
      messagesReceived: received,
      bytesReceived: row(received.map((n) => n * 64)),
      acksReceived: row([0, 4000, 5000, 5000, 1000]),
      publishesFailed: row([0, 0, 0, 0, 0]),
      retainedReceived: row([0, 0, 0, 0, 0]),
    },
    gauges: { connectionsOpen: row([107, 110, 110, 110, 0]), inflight: row([0, 12, 9, 10, 0]) },
    errors: { 'connect-refused': row([3, 0, 0, 0, 0]), takeover: row([0, 0, 1, 0, 0]) },
  };
}

const E2E_CURVE: PercentileCurve = [
  [0, 80], [50, 420], [75, 900], [90, 1_800], [95, 2_600], [99, 4_210], [99.9, 12_300], [99.99, 20_100], [100, 1_234_000],
];
const CONNECT_CURVE: PercentileCurve = [[0, 700], [50, 1_200], [90, 2_300], [99, 3_100], [100, 3_500]];
const PUBLISH_CURVE: PercentileCurve = [[0, 150], [50, 600], [90, 1_100], [99, 2_000], [99.9, 3_000], [100, 3_200]];

export const E2E = latency({
  count: 149_980, min: 80, mean: 611.5, p50: 420, p90: 1_800, p95: 2_600, p99: 4_210, p99_9: 12_300, max: 1_234_000,
});
export const CONNECT = latency({ count: 110, min: 700, mean: 1_300, p50: 1_200, p90: 2_300, p95: 2_700, p99: 3_100, p99_9: 3_500, max: 3_500 });
export const PUBLISH = latency({ count: 15_000, min: 150, mean: 640, p50: 600, p90: 1_100, p95: 1_400, p99: 2_000, p99_9: 3_000, max: 3_200 });
export const SUBSCRIBE = latency({ count: 100, min: 300, mean: 410, p50: 400, p90: 500, p95: 520, p99: 600, p99_9: 610, max: 610 });

export const QOS1 = counts({
  streams: 1_000, sent: 150_000, acknowledged: 149_990, received: 149_980, duplicated: 2, outOfOrder: 1, lost: 22,
  lostAcknowledged: 12,
});

export function fanoutResult(): RunResult {
  const summary: DeliverySummary = { qos0: counts(), qos1: QOS1, qos2: counts() };
  const verdicts: DeliveryVerdict[] = [
    { qos: 1, held: false, detail: 'at least once: broken (12 acknowledged lost)', counts: QOS1 },
  ];
  const publishers: GroupResult = {
    name: 'publishers',
    clients: 10,
    latency: { connect: latency({ ...CONNECT, count: 10 }), publish: PUBLISH },
    totals: totals({ connectsOk: 10, messagesSent: 15_000, acksReceived: 15_000, bytesSent: 960_000 }, {}, 5_000, 0),
    delivery: { qos0: counts(), qos1: counts(), qos2: counts() },
    intervals: [],
    intervalEvery: undefined,
    faults: [],
  };
  const subscribers: GroupResult = {
    name: 'subscribers',
    clients: 100,
    latency: { connect: latency({ ...CONNECT, count: 100 }), subscribe: SUBSCRIBE, e2e: E2E },
    totals: totals(
      { connectsOk: 100, connectsFailed: 3, subscribesOk: 100, messagesReceived: 149_980, bytesReceived: 9_598_720 },
      { 'connect-refused': 3, takeover: 1 },
      0,
      49_993.3,
    ),
    delivery: summary,
    intervals: [
      { second: 0, messages: 39_000, latency: latency({ count: 39_000, min: 80, p50: 400, p90: 1_700, p99: 4_000, max: 9_000, mean: 600 }) },
      { second: 1, messages: 0, latency: latency({ count: 0 }) },
      { second: 2, messages: 50_000, latency: latency({ count: 50_000, min: 90, p50: 430, p90: 1_900, p99: 4_300, max: 1_234_000, mean: 620 }) },
    ],
    intervalEvery: '1s',
    faults: [],
  };
  return {
    tool: { name: 'mqbench', version: '0.1.0' },
    scenario: { name: 'qos1-fanout', description: 'Ten publishers, a hundred subscribers, QoS 1.', file: 'scenarios/qos1-fanout.yaml' },
    target: { kind: 'bundled', url: 'mqtt://127.0.0.1:40123', protocol: 'MQTT 5' },
    startedAt: '2026-11-23T17:40:00.000Z',
    endedAt: '2026-11-23T17:40:05.250Z',
    durationMs: 5_250,
    stoppedBy: 'completed',
    workers: 2,
    clients: 110,
    failedClients: 3,
    latency: { connect: CONNECT, subscribe: SUBSCRIBE, publish: PUBLISH, e2e: E2E },
    totals: totals(
      {
        connectsOk: 110, connectsFailed: 3, disconnects: 110, subscribesOk: 100, messagesSent: 15_000,
        bytesSent: 960_000, messagesReceived: 149_980, bytesReceived: 9_598_720, acksReceived: 15_000,
      },
      { 'connect-refused': 3, takeover: 1 },
      5_000,
      49_993.3,
    ),
    delivery: {
      summary,
      total: QOS1,
      verdicts,
      problems: [
        {
          receiver: HOSTILE_ID, publisher: 'pub-3', topic: 'bench/a|b,"c"', qos: 1, sent: 1_500, acknowledged: 1_500,
          received: 1_488, lost: 12, duplicated: 0, outOfOrder: 0,
        },
        {
          receiver: 'sub-7', publisher: 'pub-1', topic: 'bench/1', qos: 1, sent: 1_500, acknowledged: 1_499,
          received: 1_492, lost: 10, duplicated: 2, outOfOrder: 1,
        },
      ],
      problemStreams: 2,
      unjudged: { streams: 0, messages: 0 },
    },
    groups: [publishers, subscribers],
    curves: {
      run: { connect: CONNECT_CURVE, publish: PUBLISH_CURVE, e2e: E2E_CURVE },
      groups: {
        publishers: { connect: CONNECT_CURVE, publish: PUBLISH_CURVE },
        subscribers: { connect: CONNECT_CURVE, e2e: E2E_CURVE },
      },
    },
    series: series(5),
    thresholds: [
      {
        threshold: threshold('e2e.p99 < 20ms', { kind: 'latency', metric: 'e2e', stat: 'p99', op: '<', value: 20_000, unit: 'ms' }),
        actual: 4_210,
        passed: true,
        describe: 'e2e.p99 = 4.21ms, limit < 20ms',
      },
      {
        threshold: threshold('lost == 0', { kind: 'counter', metric: 'lost', op: '==', value: 0, unit: '' }),
        actual: 22,
        passed: false,
        describe: 'lost = 22, limit == 0',
      },
    ] satisfies ThresholdResult[],
    errorExamples: [
      { kind: 'connect-refused', clientId: 'sub-101', detail: 'ECONNREFUSED 127.0.0.1:40123', atMs: 12 },
      { kind: 'takeover', clientId: HOSTILE_ID, detail: 'closed by the broker\nafter "another" <client>', atMs: 2_345 },
    ],
    takeovers: { count: 1, clientIds: [HOSTILE_ID] },
    faults: [],
    broker: { sys: null },
    notes: ['sub-7 reconnected 3 times: its client id is shared with another client'],
    passed: false,
  };
}

/** A run that did nothing: no groups, no samples, no series, no thresholds. */
export function emptyResult(): RunResult {
  const none: DeliverySummary = { qos0: counts(), qos1: counts(), qos2: counts() };
  return {
    tool: { name: 'mqbench', version: '0.1.0' },
    scenario: { name: 'empty', description: '', file: 'empty.yaml' },
    target: { kind: 'remote', url: 'mqtt://broker.invalid:1883', protocol: '' },
    startedAt: '2026-11-23T17:40:00.000Z',
    endedAt: '2026-11-23T17:40:00.000Z',
    durationMs: 0,
    stoppedBy: 'completed',
    workers: 0,
    clients: 0,
    failedClients: 0,
    latency: {},
    totals: totals({}, {}, 0, 0),
    delivery: { summary: none, total: counts(), verdicts: [], problems: [], problemStreams: 0, unjudged: { streams: 0, messages: 0 } },
    groups: [],
    curves: { run: {}, groups: {} },
    series: { seconds: 0, counters: series(0).counters, gauges: { connectionsOpen: [], inflight: [] }, errors: {} },
    thresholds: [],
    errorExamples: [],
    takeovers: { count: 0, clientIds: [] },
    faults: [],
    broker: { sys: null },
    notes: [],
    passed: true,
  };
}

/**
 * The retain example's shape: keepers publish one retained message each and leave; late subscribers are sent the
 * stored copies. Nothing live reaches a subscriber: every delivery is a retained copy.
 */
export function retainedResult(): RunResult {
  const r = emptyResult();
  const retained = latency({ count: 50, min: 985_000, mean: 992_000, p50: 992_000, p90: 997_000, p95: 999_000, p99: 999_000, p99_9: 999_000, max: 999_000 });
  r.scenario = { name: 'retain', description: 'Ten retained topics, read by five late subscribers, then cleared.', file: 'scenarios/retain.yaml' };
  r.clients = 25;
  r.workers = 2;
  r.latency = { retained };
  r.totals = totals({ connectsOk: 25, subscribesOk: 5, messagesSent: 20, messagesReceived: 50, retainedReceived: 50, acksReceived: 20 }, {}, 7.6, 9_800);
  r.groups = [
    {
      name: 'latecomers',
      clients: 5,
      latency: { retained },
      totals: totals({ connectsOk: 5, subscribesOk: 5, messagesReceived: 50, retainedReceived: 50 }, {}, 0, 9_800),
      delivery: { qos0: counts(), qos1: counts(), qos2: counts() },
      intervals: [],
      intervalEvery: undefined,
      faults: [],
    },
  ];
  return r;
}

/**
 * A QoS 1 fan-in interrupted while its subscriber was behind: 100 of 963 acknowledged messages arrived, the other 863
 * were still queued for it when the run ended.
 */
export function interruptedResult(): RunResult {
  const r = emptyResult();
  const qos1 = counts({ streams: 1, sent: 963, acknowledged: 963, received: 100, inFlightAtStop: 863 });
  r.scenario = { name: 'bench-qos1-fanin', description: '', file: 'scenarios/bench/qos1-fanin.yaml' };
  r.stoppedBy = 'interrupted';
  r.passed = false;
  r.clients = 2;
  r.totals = totals({ connectsOk: 2, subscribesOk: 1, messagesSent: 963, acksReceived: 963, messagesReceived: 100 }, {}, 480, 50);
  r.delivery = {
    summary: { qos0: counts(), qos1, qos2: counts() },
    total: qos1,
    verdicts: [{ qos: 1, held: true, detail: 'at least once: held', counts: qos1 }],
    problems: [],
    problemStreams: 0,
    unjudged: { streams: 0, messages: 0 },
  };
  return r;
}

/** The slow-consumer example: one persistent session falls 215 behind, goes away, comes back and catches up. */
export function slowConsumerResult(): RunResult {
  const r = emptyResult();
  r.scenario = { name: 'slow-consumer', description: '', file: 'scenarios/slow-consumer.yaml' };
  r.clients = 2;
  r.totals = totals({ messagesSent: 300, messagesReceived: 300, acksReceived: 300 }, {}, 200, 174);
  r.groups = [
    {
      name: 'laggard',
      clients: 1,
      latency: {},
      totals: totals({ messagesReceived: 300 }, {}, 0, 174),
      delivery: { qos0: counts(), qos1: counts({ streams: 1, sent: 300, acknowledged: 300, received: 300 }), qos2: counts() },
      intervals: [],
      intervalEvery: undefined,
      faults: [],
      queueDepth: {
        subscribers: 1,
        seconds: 4,
        total: [104, 215, 0, 0],
        max: [104, 215, 0, 0],
        worst: [{ clientId: 'laggard', peak: 215, behind: [104, 215, 0, 0] }],
      },
    },
  ];
  // The bundled broker's own view: 61 retained $SYS values, the backlog on top (published once a second, on change).
  r.broker.sys = {
    storedMessages: [{ second: 0, value: 61 }, { second: 1, value: 180 }, { second: 2, value: 276 }, { second: 3, value: 61 }],
    retainedMessages: [{ second: 0, value: 61 }],
    dropped: [{ second: 0, value: 4 }],
    clientsConnected: [{ second: 0, value: 1 }, { second: 1, value: 3 }, { second: 3, value: 2 }],
    missing: null,
  };
  return r;
}

/**
 * The durability example on Mosquitto: kill -9 at 2 s lost 65 QoS 1 and 75 QoS 2 messages the broker had acknowledged
 * before it, and 44 came twice after it; a second fault, a restart, lost nothing; a third never happened.
 */
export function faultsResult(): RunResult {
  const r = emptyResult();
  r.scenario = { name: 'durability', description: '', file: 'scenarios/durability.yaml' };
  r.stoppedBy = 'duration';
  const fault = (index: number, action: 'kill-broker' | 'restart-broker', atMs: number) => ({
    index,
    action,
    signal: action === 'kill-broker' ? ('SIGKILL' as const) : ('SIGTERM' as const),
    atMs,
    downForMs: 0,
    firedAtMs: atMs + 1,
    brokerExit: action === 'kill-broker' ? 'killed by SIGKILL' : 'exited with code 0',
    stoppedAtMs: atMs + 3,
    backAtMs: atMs + 68,
    pidBefore: 100 + index,
    pidAfter: 200 + index,
    error: null,
    unconfirmedWorkers: 0,
    delivery: { qos0: zeroFault(), qos1: zeroFault(), qos2: zeroFault() },
  });
  const kill = fault(1, 'kill-broker', 2_000);
  kill.delivery.qos1 = { acknowledged: 220, lostAcknowledged: 65, duplicated: 33 };
  kill.delivery.qos2 = { acknowledged: 220, lostAcknowledged: 75, duplicated: 11 };
  const restart = fault(2, 'restart-broker', 3_000);
  restart.delivery.qos1 = { acknowledged: 100, lostAcknowledged: 0, duplicated: 0 };
  const never = { ...fault(3, 'kill-broker', 3_900), firedAtMs: null, brokerExit: null, stoppedAtMs: null, backAtMs: null, pidBefore: null, pidAfter: null };
  r.faults = [kill, restart, never];
  return r;
}

/** A run whose broker did not come back after its fault. */
export function brokerLostResult(): RunResult {
  const r = faultsResult();
  r.stoppedBy = 'broker-lost';
  r.passed = false;
  const f = r.faults[0];
  r.faults = [{ ...f, backAtMs: null, pidAfter: null, error: 'the broker did not come back within 2 s after fault 1 (kill-broker): the bundled broker failed to start on 127.0.0.1:4242: exited with code 3 during start-up' }];
  return r;
}

function zeroFault(): { acknowledged: number; lostAcknowledged: number; duplicated: number } {
  return { acknowledged: 0, lostAcknowledged: 0, duplicated: 0 };
}
