/**
 * AUTH: no extended authentication method is configured, so a CONNECT naming one was already refused with 0x8C;
 * an AUTH packet after that is a protocol error [MQTT-4.12.0-?].
 */
import type { Connection } from '../connection.js';
import { decodeAuth } from '../decode.js';
import { protocolError } from '../wire.js';

export function handleAuth(conn: Connection, buf: Buffer, start: number, end: number): void {
  decodeAuth(buf, start, end);
  if (conn.broker.log.debug) conn.broker.log.line(`Received AUTH from ${conn.logId}`);
  throw protocolError('AUTH received but no authentication method is in use');
}
