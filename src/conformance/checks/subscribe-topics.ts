/**
 * Topic names and topic filters (4.7) in both versions: wildcard placement, `$` topics, empty and U+0000 strings,
 * and matching without normalisation.
 */
import type { ISubscription } from 'mqtt-packet';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import type { RawClient } from '../client.js';
import { QUIET_MS, expectFiltersRefused, expectTopicNameRefused, gather, gatherAll, hex, runTag, texts } from './subscribe-support.js';
import { bothVersions } from './table.js';

/** Subscribes and skips the check when a 3.1.1 broker refuses a wildcard filter (it may not support them). */
async function subscribeWildcard(ctx: CheckContext, client: RawClient, subs: ISubscription[]): Promise<void> {
  ctx.require('wildcardSubscriptions');
  const suback = await client.subscribe(subs);
  const granted = suback.granted as number[];
  expectEqual(granted.length, subs.length, 'number of SUBACK codes');
  granted.forEach((g, i) => {
    if (g < 0x80) return;
    if (ctx.level === 4) ctx.skip('the broker does not support wildcard subscriptions', `SUBACK ${hex(g)} for ${subs[i].topic}`);
    throw new CheckFailed(`SUBACK refused the valid filter ${JSON.stringify(subs[i].topic)} with ${hex(g)}`);
  });
}

/** A connection subscribed to everything under the check's prefix, to see whether a refused message got through. */
async function watchPrefix(ctx: CheckContext): Promise<RawClient | undefined> {
  if (!ctx.capabilities.wildcardSubscriptions) return undefined;
  const watcher = await ctx.connect();
  const suback = await watcher.subscribe(`${ctx.topic('n')}/#`, 0);
  return (suback.granted[0] as number) < 0x80 ? watcher : undefined;
}

