/**
 * SUBSCRIBE and SUBACK (3.8, 3.9) in both versions, and the register of every subscription-related check: UNSUBSCRIBE
 * and UNSUBACK (3.10, 3.11), topic names and filters (4.7), shared subscriptions (5.0 §4.8) and protocol violations
 * (3.1.1 §4.8).
 */
import type { IPublishPacket, ISubscription, QoS } from 'mqtt-packet';
import { encodeRawPacket, sleep, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import { SUBSCRIBE_ERROR_CHECKS } from './subscribe-errors.js';
import { SHARED_SUBSCRIPTION_CHECKS } from './subscribe-shared.js';
import {
  QUIET_MS,
  SUBACK_CODES_V3,
  encodeSubscribe,
  gather,
  hex,
  options,
  persistentSession,
  subackCodes,
  subscriptionIds,
  texts,
  usableQoS,
} from './subscribe-support.js';
import { TOPIC_CHECKS } from './subscribe-topics.js';
import { UNSUBSCRIBE_CHECKS } from './subscribe-unsubscribe.js';
import { bothVersions, closes, type ClosesRow } from './table.js';

/** A SUBSCRIBE of (filter, options byte) pairs with the given first byte, for packets mqtt-packet would not encode. */
function subscribeWith(ctx: CheckContext, firstByte: number, entries: ReadonlyArray<readonly [string | Buffer, number]>): Buffer {
  return encodeSubscribe(ctx.level, 1, entries, firstByte);
}

const MALFORMED = [0x81, 0x82];

const MALFORMED_SUBSCRIBE: ClosesRow[] = [
  ...bothVersions<ClosesRow>({
    name: '3.8/subscribe-flags-0000',
    statements: { '3.1.1': ['MQTT-3.8.1-1'], '5.0': ['MQTT-3.8.1-1'] },
    title: 'A SUBSCRIBE with fixed-header flags 0000 instead of 0010 makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(subscribeWith(ctx, 0x80, [[ctx.topic(), 0]])),
    disconnectReasons: MALFORMED,
  }),
  ...bothVersions<ClosesRow>({
    name: '3.8/subscribe-flags-1010',
    statements: { '3.1.1': ['MQTT-3.8.1-1'], '5.0': ['MQTT-3.8.1-1'] },
    title: 'A SUBSCRIBE with fixed-header flags 1010 (bit 1 right, bit 3 wrong) makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(subscribeWith(ctx, 0x8a, [[ctx.topic(), 0]])),
    disconnectReasons: MALFORMED,
  }),
  ...bothVersions<ClosesRow>({
    name: '3.8/subscribe-invalid-utf8',
    statements: { '3.1.1': ['MQTT-3.8.3-1'], '5.0': ['MQTT-3.8.3-1'] },
    title: 'A SUBSCRIBE whose topic filter is not valid UTF-8 makes the broker close the connection',
    // 0xFF never occurs in UTF-8.
    send: (c, ctx) => c.sendRaw(subscribeWith(ctx, 0x82, [[Buffer.concat([Buffer.from(ctx.topic() + '/'), Buffer.from([0xff])]), 0]])),
    disconnectReasons: MALFORMED,
  }),
  ...bothVersions<ClosesRow>({
    name: '3.8/subscribe-no-filters',
    statements: { '3.1.1': ['MQTT-3.8.3-3'], '5.0': ['MQTT-3.8.3-2'] },
    title: 'A SUBSCRIBE with no topic filter at all makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(encodeRawPacket(0x82, ctx.level === 5 ? [0x00, 0x01, 0x00] : [0x00, 0x01])),
    disconnectReasons: MALFORMED,
  }),
  {
    id: '3.1.1/3.8/subscribe-qos-3',
    version: '3.1.1',
    statements: ['MQTT-3.8.3-4'],
    title: 'A SUBSCRIBE requesting QoS 3 makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(subscribeWith(ctx, 0x82, [[ctx.topic(), 0x03]])),
  },
  {
    id: '3.1.1/3.8/subscribe-reserved-bit-2',
    version: '3.1.1',
    statements: ['MQTT-3.8.3-4'],
    // Bit 2 is No Local in 5.0: a broker that parses 3.1.1 options as 5.0 ones would take it silently.
    title: 'A SUBSCRIBE with reserved bit 2 of the requested QoS byte set makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(subscribeWith(ctx, 0x82, [[ctx.topic(), 0x05]])),
  },
  {
    id: '3.1.1/3.8/subscribe-reserved-bit-6',
    version: '3.1.1',
    statements: ['MQTT-3.8.3-4'],
    title: 'A SUBSCRIBE with reserved bit 6 of the requested QoS byte set makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(subscribeWith(ctx, 0x82, [[ctx.topic(), 0x41]])),
  },
  {
    id: '5.0/3.8/subscribe-reserved-bit-6',
    version: '5.0',
    statements: ['MQTT-3.8.3-5'],
    title: 'A SUBSCRIBE with reserved bit 6 of the subscription options set makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(subscribeWith(ctx, 0x82, [[ctx.topic(), 0x41]])),
    disconnectReasons: MALFORMED,
  },
  {
    id: '5.0/3.8/subscribe-reserved-bit-7',
    version: '5.0',
    statements: ['MQTT-3.8.3-5'],
    title: 'A SUBSCRIBE with reserved bit 7 of the subscription options set makes the broker close the connection',
    send: (c, ctx) => c.sendRaw(subscribeWith(ctx, 0x82, [[ctx.topic(), 0x81]])),
    disconnectReasons: MALFORMED,
  },
  {
    id: '5.0/3.8/no-local-on-shared',
    version: '5.0',
    statements: ['MQTT-3.8.3-4'],
    title: 'No Local on a shared subscription is a protocol error: the broker closes the connection',
    send: (c, ctx) => {
      ctx.require('sharedSubscriptions');
      c.sendRaw(subscribeWith(ctx, 0x82, [[`$share/g/${ctx.topic()}`, options(0, { noLocal: true })]]));
    },
    disconnectReasons: [0x82],
  },
];

/** Resolves once `condition` holds, or after `timeoutMs` whatever it says (the caller's own assertions then fail). */
async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(5);
}

