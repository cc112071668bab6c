/**
 * Data representation (1.5), packet format (2.x) and CONNECT (3.1), in both versions: the first-packet and protocol
 * level checks here, the rest from the connect-*.ts files (and MQTT 5's intervals at their extremes from
 * long-intervals.ts).
 */
import { encodeRawConnect } from '../client.js';
import { expectEqual, type Check } from '../check.js';
import { DATA_CHECKS } from './connect-data.js';
import { FORMAT_CHECKS } from './connect-format.js';
import { LIMIT_CHECKS } from './connect-limits.js';
import { INTERVAL_CHECKS } from './long-intervals.js';
import { PACKET_FORMAT_CHECKS } from './connect-packet-format.js';
import { SESSION_CHECKS } from './connect-session.js';
import { WILL_CHECKS } from './connect-will.js';
import { closes } from './table.js';

const FIRST_CHECKS: Check[] = [
  ...closes([
    {
      id: '3.1.1/3.1/first-packet-not-connect',
      version: '3.1.1',
      statements: ['MQTT-3.1.0-1'],
      title: 'A first packet other than CONNECT makes the broker close the connection',
      before: 'open',
      send: (c) => c.sendRaw([0xc0, 0x00]),
    },
    {
      id: '5.0/3.1/first-packet-not-connect',
      version: '5.0',
      statements: ['MQTT-3.1.0-1'],
      title: 'A first packet other than CONNECT makes the broker close the connection',
      before: 'open',
      send: (c) => c.sendRaw([0xc0, 0x00]),
    },
    {
      id: '3.1.1/3.1/second-connect',
      version: '3.1.1',
      statements: ['MQTT-3.1.0-2'],
      title: 'A second CONNECT on one connection is a protocol violation: the broker closes it',
      send: (c, ctx) => c.send(c.connectPacket({ clientId: ctx.clientId('again') })),
    },
    {
      id: '5.0/3.1/second-connect',
      version: '5.0',
      statements: ['MQTT-3.1.0-2'],
      title: 'A second CONNECT on one connection is a protocol error: the broker closes it',
      send: (c, ctx) => c.send(c.connectPacket({ clientId: ctx.clientId('again') })),
      disconnectReasons: [0x82],
    },
  ]),
  {
    id: '3.1.1/3.1/unsupported-level',
    version: '3.1.1',
    statements: ['MQTT-3.1.2-2'],
    title: 'An unsupported protocol level gets CONNACK 0x01, then the connection closes',
    async run(ctx) {
      const c = await ctx.open(4);
      c.sendRaw(encodeRawConnect({ level: 42, clientId: ctx.clientId() }));
      const connack = await c.next('connack', ctx.timeoutMs);
      expectEqual(connack.returnCode ?? connack.reasonCode, 1, 'CONNACK return code');
      await c.closed(ctx.timeoutMs);
    },
  },
];

export const CONNECT_CHECKS: Check[] = [
  ...FIRST_CHECKS,
  ...FORMAT_CHECKS,
  ...SESSION_CHECKS,
  ...WILL_CHECKS,
  ...LIMIT_CHECKS,
  ...INTERVAL_CHECKS,
  ...DATA_CHECKS,
  ...PACKET_FORMAT_CHECKS,
];
