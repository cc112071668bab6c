/**
 * UNSUBSCRIBE: remove each subscription, UNSUBACK (v5: one reason code per filter) (§3.10, §3.11).
 */
import { RC } from '../../src/protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import { decodeUnsubscribe } from '../decode.js';

export function handleUnsubscribe(conn: Connection, buf: Buffer, start: number, end: number): void {
  const v5 = conn.protocolVersion === 5;
  const pkt = decodeUnsubscribe(buf, start, end, v5);
  const broker = conn.broker;
  const log = broker.log;
  const session = conn.session!;
  if (log.debug) log.line(`Received UNSUBSCRIBE from ${conn.logId}`);
  const codes: number[] = [];
  for (const filter of pkt.filters) {
    if (log.debug) log.line(`\t${filter}`);
    const sub = session.subs.get(filter);
    if (sub) {
      broker.router.remove(sub);
      session.subs.delete(filter);
      if (log.unsubscribe) log.line(`${conn.logId} ${filter}`);
    }
    // [MQTT-3.11.3-?] v5: 0x11 when there was no such subscription.
    codes.push(sub ? RC.Success : RC.NoSubscriptionExisted);
  }
  // [MQTT-3.10.4-4] UNSUBACK even when nothing was removed.
  broker.writeGenerated(conn, { cmd: 'unsuback', messageId: pkt.packetId, granted: codes });
  if (log.debug) log.line(`Sending UNSUBACK to ${conn.logId}`);
}