/** Subscribes `client` and fails unless the SUBACK grants every filter (some QoS, not a failure). */
async function subscribeGranted(client: RawClient, subs: ISubscription[]): Promise<number[]> {
  const suback = await client.subscribe(subs);
  const granted = suback.granted as number[];
  expectEqual(granted.length, subs.length, 'number of SUBACK codes');
  granted.forEach((g, i) => expectThat(g < 0x80, `SUBACK refused ${JSON.stringify(subs[i].topic)} with ${hex(g)}`));
  return granted;
}

/** Fails unless each code is a QoS no higher than the one requested, or a failure code of this version. */
function expectGrantCodes(ctx: CheckContext, granted: readonly number[], requested: readonly number[]): void {
  expectEqual(granted.length, requested.length, 'number of SUBACK codes (one per filter requested)');
  const allowed = subackCodes(ctx);
  granted.forEach((g, i) => {
    expectThat(allowed.includes(g), `SUBACK code ${i + 1} is ${hex(g)}, not a ${ctx.version} SUBACK code (${allowed.map(hex).join(', ')})`);
    expectThat(g >= 0x80 || g <= requested[i], `SUBACK code ${i + 1} grants QoS ${g} for a subscription that asked for QoS ${requested[i]}`);
  });
}

const SUBACK_CHECKS: Check[] = [
  ...bothVersions<Check>({
    name: '3.8/suback-packet-id',
    statements: { '3.1.1': ['MQTT-3.8.4-1', 'MQTT-3.8.4-2'], '5.0': ['MQTT-3.8.4-1', 'MQTT-3.8.4-2'] },
    title: 'Every SUBSCRIBE gets a SUBACK carrying its packet identifier',
    async run(ctx) {
      const c = await ctx.connect();
      const ids = [0x7a5b, 0x0102];
      c.send({ cmd: 'subscribe', messageId: ids[0], subscriptions: [{ topic: ctx.topic('a'), qos: 0 }] });
      c.send({ cmd: 'subscribe', messageId: ids[1], subscriptions: [{ topic: ctx.topic('b'), qos: 1 }] });
      const acks = await c.nextN('suback', 2, ctx.timeoutMs);
      expectEqual(
        acks.map((a) => a.messageId ?? 0).sort((x, y) => x - y),
        [...ids].sort((x, y) => x - y),
        'packet identifiers of the two SUBACKs',
      );
    },
  }),
  ...bothVersions<Check>({
    name: '3.8/resubscribe-replaces',
    statements: { '3.1.1': ['MQTT-3.8.4-3'], '5.0': ['MQTT-3.8.4-3'] },
    title: 'Subscribing again to the same filter replaces the subscription: one copy per message, at the new QoS',
    async run(ctx) {
      ctx.require('qos1');
      const sub = await ctx.connect();
      const pub = await ctx.connect();
      const t = ctx.topic();
      // With subscription identifiers the replaced subscription also shows in which identifier a message carries.
      const ids = ctx.level === 5 && ctx.capabilities.subscriptionIdentifiers;
      const first = await sub.subscribe([{ topic: t, qos: 1 }], 0, ids ? { subscriptionIdentifier: 1 } : undefined);
      if (first.granted[0] !== 1) ctx.skip('the broker granted less than QoS 1 for a QoS 1 subscription', `SUBACK ${hex(first.granted[0] as number)}`);
      const second = await sub.subscribe([{ topic: t, qos: 0 }], 0, ids ? { subscriptionIdentifier: 2 } : undefined);
      expectEqual(second.granted, [0], 'SUBACK codes for the QoS 0 re-subscription');
      await pub.publish(t, 'after', { qos: 1 });
      const got = await sub.next('publish', ctx.timeoutMs);
      await sub.acknowledge(got);
      const more = await gather(sub, QUIET_MS);
      expectThat(more.length === 0, `a message arrived ${more.length + 1} times: the first subscription was kept beside the new one`);
      expectEqual(got.qos, 0, 'QoS of the message delivered through the replaced (now QoS 0) subscription');
      if (ids) expectEqual(subscriptionIds(got), [2], 'subscription identifiers on the delivered message');
    },
  }),
  ...bothVersions<Check>({
    name: '3.8/resubscribe-resends-retained',
    statements: { '3.1.1': ['MQTT-3.8.4-3'], '5.0': ['MQTT-3.8.4-4'] },
    title: 'Subscribing again to the same filter resends the retained message and loses none of the messages flowing meanwhile',
    async run(ctx) {
      ctx.require('retainAvailable');
      ctx.require('qos1');
      const t = ctx.topic();
      ctx.clearRetained(t);
      const pub = await ctx.connect();
      await pub.publish(t, 'retained', { qos: 1, retain: true }).catch((err: Error) => {
        // 3.1.1 has no way to declare that retained messages are not supported; closing on one is how it shows.
        if (ctx.level === 4 && pub.closedByBroker) ctx.skip('the broker does not take retained messages', 'it closed the connection on a retained PUBLISH');
        throw err;
      });
      const sub = await ctx.connect();
      await subscribeGranted(sub, [{ topic: t, qos: 1 }]);
      const initial = await sub.next('publish', ctx.timeoutMs);
      await sub.acknowledge(initial);
      expectThat(initial.retain && initial.payload.toString() === 'retained', 'the retained message did not arrive on the first subscription');
      const flowing = Array.from({ length: 20 }, (_, i) => `m${i}`);
      const isResent = (p: { retain: boolean; payload: Buffer | string }) => p.retain && p.payload.toString() === 'retained';
      // The subscriber acknowledges while the stream flows, and the publisher stays at most three messages ahead, so
      // that a broker's queue limit cannot be what loses a message.
      let seen: IPublishPacket[] = [];
      const gathering = gather(sub, 3 * ctx.timeoutMs, (g) => {
        seen = g;
        return g.some(isResent) && flowing.every((m) => texts(g).includes(m));
      });
      for (let i = 0; i < flowing.length; i++) {
        if (i >= 3) await waitUntil(() => texts(seen).includes(flowing[i - 3]), ctx.timeoutMs);
        // The re-subscription goes out in the middle of the stream.
        if (i === 10) sub.send({ cmd: 'subscribe', messageId: 0x4242, subscriptions: [{ topic: t, qos: 1 }] });
        await pub.publish(t, flowing[i], { qos: 1 });
      }
      const got = await gathering;
      const suback = await sub.next('suback', ctx.timeoutMs);
      expectEqual(suback.messageId, 0x4242, 'SUBACK packet identifier');
      expectThat(got.some(isResent), 'the retained message was not sent again after the re-subscription');
      const lost = flowing.filter((m) => !texts(got).includes(m));
      expectThat(lost.length === 0, `messages published while the subscription was replaced were lost: ${lost.join(', ')}`);
    },
  }),
  ...bothVersions<Check>({
    name: '3.8/subscribe-several-filters',
    statements: { '3.1.1': ['MQTT-3.8.4-4'], '5.0': ['MQTT-3.8.4-5'] },
    title: 'A SUBSCRIBE with three filters creates three subscriptions, answered by one SUBACK',
    async run(ctx) {
      const c = await ctx.connect();
      const pub = await ctx.connect();
      const names = ['a', 'b', 'c'];
      const suback = await c.subscribe(names.map((n, i) => ({ topic: ctx.topic(n), qos: i as QoS })));
      const granted = suback.granted as number[];
      expectEqual(granted.length, 3, 'number of SUBACK codes');
      await c.expectNothing(QUIET_MS, 'suback').catch((err: Error) => {
        throw new CheckFailed(`more than one SUBACK for one SUBSCRIBE: ${err.message}`);
      });
      const wanted = names.filter((_, i) => granted[i] < 0x80);
      for (const n of names) await pub.publish(ctx.topic(n), n);
      const got = texts(await gather(c, ctx.timeoutMs, (g) => g.length >= wanted.length));
      expectEqual(got.sort(), wanted, 'messages delivered through the granted subscriptions');
    },
  }),
  ...bothVersions<Check>({
    name: '3.8/subscribe-repeated-filter',
    statements: { '3.1.1': ['MQTT-3.8.4-4'], '5.0': ['MQTT-3.8.4-5'] },
    title: 'A filter listed twice in one SUBSCRIBE is handled like two SUBSCRIBEs: the second replaces the first',
    async run(ctx) {
      ctx.require('qos1');
      const c = await ctx.connect();
      const pub = await ctx.connect();
      const t = ctx.topic();
      // The higher QoS first: a broker that kept both subscriptions, or merged them, would deliver at QoS 1.
      const suback = await c.subscribe([
        { topic: t, qos: 1 },
        { topic: t, qos: 0 },
      ]);
      const granted = suback.granted as number[];
      expectEqual(granted.length, 2, 'number of SUBACK codes');
      if (granted[1] >= 0x80) throw new CheckFailed(`the second subscription was refused with ${hex(granted[1])}`);
      await pub.publish(t, 'once', { qos: 1 });
      const got = await gather(c, ctx.timeoutMs, (g) => g.length > 0);
      got.push(...(await gather(c, QUIET_MS)));
      expectEqual(texts(got), ['once'], 'messages delivered (one subscription, one copy)');
      expectEqual(got[0].qos, 0, 'QoS of the delivery (the later subscription, at QoS 0, replaces the QoS 1 one)');
    },
  }),
  ...bothVersions<Check>({
    name: '3.8/suback-one-code-per-filter',
    statements: { '3.1.1': ['MQTT-3.8.4-5'], '5.0': ['MQTT-3.8.4-6', 'MQTT-3.8.4-7'] },
    title: 'SUBACK has one code per filter requested: a QoS no higher than asked for, or a failure',
    async run(ctx) {
      const c = await ctx.connect();
      const requested = [0, 1, 2, 1, 0, 2];
      const subs = requested.map((qos, i) => ({ topic: ctx.topic(`f${i}`) + (i === 4 ? '/+' : i === 5 ? '/#' : ''), qos: qos as QoS }));
      const suback = await c.subscribe(subs);
      expectGrantCodes(ctx, suback.granted as number[], requested);
    },
  }),
  ...bothVersions<Check>({
    name: '3.8/delivery-at-lower-qos',
    statements: { '3.1.1': ['MQTT-3.8.4-6'], '5.0': ['MQTT-3.8.4-8'] },
    title: 'Each message is delivered at the lower of its published QoS and the QoS granted to the subscription',
    async run(ctx) {
      const sub = await ctx.connect();
      const pub = await ctx.connect();
      const filters = [0, 1, 2].map((q) => ctx.topic(`q${q}`));
      const granted = await subscribeGranted(
        sub,
        filters.map((topic, q) => ({ topic, qos: q as QoS })),
      );
      const pubQoS = ([0, 1, 2] as const).filter((q) => q <= ctx.capabilities.maximumQoS);
      const expected = new Map<string, { want: number; granted: number }>();
      for (let i = 0; i < filters.length; i++) {
        for (const q of pubQoS) {
          const payload = `sub${i}-pub${q}`;
          expected.set(payload, { want: Math.min(q, granted[i]), granted: granted[i] });
          await pub.publish(filters[i], payload, { qos: q });
        }
      }
      const got = await gather(sub, ctx.timeoutMs, (g) => new Set(texts(g)).size >= expected.size);
      for (const p of got) {
        const e = expected.get(p.payload.toString());
        if (e === undefined) continue;
        expectThat(p.qos === e.want, `${p.payload.toString()} (subscription granted QoS ${e.granted}) arrived at QoS ${p.qos}, expected ${e.want}`);
      }
      const missing = [...expected.keys()].filter((k) => !texts(got).includes(k));
      expectThat(missing.length === 0, `not delivered: ${missing.join(', ')}`);
    },
  }),
  ...bothVersions<Check>({
    name: '3.9/suback-order',
    statements: { '3.1.1': ['MQTT-3.9.3-1'], '5.0': ['MQTT-3.9.3-1'] },
    title: 'SUBACK codes follow the order of the filters: each matches the QoS its subscription delivers at',
    async run(ctx) {
      const sub = await ctx.connect();
      const pub = await ctx.connect();
      const requested = [2, 0, 1];
      const filters = requested.map((_, i) => ctx.topic(`o${i}`));
      const suback = await sub.subscribe(filters.map((topic, i) => ({ topic, qos: requested[i] as QoS })));
      const granted = suback.granted as number[];
      expectGrantCodes(ctx, granted, requested);
      const q = usableQoS(ctx, 2);
      const live = requested.flatMap((_, i) => (granted[i] < 0x80 ? [i] : []));
      for (const i of live) await pub.publish(filters[i], `o${i}`, { qos: q });
      const got = await gather(sub, ctx.timeoutMs, (g) => g.length >= live.length);
      for (const i of live) {
        const p = got.find((m) => m.payload.toString() === `o${i}`);
        expectThat(p !== undefined, `nothing arrived through filter ${i + 1}`);
        expectThat(
          p.qos === Math.min(q, granted[i]),
          `filter ${i + 1} (asked QoS ${requested[i]}) delivers a QoS ${q} message at QoS ${p.qos}, but its SUBACK code ${i + 1} says ${hex(granted[i])} ` +
            `(SUBACK codes ${granted.map(hex).join(', ')})`,
        );
      }
    },
  }),
  ...bothVersions<Check>({
    name: '3.9/suback-codes',
    statements: { '3.1.1': ['MQTT-3.9.3-2'], '5.0': ['MQTT-3.9.3-2'] },
    title: 'SUBACK uses only the codes its version defines, one per filter',
    async run(ctx) {
      const c = await ctx.connect();
      const t = ctx.topic();
      const subs: ISubscription[] = [
        { topic: `${t}/0`, qos: 0 },
        { topic: `${t}/1`, qos: 1 },
        { topic: `${t}/2`, qos: 2 },
        { topic: `${t}/+`, qos: 1 },
        { topic: `${t}/#`, qos: 2 },
        { topic: `$share/g/${t}`, qos: 1 },
        { topic: `$SYS/${t}`, qos: 0 },
      ];
      const suback = await c.subscribe(subs);
      expectGrantCodes(ctx, suback.granted as number[], subs.map((s) => s.qos));
    },
  }),
  {
    id: '3.1.1/3.8/wildcard-grant-is-real',
    version: '3.1.1',
    statements: ['MQTT-3.8.3-2'],
    title: 'A wildcard subscription is either refused (0x80) or really matches: the broker never grants one it ignores',
    async run(ctx) {
      const pub = await ctx.connect();
      const base = ctx.topic('w');
      for (const filter of [`${base}/+/x`, `${base}/#`]) {
        const sub = await ctx.connect();
        const suback = await sub.subscribe(filter, 0);
        const code = suback.granted[0] as number;
        expectThat(SUBACK_CODES_V3.includes(code), `SUBACK code ${hex(code)} for ${filter} is not a 3.1.1 code`);
        if (code === 0x80) continue;
        await pub.publish(`${base}/a/x`, filter);
        const got = await gather(sub, ctx.timeoutMs, (g) => texts(g).includes(filter));
        expectThat(texts(got).includes(filter), `SUBACK granted ${filter}, but a message to ${base}/a/x did not arrive through it`);
      }
    },
  },
  {
    id: '5.0/3.8/no-local',
    version: '5.0',
    statements: ['MQTT-3.8.3-3'],
    title: "With No Local a subscriber does not get its own messages, but still gets everyone else's",
    async run(ctx) {
      const a = await ctx.connect();
      const b = await ctx.connect();
      const t = ctx.topic();
      await subscribeGranted(a, [{ topic: t, qos: 0, nl: true }]);
      await subscribeGranted(b, [{ topic: t, qos: 0 }]);
      await a.publish(t, 'from-a');
      const seen = await gather(b, ctx.timeoutMs, (g) => texts(g).includes('from-a'));
      expectThat(texts(seen).includes('from-a'), 'another subscriber did not receive the message either: the broker did not route it');
      await b.publish(t, 'from-b');
      const got = texts(await gather(a, ctx.timeoutMs, (g) => texts(g).includes('from-b')));
      got.push(...texts(await gather(a, QUIET_MS)));
      expectThat(!got.includes('from-a'), 'the No Local subscriber received its own message');
      expectThat(got.includes('from-b'), "the No Local subscriber did not receive another client's message");
    },
  },
  {
    id: '5.0/3.8/no-local-resumed-session',
    version: '5.0',
    statements: ['MQTT-3.8.3-3'],
    title: "No Local holds in a resumed session, at QoS 1 and through a wildcard: the client's own messages stay away, others' arrive",
    async run(ctx) {
      ctx.require('qos1');
      const id = ctx.clientId('nl');
      ctx.endSession(id);
      const t = ctx.topic('a');
      const filter = ctx.capabilities.wildcardSubscriptions ? ctx.topic('+') : t;
      const first = await ctx.connect(persistentSession(ctx, id, false));
      await subscribeGranted(first, [{ topic: filter, qos: 1, nl: true }]);
      await first.disconnect();
      // A new connection with the same client id: No Local is about the client id, not the connection.
      const back = await ctx.open();
      const connack = await back.connect(persistentSession(ctx, id, true), ctx.timeoutMs);
      expectThat((connack.reasonCode ?? 0) === 0 && connack.sessionPresent, `the broker did not resume the session with the No Local subscription: CONNACK ${hex(connack.reasonCode ?? 0)}, Session Present ${connack.sessionPresent ? 1 : 0}`);
      const other = await ctx.connect();
      await back.publish(t, 'own', { qos: 1 });
      await other.publish(t, 'from-another-client', { qos: 1 });
      const got = texts(await gather(back, ctx.timeoutMs, (g) => texts(g).includes('from-another-client')));
      got.push(...texts(await gather(back, QUIET_MS)));
      expectThat(!got.includes('own'), `the No Local subscription of the resumed session delivered the client's own message (received ${JSON.stringify(got)})`);
      expectThat(got.includes('from-another-client'), `the resumed session's subscription did not deliver another client's message (received ${JSON.stringify(got)})`);
    },
  },
  {
    id: '5.0/3.9/suback-fits-maximum-packet-size',
    version: '5.0',
    statements: ['MQTT-3.9.2-1', 'MQTT-3.9.2-2'],
    title: "SUBACK leaves out its Reason String and User Properties when they would exceed the client's Maximum Packet Size",
    async run(ctx) {
      const { client, limit, count } = await tightClient(ctx);
      const t = ctx.topic();
      const subs: ISubscription[] = [];
      // Filters the broker may refuse are the likeliest to get a Reason String.
      if (!ctx.capabilities.sharedSubscriptions) subs.push({ topic: `$share/g/${t}`, qos: 1 });
      if (!ctx.capabilities.wildcardSubscriptions) subs.push({ topic: `${t}/+`, qos: 1 });
      while (subs.length < count) subs.push({ topic: `${t}/${subs.length}`, qos: 1 });
      client.send({ cmd: 'subscribe', messageId: 5, subscriptions: subs, properties: { userProperties: { echo: 'me' } } });
      const suback = await client.next('suback', ctx.timeoutMs);
      expectEqual(suback.granted.length, count, 'number of SUBACK codes');
      expectLean(suback, limit, 'SUBACK');
    },
  },
  {
    id: '5.0/3.11/unsuback-fits-maximum-packet-size',
    version: '5.0',
    statements: ['MQTT-3.11.2-1', 'MQTT-3.11.2-2'],
    title: "UNSUBACK leaves out its Reason String and User Properties when they would exceed the client's Maximum Packet Size",
    async run(ctx) {
      const { client, limit, count } = await tightClient(ctx);
      const t = ctx.topic();
      const half = count / 2;
      const subs = Array.from({ length: half }, (_, i) => ({ topic: `${t}/${i}`, qos: 0 as QoS }));
      await client.subscribe(subs);
      // Half the filters do not exist: "no subscription existed" is the likeliest answer to get a Reason String.
      const filters = Array.from({ length: count }, (_, i) => `${t}/${i}`);
      client.send({ cmd: 'unsubscribe', messageId: 6, unsubscriptions: filters, properties: { userProperties: { echo: 'me' } } });
      const unsuback = await client.next('unsuback', ctx.timeoutMs);
      expectEqual((unsuback.granted as number[] | undefined)?.length, count, 'number of UNSUBACK codes');
      expectLean(unsuback, limit, 'UNSUBACK');
    },
  },
];

