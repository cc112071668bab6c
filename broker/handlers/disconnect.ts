/**
 * DISCONNECT from a client: a normal end. The will is discarded [MQTT-3.1.2-10], unless a v5 client asked for it
 * with reason 0x04; a v5 client may change its session expiry on the way out.
 */
import { RC } from '../../src/protocol/reason-codes.js';
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { CloseReason } from '../core/outlet.js';
import { decodeDisconnect } from '../decode.js';
import { P, num, protocolError } from '../wire.js';

export function handleDisconnect(core: Core, conn: Client, buf: Buffer, start: number, end: number): void {
  const v5 = conn.protocolVersion === 5;
  const pkt = decodeDisconnect(buf, start, end, v5);
  if (core.log.debug) core.log.line(`Received DISCONNECT from ${conn.logId}`);
  const session = conn.session!;
  const expiry = num(pkt.props, P.SessionExpiryInterval);
  if (expiry !== undefined) {
    // [MQTT-3.14.2-2] a session that was to end with the connection cannot be made to outlive it now.
    if (session.expiryInterval === 0 && expiry !== 0) throw protocolError('session expiry set on DISCONNECT after 0 at CONNECT');
    session.expiryInterval = expiry;
  }
  if (pkt.rc !== RC.DisconnectWithWill) session.will = null;
  conn.close(CloseReason.Disconnect);
}
