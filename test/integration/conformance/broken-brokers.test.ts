/**
 * Brokers broken on purpose: each has one bug, and the checks about the rule it breaks must fail while checks it
 * does not touch still pass, so a check passing means something. A bug is made by a proxy in front of the correct
 * bundled broker (test/helpers/broken-brokers.ts) or by altering one behaviour of an in-process bundled broker.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Msg } from '../../../broker/core/message.js';
import { MAX_NODE_DELAY_MS, Timer, Timers } from '../../../src/util/timers.js';
import { ALL_CHECKS } from '../../../src/conformance/checks/index.js';
import { runChecks } from '../../../src/conformance/runner.js';
import { reframe, startBreakingProxy, type Breakage } from '../../helpers/breaking-proxy.js';
import {
  expiredInFlightDropped,
  keepAliveEnforcedAt,
  longPayloadsAltered,
  messageExpiryIn32BitMilliseconds,
  noLocalLostInStoredSessions,
  packetIdReuseAcrossQosTakenAsDuplicate,
  pingIgnoredAtZeroQuota,
  publishesSwapped,
  pubrelWithWrongId,
  qos0WithPacketId,
  qos2StateLostOnExpiry,
  qos2StateLostOnResume,
  queuedLostOnResume,
  receiveMaximumIgnored,
  resentWithoutDup,
  retainedQos0StoredLate,
  retainedWithoutSubscriptionIdentifiers,
  retainFlagCleared,
  retainHandlingIgnored,
  retainHandlingOfFirstFilter,
  retainIgnoredAtQos0,
  sessionExpiryOnDisconnectIgnored,
  topicAliasNotRemapped,
} from '../../helpers/broken-brokers.js';
import { startTestBroker } from '../../helpers/brokers.js';

const PUBLISH = 3;
const PUBACK = 4;

interface BrokenBroker {
  what: string;
  /** A proxy in front of the bundled broker that brings the bug. */
  breakage?: Breakage;
  /** Alters the in-process bundled broker before it starts; the test undoes it afterwards. */
  alter?: () => void;
  mustFail: string[];
  mustPass: string[];
}

/**
 * The bundled broker as if it armed a Node timer for every interval: a delay beyond 2^31 − 1 ms (about 24.8 days)
 * fires at once, and a message whose expiry lies that far ahead counts as expired.
 */
function nodeTimerOverflow(): void {
  const schedule = Timers.prototype.schedule;
  vi.spyOn(Timers.prototype, 'schedule').mockImplementation(function (this: Timers, t: Timer, delayMs: number) {
    schedule.call(this, t, delayMs > MAX_NODE_DELAY_MS ? 1 : delayMs);
  });
  const expired = Msg.prototype.expired;
  vi.spyOn(Msg.prototype, 'expired').mockImplementation(function (this: Msg, now: number) {
    return (this.expiryAt !== 0 && this.expiryAt - now > MAX_NODE_DELAY_MS) || expired.call(this, now);
  });
}

/** The bundled broker as if it never applied Message Expiry to retained messages. */
function retainedNeverExpire(): void {
  const expired = Msg.prototype.expired;
  vi.spyOn(Msg.prototype, 'expired').mockImplementation(function (this: Msg, now: number) {
    return !this.retain && expired.call(this, now);
  });
}

const FAR_FUTURE = [
  '5.0/3.1/session-expiry-far-future',
  '5.0/3.14/session-expiry-far-future-on-disconnect',
  '5.0/3.1/will-delay-far-future',
  '5.0/3.3/message-expiry-far-future-queued',
  '5.0/3.3/message-expiry-far-future-retained',
];

/** Both versions of a check (or of each check) named without its version. */
const both = (...names: string[]): string[] => names.flatMap((n) => [`3.1.1/${n}`, `5.0/${n}`]);

/** Checks whose statement is not about order, though they see several messages arrive. */
const ORDER_FREE = [
  ...both('3.3/retained-live-flag', '4.4/qos1-resent-on-resume', '4.4/qos2-resent-on-resume'),
  '3.1.1/2.3/qos0-publish-has-no-packet-id',
  '5.0/2.2/qos0-publish-has-no-packet-id',
  '3.1.1/3.1/clean-session-0-queues-while-away',
  '5.0/3.1/clean-start-0-resumes-session',
  '3.1.1/4.1/session-kept-while-offline',
  '3.1.1/7.1/ordered-byte-stream',
  '5.0/4.2/ordered-byte-stream',
  '5.0/3.3/retain-as-published-1',
  '5.0/4.9/quota-within-receive-maximum',
  '5.0/4.9/no-publish-at-zero-quota',
  '5.0/3.3/quota-full-other-packets',
];

