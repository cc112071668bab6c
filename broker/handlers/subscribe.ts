/**
 * SUBSCRIBE: validate each filter, add or replace the subscription, SUBACK with one code per filter, then send the
 * retained messages the retain handling option asks for (§3.8, §3.9).
 */
import { RC, SUBACK_FAILURE_V3 } from '../../src/protocol/reason-codes.js';
import { parseSharedFilter, tooManyLevels, topicFilterProblem } from '../../src/protocol/topic.js';
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { deliverRetained } from '../core/deliver.js';
import { sendControl } from '../core/encode.js';
import type { Msg } from '../core/message.js';
import { CloseReason } from '../core/outlet.js';
import type { Subscription } from '../core/session.js';
import { decodeSubscribe } from '../decode.js';
import { P, num, protocolError } from '../wire.js';
import { SLICE, inSlices } from './slices.js';

export function handleSubscribe(core: Core, conn: Client, buf: Buffer, start: number, end: number): void {
  const v5 = conn.protocolVersion === 5;
  const pkt = decodeSubscribe(buf, start, end, v5);
  const log = core.log;
  const session = conn.session!;
  if (log.debug) log.line(`Received SUBSCRIBE from ${conn.logId}`);
  const subId = v5 ? (num(pkt.props, P.SubscriptionIdentifier) ?? 0) : 0;
  const codes: number[] = [];
  const retained: [Subscription, Msg[]][] = [];
  const depth = core.options.topicHierarchyLimit;
  const reqs = pkt.subscriptions;
  let i = 0;
  inSlices(core, conn, 'a SUBSCRIBE', () => {
    const now = core.now();
    for (const stop = Math.min(reqs.length, i + SLICE); i < stop; i++) {
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
      const existing = session.subs.get(req.filter);
      const sub: Subscription = {
        session,
        key: req.filter,
        filter: shared ? shared.filter : req.filter,
        share: shared ? shared.group : null,
        qos: req.qos,
        noLocal: req.noLocal,
        retainAsPublished: req.retainAsPublished,
        retainHandling: req.retainHandling,
        subId,
        subIds: subId !== 0 ? [subId] : null,
      };
      // [MQTT-3.8.4-3] a subscription with the same filter is replaced, not duplicated.
      if (existing) core.router.remove(existing);
      session.subs.set(req.filter, sub);
      core.router.add(sub);
      codes.push(req.qos);
      if (log.subscribe) log.line(`${conn.logId} ${req.qos} ${req.filter}`);
      // Retained messages: not for shared subscriptions [MQTT-4.8.2-?]; retain handling 1 only for a new one,
      // 2 never [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11].
      if (!shared && (req.retainHandling === 0 || (req.retainHandling === 1 && !existing))) {
        const msgs = core.retained.match(sub.filter, now);
        if (msgs.length > 0) retained.push([sub, msgs]);
      }
    }
    if (i < reqs.length) return false;
    if (!sendControl(conn, { cmd: 'suback', messageId: pkt.packetId, granted: codes })) {
      // Not even the bare SUBACK fits the client's Maximum Packet Size [MQTT-3.1.2-24].
      conn.close(CloseReason.ProtocolError);
      return true;
    }
    if (log.debug) log.line(`Sending SUBACK to ${conn.logId}`);
    for (const [sub, msgs] of retained) deliverRetained(core, sub, msgs, now);
    return true;
  });
}
