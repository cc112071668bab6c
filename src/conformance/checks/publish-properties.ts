/**
 * MQTT 5 PUBLISH properties (3.3.2.3): forwarded unaltered, refused when malformed or forbidden, Message Expiry
 * honoured and counted down, and Topic Aliases kept within their limits and their connection.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { sleep, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import { closes } from './table.js';
import {
  PROP,
  QUIET_MS,
  collectPublishes,
  describePublishes,
  drainPublishes,
  encodeRawPublish,
  expectClosed,
  expectRefused,
  prop,
  resumeSession,
  sessionOptions,
  subscriber,
  texts,
} from './publish-support.js';

/** Waits long enough for a 1 s Message Expiry Interval to run out, whole-second clocks included. */
const EXPIRY_WAIT_MS = 2_200;

/** DISCONNECT reasons for a bad Topic Alias (0x94 names it; 0x81 and 0x82 are what the spec calls the breach). */
const ALIAS_REASONS = [0x81, 0x82, 0x94];

type Properties = NonNullable<IPublishPacket['properties']>;

interface ForwardRow {
  name: string;
  statement: string;
  title: string;
  properties: Properties;
  /** What must hold of the forwarded copy's properties: a failure message, or undefined. */
  verify(got: Properties): string | undefined;
}

/** Two subscribers (one by exact topic, one by wildcard when offered) each get the message with `properties`. */
function forwarded(row: ForwardRow): Check {
  return {
    id: `5.0/3.3/${row.name}`,
    version: '5.0',
    statements: [row.statement],
    title: row.title,
    async run(ctx) {
      const topic = ctx.topic('p/q');
      const subs = [await subscriber(ctx, topic)];
      if (ctx.capabilities.wildcardSubscriptions) subs.push(await subscriber(ctx, ctx.topic('p/#')));
      const pub = await ctx.connect();
      await pub.publish(topic, 'with-properties', { properties: row.properties });
      for (const [i, sub] of subs.entries()) {
        const p = await sub.next('publish', ctx.timeoutMs);
        const problem = row.verify(p.properties ?? {});
        if (problem !== undefined) throw new CheckFailed(`subscriber ${i + 1}: ${problem} (received ${describePublishes([p])})`);
      }
    },
  };
}

function same(what: string, sent: unknown, got: unknown): string | undefined {
  const a = JSON.stringify(sent);
  const b = JSON.stringify(got);
  return a === b ? undefined : `${what} sent as ${a} arrived as ${b ?? 'absent'}`;
}

/** User properties as [name, value] pairs in the order mqtt-packet decoded them. */
function pairs(props: Properties['userProperties']): string[][] {
  const out: string[][] = [];
  for (const [k, v] of Object.entries(props ?? {})) for (const one of Array.isArray(v) ? v : [v]) out.push([k, one]);
  return out;
}

// Names neither sorted nor integer-like (JavaScript objects list integer-like keys first), with one repeated.
const USER_PROPERTIES = { zulu: 'first', alpha: ['second', 'third', 'fourth'], mike: 'fifth', 'with space': 'ünïcødé' };

/** A PUBLISH carrying a forbidden or malformed property must close the connection and reach no one. */
function refusesProperty(name: string, statement: string, title: string, properties: (ctx: CheckContext) => Buffer, reasons: number[]): Check {
  return {
    id: `5.0/3.3/${name}`,
    version: '5.0',
    statements: [statement],
    title,
    async run(ctx) {
      const sub = await subscriber(ctx, ctx.topic());
      const pub = await ctx.connect();
      pub.sendRaw(encodeRawPublish(5, { topic: ctx.topic(), qos: 0, properties: properties(ctx), payload: 'refused' }));
      await expectClosed(pub, ctx, reasons, 'after the PUBLISH');
      const got = await drainPublishes(sub, QUIET_MS);
      expectThat(got.length === 0, `the refused PUBLISH was delivered: ${describePublishes(got)}`);
    },
  };
}

