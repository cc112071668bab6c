import type { KnownDeviation } from './index.js';

export const CONNACK_SESSION_DEVIATIONS: KnownDeviation[] = [
  {
    check: '5.0/4.9/quota-within-receive-maximum',
    explanation:
      'With a client Receive Maximum of 2 or more, Mosquitto sends up to Receive Maximum more QoS 1 messages after each ' +
      'PUBACK instead of one (Receive Maximum 2: 2, 3, 4, 5 unacknowledged after successive PUBACKs), so its send quota ' +
      'exceeds the Receive Maximum; with Receive Maximum 1 it keeps to the limit.',
  },
  {
    check: '5.0/3.2/packet-above-maximum-packet-size',
    explanation:
      'With max_packet_size set, Mosquitto leaves the Remaining Length bytes out of a packet\'s size: with max_packet_size ' +
      '2000 it accepts PUBLISH packets of 2001 and 2002 bytes and disconnects (0x95) only from 2003, where the spec counts ' +
      'every byte of the packet, fixed header included.',
  },
];
