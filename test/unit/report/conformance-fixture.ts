/**
 * A hand-built conformance report for the renderer tests: Mosquitto and a second broker with a hostile name, both
 * MQTT versions, with passes, failures with packet traces, skips quoting the broker's declaration, an error, allowed
 * failures with known deviations, statements that are not checked (for a reason in the table, or because no check
 * covers them), and a message full of markup and control characters.
 */
import type { CheckOutcome, CheckStatus, StatementOutcome } from '../../../src/conformance/runner.js';
import { statement, type MqttVersion } from '../../../src/conformance/statements.js';
import type { Capabilities } from '../../../src/conformance/check.js';
import type { ConformanceReport, ConformanceRun } from '../../../src/report/conformance-model.js';

export const HOSTILE_BROKER = 'mqtt://evil<b>&"co"\u0007/</script>';
/** Markup, quotes, a NUL, an ANSI escape, a bell, a form feed and a lone surrogate: none may reach a report raw. */
export const HOSTILE_MESSAGE = 'expected <connack rc="0"> & a "close"\u0000 got \u001b[31mnothing\u0007\f\ud800 ]]>';
export const HOSTILE_TOPIC = 'a/<b>&"t"/\u001b';
export const MOSQUITTO = 'mosquitto 2.0.11';
export const UNSUPPORTED_LEVEL_MESSAGE = 'CONNACK return code 0 for protocol level 7, expected 1 (unacceptable protocol version)\nthe broker accepted the session anyway';
export const QOS_BITS_DEVIATION = 'Mosquitto closes the connection without sending DISCONNECT 0x81 <Malformed Packet>; the spec says it "MUST" send it & then close.';
export const EMPTY_SUBSCRIBE_DEVIATION = 'Mosquitto answers a SUBSCRIBE with no filter with a SUBACK instead of closing.';

function caps(version: MqttVersion, declared: string[]): Capabilities {
  return {
    maximumQoS: 2,
    retainAvailable: true,
    wildcardSubscriptions: true,
    subscriptionIdentifiers: version === '5.0',
    sharedSubscriptions: version === '5.0',
    topicAliasMaximum: version === '5.0' ? 10 : 0,
    receiveMaximum: 65535,
    maximumPacketSize: undefined,
    declared,
  };
}

function check(id: string, statements: string[], status: CheckStatus, extra: Partial<CheckOutcome> = {}): CheckOutcome {
  const version = id.startsWith('5.0/') ? '5.0' : '3.1.1';
  return { id, version, statements, title: `the broker keeps ${statements.join(', ')}`, status, durationMs: 12, ...extra };
}

/** A statement row as the runner writes it, its chapter and summary from the real statement table. */
function row(version: MqttVersion, id: string, status: StatementOutcome['status'], checks: string[], note?: string): StatementOutcome {
  const st = statement(id, version);
  return { id, version, chapter: st.chapter, summary: st.summary, status, note: note ?? st.reason, checks };
}

const CONNECT_TRACE: CheckOutcome['trace'] = [
  {
    client: 'client 1',
    events: [
      { atMs: 0, dir: 'sent', what: 'connect(level=7 "mqc1a2b3c0c1")' },
      { atMs: 3, dir: 'received', what: 'connack(rc=0 sp=0)' },
      { atMs: 2004, dir: 'closed', what: 'by the client' },
    ],
  },
];