export const TOPIC_CHECKS: Check[] = [
  ...bothVersions<Check>({
    name: '4.7/wildcard-in-topic-name',
    statements: { '3.1.1': ['MQTT-4.7.1-1'], '5.0': ['MQTT-4.7.0-1'] },
    title: 'A PUBLISH whose topic name contains + or # is refused and reaches no subscriber',
    async run(ctx) {
      const watcher = await watchPrefix(ctx);
      await expectTopicNameRefused(ctx, `${ctx.topic('n')}/+/x`, watcher);
      await expectTopicNameRefused(ctx, `${ctx.topic('n')}/a/#`, watcher);
    },
  }),
  ...bothVersions<Check>({
    name: '4.7/misplaced-hash-refused',
    statements: { '3.1.1': ['MQTT-4.7.1-2'], '5.0': ['MQTT-4.7.1-1'] },
    title: 'A filter with # anywhere but alone in its last level is refused',
    async run(ctx) {
      const t = ctx.topic();
      await expectFiltersRefused(ctx, [`${t}/a#`, `${t}/#/a`, `${t}/##`]);
    },
  }),
  ...bothVersions<Check>({
    name: '4.7/hash-matches-level-and-below',
    statements: { '3.1.1': ['MQTT-4.7.1-2'], '5.0': ['MQTT-4.7.1-1'] },
    title: 'A filter ending in /# matches its parent level and everything below it; # alone is accepted',
    async run(ctx) {
      const sub = await ctx.connect();
      const pub = await ctx.connect();
      const t = ctx.topic('h');
      await subscribeWildcard(ctx, sub, [{ topic: `${t}/#`, qos: 0 }]);
      const topics = [t, `${t}/a`, `${t}/a/b`, `${t}x`, `${t}x/a`];
      for (const topic of topics) await pub.publish(topic, topic);
      const wanted = topics.slice(0, 3);
      const got = texts(await gather(sub, ctx.timeoutMs, (g) => g.length >= wanted.length));
      got.push(...texts(await gather(sub, QUIET_MS)));
      expectEqual(got.sort(), wanted.sort(), `messages delivered through ${t}/#`);
      const all = await ctx.connect();
      await subscribeWildcard(ctx, all, [{ topic: '#', qos: 0 }]);
      await pub.publish(`${t}/all`, 'all');
      const seen = await gather(all, ctx.timeoutMs, (g) => texts(g).includes('all'));
      expectThat(texts(seen).includes('all'), 'a message did not arrive through the filter #');
    },
  }),
  ...bothVersions<Check>({
    name: '4.7/misplaced-plus-refused',
    statements: { '3.1.1': ['MQTT-4.7.1-3'], '5.0': ['MQTT-4.7.1-2'] },
    title: 'A filter with + sharing its level with other characters is refused',
    async run(ctx) {
      const t = ctx.topic();
      await expectFiltersRefused(ctx, [`${t}/a+`, `${t}/+a/b`, `${t}/++`]);
    },
  }),
  ...bothVersions<Check>({
    name: '4.7/plus-fills-one-level',
    statements: { '3.1.1': ['MQTT-4.7.1-3'], '5.0': ['MQTT-4.7.1-2'] },
    title: '+ works in the first and last levels and matches exactly one level, an empty one included',
    async run(ctx) {
      const sub = await ctx.connect();
      const pub = await ctx.connect();
      const tag = runTag(ctx);
      await subscribeWildcard(ctx, sub, [{ topic: `+/${tag}/+`, qos: 0 }]);
      const matching = [ctx.topic('a'), ctx.topic('')];
      const other = [ctx.topic('a/b'), ctx.topic('').slice(0, -1), `${ctx.topic('a')}/`];
      for (const topic of [...matching, ...other]) await pub.publish(topic, topic);
      const got = texts(await gather(sub, ctx.timeoutMs, (g) => g.length >= matching.length));
      got.push(...texts(await gather(sub, QUIET_MS)));
      expectEqual(got.sort(), matching.sort(), `messages delivered through +/${tag}/+`);
    },
  }),
  ...bothVersions<Check>({
    name: '4.7/dollar-topics-not-matched-by-wildcards',
    statements: { '3.1.1': ['MQTT-4.7.2-1'], '5.0': ['MQTT-4.7.2-1'] },
    title: 'Filters starting with # or + never match topic names starting with $',
    async run(ctx) {
      ctx.require('wildcardSubscriptions');
      const tag = runTag(ctx);
      const own = `$mqbench/${tag}/x`;
      const control = await ctx.connect();
      const plus = await ctx.connect();
      const hash = await ctx.connect();
      await subscribeWildcard(ctx, control, [{ topic: `$mqbench/${tag}/+`, qos: 0 }]);
      await subscribeWildcard(ctx, plus, [{ topic: `+/${tag}/x`, qos: 0 }]);
      await subscribeWildcard(ctx, hash, [{ topic: '#', qos: 0 }]);
      const pub = await ctx.connect();
      await pub.publish(own, 'dollar', { qos: ctx.capabilities.maximumQoS >= 1 ? 1 : 0 });
      const routed = texts(await gather(control, ctx.timeoutMs, (g) => texts(g).includes('dollar'))).includes('dollar');
      if (routed) {
        const leaks = (await gatherAll([plus, hash], QUIET_MS)).flat().filter((p) => p.topic.startsWith('$'));
        expectThat(leaks.length === 0, `a filter starting with a wildcard received ${JSON.stringify(leaks[0]?.topic)}`);
        return;
      }
      // The broker keeps $ topics to itself: use one of its own, if it has retained messages there.
      const sys = await ctx.connect();
      await subscribeWildcard(ctx, sys, [{ topic: '$SYS/#', qos: 0 }]);
      const retained = await gather(sys, 1_000, (g) => g.length > 0);
      if (retained.length === 0) {
        ctx.skip('no message on a topic beginning with $ reached a subscriber', `PUBLISH to ${own} was not routed, and $SYS/# returned nothing`);
      }
      const topic = retained[0].topic;
      const probe = await ctx.connect();
      await subscribeWildcard(ctx, probe, [
        { topic: ['+', ...topic.split('/').slice(1)].join('/'), qos: 0 },
        { topic: '#', qos: 0 },
      ]);
      const leaks = (await gather(probe, QUIET_MS)).filter((p) => p.topic.startsWith('$'));
      expectThat(leaks.length === 0, `a filter starting with a wildcard received ${JSON.stringify(leaks[0]?.topic)}`);
    },
  }),
  ...bothVersions<Check>({
    name: '4.7/empty-filter-refused',
    statements: { '3.1.1': ['MQTT-4.7.3-1'], '5.0': ['MQTT-4.7.3-1'] },
    title: 'A SUBSCRIBE with an empty topic filter is refused',
    run: (ctx) => expectFiltersRefused(ctx, ['']),
  }),
  ...bothVersions<Check>({
    name: '4.7/empty-topic-name-refused',
    statements: { '3.1.1': ['MQTT-4.7.3-1'], '5.0': ['MQTT-4.7.3-1'] },
    title: 'A PUBLISH with an empty topic name (and no topic alias) is refused',
    run: (ctx) => expectTopicNameRefused(ctx, ''),
  }),
  ...bothVersions<Check>({
    name: '4.7/null-in-filter-refused',
    statements: { '3.1.1': ['MQTT-4.7.3-2'], '5.0': ['MQTT-4.7.3-2'] },
    title: 'A SUBSCRIBE whose topic filter contains U+0000 is refused',
    run: (ctx) => expectFiltersRefused(ctx, [`${ctx.topic()}/a\u0000b`]),
  }),
  ...bothVersions<Check>({
    name: '4.7/null-in-topic-name-refused',
    statements: { '3.1.1': ['MQTT-4.7.3-2'], '5.0': ['MQTT-4.7.3-2'] },
    title: 'A PUBLISH whose topic name contains U+0000 is refused and reaches no subscriber',
    async run(ctx) {
      const watcher = await watchPrefix(ctx);
      await expectTopicNameRefused(ctx, `${ctx.topic('n')}/a\u0000b`, watcher);
    },
  }),
  ...bothVersions<Check>({
    name: '4.7/no-normalisation',
    statements: { '3.1.1': ['MQTT-4.7.3-4'], '5.0': ['MQTT-4.7.3-4'] },
    title: 'Matching compares topics exactly as sent: no Unicode normalisation, case folding, trimming or substitution',
    async run(ctx) {
      const sub = await ctx.connect();
      const pub = await ctx.connect();
      const t = ctx.topic();
      // Pairs that a normalising, case-folding, trimming or substituting broker would confuse.
      const variants: Record<string, string> = {
        composed: `${t}/caf\u00e9`,
        decomposed: `${t}/cafe\u0301`,
        lower: `${t}/cafe`,
        upper: `${t}/CAFE`,
        padded: `${t}/cafe `,
        private: `${t}/\ue000`,
        privateNext: `${t}/\ue001`,
        astral: `${t}/\u{1f600}`,
        replacement: `${t}/\ufffd`,
      };
      const subscribed = ['composed', 'lower', 'private', 'astral'];
      const suback = await sub.subscribe(subscribed.map((k) => ({ topic: variants[k], qos: 0 as const })));
      (suback.granted as number[]).forEach((g, i) => expectThat(g < 0x80, `SUBACK refused ${JSON.stringify(variants[subscribed[i]])} with ${hex(g)}`));
      for (const [name, topic] of Object.entries(variants)) await pub.publish(topic, name);
      const got = await gather(sub, ctx.timeoutMs, (g) => g.length >= subscribed.length);
      got.push(...(await gather(sub, QUIET_MS)));
      for (const p of got) {
        const name = p.payload.toString();
        expectThat(
          p.topic === variants[name],
          `the message published to ${JSON.stringify(variants[name])} arrived with topic ${JSON.stringify(p.topic)}`,
        );
      }
      expectEqual(texts(got).sort(), [...subscribed].sort(), 'variants delivered to exact subscriptions on composed é, lower case, U+E000 and U+1F600');
    },
  }),
];
