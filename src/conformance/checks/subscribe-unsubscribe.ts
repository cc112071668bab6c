/**
 * UNSUBSCRIBE and UNSUBACK (3.10, 3.11) in both versions.
 */
import type { Check, CheckContext } from '../check.js';
import { CheckFailed, expectEqual, expectThat } from '../check.js';
import type { RawClient } from '../client.js';
import {
  QUIET_MS,
  UNSUBACK_CODES_V5,
  encodeUnsubscribe,
  gather,
  hex,
  persistentSession,
  texts,
} from './subscribe-support.js';
import { bothVersions, closes, type ClosesRow } from './table.js';

const MALFORMED = [0x81, 0x82];

const MALFORMED_UNSUBSCRIBE: ClosesRow[] = [
  ...bothVersions<ClosesRow>({
    name: '3.10/unsubscribe-flags-0000',
    statements: { '3.1.1': ['MQTT-3.10.1-1'], '5.0': ['MQTT-3.10.1-1'] },
    title: 'An UNSUBSCRIBE with fixed-header flags 0000 instead of 0010 makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(encodeUnsubscribe(ctx.level, 1, [ctx.topic()], 0xa0)),
    disconnectReasons: MALFORMED,
  }),
  ...bothVersions<ClosesRow>({
    name: '3.10/unsubscribe-flags-1010',
    statements: { '3.1.1': ['MQTT-3.10.1-1'], '5.0': ['MQTT-3.10.1-1'] },
    title: 'An UNSUBSCRIBE with fixed-header flags 1010 (bit 1 right, bit 3 wrong) makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(encodeUnsubscribe(ctx.level, 1, [ctx.topic()], 0xaa)),
    disconnectReasons: MALFORMED,
  }),
  ...bothVersions<ClosesRow>({
    name: '3.10/unsubscribe-invalid-utf8',
    statements: { '3.1.1': ['MQTT-3.10.3-1'], '5.0': ['MQTT-3.10.3-1'] },
    title: 'An UNSUBSCRIBE whose topic filter is not valid UTF-8 makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(encodeUnsubscribe(ctx.level, 1, [Buffer.concat([Buffer.from(ctx.topic() + '/'), Buffer.from([0xff])])])),
    disconnectReasons: MALFORMED,
  }),
  ...bothVersions<ClosesRow>({
    name: '3.10/unsubscribe-no-filters',
    statements: { '3.1.1': ['MQTT-3.10.3-2'], '5.0': ['MQTT-3.10.3-2'] },
    title: 'An UNSUBSCRIBE with no topic filter at all makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(encodeUnsubscribe(ctx.level, 1, [])),
    disconnectReasons: MALFORMED,
  }),
];

/** Fails unless a message published now to `topic` reaches `sub` (`expect` true) or does not (`expect` false). */
async function expectDelivery(ctx: CheckContext, pub: RawClient, sub: RawClient, topic: string, payload: string, expect: boolean): Promise<void> {
  await pub.publish(topic, payload);
  const got = texts(await gather(sub, expect ? ctx.timeoutMs : QUIET_MS, (g) => texts(g).includes(payload)));
  if (expect) expectThat(got.includes(payload), `a message to ${topic} did not arrive, though the subscription should still be there`);
  else expectThat(!got.includes(payload), `a message to ${topic} arrived after its subscription was removed`);
}

/** 5.0 UNSUBACK reason codes (3.1.1 has none). */
function unsubackCodes(p: { granted?: number[] | Record<string, unknown> }): number[] {
  return Array.isArray(p.granted) ? p.granted : [];
}

