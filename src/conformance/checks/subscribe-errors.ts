/**
 * Protocol violations outside any one packet's rules (3.1.1 §4.8): packet types a client may never send.
 */
import type { Check } from '../check.js';
import { encodeRawPacket } from '../client.js';
import { closes } from './table.js';

export const SUBSCRIBE_ERROR_CHECKS: Check[] = closes([
  {
    id: '3.1.1/4.8/packet-type-0',
    version: '3.1.1',
    statements: ['MQTT-4.8.0-1'],
    title: 'A packet of the reserved type 0 is a protocol violation: the broker closes the connection',
    send: (c) => c.sendRaw([0x00, 0x00]),
  },
  {
    id: '3.1.1/4.8/packet-type-15',
    version: '3.1.1',
    statements: ['MQTT-4.8.0-1'],
    title: 'A packet of type 15 (reserved in 3.1.1, AUTH in 5.0) is a protocol violation: the broker closes the connection',
    send: (c) => c.sendRaw([0xf0, 0x00]),
  },
  {
    id: '3.1.1/4.8/connack-from-client',
    version: '3.1.1',
    statements: ['MQTT-4.8.0-1'],
    title: 'A CONNACK sent by a client is a protocol violation: the broker closes the connection',
    send: (c) => c.sendRaw(encodeRawPacket(0x20, [0x00, 0x00])),
  },
]);