/**
 * A 5.0 client whose Maximum Packet Size is exactly an acknowledgement of `count` codes with no properties:
 * fixed header (2) + packet identifier (2) + property length (1) + one byte per code. Any property would exceed it.
 * `count` is large enough that the CONNACK fits comfortably.
 */
async function tightClient(ctx: CheckContext): Promise<{ client: RawClient; limit: number; count: number }> {
  const count = 60;
  const limit = 5 + count;
  const client = await ctx.connect({ properties: { maximumPacketSize: limit } });
  return { client, limit, count };
}

function expectLean(packet: { length?: number; properties?: { reasonString?: string; userProperties?: unknown } }, limit: number, what: string): void {
  const size = packet.length === undefined ? undefined : 1 + (packet.length < 128 ? 1 : 2) + packet.length;
  expectThat(size === undefined || size <= limit, `${what} is ${size} bytes, over the client's Maximum Packet Size of ${limit}`);
  expectThat(packet.properties?.reasonString === undefined, `${what} carries a Reason String past the client's Maximum Packet Size`);
  expectThat(packet.properties?.userProperties === undefined, `${what} carries User Properties past the client's Maximum Packet Size`);
}

export const SUBSCRIBE_CHECKS: Check[] = [
  ...closes(MALFORMED_SUBSCRIBE),
  ...SUBACK_CHECKS,
  ...UNSUBSCRIBE_CHECKS,
  ...TOPIC_CHECKS,
  ...SHARED_SUBSCRIPTION_CHECKS,
  ...SUBSCRIBE_ERROR_CHECKS,
];
