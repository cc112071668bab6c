/**
 * UNSUBSCRIBE: remove each subscription, UNSUBACK (v5: one reason code per filter) (§3.10, §3.11).
 */
import { RC } from '../../src/protocol/reason-codes.js';
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { sendControl } from '../core/encode.js';
import { CloseReason } from '../core/outlet.js';
import { decodeUnsubscribe } from '../decode.js';
import { inSlices } from './slices.js';

export function handleUnsubscribe(core: Core, conn: Client, buf: Buffer, start: number, end: number): void {
  const v5 = conn.protocolVersion === 5;
  const pkt = decodeUnsubscribe(buf, start, end, v5);
  const log = core.log;
  const session = conn.session!;
  if (log.debug) log.line(`Received UNSUBSCRIBE from ${conn.logId}`);
  const codes: number[] = [];
  const filters = pkt.filters;
  let i = 0;
  inSlices(core, conn, 'an UNSUBSCRIBE', (units) => {
    const first = i;
    for (const stop = Math.min(filters.length, i + units); i < stop; i++) {
      const filter = filters[i];
      if (log.debug) log.line(`\t${filter}`);
      const sub = session.getSub(filter);
      if (sub) {
        core.router.remove(sub);
        session.deleteSub(filter);
        if (log.unsubscribe) log.line(`${conn.logId} ${filter}`);
      }
      // [MQTT-3.11.3-1] v5: 0x11 when there was no such subscription.
      codes.push(sub ? RC.Success : RC.NoSubscriptionExisted);
    }
    core.turn.spend(i - first);
    if (i < filters.length) return false;
    // [MQTT-3.10.4-5] UNSUBACK even when nothing was removed.
    if (!sendControl(conn, { cmd: 'unsuback', messageId: pkt.packetId, granted: codes })) {
      conn.close(CloseReason.ProtocolError);
      return true;
    }
    if (log.debug) log.line(`Sending UNSUBACK to ${conn.logId}`);
    return true;
  });
}
