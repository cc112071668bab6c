/**
 * The one dispatcher: packet type → handler, after the checks every packet gets (CONNECT first, fixed header flags).
 * Handlers throw WireError to end the connection with a reason code; the connection turns it into bytes.
 */
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { writePingresp } from '../core/encode.js';
import { ConnState } from '../core/outlet.js';
import { checkFixedHeaderFlags, malformed, packetName, protocolError } from '../wire.js';
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './acks.js';
import { handleAuth } from './auth.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handlePublish } from './publish.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

export function dispatch(core: Core, client: Client, header: number, buf: Buffer, start: number, end: number): void {
  const type = header >> 4;
  if (type === 3) {
    if (client.state !== ConnState.Connected) throw protocolError('PUBLISH before CONNECT');
    handlePublish(core, client, header, buf, start, end);
    return;
  }
  if (client.state === ConnState.New) {
    // [MQTT-3.1.0-1] the first packet is CONNECT (its fixed header flags are checked once its level is known).
    if (type !== 1) throw protocolError(`first packet is ${packetName(type)}, not CONNECT`);
    handleConnect(core, client, header, buf, start, end);
    return;
  }
  // [MQTT-2.2.2-1], [MQTT-2.2.2-2] fixed header flags: 0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE; 0000 otherwise.
  // MQTT 3.1 did not reserve them; Mosquitto checks them from 3.1.1 on, and so does this broker.
  if (client.protocolVersion >= 4) checkFixedHeaderFlags(type, header);
  switch (type) {
    case 1: {
      // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
      const log = core.log;
      if (log.notice) log.line(`Bad client ${client.logId} sending multiple CONNECT messages.`);
      throw protocolError('second CONNECT');
    }
    case 4:
      handlePuback(core, client, buf, start, end);
      return;
    case 5:
      handlePubrec(core, client, buf, start, end);
      return;
    case 6:
      handlePubrel(core, client, buf, start, end);
      return;
    case 7:
      handlePubcomp(core, client, buf, start, end);
      return;
    case 8:
      handleSubscribe(core, client, buf, start, end);
      return;
    case 10:
      handleUnsubscribe(core, client, buf, start, end);
      return;
    case 12:
      if (end !== start) throw malformed('PINGREQ has a body');
      if (core.log.debug) core.log.line(`Received PINGREQ from ${client.logId}`);
      writePingresp(client);
      if (core.log.debug) core.log.line(`Sending PINGRESP to ${client.logId}`);
      return;
    case 14:
      handleDisconnect(core, client, buf, start, end);
      return;
    case 15:
      if (client.protocolVersion !== 5) throw protocolError('AUTH is not part of MQTT 3.1.1');
      handleAuth(core, client, buf, start, end);
      return;
    default:
      // CONNACK, SUBACK, UNSUBACK, PINGRESP and type 0 are never sent by a client.
      throw protocolError(`client sent ${packetName(type)}`);
  }
}
