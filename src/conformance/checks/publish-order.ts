/**
 * Which copies a subscriber gets and in what order: overlapping subscriptions and their identifiers (3.3.4-3.3.5),
 * Receive Maximum both ways (3.3.4), and per-publisher ordering (4.6).
 */
import type { IPublishPacket, QoS } from 'mqtt-packet';
import type { RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import {
  QUIET_MS,
  collectPublishes,
  describePublishes,
  drainPublishes,
  expectClosed,
  forBothVersions,
  receiveAll,
  resumeSession,
  sessionOptions,
  subscribeOrFail,
  subscriber,
  texts,
} from './publish-support.js';

/** Messages per topic and QoS in the ordering checks: few enough to stay within any Receive Maximum worth having. */
const PER_STREAM = 8;

/** The largest Receive Maximum the check will exceed on purpose. */
const EXCEEDABLE_RECEIVE_MAXIMUM = 1_000;

interface Outgoing {
  topic: string;
  payload: string;
  qos: QoS;
}

/**
 * Sends every message without waiting in between, then completes their flows (PUBACK; PUBREC, PUBREL, PUBCOMP).
 * Fails unless every acknowledgement arrives.
 */
async function publishPipelined(client: RawClient, messages: Outgoing[], ctx: CheckContext): Promise<void> {
  let owed = 0;
  for (const [i, m] of messages.entries()) {
    const messageId = m.qos > 0 ? i + 1 : undefined;
    client.send({ cmd: 'publish', topic: m.topic, payload: m.payload, qos: m.qos, retain: false, dup: false, ...(messageId ? { messageId } : {}) });
    if (m.qos > 0) owed++;
  }
  const deadline = Date.now() + ctx.timeoutMs * 2;
  while (owed > 0) {
    const p = await client.next(undefined, Math.max(1, deadline - Date.now()));
    if (p.cmd === 'puback' || p.cmd === 'pubcomp') owed--;
    else if (p.cmd === 'pubrec') client.send({ cmd: 'pubrel', messageId: p.messageId! });
    else throw new CheckFailed(`while publishing, the broker sent ${p.cmd}`);
  }
}

function subscriptionIds(p: IPublishPacket): number[] {
  const ids = p.properties?.subscriptionIdentifier;
  return ids === undefined ? [] : (Array.isArray(ids) ? ids : [ids]).slice().sort((a, b) => a - b);
}

export const PUBLISH_ORDER_CHECKS: Check[] = [
  ...forBothVersions((version, pick) => ({
    id: `${version}/3.3/overlapping-highest-qos`,
    version,
    statements: pick(['MQTT-3.3.5-1'], ['MQTT-3.3.4-2']),
    title: 'When several subscriptions match, the client gets the message at the highest QoS they grant (extra copies allowed)',
    async run(ctx) {
      ctx.require('wildcardSubscriptions');
      ctx.require('qos1');
      const top = ctx.capabilities.maximumQoS;
      const sub = await ctx.connect();
      const granted = await subscribeOrFail(sub, [
        { topic: ctx.topic('#'), qos: 0 },
        { topic: ctx.topic('a'), qos: top },
      ]);
      const pub = await ctx.connect();
      await pub.publish(ctx.topic('a'), 'overlap', { qos: top });
      const first = await sub.next('publish', ctx.timeoutMs);
      const copies = [first, ...(await drainPublishes(sub, QUIET_MS))];
      for (const p of copies) await sub.acknowledge(p);
      const expected = Math.min(top, Math.max(...granted));
      const best = Math.max(...copies.map((p) => p.qos));
      expectThat(best === expected, `subscriptions granted QoS ${granted.join(' and ')} both match; the best copy came at QoS ${best}, expected ${expected}: ${describePublishes(copies)}`);
    },
  })),
  {
    id: '5.0/3.3/overlapping-subscription-ids',
    version: '5.0',
    statements: ['MQTT-3.3.4-3', 'MQTT-3.3.4-4', 'MQTT-3.3.4-5'],
    title: "Messages for overlapping subscriptions carry their Subscription Identifiers: all in a single copy, or each copy its own",
    async run(ctx) {
      ctx.require('wildcardSubscriptions');
      ctx.require('subscriptionIdentifiers');
      ctx.require('qos1');
      const sub = await ctx.connect();
      await subscribeOrFail(sub, ctx.topic('#'), 0, { subscriptionIdentifier: 1 });
      await subscribeOrFail(sub, ctx.topic('a'), 1, { subscriptionIdentifier: 2 });
      const pub = await ctx.connect();
      await pub.publish(ctx.topic('a'), 'overlap', { qos: 1 });
      const copies = [await sub.next('publish', ctx.timeoutMs), ...(await drainPublishes(sub, QUIET_MS))];
      for (const p of copies) await sub.acknowledge(p);
      if (copies.length === 1) {
        expectEqual(subscriptionIds(copies[0]), [1, 2], 'Subscription Identifiers on the single copy sent for two matching subscriptions');
        return;
      }
      expectThat(copies.length === 2, `two subscriptions match, yet ${copies.length} copies arrived: ${describePublishes(copies)}`);
      expectEqual(copies.map(subscriptionIds).sort((a, b) => a[0] - b[0]), [[1], [2]], 'Subscription Identifiers on the two copies (each its own subscription)');
      for (const p of copies) {
        // Each copy follows its subscription's QoS: the QoS 0 subscription is identifier 1, the QoS 1 one is 2.
        expectEqual(subscriptionIds(p), [p.qos === 0 ? 1 : 2], `Subscription Identifier on the QoS ${p.qos} copy`);
      }
    },
  },
  ...forBothVersions((version) => ({
    id: `${version}/4.6/ordered-per-topic-and-qos`,
    version,
    statements: ['MQTT-4.6.0-5', 'MQTT-4.6.0-6'],
    title: "By default, one publisher's messages on a topic at one QoS reach each subscriber in the order they were sent",
    async run(ctx) {
      const levels = ([0, 1, 2] as const).filter((q) => q <= ctx.capabilities.maximumQoS);
      const perStream = Math.max(1, Math.min(PER_STREAM, Math.floor(ctx.capabilities.receiveMaximum / Math.max(1, levels.length - 1))));
      const topics = levels.map((q) => ctx.topic(`q${q}`));
      const subs = [await subscriber(ctx, topics.map((topic) => ({ topic, qos: ctx.capabilities.maximumQoS }))), await subscriber(ctx, topics.map((topic) => ({ topic, qos: 0 as QoS })))];
      const pub = await ctx.connect();
      const messages: Outgoing[] = [];
      // Interleaved in pairs: a broker may reorder across topics and QoS levels, but not within a pair.
      for (let i = 0; i < perStream; i += 2) {
        for (const [j, q] of levels.entries()) {
          for (let k = i; k < Math.min(i + 2, perStream); k++) messages.push({ topic: topics[j], payload: `q${q}-${k}`, qos: q });
        }
      }
      await publishPipelined(pub, messages, ctx);
      for (const [n, sub] of subs.entries()) {
        const got = await receiveAll(sub, messages.length, ctx.timeoutMs * 2);
        for (const [j, q] of levels.entries()) {
          const stream = got.filter((p) => p.topic === topics[j]).map((p) => p.payload.toString());
          const sent = messages.filter((m) => m.topic === topics[j]).map((m) => m.payload);
          expectEqual(stream, sent, `order of the QoS ${q} messages at subscriber ${n + 1} (subscribed at QoS ${n === 0 ? ctx.capabilities.maximumQoS : 0})`);
        }
      }
    },
  })),
  ...forBothVersions((version, pick) => ({
    id: `${version}/4.6/resent-in-order`,
    version,
    statements: pick(['MQTT-4.4.0-1', 'MQTT-4.6.0-6'], ['MQTT-4.4.0-1', 'MQTT-4.6.0-5']),
    title: 'On resuming a session, unacknowledged messages are resent in the order they were first sent, with their identifiers',
    async run(ctx) {
      ctx.require('qos1');
      const topic = ctx.topic();
      const id = ctx.clientId('s');
      const sub = await ctx.connect(sessionOptions(ctx, id, false));
      await subscribeOrFail(sub, topic, 1);
      const pub = await ctx.connect();
      for (let i = 0; i < 5; i++) await pub.publish(topic, `m${i}`, { qos: 1 });
      const first = await sub.nextN('publish', 5, ctx.timeoutMs);
      await sub.disconnect();
      const back = await resumeSession(ctx, id);
      const again = await back.nextN('publish', 5, ctx.timeoutMs);
      expectEqual(
        again.map((p) => `${p.payload.toString()}#${p.messageId}`),
        first.map((p) => `${p.payload.toString()}#${p.messageId}`),
        'messages resent on resuming (payload#packet identifier), in order',
      );
      for (const p of again) await back.acknowledge(p);
    },
  })),
  {
    id: '3.1.1/4.6/pubrel-in-pubrec-order',
    version: '3.1.1',
    statements: ['MQTT-4.6.0-6'],
    title: 'The broker sends its PUBRELs in the order the PUBRECs arrived',
    async run(ctx) {
      ctx.require('qos2');
      const sub = await subscriber(ctx, ctx.topic(), 2);
      const pub = await ctx.connect();
      for (let i = 0; i < 4; i++) await pub.publish(ctx.topic(), `m${i}`, { qos: 2 });
      const ids = (await sub.nextN('publish', 4, ctx.timeoutMs)).map((p) => p.messageId!);
      const order = [ids[2], ids[0], ids[3], ids[1]];
      for (const messageId of order) sub.send({ cmd: 'pubrec', messageId });
      const rels = await sub.nextN('pubrel', 4, ctx.timeoutMs);
      expectEqual(rels.map((r) => r.messageId), order, 'packet identifiers of the PUBRELs, in arrival order (PUBRECs were sent in this order)');
      for (const messageId of order) sub.send({ cmd: 'pubcomp', messageId });
    },
  },
  {
    id: '5.0/3.3/receive-maximum-exceeded',
    version: '5.0',
    statements: ['MQTT-3.3.4-7'],
    title: "A client sending more unacknowledged QoS 2 messages than the broker's Receive Maximum is disconnected with 0x93",
    async run(ctx) {
      ctx.require('qos2');
      const max = ctx.capabilities.receiveMaximum;
      if (max > EXCEEDABLE_RECEIVE_MAXIMUM) ctx.skip(`the Receive Maximum is too large to exceed in a quick check`, ctx.capabilities.declared.join('; ') || 'no Receive Maximum in CONNACK (65535)');
      const c = await ctx.connect();
      // PUBREC does not end a QoS 2 flow for Receive Maximum; only PUBCOMP does, and no PUBREL is sent.
      for (let i = 1; i <= max + 1; i++) c.send({ cmd: 'publish', topic: ctx.topic(), payload: `m${i}`, qos: 2, messageId: i, retain: false, dup: false });
      await expectClosed(c, ctx, [0x93], `after ${max + 1} QoS 2 messages left unreleased (Receive Maximum ${max})`);
    },
  },
  {
    id: '5.0/3.3/receive-maximum-respected',
    version: '5.0',
    statements: ['MQTT-3.3.4-9'],
    title: "The broker keeps no more unacknowledged QoS 1 and QoS 2 messages in flight than the client's Receive Maximum",
    async run(ctx) {
      ctx.require('qos1');
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic, 1, { properties: { receiveMaximum: 2 } });
      const pub = await ctx.connect();
      for (let i = 0; i < 5; i++) await pub.publish(topic, `m${i}`, { qos: 1 });
      const window = await collectPublishes(sub, 2, ctx.timeoutMs);
      expectThat(window.length === 2, `with Receive Maximum 2 and none acknowledged, the broker sent ${window.length}: ${describePublishes(window)}`);
      sub.send({ cmd: 'puback', messageId: window[0].messageId! });
      const next = await collectPublishes(sub, 1, ctx.timeoutMs);
      expectThat(next.length === 1, `after one PUBACK with Receive Maximum 2, the broker sent ${next.length} more: ${describePublishes(next)}`);
      for (const p of [window[1], ...next]) await sub.acknowledge(p);
      await receiveAll(sub, 2, ctx.timeoutMs);
      if (ctx.capabilities.maximumQoS < 2) return;
      // QoS 2: a message stays in flight until PUBCOMP, not just until PUBREC.
      const sub2 = await subscriber(ctx, ctx.topic('q2'), 2, { properties: { receiveMaximum: 1 } });
      await pub.publish(ctx.topic('q2'), 'first', { qos: 2 });
      await pub.publish(ctx.topic('q2'), 'second', { qos: 2 });
      const one = await sub2.next('publish', ctx.timeoutMs);
      sub2.send({ cmd: 'pubrec', messageId: one.messageId! });
      await sub2.next('pubrel', ctx.timeoutMs);
      const early = await drainPublishes(sub2, QUIET_MS);
      expectThat(early.length === 0, `with Receive Maximum 1, the broker sent another message before PUBCOMP: ${describePublishes(early)}`);
      sub2.send({ cmd: 'pubcomp', messageId: one.messageId! });
      expectEqual(texts([await sub2.receive(ctx.timeoutMs)]), ['second'], 'message sent once the first flow completed');
    },
  },
  {
    id: '5.0/3.3/quota-full-other-packets',
    version: '5.0',
    statements: ['MQTT-3.3.4-10'],
    title: 'With the client\'s Receive Maximum used up, the broker still answers everything other than PUBLISH at once',
    async run(ctx) {
      ctx.require('qos1');
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic, 1, { properties: { receiveMaximum: 1 } });
      const pub = await ctx.connect();
      await pub.publish(topic, 'in-flight', { qos: 1 });
      await pub.publish(topic, 'waiting', { qos: 1 });
      const held = await sub.next('publish', ctx.timeoutMs);
      sub.send({ cmd: 'pingreq' });
      await sub.next('pingresp', ctx.timeoutMs);
      await subscribeOrFail(sub, ctx.topic('other'), 1);
      await sub.unsubscribe(ctx.topic('other'));
      await sub.publish(ctx.topic('elsewhere'), 'own-q1', { qos: 1 });
      if (ctx.capabilities.maximumQoS >= 2) await sub.publish(ctx.topic('elsewhere'), 'own-q2', { qos: 2 });
      await sub.acknowledge(held);
      const other = held.payload.toString() === 'in-flight' ? 'waiting' : 'in-flight';
      expectEqual(texts([await sub.receive(ctx.timeoutMs)]), [other], 'message sent once the quota freed');
    },
  },
];