const UNSUBACK_CHECKS: Check[] = [
  ...bothVersions<Check>({
    name: '3.10/unsubscribe-exact-match',
    statements: { '3.1.1': ['MQTT-3.10.4-1'], '5.0': ['MQTT-3.10.4-1'] },
    title: 'UNSUBSCRIBE removes only a filter equal character by character: not one it merely matches or overlaps',
    async run(ctx) {
      ctx.require('wildcardSubscriptions');
      const sub = await ctx.connect();
      const pub = await ctx.connect();
      const base = ctx.topic('e');
      const filter = `${base}/+/x`;
      const topic = `${base}/a/x`;
      const suback = await sub.subscribe(filter, 0);
      if ((suback.granted[0] as number) >= 0x80) ctx.skip('the broker refused a wildcard subscription', `SUBACK ${hex(suback.granted[0] as number)}`);
      await sub.unsubscribe(topic);
      await sub.unsubscribe(`${base}/#`);
      await sub.unsubscribe(`${base}/+/X`);
      await expectDelivery(ctx, pub, sub, topic, 'kept', true);
      await sub.unsubscribe(filter);
      await expectDelivery(ctx, pub, sub, topic, 'removed', false);
    },
  }),
  ...bothVersions<Check>({
    name: '3.10/unsubscribe-stops-delivery',
    statements: { '3.1.1': ['MQTT-3.10.4-2'], '5.0': ['MQTT-3.10.4-2'] },
    title: 'After UNSUBACK no new message matching the removed filter is delivered',
    async run(ctx) {
      const sub = await ctx.connect();
      const pub = await ctx.connect();
      const t = ctx.topic();
      await sub.subscribe(t, 1);
      await expectDelivery(ctx, pub, sub, t, 'before', true);
      await sub.unsubscribe(t);
      await expectDelivery(ctx, pub, sub, t, 'after', false);
    },
  }),
  ...bothVersions<Check>({
    name: '3.10/unsubscribe-completes-qos1',
    statements: { '3.1.1': ['MQTT-3.10.4-3'], '5.0': ['MQTT-3.10.4-3'] },
    title: 'A QoS 1 delivery unacknowledged when its subscription is removed is still completed (resent on resuming the session)',
    async run(ctx) {
      ctx.require('qos1');
      const id = ctx.clientId('s');
      ctx.endSession(id);
      const t = ctx.topic();
      const pub = await ctx.connect();
      const sub = await ctx.connect(persistentSession(ctx, id, false));
      const suback = await sub.subscribe(t, 1);
      if (suback.granted[0] !== 1) ctx.skip('the broker granted less than QoS 1 for a QoS 1 subscription', `SUBACK ${hex(suback.granted[0] as number)}`);
      await pub.publish(t, 'in-flight', { qos: 1 });
      const first = await sub.next('publish', ctx.timeoutMs);
      await sub.unsubscribe(t);
      sub.destroy();
      const again = await ctx.connect(persistentSession(ctx, id, true));
      const resent = await again.next('publish', ctx.timeoutMs).catch((err: Error) => {
        throw new CheckFailed(`the unacknowledged QoS 1 message was not resent when the session resumed: ${err.message}`);
      });
      expectEqual(resent.payload.toString(), 'in-flight', 'payload of the resent message');
      expectEqual(resent.messageId, first.messageId, 'packet identifier of the resent message');
      await again.acknowledge(resent);
    },
  }),
  ...bothVersions<Check>({
    name: '3.10/unsubscribe-completes-qos2',
    statements: { '3.1.1': ['MQTT-3.10.4-3'], '5.0': ['MQTT-3.10.4-3'] },
    title: 'A QoS 2 delivery under way when its subscription is removed is still completed: PUBREC gets its PUBREL',
    async run(ctx) {
      ctx.require('qos2');
      const t = ctx.topic();
      const pub = await ctx.connect();
      const sub = await ctx.connect();
      const suback = await sub.subscribe(t, 2);
      if (suback.granted[0] !== 2) ctx.skip('the broker granted less than QoS 2 for a QoS 2 subscription', `SUBACK ${hex(suback.granted[0] as number)}`);
      await pub.publish(t, 'in-flight', { qos: 2 });
      const p = await sub.next('publish', ctx.timeoutMs);
      await sub.unsubscribe(t);
      sub.send({ cmd: 'pubrec', messageId: p.messageId! });
      const pubrel = await sub.next('pubrel', ctx.timeoutMs).catch((err: Error) => {
        throw new CheckFailed(`the broker did not continue the QoS 2 flow after the unsubscription: ${err.message}`);
      });
      expectEqual(pubrel.messageId, p.messageId, 'PUBREL packet identifier');
      sub.send({ cmd: 'pubcomp', messageId: p.messageId! });
    },
  }),
  ...bothVersions<Check>({
    name: '3.10/unsuback-packet-id',
    statements: { '3.1.1': ['MQTT-3.10.4-4'], '5.0': ['MQTT-3.10.4-4', 'MQTT-3.10.4-5'] },
    title: 'Every UNSUBSCRIBE gets an UNSUBACK carrying its packet identifier',
    async run(ctx) {
      const c = await ctx.connect();
      await c.subscribe(ctx.topic('a'), 0);
      const ids = [0x7a5c, 0x0203];
      c.send({ cmd: 'unsubscribe', messageId: ids[0], unsubscriptions: [ctx.topic('a')] });
      c.send({ cmd: 'unsubscribe', messageId: ids[1], unsubscriptions: [ctx.topic('b')] });
      const acks = await c.nextN('unsuback', 2, ctx.timeoutMs);
      expectEqual(
        acks.map((a) => a.messageId ?? 0).sort((x, y) => x - y),
        [...ids].sort((x, y) => x - y),
        'packet identifiers of the two UNSUBACKs',
      );
    },
  }),
  ...bothVersions<Check>({
    name: '3.10/unsuback-when-nothing-removed',
    statements: { '3.1.1': ['MQTT-3.10.4-5'], '5.0': ['MQTT-3.10.4-5'] },
    title: 'An UNSUBSCRIBE for a filter never subscribed still gets its UNSUBACK',
    async run(ctx) {
      const c = await ctx.connect();
      c.send({ cmd: 'unsubscribe', messageId: 0x3344, unsubscriptions: [ctx.topic('never')] });
      const ack = await c.next('unsuback', ctx.timeoutMs);
      expectEqual(ack.messageId, 0x3344, 'UNSUBACK packet identifier');
    },
  }),
  ...bothVersions<Check>({
    name: '3.10/unsubscribe-several-filters',
    statements: { '3.1.1': ['MQTT-3.10.4-6'], '5.0': ['MQTT-3.10.4-6'] },
    title: 'An UNSUBSCRIBE with two filters removes both and is answered by one UNSUBACK',
    async run(ctx) {
      const sub = await ctx.connect();
      const pub = await ctx.connect();
      const [a, b, c] = ['a', 'b', 'c'].map((n) => ctx.topic(n));
      await sub.subscribe([
        { topic: a, qos: 0 },
        { topic: b, qos: 0 },
        { topic: c, qos: 0 },
      ]);
      const ack = await sub.unsubscribe([a, b]);
      if (ctx.level === 5) expectEqual(unsubackCodes(ack).length, 2, 'number of UNSUBACK reason codes');
      await sub.expectNothing(QUIET_MS, 'unsuback').catch((err: Error) => {
        throw new CheckFailed(`more than one UNSUBACK for one UNSUBSCRIBE: ${err.message}`);
      });
      await pub.publish(a, 'a');
      await pub.publish(b, 'b');
      await pub.publish(c, 'c');
      const got = texts(await gather(sub, ctx.timeoutMs, (g) => texts(g).includes('c')));
      got.push(...texts(await gather(sub, QUIET_MS)));
      expectEqual(got, ['c'], 'messages delivered after unsubscribing from the first two of three filters');
    },
  }),
  {
    id: '5.0/3.11/unsuback-order',
    version: '5.0',
    statements: ['MQTT-3.11.3-1'],
    title: 'UNSUBACK reason codes follow the order of the filters: 0x00 where one was removed, 0x11 where none existed',
    async run(ctx) {
      const c = await ctx.connect();
      const [a, b, d] = ['a', 'b', 'd'].map((n) => ctx.topic(n));
      await c.subscribe([
        { topic: a, qos: 0 },
        { topic: d, qos: 0 },
      ]);
      const ack = await c.unsubscribe([b, a, d, b]);
      expectEqual(unsubackCodes(ack).map(hex), [0x11, 0x00, 0x00, 0x11].map(hex), 'UNSUBACK reason codes for [missing, subscribed, subscribed, missing]');
    },
  },
  {
    id: '5.0/3.11/unsuback-codes',
    version: '5.0',
    statements: ['MQTT-3.11.3-2'],
    title: 'UNSUBACK uses only UNSUBACK reason codes, one per filter',
    async run(ctx) {
      const c = await ctx.connect();
      const t = ctx.topic();
      const filters = [`${t}/a`, `${t}/+`, `${t}/#`, `${t}/missing`, `${t}/+/missing`, `$share/g/${t}`];
      await c.subscribe(filters.slice(0, 3).map((topic) => ({ topic, qos: 0 as const })));
      const ack = await c.unsubscribe(filters);
      const codes = unsubackCodes(ack);
      expectEqual(codes.length, filters.length, 'number of UNSUBACK reason codes');
      codes.forEach((code, i) =>
        expectThat(UNSUBACK_CODES_V5.includes(code), `UNSUBACK code ${i + 1} is ${hex(code)}, not an UNSUBACK reason code (${UNSUBACK_CODES_V5.map(hex).join(', ')})`),
      );
    },
  },
];

export const UNSUBSCRIBE_CHECKS: Check[] = [...closes(MALFORMED_UNSUBSCRIBE), ...UNSUBACK_CHECKS];
