/**
 * The one dispatcher: packet type → handler, after the checks every packet gets (CONNECT first, fixed header flags).
 * Handlers throw WireError to end the connection with a reason code; the connection turns it into bytes.
 */
import { ConnState, type Connection } from '../connection.js';
import { writePingresp } from '../encode.js';
import { malformed, protocolError } from '../wire.js';
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './acks.js';
import { handleAuth } from './auth.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handlePublish } from './publish.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

const NAMES = [
  'reserved', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK',
  'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH',
];

export function dispatch(conn: Connection, header: number, buf: Buffer, start: number, end: number): void {
  const type = header >> 4;
  if (type === 3) {
    if (conn.state !== ConnState.Connected) throw protocolError('PUBLISH before CONNECT');
    handlePublish(conn, header, buf, start, end);
    return;
  }
  // [MQTT-2.2.2-1], [MQTT-2.2.2-2] fixed header flags: 0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE; 0000 otherwise.
  const flags = header & 0x0f;
  const expected = type === 6 || type === 8 || type === 10 ? 0x02 : 0x00;
  if (flags !== expected) throw malformed(`${NAMES[type]} has fixed header flags ${flags.toString(2).padStart(4, '0')}`);

  if (conn.state === ConnState.New) {
    // [MQTT-3.1.0-1] the first packet is CONNECT.
    if (type !== 1) throw protocolError(`first packet is ${NAMES[type]}, not CONNECT`);
    handleConnect(conn, buf, start, end);
    return;
  }
  const v5 = conn.protocolVersion === 5;
  switch (type) {
    case 1: {
      // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
      const log = conn.broker.log;
      if (log.notice) log.line(`Bad client ${conn.logId} sending multiple CONNECT messages.`);
      throw protocolError('second CONNECT');
    }
    case 4:
      handlePuback(conn, buf, start, end);
      return;
    case 5:
      handlePubrec(conn, buf, start, end);
      return;
    case 6:
      handlePubrel(conn, buf, start, end);
      return;
    case 7:
      handlePubcomp(conn, buf, start, end);
      return;
    case 8:
      handleSubscribe(conn, buf, start, end);
      return;
    case 10:
      handleUnsubscribe(conn, buf, start, end);
      return;
    case 12:
      if (end !== start) throw malformed('PINGREQ has a body');
      if (conn.broker.log.debug) conn.broker.log.line(`Received PINGREQ from ${conn.logId}`);
      writePingresp(conn);
      if (conn.broker.log.debug) conn.broker.log.line(`Sending PINGRESP to ${conn.logId}`);
      return;
    case 14:
      handleDisconnect(conn, buf, start, end);
      return;
    case 15:
      if (!v5) throw protocolError('AUTH is not part of MQTT 3.1.1');
      handleAuth(conn, buf, start, end);
      return;
    default:
      // CONNACK, SUBACK, UNSUBACK, PINGRESP and type 0 are never sent by a client.
      throw protocolError(`client sent ${NAMES[type]}`);
  }
}