/** Checks that publish a retained message at QoS 0 and then subscribe from another connection. */
const RETAINED_AT_QOS0 = [
  ...both('3.3/retained-latest-per-topic', '3.3/retained-empty-clears', '3.3/retained-empty-not-stored', '3.3/retain-zero-keeps-retained', '3.3/retained-kept-with-qos'),
  '3.1.1/3.3/retained-qos0-replaces',
  '5.0/3.3/retain-handling-0',
  '5.0/3.3/retain-handling-1',
];

const BROKEN: BrokenBroker[] = [
  {
    what: 'every message is delivered with RETAIN 1',
    breakage: { fromBroker: (f) => (f.type === PUBLISH ? reframe(f.header | 1, f.body) : f.bytes) },
    mustFail: ['3.1.1/3.3/retained-live-flag', '5.0/3.3/retained-live-flag'],
    mustPass: ['3.1.1/3.3/retained-kept-with-qos'],
  },
  {
    what: 'PUBACK never reaches the publisher',
    breakage: { fromBroker: (f) => (f.type === PUBACK ? null : f.bytes) },
    mustFail: ['3.1.1/3.3/answer-per-qos', '5.0/3.3/answer-per-qos'],
    mustPass: ['3.1.1/3.12/pingresp', '5.0/3.12/pingresp'],
  },
  {
    what: 'the broker closing a connection never reaches the client',
    breakage: { keepOpen: true },
    mustFail: ['3.1.1/2.2/pingreq-flags', '5.0/2.1/pingreq-flags', '5.0/1.5/non-minimal-remaining-length'],
    mustPass: ['3.1.1/3.12/pingresp'],
  },
  {
    what: 'keep alive is enforced at 1.0 × instead of 1.5 ×',
    breakage: keepAliveEnforcedAt((keepAlive) => keepAlive * 1_000),
    mustFail: ['3.1.1/3.1/keep-alive-expiry', '5.0/3.1/keep-alive-expiry'],
    mustPass: ['3.1.1/3.1/keep-alive-maximum', '5.0/3.1/keep-alive-maximum'],
  },
  {
    what: 'keep alive is read as a signed 16-bit number (65,535 s becomes -1 s)',
    breakage: keepAliveEnforcedAt((keepAlive) => ((keepAlive << 16) >> 16) * 1_500),
    mustFail: ['3.1.1/3.1/keep-alive-maximum', '5.0/3.1/keep-alive-maximum'],
    mustPass: ['3.1.1/3.1/keep-alive-expiry', '5.0/3.1/keep-alive-expiry'],
  },
  {
    what: 'retained messages sent because of a SUBSCRIBE lose their Subscription Identifiers',
    breakage: retainedWithoutSubscriptionIdentifiers(),
    mustFail: ['5.0/3.3/retained-carries-subscription-identifier'],
    mustPass: ['5.0/3.3/overlapping-subscription-ids', '5.0/3.3/retain-handling-0'],
  },
  {
    what: 'a Topic Alias set again to another topic keeps its first topic',
    breakage: topicAliasNotRemapped(),
    mustFail: ['5.0/3.3/topic-alias-remapped'],
    mustPass: ['5.0/3.3/topic-alias-all-accepted', '5.0/3.3/topic-alias-not-carried'],
  },
  {
    what: 'intervals beyond 2^31 − 1 ms run out at once',
    alter: nodeTimerOverflow,
    mustFail: FAR_FUTURE,
    mustPass: ['5.0/3.1/session-kept-after-network-close', '5.0/3.1/will-delay', '5.0/3.3/message-expiry-counts-down', '5.0/3.3/message-expiry-drops'],
  },
  {
    what: 'Message Expiry Intervals are forwarded counted in 32-bit milliseconds',
    breakage: messageExpiryIn32BitMilliseconds(),
    mustFail: ['5.0/3.1/will-delay-far-future', '5.0/3.3/message-expiry-far-future-queued', '5.0/3.3/message-expiry-far-future-retained'],
    mustPass: ['5.0/3.3/message-expiry-counts-down', '5.0/3.1/session-expiry-far-future'],
  },
  {
    what: 'messages on one topic reach a subscriber out of order',
    breakage: publishesSwapped(),
    mustFail: both('4.6/ordered-per-topic-and-qos'),
    mustPass: ORDER_FREE,
  },
  {
    what: 'a QoS 0 PUBLISH to a client carries a packet identifier',
    breakage: qos0WithPacketId(),
    mustFail: ['3.1.1/2.3/qos0-publish-has-no-packet-id', '5.0/2.2/qos0-publish-has-no-packet-id'],
    mustPass: ['3.1.1/2.3/acks-echo-publish-id', '5.0/2.2/acks-echo-publish-id'],
  },
  {
    what: 'a retained QoS 0 message takes 150 ms to store (each client still served in order)',
    breakage: retainedQos0StoredLate(),
    mustFail: [],
    mustPass: [...RETAINED_AT_QOS0, '5.0/3.3/retain-handling-2'],
  },
  {
    what: 'a retained QoS 0 PUBLISH is not retained',
    breakage: retainIgnoredAtQos0(),
    mustFail: RETAINED_AT_QOS0,
    mustPass: [...both('3.3/retained-live-flag'), '5.0/3.3/retained-carries-subscription-identifier'],
  },
  {
    what: 'messages are forwarded with RETAIN 0 whatever their RETAIN flag',
    breakage: retainFlagCleared(),
    mustFail: ['5.0/3.3/retain-as-published-1', '3.1.1/3.3/retained-kept-with-qos'],
    mustPass: both('3.3/retained-live-flag'),
  },
  {
    what: 'messages resent to a resumed session have DUP 0',
    breakage: resentWithoutDup(),
    mustFail: both('4.4/qos1-resent-on-resume', '4.4/qos2-resent-on-resume'),
    mustPass: both('4.6/resent-in-order'),
  },
  {
    what: 'messages queued while the client was away are lost when it comes back',
    breakage: queuedLostOnResume(),
    mustFail: ['3.1.1/3.1/clean-session-0-queues-while-away', '5.0/3.1/clean-start-0-resumes-session', '3.1.1/4.1/session-kept-while-offline'],
    mustPass: ['3.1.1/3.1/clean-session-1-discards-session', '5.0/3.1/clean-start-1-discards-session'],
  },
  {
    what: "the client's Receive Maximum is ignored",
    breakage: receiveMaximumIgnored(),
    mustFail: ['5.0/4.9/quota-within-receive-maximum', '5.0/4.9/no-publish-at-zero-quota', '5.0/3.3/receive-maximum-respected'],
    mustPass: ['5.0/3.3/quota-full-other-packets'],
  },
  {
    what: 'PINGREQ goes unanswered while the send quota to the client is zero',
    breakage: pingIgnoredAtZeroQuota(),
    mustFail: ['5.0/3.3/quota-full-other-packets', '5.0/4.9/other-packets-at-zero-quota'],
    mustPass: ['5.0/4.9/quota-within-receive-maximum', '5.0/3.12/pingresp'],
  },
  {
    what: 'long payloads are altered on their way to the client',
    breakage: longPayloadsAltered(),
    mustFail: ['3.1.1/7.1/ordered-byte-stream', '5.0/4.2/ordered-byte-stream'],
    mustPass: both('3.12/pingresp'),
  },
  {
    what: 'a resumed session has forgotten the QoS 2 packet identifiers awaiting PUBREL',
    breakage: qos2StateLostOnResume(),
    mustFail: both('4.3/qos2-duplicate-after-reconnect'),
    mustPass: both('4.3/qos2-duplicate-not-redelivered'),
  },
  {
    what: 'an incoming QoS 2 packet identifier awaiting PUBREL is forgotten once its message expires',
    breakage: qos2StateLostOnExpiry(),
    mustFail: ['5.0/4.3/qos2-expired-duplicate-acknowledged'],
    mustPass: ['5.0/4.3/qos2-expired-flow-completes', '5.0/4.3/qos2-duplicate-not-redelivered'],
  },
  {
    what: "the broker's PUBREL carries another packet identifier than its PUBLISH",
    breakage: pubrelWithWrongId(),
    mustFail: ['3.1.1/2.3/acks-echo-publish-id', '5.0/2.2/acks-echo-publish-id'],
    mustPass: both('3.3/answer-per-qos'),
  },
  {
    what: 'a packet identifier last used at another QoS is taken as a duplicate',
    breakage: packetIdReuseAcrossQosTakenAsDuplicate(),
    mustFail: both('4.3/packet-id-reused-across-qos'),
    mustPass: both('4.3/qos1-id-reuse-is-new', '4.3/qos2-id-free-after-pubcomp'),
  },
  {
    what: 'No Local is not kept with a persistent session',
    breakage: noLocalLostInStoredSessions(),
    mustFail: ['5.0/3.8/no-local-resumed-session'],
    mustPass: ['5.0/3.8/no-local'],
  },
  {
    what: 'Retain Handling is ignored (always 0)',
    breakage: retainHandlingIgnored(),
    mustFail: ['5.0/3.3/retain-handling-1', '5.0/3.3/retain-handling-2', '5.0/3.3/retain-handling-per-filter'],
    mustPass: ['5.0/3.3/retain-handling-0'],
  },
  {
    what: 'every filter of a SUBSCRIBE gets the Retain Handling of the first',
    breakage: retainHandlingOfFirstFilter(),
    mustFail: ['5.0/3.3/retain-handling-per-filter'],
    mustPass: ['5.0/3.3/retain-handling-0', '5.0/3.3/retain-handling-1', '5.0/3.3/retain-handling-2'],
  },
  {
    what: 'retained messages never expire',
    alter: retainedNeverExpire,
    mustFail: ['5.0/3.3/retained-message-expiry'],
    mustPass: ['5.0/3.3/message-expiry-drops', '5.0/3.3/message-expiry-counts-down'],
  },
  {
    what: "the Session Expiry Interval of a client's DISCONNECT is ignored",
    breakage: sessionExpiryOnDisconnectIgnored(),
    mustFail: ['5.0/4.1/session-expiry-shortened-on-disconnect', '5.0/3.14/session-expiry-far-future-on-disconnect'],
    mustPass: ['5.0/4.1/session-discarded-after-expiry', '5.0/3.1/session-expiry-far-future'],
  },
  {
    what: 'a QoS 2 message sent to a client expires in flight (a late PUBREC gets no PUBREL)',
    breakage: expiredInFlightDropped(),
    mustFail: ['5.0/4.3/qos2-in-flight-not-expired'],
    mustPass: ['5.0/4.3/qos2-sent-not-expired', '5.0/4.3/qos2-expired-flow-completes', '5.0/4.3/qos2-sender-flow'],
  },
];