/** Connects, checks the broker declared Topic Aliases, and returns the client and its Topic Alias Maximum. */
async function aliasClient(ctx: CheckContext, clientId?: string): Promise<{ client: RawClient; maximum: number }> {
  const maximum = ctx.capabilities.topicAliasMaximum;
  if (maximum === 0) ctx.skip('the broker accepts no Topic Aliases', ctx.capabilities.declared.join('; ') || 'CONNACK without Topic Alias Maximum');
  const client = await ctx.connect(clientId === undefined ? {} : sessionOptions(ctx, clientId, false));
  return { client, maximum };
}

function aliasPublish(topic: string, alias: number, payload: string): Buffer {
  return encodeRawPublish(5, { topic, qos: 0, properties: prop.twoBytes(PROP.topicAlias, alias), payload });
}

export const PUBLISH_PROPERTY_CHECKS: Check[] = [
  forwarded({
    name: 'payload-format-forwarded',
    statement: 'MQTT-3.3.2-4',
    title: 'The Payload Format Indicator reaches every subscriber as published',
    properties: { payloadFormatIndicator: true },
    verify: (p) => same('Payload Format Indicator', true, p.payloadFormatIndicator),
  }),
  forwarded({
    name: 'response-topic-forwarded',
    statement: 'MQTT-3.3.2-15',
    title: 'The Response Topic reaches every subscriber as published',
    properties: { responseTopic: 'replies/über/Ωmega' },
    verify: (p) => same('Response Topic', 'replies/über/Ωmega', p.responseTopic),
  }),
  forwarded({
    name: 'correlation-data-forwarded',
    statement: 'MQTT-3.3.2-16',
    title: 'The Correlation Data reaches every subscriber as published, byte for byte',
    properties: { correlationData: Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x80, 0x7f]) },
    verify: (p) => same('Correlation Data', '0001feff807f', p.correlationData ? Buffer.from(p.correlationData).toString('hex') : undefined),
  }),
  forwarded({
    name: 'user-properties-forwarded',
    statement: 'MQTT-3.3.2-17',
    title: 'Every User Property of a message reaches the subscriber unchanged',
    properties: { userProperties: USER_PROPERTIES },
    verify: (p) => same('User Properties (in any order)', pairs(USER_PROPERTIES).map((x) => x.join('=')).sort(), pairs(p.userProperties).map((x) => x.join('=')).sort()),
  }),
  forwarded({
    name: 'user-properties-order',
    statement: 'MQTT-3.3.2-18',
    title: 'User Properties are forwarded in the order they were published',
    properties: { userProperties: USER_PROPERTIES },
    verify: (p) => same('User Properties in order', pairs(USER_PROPERTIES), pairs(p.userProperties)),
  }),
  forwarded({
    name: 'content-type-forwarded',
    statement: 'MQTT-3.3.2-20',
    title: 'The Content Type reaches every subscriber as published',
    properties: { contentType: 'application/x-mqbench; charset=utf-8' },
    verify: (p) => same('Content Type', 'application/x-mqbench; charset=utf-8', p.contentType),
  }),
  refusesProperty(
    'response-topic-bad-utf8',
    'MQTT-3.3.2-13',
    'A Response Topic that is not well-formed UTF-8 makes the broker close the connection',
    () => prop.string(PROP.responseTopic, Buffer.from([0x72, 0x2f, 0xc3, 0x28, 0xff])),
    [0x81, 0x82],
  ),
  refusesProperty(
    'content-type-bad-utf8',
    'MQTT-3.3.2-19',
    'A Content Type that is not well-formed UTF-8 makes the broker close the connection',
    () => prop.string(PROP.contentType, Buffer.from([0x74, 0x2f, 0xed, 0xa0, 0x80])),
    [0x81, 0x82],
  ),
  refusesProperty(
    'subscription-identifier-from-client',
    'MQTT-3.3.4-6',
    'A PUBLISH from a client carrying a Subscription Identifier is a protocol error: the broker closes the connection',
    () => prop.varInt(PROP.subscriptionIdentifier, 1),
    [0x81, 0x82],
  ),
  {
    id: '5.0/3.3/response-topic-wildcard',
    version: '5.0',
    statements: ['MQTT-3.3.2-14'],
    title: 'A PUBLISH whose Response Topic contains a wildcard is refused (error PUBACK or closed connection) and delivered to no one',
    async run(ctx) {
      const sub = await subscriber(ctx, ctx.topic());
      const pub = await ctx.connect();
      pub.sendRaw(encodeRawPublish(5, { topic: ctx.topic(), qos: 1, messageId: 1, properties: prop.string(PROP.responseTopic, 'replies/+/x'), payload: 'refused' }));
      await expectRefused(pub, ctx, [0x81, 0x82], 'a PUBLISH with Response Topic "replies/+/x"');
      const got = await drainPublishes(sub, QUIET_MS);
      expectThat(got.length === 0, `the refused PUBLISH was delivered: ${describePublishes(got)}`);
    },
  },
  {
    id: '5.0/3.3/message-expiry-drops',
    version: '5.0',
    statements: ['MQTT-3.3.2-5'],
    title: 'A queued message whose Message Expiry Interval runs out before delivery starts is not delivered',
    async run(ctx) {
      ctx.require('qos1');
      const id = ctx.clientId('s');
      const topic = ctx.topic();
      const sub = await ctx.connect(sessionOptions(ctx, id, false));
      await sub.subscribe(topic, 1);
      await sub.disconnect();
      const pub = await ctx.connect();
      await pub.publish(topic, 'expires', { qos: 1, properties: { messageExpiryInterval: 1 } });
      await pub.publish(topic, 'stays', { qos: 1 });
      await sleep(EXPIRY_WAIT_MS);
      const back = await resumeSession(ctx, id);
      const got = await collectPublishes(back, 1, ctx.timeoutMs);
      expectEqual(texts(got), ['stays'], 'messages delivered on resuming the session (one expired while queued)');
    },
  },
  {
    id: '5.0/3.3/message-expiry-counts-down',
    version: '5.0',
    statements: ['MQTT-3.3.2-6'],
    title: 'A forwarded Message Expiry Interval is reduced by the time the message waited in the broker',
    async run(ctx) {
      ctx.require('qos1');
      const id = ctx.clientId('s');
      const topic = ctx.topic();
      const sub = await ctx.connect(sessionOptions(ctx, id, false));
      await sub.subscribe(topic, 1);
      await sub.disconnect();
      const pub = await ctx.connect();
      await pub.publish(topic, 'waits', { qos: 1, properties: { messageExpiryInterval: 60 } });
      await sleep(EXPIRY_WAIT_MS);
      const back = await resumeSession(ctx, id);
      const p = await back.next('publish', ctx.timeoutMs);
      const left = p.properties?.messageExpiryInterval;
      expectThat(left !== undefined, `the message was forwarded without its Message Expiry Interval: ${describePublishes([p])}`);
      expectThat(left >= 1 && left <= 58, `published with Message Expiry Interval 60 and held ${EXPIRY_WAIT_MS} ms, it was forwarded with ${left}; expected 58 at most`);
    },
  },
  {
    id: '5.0/3.3/retained-message-expiry',
    version: '5.0',
    statements: ['MQTT-3.3.2-5', 'MQTT-3.3.2-6'],
    title: 'A retained message whose Message Expiry Interval has run out is no longer sent; one still in time is sent with what is left of it',
    async run(ctx) {
      ctx.require('retainAvailable');
      ctx.require('qos1');
      const [short, long] = [ctx.topic('short'), ctx.topic('long')];
      const pub = await ctx.connect();
      for (const [topic, payload, expiry] of [
        [short, 'expires', 1],
        [long, 'stays', 60],
      ] as const) {
        ctx.clearRetained(topic);
        await pub.publish(topic, payload, { qos: 1, retain: true, properties: { messageExpiryInterval: expiry } });
      }
      await sleep(EXPIRY_WAIT_MS);
      const sub = await ctx.connect();
      await sub.subscribe([
        { topic: short, qos: 1 },
        { topic: long, qos: 1 },
      ]);
      const got = await collectPublishes(sub, 1, ctx.timeoutMs);
      for (const p of got) await sub.acknowledge(p);
      expectEqual(texts(got), ['stays'], `retained messages sent ${EXPIRY_WAIT_MS} ms after they were published with Message Expiry Intervals 1 and 60`);
      const left = got[0].properties?.messageExpiryInterval;
      expectThat(left !== undefined, `the retained message was sent without its Message Expiry Interval: ${describePublishes(got)}`);
      expectThat(left >= 1 && left <= 58, `retained with Message Expiry Interval 60 and held ${EXPIRY_WAIT_MS} ms, it was sent with ${left}; expected 58 at most`);
    },
  },
  {
    id: '5.0/3.3/topic-alias-not-carried',
    version: '5.0',
    statements: ['MQTT-3.3.2-7'],
    title: 'A Topic Alias set on one connection means nothing on the next one, even for the same session',
    async run(ctx) {
      const id = ctx.clientId('a');
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic);
      const { client: first } = await aliasClient(ctx, id);
      first.sendRaw(aliasPublish(topic, 1, 'sets-alias'));
      expectEqual((await sub.next('publish', ctx.timeoutMs)).payload.toString(), 'sets-alias', 'message that set the alias');
      await first.disconnect();
      // Same client id and session: only the connection is new.
      const second = await ctx.connect(sessionOptions(ctx, id, true));
      second.sendRaw(aliasPublish('', 1, 'uses-old-alias'));
      await expectClosed(second, ctx, ALIAS_REASONS, 'after a PUBLISH using a Topic Alias only set on an earlier connection');
      const got = await drainPublishes(sub, QUIET_MS);
      expectThat(got.length === 0, `a Topic Alias from an earlier connection was honoured: ${describePublishes(got)}`);
    },
  },
  ...closes([
    {
      id: '5.0/3.3/topic-alias-zero',
      version: '5.0',
      statements: ['MQTT-3.3.2-8'],
      title: 'A PUBLISH with Topic Alias 0 makes the broker close the connection',
      send: (c, ctx) => c.sendRaw(aliasPublish(ctx.topic(), 0, 'alias-zero')),
      disconnectReasons: ALIAS_REASONS,
    },
  ]),
  {
    id: '5.0/3.3/topic-alias-over-maximum',
    version: '5.0',
    statements: ['MQTT-3.3.2-9'],
    title: "A Topic Alias above the broker's Topic Alias Maximum makes the broker close the connection",
    async run(ctx) {
      const { client, maximum } = await aliasClient(ctx);
      client.sendRaw(aliasPublish(ctx.topic(), maximum + 1, 'alias-too-big'));
      await expectClosed(client, ctx, ALIAS_REASONS, `after a PUBLISH with Topic Alias ${maximum + 1} (maximum ${maximum})`);
    },
  },
  {
    id: '5.0/3.3/topic-alias-all-accepted',
    version: '5.0',
    statements: ['MQTT-3.3.2-12'],
    title: 'Every Topic Alias from 1 to the declared maximum can be set and then used alone',
    async run(ctx) {
      const { client, maximum } = await aliasClient(ctx);
      const count = Math.min(maximum, 1_000);
      const sub = await subscriber(ctx, ctx.topic('#'));
      for (let a = 1; a <= count; a++) client.sendRaw(aliasPublish(ctx.topic(`a${a}`), a, `set-${a}`));
      for (let a = 1; a <= count; a++) client.sendRaw(aliasPublish('', a, `use-${a}`));
      const got = await sub.nextN('publish', 2 * count, ctx.timeoutMs + count * 5);
      const wrong = got.filter((p) => p.topic !== ctx.topic(`a${p.payload.toString().split('-')[1]}`));
      expectThat(wrong.length === 0, `messages arrived on the wrong topic: ${describePublishes(wrong.slice(0, 5))}`);
      expectThat(!client.closedByBroker, 'the broker closed the connection of a client using Topic Aliases within the maximum');
    },
  },
  {
    id: '5.0/3.3/topic-alias-remapped',
    version: '5.0',
    statements: ['MQTT-3.3.2-12'],
    title: 'A Topic Alias set again with another topic is re-mapped: a PUBLISH using it alone goes to the new topic',
    async run(ctx) {
      const { client } = await aliasClient(ctx);
      const [a, b] = [ctx.topic('a'), ctx.topic('b')];
      const subs = [await subscriber(ctx, a), await subscriber(ctx, b)];
      // payload → the topic it must arrive on. QoS 1, so each PUBACK shows the broker has taken the PUBLISH.
      const sent: Array<[string, string, string]> = [
        [a, 'sets-1-to-a', a],
        ['', 'uses-1-for-a', a],
        [b, 'sets-1-to-b', b],
        ['', 'uses-1-for-b', b],
        [a, 'sets-1-to-a-again', a],
        ['', 'uses-1-for-a-again', a],
      ];
      for (const [i, [topic, payload]] of sent.entries()) {
        client.sendRaw(encodeRawPublish(5, { topic, qos: 1, messageId: i + 1, properties: prop.twoBytes(PROP.topicAlias, 1), payload }));
        const ack = await client.next('puback', ctx.timeoutMs);
        expectThat(ack.messageId === i + 1 && (ack.reasonCode ?? 0) < 0x80, `the PUBLISH "${payload}" (packet identifier ${i + 1}) with Topic Alias 1 was answered PUBACK ${ack.messageId} 0x${(ack.reasonCode ?? 0).toString(16)}`);
      }
      const got = await Promise.all(subs.map((s) => collectPublishes(s, sent.filter(([, , to]) => to === (s === subs[0] ? a : b)).length, ctx.timeoutMs)));
      const arrived = got.flatMap((list, i) => list.map((p) => `${p.payload.toString()} on ${i === 0 ? 'a' : 'b'}`)).sort();
      const expected = sent.map(([, payload, to]) => `${payload} on ${to === a ? 'a' : 'b'}`).sort();
      expectEqual(arrived, expected, 'where each message arrived (Topic Alias 1 set to a, then b, then a again)');
    },
  },
  {
    id: '5.0/3.3/topic-alias-outbound-limit',
    version: '5.0',
    statements: ['MQTT-3.3.2-11'],
    title: 'The broker sends no Topic Alias above what the subscriber declared (none when it declared none)',
    async run(ctx) {
      const filter = ctx.topic('#');
      const none = await subscriber(ctx, filter);
      const one = await subscriber(ctx, filter, 0, { properties: { topicAliasMaximum: 1 } });
      const pub = await ctx.connect();
      const names = ['a', 'b', 'c'];
      for (let round = 0; round < 3; round++) for (const n of names) await pub.publish(ctx.topic(n), `${n}${round}`);
      const total = names.length * 3;
      for (const [client, maximum] of [
        [none, 0],
        [one, 1],
      ] as const) {
        const got = await client.nextN('publish', total, ctx.timeoutMs);
        const over = got.filter((p) => (p.properties?.topicAlias ?? 0) > maximum);
        expectThat(
          over.length === 0,
          `a subscriber declaring ${maximum === 0 ? 'no Topic Alias Maximum' : `Topic Alias Maximum ${maximum}`} was sent: ${describePublishes(over)}`,
        );
      }
    },
  },
];