function mosquittoRun(): ConformanceRun {
  const checks: CheckOutcome[] = [
    check('3.1.1/3.1/first-packet-not-connect', ['MQTT-3.1.0-1'], 'pass'),
    check('3.1.1/3.1/second-connect', ['MQTT-3.1.0-2'], 'pass', { durationMs: 1500 }),
    check('3.1.1/3.1/unsupported-level', ['MQTT-3.1.2-2'], 'fail', { message: UNSUPPORTED_LEVEL_MESSAGE, trace: CONNECT_TRACE, durationMs: 2010 }),
    check('3.1.1/3.8/empty-subscribe', ['MQTT-3.8.3-3'], 'fail', {
      message: 'the broker answered suback(m1 []) instead of closing',
      allowed: true,
      trace: [
        {
          client: 'client 1',
          events: [
            { atMs: 0, dir: 'sent', what: 'connect("mqc1a2b3c3c1")' },
            { atMs: 1, dir: 'received', what: 'connack(rc=0 sp=0)' },
            { atMs: 2, dir: 'raw', what: '820200' },
            { atMs: 4, dir: 'received', what: 'suback(m1 [])' },
          ],
        },
      ],
    }),
    check('3.1.1/3.8/no-wildcards', ['MQTT-3.8.3-2'], 'skip', {
      message: 'the broker offers wildcard subscriptions',
      declaration: 'SUBACK granted QoS 2 for a QoS 2 subscription',
    }),
    check('5.0/3.1/first-packet-not-connect', ['MQTT-3.1.0-1'], 'pass'),
    check('5.0/3.1/second-connect', ['MQTT-3.1.0-2'], 'pass'),
    check('5.0/3.3/qos-bits-11', ['MQTT-3.3.1-4'], 'fail', {
      message: 'the connection closed without DISCONNECT 0x81',
      allowed: true,
      trace: [{ client: 'client 1', events: [{ atMs: 0, dir: 'raw', what: '36000161' }, { atMs: 1, dir: 'closed', what: 'by the broker' }] }],
    }),
    check('5.0/3.8/no-local', ['MQTT-3.8.3-3'], 'pass'),
    check('5.0/3.8/shared-no-local', ['MQTT-3.8.3-4'], 'skip', {
      message: 'the broker does not offer sharedSubscriptions',
      declaration: 'CONNACK sharedSubscriptionAvailable=false',
    }),
    check('5.0/4.7/hash-last', ['MQTT-4.7.1-1', 'MQTT-4.7.1-2'], 'error', { message: 'cannot connect: ECONNRESET', durationMs: 30 }),
  ];
  const statements: StatementOutcome[] = [
    row('3.1.1', 'MQTT-3.1.0-1', 'pass', ['3.1.1/3.1/first-packet-not-connect']),
    row('3.1.1', 'MQTT-3.1.0-2', 'pass', ['3.1.1/3.1/second-connect']),
    row('3.1.1', 'MQTT-3.1.2-2', 'fail', ['3.1.1/3.1/unsupported-level'], '3.1.1/3.1/unsupported-level'),
    row('3.1.1', 'MQTT-3.1.3-7', 'not-checked', []),
    row('3.1.1', 'MQTT-3.8.3-2', 'skip', ['3.1.1/3.8/no-wildcards']),
    row('3.1.1', 'MQTT-3.8.3-3', 'fail', ['3.1.1/3.8/empty-subscribe'], '3.1.1/3.8/empty-subscribe'),
    row('5.0', 'MQTT-3.1.0-1', 'pass', ['5.0/3.1/first-packet-not-connect']),
    row('5.0', 'MQTT-3.1.0-2', 'pass', ['5.0/3.1/second-connect']),
    row('5.0', 'MQTT-3.1.2-20', 'not-checked', []),
    row('5.0', 'MQTT-3.3.1-2', 'not-checked', []),
    row('5.0', 'MQTT-3.3.1-4', 'fail', ['5.0/3.3/qos-bits-11'], '5.0/3.3/qos-bits-11'),
    row('5.0', 'MQTT-3.8.3-3', 'pass', ['5.0/3.8/no-local']),
    row('5.0', 'MQTT-3.8.3-4', 'skip', ['5.0/3.8/shared-no-local']),
    row('5.0', 'MQTT-4.7.1-1', 'error', ['5.0/4.7/hash-last'], '5.0/4.7/hash-last'),
    row('5.0', 'MQTT-4.7.1-2', 'error', ['5.0/4.7/hash-last'], '5.0/4.7/hash-last'),
  ];
  return {
    broker: MOSQUITTO,
    reachable: true,
    capabilities: {
      '3.1.1': caps('3.1.1', ['SUBACK granted QoS 2 for a QoS 2 subscription']),
      '5.0': caps('5.0', ['CONNACK topicAliasMaximum=10', 'CONNACK sharedSubscriptionAvailable=false']),
    },
    checks,
    statements,
    startedAt: '2025-03-04T10:20:30.456Z',
    durationMs: 4200,
    deviations: {
      '5.0/3.3/qos-bits-11': QOS_BITS_DEVIATION,
      '3.1.1/3.8/empty-subscribe': EMPTY_SUBSCRIBE_DEVIATION,
      // A documented deviation whose check passed here: nothing to explain, so no report lists it.
      '5.0/3.8/no-local': 'Mosquitto 1.x delivered a client its own messages.',
    },
  };
}

