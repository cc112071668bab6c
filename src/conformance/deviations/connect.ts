import type { KnownDeviation } from './index.js';

/** Mosquitto 2.0 accepts reserved fixed-header flags on the packets whose flags must be 0000. */
const FLAGS_IGNORED =
  'Mosquitto 2.0 checks the reserved fixed-header flags only of PUBREL, SUBSCRIBE and UNSUBSCRIBE (0010); on PINGREQ, ' +
  'PUBACK, PUBREC and PUBCOMP it ignores them and carries on (a PINGREQ with flags 0001 is answered with PINGRESP), ' +
  'where the spec makes invalid flags a reason to close the connection.';

const WILL_DROPPED_ON_SECOND_CONNECT =
  'Mosquitto 2.0 handles a second CONNECT on its CONNECT error path, which throws the connection\'s will away before ' +
  'closing, so the will is never published; it is only deleted by a DISCONNECT (3.1.1) or DISCONNECT 0x00 (5.0), and ' +
  'other protocol errors do publish it.';

const KEEPALIVE_LATE =
  'Mosquitto 2.0 looks at keep alive timers only when its last check is more than 5 s old, so a silent client is ' +
  'closed up to about 6 s after 1.5 x Keep Alive (with Keep Alive 2 s it closes after about 6 s instead of 3 s).';

export const CONNECT_DEVIATIONS: KnownDeviation[] = [
  {
    check: '5.0/1.5/non-minimal-remaining-length',
    explanation:
      'Mosquitto 2.0 accepts a remaining length written in more bytes than needed (C0 80 00 is answered with PINGRESP), ' +
      'although a Variable Byte Integer must use the fewest bytes; it does refuse non-minimal property lengths.',
  },
  { check: '3.1.1/2.2/pingreq-flags', explanation: FLAGS_IGNORED },
  { check: '3.1.1/2.2/puback-flags', explanation: FLAGS_IGNORED },
  { check: '5.0/2.1/pingreq-flags', explanation: FLAGS_IGNORED },
  { check: '5.0/2.1/puback-flags', explanation: FLAGS_IGNORED },
  { check: '3.1.1/3.1/will-on-second-connect', explanation: WILL_DROPPED_ON_SECOND_CONNECT },
  { check: '5.0/3.1/will-on-second-connect', explanation: WILL_DROPPED_ON_SECOND_CONNECT },
  { check: '3.1.1/3.1/keep-alive-expiry', explanation: KEEPALIVE_LATE },
  { check: '5.0/3.1/keep-alive-expiry', explanation: KEEPALIVE_LATE },
  {
    check: '5.0/3.1/oversized-message-counts-as-delivered',
    explanation:
      "Mosquitto 2.0 drops a QoS 1 message larger than the client's Maximum Packet Size but keeps counting it against " +
      "the client's Receive Maximum, so with Receive Maximum 1 no later QoS 1 message is ever sent; the spec requires " +
      'it to behave as if the dropped message had been delivered.',
  },
];
