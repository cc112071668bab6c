/**
 * SUBSCRIBE: validate each filter, add or replace the subscription, SUBACK with one code per filter, then send the
 * retained messages the retain handling option asks for (§3.8, §3.9). Filters and retained messages are handled a
 * slice per turn of the event loop, so a SUBSCRIBE of 100,000 filters, or of `#` on a broker holding 100,000
 * retained messages, does not stall the other clients.
 */
import { RC, SUBACK_FAILURE_V3 } from '../../src/protocol/reason-codes.js';
import { parseSharedFilter, tooManyLevels, topicFilterProblem } from '../../src/protocol/topic.js';
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { deliverRetained } from '../core/deliver.js';
import { sendControl } from '../core/encode.js';
import type { Msg } from '../core/message.js';
import type { RetainCursor } from '../core/retain.js';
import { CloseReason } from '../core/outlet.js';
import { newSubscription, type Subscription } from '../core/session.js';
import { decodeSubscribe } from '../decode.js';
import { P, num, protocolError } from '../wire.js';
import { MIN_SLICE, inSlices } from './slices.js';

export function handleSubscribe(core: Core, conn: Client, buf: Buffer, start: number, end: number): void {
  const v5 = conn.protocolVersion === 5;
  const pkt = decodeSubscribe(buf, start, end, v5);
  const log = core.log;
  const session = conn.session!;
  if (log.debug) log.line(`Received SUBSCRIBE from ${conn.logId}`);
  const subId = v5 ? (num(pkt.props, P.SubscriptionIdentifier) ?? 0) : 0;
  const codes: number[] = [];
  const retained: [Subscription, RetainCursor][] = [];
  const depth = core.options.topicHierarchyLimit;
  const reqs = pkt.subscriptions;
  let i = 0;
  let acked = false;
  let r = 0;
  const batch: Msg[] = [];
  inSlices(core, conn, 'a SUBSCRIBE', (units) => {
    const now = core.now();
    if (acked) return sendRetained(now, units);
    const first = i;
    for (const stop = Math.min(reqs.length, i + units); i < stop; i++) {
      const req = reqs[i];
      if (log.debug) log.line(`\t${req.filter} (QoS ${req.qos})`);
      if (topicFilterProblem(req.filter) !== undefined) {
        // [MQTT-3.8.4-3] an invalid filter is refused in its SUBACK slot.
        codes.push(v5 ? RC.TopicFilterInvalid : SUBACK_FAILURE_V3);
        continue;
      }
      if (tooManyLevels(req.filter, depth)) {
        // Well formed but deeper than the broker keeps: refused in its slot (Mosquitto closes the connection).
        codes.push(v5 ? RC.TopicFilterInvalid : SUBACK_FAILURE_V3);
        continue;
      }
      const shared = parseSharedFilter(req.filter);
      // [MQTT-3.8.3-4] no local on a shared subscription is a protocol error.
      if (shared && req.noLocal) throw protocolError('no local set on a shared subscription');
      // acl_file: a filter that can match no topic the client may read is refused (0x87 / 0x80). Mosquitto 2.0.11
      // grants it and then delivers nothing; a filter that reaches some readable topic is granted, and each message
      // is checked as it is delivered.
      const acl = session.acl;
      if (acl !== null && !acl.mayRead(shared ? shared.filter : req.filter)) {
        if (log.debug) log.line(`Denied SUBSCRIBE from ${conn.logId} to '${req.filter}'`);
        codes.push(v5 ? RC.NotAuthorized : SUBACK_FAILURE_V3);
        continue;
      }
      const existing = session.getSub(req.filter);
      const sub = newSubscription(session, req.filter, shared, req, subId);
      // [MQTT-3.8.4-3] a subscription with the same filter is replaced, not duplicated.
      if (existing) core.router.remove(existing);
      session.setSub(sub);
      core.router.add(sub);
      codes.push(req.qos);
      if (log.subscribe) log.line(`${conn.logId} ${req.qos} ${req.filter}`);
      // Retained messages: not for shared subscriptions [MQTT-4.8.2-?]; retain handling 1 only for a new one,
      // 2 never [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11].
      if (!shared && (req.retainHandling === 0 || (req.retainHandling === 1 && !existing))) {
        retained.push([sub, core.retained.cursor(sub.filter)]);
      }
    }
    core.turn.spend(i - first);
    if (i < reqs.length) return false;
    if (!sendControl(conn, { cmd: 'suback', messageId: pkt.packetId, granted: codes })) {
      // Not even the bare SUBACK fits the client's Maximum Packet Size [MQTT-3.1.2-24].
      conn.close(CloseReason.ProtocolError);
      return true;
    }
    if (log.debug) log.line(`Sending SUBACK to ${conn.logId}`);
    acked = true;
    // Usually all of them at once, right after the SUBACK.
    return sendRetained(now, Math.max(core.turn.left, MIN_SLICE));
  });

  /** Retained messages, about `units` this turn, in the order of the filters; true when all are sent. */
  function sendRetained(now: number, units: number): boolean {
    let budget = units;
    while (r < retained.length && budget > 0) {
      const [sub, cursor] = retained[r];
      batch.length = 0;
      const more = cursor.next(batch, budget, now);
      // A walk that found little still cost its visits.
      const cost = Math.max(batch.length, Math.ceil(cursor.visited / 10), 1);
      budget -= cost;
      core.turn.spend(cost);
      deliverRetained(core, sub, batch, now);
      if (!more) r++;
    }
    return r === retained.length;
  }
}
