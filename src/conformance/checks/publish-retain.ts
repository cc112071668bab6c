/**
 * Retained messages as the PUBLISH chapter (3.3.1) defines them: what is stored, replaced and removed, the RETAIN
 * flag on forwarded copies, and MQTT 5's Retain Handling and Retain As Published subscription options.
 */
import type { IPublishPacket, ISubscription, QoS } from 'mqtt-packet';
import type { RawClient } from '../client.js';
import { expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';
import { QUIET_MS, collectPublishes, describePublishes, drainPublishes, settled, subscribeOrFail, subscriber, texts } from './publish-support.js';
import { subscriptionIds } from './subscribe-support.js';

/**
 * Publishes a retained message and registers its topic for clearing. Returns once the broker has it: at QoS 0, which
 * has no acknowledgement, after a PINGREQ round trip, so that a subscription made next does not race it.
 */
async function retain(ctx: CheckContext, client: RawClient, topic: string, payload: string, qos: QoS = 0): Promise<void> {
  ctx.clearRetained(topic);
  await client.publish(topic, payload, { qos, retain: true });
  if (qos === 0) await settled(client, ctx);
}

/** The retained messages (`expected` of them, or more or fewer) a new subscription to `filters` is sent. */
async function retainedFor(ctx: CheckContext, filters: ISubscription[], expected: number): Promise<IPublishPacket[]> {
  const sub = await ctx.connect();
  await subscribeOrFail(sub, filters);
  const got = await collectPublishes(sub, expected, ctx.timeoutMs);
  for (const p of got) await sub.acknowledge(p);
  return got;
}

function describe(p: IPublishPacket): string {
  return `"${p.payload.toString()}" (QoS ${p.qos}, RETAIN ${p.retain ? 1 : 0})`;
}

function both(name: string, title: string, statements: Record<MqttVersion, string[]>, run: (ctx: CheckContext) => Promise<void>): Check[] {
  return (['3.1.1', '5.0'] as const).map((version) => ({
    id: `${version}/3.3/${name}`,
    version,
    statements: statements[version],
    title,
    async run(ctx) {
      ctx.require('retainAvailable');
      await run(ctx);
    },
  }));
}

/** A subscription for Retain Handling / Retain As Published checks. */
function v5Sub(topic: string, options: { rh?: 0 | 1 | 2; rap?: boolean; qos?: QoS }): ISubscription {
  return { topic, qos: options.qos ?? 0, rh: options.rh ?? 0, rap: options.rap ?? false, nl: false };
}

export const PUBLISH_RETAIN_CHECKS: Check[] = [
  ...both(
    'retained-kept-with-qos',
    'A retained message is stored with its QoS and sent to a later subscriber with RETAIN 1 at that QoS (capped by the subscription)',
    { '3.1.1': ['MQTT-3.3.1-5', 'MQTT-3.3.1-8'], '5.0': ['MQTT-3.3.1-5'] },
    async (ctx) => {
      const pub = await ctx.connect();
      const levels = ([0, 1, 2] as const).filter((q) => q <= ctx.capabilities.maximumQoS);
      for (const q of levels) await retain(ctx, pub, ctx.topic(`q${q}`), `retained-q${q}`, q);
      const sub = await ctx.connect();
      const granted = await subscribeOrFail(sub, levels.map((q) => ({ topic: ctx.topic(`q${q}`), qos: ctx.capabilities.maximumQoS })));
      const got = await collectPublishes(sub, levels.length, ctx.timeoutMs);
      for (const p of got) await sub.acknowledge(p);
      expectEqual(texts(got).sort(), levels.map((q) => `retained-q${q}`), 'retained messages sent to the new subscription');
      for (const p of got) {
        const published = Number(p.payload.toString().slice(-1));
        const expected = Math.min(published, granted[levels.indexOf(published as QoS)]);
        expectThat(p.qos === expected, `retained message ${describe(p)} should arrive at QoS ${expected} (published at QoS ${published}, subscription granted QoS ${granted[levels.indexOf(published as QoS)]})`);
        if (ctx.version === '3.1.1') expectThat(p.retain, `a message sent because of a new subscription arrived with RETAIN 0: ${describe(p)}`);
      }
    },
  ),
  ...both(
    'retained-latest-per-topic',
    'A new subscription is sent the latest retained message of every topic it matches, and only that one',
    { '3.1.1': ['MQTT-3.3.1-6', 'MQTT-3.3.1-8'], '5.0': ['MQTT-3.3.1-5'] },
    async (ctx) => {
      ctx.require('wildcardSubscriptions');
      const pub = await ctx.connect();
      await retain(ctx, pub, ctx.topic('r/a'), 'a-old', Math.min(1, ctx.capabilities.maximumQoS) as QoS);
      await retain(ctx, pub, ctx.topic('r/a'), 'a-new');
      await retain(ctx, pub, ctx.topic('r/b'), 'b-only');
      const got = await retainedFor(ctx, [{ topic: ctx.topic('r/+'), qos: 0 }], 2);
      expectEqual(texts(got).sort(), ['a-new', 'b-only'], `retained messages sent for "${ctx.topic('r/+')}"`);
      if (ctx.version === '3.1.1') {
        for (const p of got) expectThat(p.retain, `a message sent because of a new subscription arrived with RETAIN 0: ${describe(p)}`);
      }
    },
  ),
  {
    id: '3.1.1/3.3/retained-qos0-replaces',
    version: '3.1.1',
    statements: ['MQTT-3.3.1-7'],
    title: 'A retained QoS 0 message discards the message retained before it (it may keep the new one or none)',
    async run(ctx) {
      ctx.require('qos1');
      const pub = await ctx.connect();
      const topic = ctx.topic();
      await retain(ctx, pub, topic, 'old-q1', 1);
      await retain(ctx, pub, topic, 'new-q0', 0);
      const got = await retainedFor(ctx, [{ topic, qos: 1 }], 0);
      expectThat(!texts(got).includes('old-q1'), `the message retained before a retained QoS 0 message was still sent: ${describePublishes(got)}`);
      expectThat(got.length <= 1, `more than one retained message was sent for one topic: ${describePublishes(got)}`);
    },
  },
  ...both(
    'retained-live-flag',
    'A retained message forwarded to an existing subscription arrives with RETAIN 0 (3.1.1; MQTT 5 with Retain As Published 0)',
    { '3.1.1': ['MQTT-3.3.1-9'], '5.0': ['MQTT-3.3.1-12'] },
    async (ctx) => {
      const topic = ctx.topic();
      const sub = await subscriber(ctx, ctx.level === 5 ? v5Sub(topic, { rap: false }) : topic);
      const pub = await ctx.connect();
      await retain(ctx, pub, topic, 'retained-live');
      await pub.publish(topic, 'plain-live');
      const got = await sub.nextN('publish', 2, ctx.timeoutMs);
      // In whichever order they come: the RETAIN flag is what this statement is about.
      expectEqual(texts(got).sort(), ['plain-live', 'retained-live'], 'messages forwarded to the existing subscription');
      for (const p of got) expectThat(!p.retain, `a message forwarded to an existing subscription arrived with RETAIN 1: ${describe(p)}`);
    },
  ),
  ...both(
    'retained-empty-clears',
    'A retained message with an empty payload is forwarded as usual and removes the retained message of its topic',
    { '3.1.1': ['MQTT-3.3.1-10'], '5.0': ['MQTT-3.3.1-6'] },
    async (ctx) => {
      const topic = ctx.topic();
      const pub = await ctx.connect();
      await retain(ctx, pub, topic, 'to-be-cleared');
      const live = await subscriber(ctx, topic);
      const first = await live.next('publish', ctx.timeoutMs);
      expectEqual(first.payload.toString(), 'to-be-cleared', 'retained message sent to the new subscription');
      await retain(ctx, pub, topic, '');
      const forwarded = await live.next('publish', ctx.timeoutMs);
      expectThat(forwarded.payload.length === 0, `expected the empty retained message to be forwarded, got ${describePublishes([forwarded])}`);
      const got = await retainedFor(ctx, [{ topic, qos: 0 }], 0);
      expectThat(got.length === 0, `after an empty retained message, a new subscription was still sent: ${describePublishes(got)}`);
    },
  ),
  ...both(
    'retained-empty-not-stored',
    'A retained message with an empty payload is not itself kept as the retained message',
    { '3.1.1': ['MQTT-3.3.1-11'], '5.0': ['MQTT-3.3.1-7'] },
    async (ctx) => {
      const pub = await ctx.connect();
      await retain(ctx, pub, ctx.topic('empty'), '');
      // A message retained beside it shows the subscription is sent what is retained at all.
      await retain(ctx, pub, ctx.topic('full'), 'control');
      const got = await retainedFor(ctx, [
        { topic: ctx.topic('empty'), qos: 0 },
        { topic: ctx.topic('full'), qos: 0 },
      ], 1);
      expectEqual(
        got.map((p) => `${p.topic.slice(p.topic.lastIndexOf('/') + 1)}=${p.payload.toString()}`),
        ['full=control'],
        'retained messages sent to a new subscription (an empty retained message must not be one)',
      );
    },
  ),
  ...both(
    'retain-zero-keeps-retained',
    'A message with RETAIN 0 neither becomes the retained message nor removes or replaces the one already retained',
    { '3.1.1': ['MQTT-3.3.1-12'], '5.0': ['MQTT-3.3.1-8'] },
    async (ctx) => {
      const pub = await ctx.connect();
      await retain(ctx, pub, ctx.topic('kept'), 'retained');
      await pub.publish(ctx.topic('kept'), 'not-retained');
      await pub.publish(ctx.topic('none'), 'not-retained-either');
      // Both handled before the subscription, so neither can arrive as a live message.
      await settled(pub, ctx);
      const got = await retainedFor(ctx, [
        { topic: ctx.topic('kept'), qos: 0 },
        { topic: ctx.topic('none'), qos: 0 },
      ], 1);
      expectEqual(texts(got), ['retained'], 'retained messages sent to a new subscription');
    },
  ),
  {
    id: '5.0/3.3/retain-handling-0',
    version: '5.0',
    statements: ['MQTT-3.3.1-9'],
    title: 'Retain Handling 0: retained messages are sent each time the subscription is made, including when it replaces one',
    async run(ctx) {
      ctx.require('retainAvailable');
      const topic = ctx.topic();
      const pub = await ctx.connect();
      await retain(ctx, pub, topic, 'retained');
      const sub = await ctx.connect();
      await subscribeOrFail(sub, v5Sub(topic, { rh: 0 }));
      expectEqual(texts(await collectPublishes(sub, 1, ctx.timeoutMs)), ['retained'], 'retained messages sent for the new subscription');
      await subscribeOrFail(sub, v5Sub(topic, { rh: 0 }));
      expectEqual(texts(await collectPublishes(sub, 1, ctx.timeoutMs)), ['retained'], 'retained messages sent when the subscription is made again');
    },
  },
  {
    id: '5.0/3.3/retain-handling-1',
    version: '5.0',
    statements: ['MQTT-3.3.1-10'],
    title: 'Retain Handling 1: retained messages are sent for a new subscription but not when it replaces an existing one',
    async run(ctx) {
      ctx.require('retainAvailable');
      const topic = ctx.topic();
      const pub = await ctx.connect();
      await retain(ctx, pub, topic, 'retained');
      const sub = await ctx.connect();
      await subscribeOrFail(sub, v5Sub(topic, { rh: 1 }));
      expectEqual(texts(await collectPublishes(sub, 1, ctx.timeoutMs)), ['retained'], 'retained messages sent for the new subscription');
      await subscribeOrFail(sub, v5Sub(topic, { rh: 1 }));
      const again = await drainPublishes(sub, QUIET_MS);
      expectThat(again.length === 0, `the subscription already existed, yet retained messages were sent again: ${describePublishes(again)}`);
    },
  },
  {
    id: '5.0/3.3/retain-handling-2',
    version: '5.0',
    statements: ['MQTT-3.3.1-11'],
    title: 'Retain Handling 2: no retained messages are sent when the subscription is made',
    async run(ctx) {
      ctx.require('retainAvailable');
      const topic = ctx.topic();
      const pub = await ctx.connect();
      await retain(ctx, pub, topic, 'retained');
      const sub = await ctx.connect();
      await subscribeOrFail(sub, v5Sub(topic, { rh: 2 }));
      const got = await drainPublishes(sub, QUIET_MS);
      expectThat(got.length === 0, `retained messages were sent to a Retain Handling 2 subscription: ${describePublishes(got)}`);
      // The subscription itself works: new messages still arrive.
      await pub.publish(topic, 'live');
      expectEqual((await sub.next('publish', ctx.timeoutMs)).payload.toString(), 'live', 'message published after the subscription');
    },
  },
  {
    id: '5.0/3.3/retain-handling-per-filter',
    version: '5.0',
    statements: ['MQTT-3.3.1-9', 'MQTT-3.3.1-10', 'MQTT-3.3.1-11'],
    title: 'Retain Handling 0, 1 and 2 side by side in one SUBSCRIBE, sent twice: each filter follows its own option',
    async run(ctx) {
      ctx.require('retainAvailable');
      ctx.require('qos1');
      const pub = await ctx.connect();
      const topics = [0, 1, 2].map((rh) => ctx.topic(`rh${rh}`));
      for (const [rh, topic] of topics.entries()) await retain(ctx, pub, topic, `retained for Retain Handling ${rh}`, 1);
      const sub = await ctx.connect();
      const subscriptions = topics.map((topic, rh) => v5Sub(topic, { rh: rh as 0 | 1 | 2, qos: 1 }));
      const rounds: Array<[string, string[]]> = [
        ['made', ['retained for Retain Handling 0', 'retained for Retain Handling 1']],
        ['made again', ['retained for Retain Handling 0']],
      ];
      for (const [what, expected] of rounds) {
        await subscribeOrFail(sub, subscriptions);
        const got = await collectPublishes(sub, expected.length, ctx.timeoutMs);
        for (const p of got) await sub.acknowledge(p);
        expectEqual(texts(got).sort(), expected, `retained messages sent when the three subscriptions (Retain Handling 0, 1, 2) were ${what}`);
      }
    },
  },
  {
    id: '5.0/3.3/retained-carries-subscription-identifier',
    version: '5.0',
    statements: ['MQTT-3.3.4-3'],
    title: 'A retained message sent because of a SUBSCRIBE carries the Subscription Identifier of that subscription',
    async run(ctx) {
      ctx.require('retainAvailable');
      ctx.require('subscriptionIdentifiers');
      ctx.require('qos1');
      const pub = await ctx.connect();
      const exact = ctx.topic('exact');
      const wild = ctx.topic('w/a');
      await retain(ctx, pub, exact, 'retained-exact', 1);
      await retain(ctx, pub, wild, 'retained-wild', 1);
      const sub = await ctx.connect();
      // The smallest and the largest identifier a Variable Byte Integer can hold.
      const subscriptions: Array<[ISubscription, number, string]> = [[{ topic: exact, qos: 1 }, 1, 'retained-exact']];
      if (ctx.capabilities.wildcardSubscriptions) subscriptions.push([{ topic: ctx.topic('w/+'), qos: 1 }, 268_435_455, 'retained-wild']);
      for (const [subscription, id, payload] of subscriptions) {
        await subscribeOrFail(sub, subscription, 0, { subscriptionIdentifier: id });
        const got = await collectPublishes(sub, 1, ctx.timeoutMs);
        for (const p of got) await sub.acknowledge(p);
        const p = got.find((m) => m.payload.toString() === payload);
        expectThat(p !== undefined, `the retained message "${payload}" was not sent for the subscription to "${subscription.topic}": ${describePublishes(got)}`);
        const ids = subscriptionIds(p);
        expectThat(
          ids.includes(id),
          `the retained message sent for the subscription to "${subscription.topic}" (Subscription Identifier ${id}) carries ${ids.length === 0 ? 'no Subscription Identifier' : `Subscription Identifiers ${ids.join(', ')}`}`,
        );
      }
      // The same subscription carries its identifier on a live message too: the broker does send identifiers.
      await pub.publish(exact, 'live', { qos: 1 });
      const live = await sub.receive(ctx.timeoutMs);
      expectEqual([live.payload.toString(), subscriptionIds(live).includes(1)], ['live', true], 'payload of the live message and whether it carries Subscription Identifier 1');
    },
  },
  {
    id: '5.0/3.3/retain-as-published-1',
    version: '5.0',
    statements: ['MQTT-3.3.1-13'],
    title: 'Retain As Published 1: forwarded messages keep the RETAIN flag they were published with',
    async run(ctx) {
      ctx.require('retainAvailable');
      const topic = ctx.topic();
      const sub = await subscriber(ctx, v5Sub(topic, { rap: true }));
      const pub = await ctx.connect();
      await retain(ctx, pub, topic, 'retained');
      await pub.publish(topic, 'not-retained');
      const got = await sub.nextN('publish', 2, ctx.timeoutMs);
      expectEqual(
        got.map((p) => `${p.payload.toString()}:${p.retain ? 1 : 0}`).sort(),
        ['not-retained:0', 'retained:1'],
        'payload:RETAIN of the messages forwarded to a Retain As Published subscription',
      );
    },
  },
];
