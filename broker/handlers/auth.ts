/**
 * AUTH: no extended authentication method is configured, so a CONNECT naming one was already refused with 0x8C;
 * an AUTH packet after that is a protocol error [MQTT-4.12.0-1].
 */
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { decodeAuth } from '../decode.js';
import { protocolError } from '../wire.js';

export function handleAuth(core: Core, conn: Client, buf: Buffer, start: number, end: number): void {
  decodeAuth(buf, start, end);
  if (core.log.debug) core.log.line(`Received AUTH from ${conn.logId}`);
  throw protocolError('AUTH received but no authentication method is in use');
}