function hostileRun(): ConformanceRun {
  const checks: CheckOutcome[] = [
    check('3.1.1/3.1/first-packet-not-connect', ['MQTT-3.1.0-1'], 'pass'),
    check('3.1.1/3.1/second-connect', ['MQTT-3.1.0-2'], 'fail', {
      message: HOSTILE_MESSAGE,
      trace: [
        {
          client: 'client 1',
          events: [
            { atMs: 0, dir: 'sent', what: 'connect("mqc9z9z9z1c1")' },
            { atMs: 2, dir: 'received', what: 'connack(rc=0 sp=0)' },
            { atMs: 3, dir: 'sent', what: `publish(q0 r0 d0 "${HOSTILE_TOPIC}" 3B)` },
            { atMs: 5, dir: 'sent', what: 'connect("mqc9z9z9z1c1")' },
          ],
        },
        { client: 'client 2', events: [] },
      ],
    }),
    check('3.1.1/3.1/unsupported-level', ['MQTT-3.1.2-2'], 'pass'),
    check('3.1.1/3.8/empty-subscribe', ['MQTT-3.8.3-3'], 'pass'),
    check('3.1.1/3.8/no-wildcards', ['MQTT-3.8.3-2'], 'pass'),
    check('5.0/3.1/first-packet-not-connect', ['MQTT-3.1.0-1'], 'pass'),
    check('5.0/3.1/second-connect', ['MQTT-3.1.0-2'], 'pass'),
    check('5.0/3.3/qos-bits-11', ['MQTT-3.3.1-4'], 'pass'),
    check('5.0/3.8/no-local', ['MQTT-3.8.3-3'], 'fail', {
      message: 'the subscriber received its own message on a No Local subscription',
      trace: [{ client: 'client 1', events: [{ atMs: 7, dir: 'received', what: 'publish(q0 r0 d0 "mqbench-conformance/x/t" 5B)' }] }],
    }),
    check('5.0/3.8/shared-no-local', ['MQTT-3.8.3-4'], 'pass'),
    check('5.0/4.7/hash-last', ['MQTT-4.7.1-1', 'MQTT-4.7.1-2'], 'pass'),
  ];
  const statements: StatementOutcome[] = [
    row('3.1.1', 'MQTT-3.1.0-1', 'pass', ['3.1.1/3.1/first-packet-not-connect']),
    row('3.1.1', 'MQTT-3.1.0-2', 'fail', ['3.1.1/3.1/second-connect'], '3.1.1/3.1/second-connect'),
    row('3.1.1', 'MQTT-3.1.2-2', 'pass', ['3.1.1/3.1/unsupported-level']),
    row('3.1.1', 'MQTT-3.1.3-7', 'not-checked', []),
    row('3.1.1', 'MQTT-3.8.3-2', 'pass', ['3.1.1/3.8/no-wildcards']),
    row('3.1.1', 'MQTT-3.8.3-3', 'pass', ['3.1.1/3.8/empty-subscribe']),
    row('5.0', 'MQTT-3.1.0-1', 'pass', ['5.0/3.1/first-packet-not-connect']),
    row('5.0', 'MQTT-3.1.0-2', 'pass', ['5.0/3.1/second-connect']),
    row('5.0', 'MQTT-3.1.2-20', 'not-checked', []),
    row('5.0', 'MQTT-3.3.1-2', 'not-checked', []),
    row('5.0', 'MQTT-3.3.1-4', 'pass', ['5.0/3.3/qos-bits-11']),
    row('5.0', 'MQTT-3.8.3-3', 'fail', ['5.0/3.8/no-local'], '5.0/3.8/no-local'),
    row('5.0', 'MQTT-3.8.3-4', 'pass', ['5.0/3.8/shared-no-local']),
    row('5.0', 'MQTT-4.7.1-1', 'pass', ['5.0/4.7/hash-last']),
    row('5.0', 'MQTT-4.7.1-2', 'pass', ['5.0/4.7/hash-last']),
  ];
  return {
    broker: HOSTILE_BROKER,
    reachable: true,
    capabilities: { '3.1.1': caps('3.1.1', []), '5.0': caps('5.0', [`CONNACK reasonString="${HOSTILE_TOPIC}"`]) },
    checks,
    statements,
    startedAt: '2025-03-04T10:20:35.000Z',
    durationMs: 3100,
  };
}

/** A broker that never answered: every selected check errors with the reason, as the runner reports it. */
export function unreachableRun(): ConformanceRun {
  const reason = 'cannot connect: ECONNREFUSED 127.0.0.1:1883';
  const ids: [string, string][] = [
    ['3.1.1/3.1/first-packet-not-connect', 'MQTT-3.1.0-1'],
    ['5.0/3.1/first-packet-not-connect', 'MQTT-3.1.0-1'],
  ];
  return {
    broker: 'mqtt://127.0.0.1:1883',
    reachable: false,
    unreachableReason: reason,
    capabilities: {},
    checks: ids.map(([id, st]) => check(id, [st], 'error', { message: `broker not reachable: ${reason}`, durationMs: 0 })),
    statements: ids.map(([id, st]) => row(id.startsWith('5.0') ? '5.0' : '3.1.1', st, 'error', [id], id)),
    startedAt: '2025-03-04T10:21:00.000Z',
    durationMs: 5,
  };
}

/** A fresh report each call, so a test may change it. */
export function conformanceReport(): ConformanceReport {
  return {
    tool: { name: 'mqbench', version: '0.1.0' },
    generatedAt: '2025-03-04T10:21:40.123Z',
    versions: ['3.1.1', '5.0'],
    runs: [mosquittoRun(), hostileRun()],
  };
}

/** Every check of the fixture's brokers, as [broker index, check]. */
export function allChecks(report: ConformanceReport): [number, CheckOutcome][] {
  return report.runs.flatMap((run, i) => run.checks.map((o) => [i, o] as [number, CheckOutcome]));
}