afterEach(() => {
  vi.restoreAllMocks();
});

async function expectOutcomes({ breakage, alter, mustFail, mustPass }: BrokenBroker): Promise<void> {
  alter?.();
  const broker = await startTestBroker('bundled');
  const proxy = breakage ? await startBreakingProxy(broker, breakage) : undefined;
  try {
    const ids = [...mustFail, ...mustPass];
    const checks = ALL_CHECKS.filter((c) => ids.includes(c.id));
    expect(checks.map((c) => c.id).sort()).toEqual([...ids].sort());
    const run = await runChecks(checks, {
      endpoint: { host: '127.0.0.1', port: proxy?.port ?? broker.port },
      label: 'broken',
      versions: ['3.1.1', '5.0'],
      timeoutMs: 2_000,
      allowFail: new Set(),
    });
    const status = Object.fromEntries(run.checks.map((o) => [o.id, o.status === 'pass' || o.status === 'fail' ? o.status : `${o.status}: ${o.message}`]));
    expect(status).toEqual(Object.fromEntries([...mustFail.map((id) => [id, 'fail']), ...mustPass.map((id) => [id, 'pass'])]));
  } finally {
    await proxy?.close();
    await broker.stop();
  }
}

const title = (b: BrokenBroker): string => `a broker where ${b.what} fails ${b.mustFail.join(', ') || 'nothing'} and still passes ${b.mustPass.join(', ')}`;

// An alteration of the in-process broker holds for everything in this process while it lasts: one at a time.
describe('brokers altered in process', () => {
  for (const b of BROKEN.filter((x) => x.alter)) it(title(b), () => expectOutcomes(b), 120_000);
});

// Each proxy fronts a broker of its own, so these can run side by side.
describe.concurrent('brokers broken by a proxy', () => {
  for (const b of BROKEN.filter((x) => !x.alter)) it(title(b), () => expectOutcomes(b), 120_000);
});
