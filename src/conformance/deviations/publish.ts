import type { KnownDeviation } from './index.js';

export const PUBLISH_DEVIATIONS: KnownDeviation[] = [
  {
    check: '5.0/3.3/subscription-identifier-from-client',
    explanation:
      'Mosquitto accepts a client PUBLISH carrying a Subscription Identifier and forwards the message; it checks only that the ' +
      'property may appear in a PUBLISH at all, not that a client may not send it, so the protocol error goes unnoticed.',
  },
  {
    check: '5.0/3.3/response-topic-wildcard',
    explanation:
      'Mosquitto answers a PUBLISH whose Response Topic contains "+" with PUBACK 0x00 and forwards it unchanged; it never ' +
      'validates the Response Topic, where the spec makes it a protocol error.',
  },
  {
    check: '5.0/4.3/qos2-sent-not-expired',
    explanation:
      'Mosquitto drops a QoS 2 message whose Message Expiry Interval ran out while the subscriber was away, even though the ' +
      'PUBLISH had already been sent and left unanswered; on resuming the session it resends nothing, where the spec forbids ' +
      'expiring a QoS 2 message once sent and requires the resend.',
  },
  {
    check: '5.0/3.3/receive-maximum-exceeded',
    explanation:
      'Mosquitto answers the QoS 2 PUBLISH that exceeds its Receive Maximum with PUBREC 0x97 (Quota exceeded) and keeps the ' +
      'connection, instead of disconnecting with 0x93 (Receive Maximum exceeded).',
  },
  {
    check: '5.0/3.3/receive-maximum-respected',
    explanation:
      'Mosquitto honours the client Receive Maximum N for the first window only: after one PUBACK it sends N more messages, ' +
      'leaving 2N-1 unacknowledged (seen with N = 1, 2 and 3), more than the client allowed.',
  },
];
