/**
 * The PUBLISH fixed header and topic name (3.3.1-3.3.2) and the PUBREL flags (3.6.1): malformed ones close the
 * connection; DUP and topic names on forwarded copies are set by the broker.
 */
import { topicMatches } from '../../protocol/topic.js';
import { encodeRawPacket, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';
import { closes } from './table.js';
import {
  QUIET_MS,
  collectPublishes,
  describePublishes,
  drainPublishes,
  encodeRawPublish,
  expectClosed,
  expectRefused,
  forBothVersions,
  subscribeOrFail,
  subscriber,
  texts,
} from './publish-support.js';

/** DISCONNECT reasons a broker may give for a malformed packet (some brokers name it a protocol error). */
const MALFORMED = [0x81, 0x82];

/** A PUBLISH with a wildcard in its topic name: 3.1.1 closes; 5.0 closes or refuses it in PUBACK. Never delivered. */
function wildcardTopic(version: MqttVersion, name: string, wildcard: string): Check {
  return {
    id: `${version}/3.3/topic-name-${name}`,
    version,
    statements: ['MQTT-3.3.2-2'],
    title: `A PUBLISH whose topic name contains "${wildcard}" is refused${version === '3.1.1' ? ' by closing the connection' : ''} and delivered to no one`,
    async run(ctx) {
      const sub = await subscriber(ctx, ctx.topic('#'));
      const pub = await ctx.connect();
      const topic = wildcard === '#' ? ctx.topic('#') : ctx.topic(`${wildcard}/x`);
      pub.sendRaw(encodeRawPublish(ctx.level, { topic, qos: 1, messageId: 1, payload: 'wildcard' }));
      if (ctx.level === 4) await expectClosed(pub, ctx, [], `after a PUBLISH to "${topic}"`);
      else await expectRefused(pub, ctx, [0x81, 0x82, 0x90], `a PUBLISH to "${topic}"`);
      const got = await drainPublishes(sub, QUIET_MS);
      expectThat(got.length === 0, `a PUBLISH to the topic name "${topic}" was delivered to a subscriber of "${ctx.topic('#')}": ${describePublishes(got)}`);
    },
  };
}

export const PUBLISH_HEADER_CHECKS: Check[] = [
  ...closes(
    (['3.1.1', '5.0'] as const).map((version) => ({
      id: `${version}/3.3/qos-bits-both-set`,
      version,
      statements: ['MQTT-3.3.1-4'],
      title: 'A PUBLISH with both QoS bits set makes the broker close the connection',
      send: (c: RawClient, ctx: CheckContext) =>
        c.sendRaw(encodeRawPublish(ctx.level, { topic: ctx.topic(), qos: 3, messageId: 1, payload: 'qos3' })),
      ...(version === '5.0' ? { disconnectReasons: MALFORMED } : {}),
    })),
  ),
  ...closes(
    (['3.1.1', '5.0'] as const).map((version) => ({
      id: `${version}/3.3/topic-name-bad-utf8`,
      version,
      statements: ['MQTT-3.3.2-1'],
      title: 'A PUBLISH whose topic name is not well-formed UTF-8 makes the broker close the connection',
      send: (c: RawClient, ctx: CheckContext) =>
        c.sendRaw(encodeRawPublish(ctx.level, { topic: Buffer.concat([Buffer.from(ctx.topic('bad-')), Buffer.from([0xc3, 0x28, 0xff])]), payload: 'utf8' })),
      ...(version === '5.0' ? { disconnectReasons: MALFORMED } : {}),
    })),
  ),
  ...(['3.1.1', '5.0'] as const).flatMap((v) => [wildcardTopic(v, 'plus', '+'), wildcardTopic(v, 'hash', '#')]),
  ...forBothVersions((version) => ({
    id: `${version}/3.6/pubrel-reserved-flags`,
    version,
    statements: ['MQTT-3.6.1-1'],
    title: 'A PUBREL whose fixed-header flags are not 0010 makes the broker close the connection',
    async run(ctx) {
      const c = await ctx.connect();
      const messageId = 7;
      if (ctx.capabilities.maximumQoS === 2) {
        // Mid-flow, where the broker is waiting for exactly this PUBREL.
        c.send({ cmd: 'publish', topic: ctx.topic(), payload: 'x', qos: 2, messageId, retain: false, dup: false });
        await c.next('pubrec', ctx.timeoutMs);
      }
      c.sendRaw(encodeRawPacket(0x60, [0, messageId]));
      await expectClosed(c, ctx, MALFORMED, 'after a PUBREL with flags 0000');
    },
  })),
  ...forBothVersions((version) => ({
    id: `${version}/4.3/qos0-delivery`,
    version,
    statements: ['MQTT-3.3.1-2', 'MQTT-4.3.1-1'],
    title: 'Messages delivered at QoS 0 go out with QoS 0 and DUP 0, even when published at a higher QoS with DUP 1',
    async run(ctx) {
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic, 0);
      const pub = await ctx.connect();
      await pub.publish(topic, 'q0', { qos: 0 });
      const sent = ['q0'];
      if (ctx.capabilities.maximumQoS >= 1) {
        await pub.publish(topic, 'q1-dup', { qos: 1, dup: true });
        sent.push('q1-dup');
      }
      if (ctx.capabilities.maximumQoS >= 2) {
        await pub.publish(topic, 'q2-dup', { qos: 2, dup: true });
        sent.push('q2-dup');
      }
      const got = await sub.nextN('publish', sent.length, ctx.timeoutMs);
      expectEqual(texts(got).sort(), [...sent].sort(), 'payloads delivered to the QoS 0 subscriber');
      for (const p of got) {
        expectThat(p.qos === 0 && !p.dup, `a message for a QoS 0 subscription arrived as ${describePublishes([p])}; it must have QoS 0 and DUP 0`);
      }
    },
  })),
  ...forBothVersions((version) => ({
    id: `${version}/3.3/dup-not-forwarded`,
    version,
    statements: ['MQTT-3.3.1-3'],
    title: 'A PUBLISH received with DUP 1 is forwarded with DUP 0 (the copy to the subscriber is no retransmission)',
    async run(ctx) {
      ctx.require('qos1');
      const qos = ctx.capabilities.maximumQoS >= 2 ? 2 : 1;
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic, qos);
      const pub = await ctx.connect();
      await pub.publish(topic, 'q1-dup', { qos: 1, dup: true });
      if (qos === 2) await pub.publish(topic, 'q2-dup', { qos: 2, dup: true });
      const got = [await sub.receive(ctx.timeoutMs)];
      if (qos === 2) got.push(await sub.receive(ctx.timeoutMs));
      for (const p of got) {
        expectThat(!p.dup, `the first copy sent to the subscriber has DUP 1: ${describePublishes([p])}; DUP reflects only the broker's own retransmissions`);
      }
    },
  })),
  ...forBothVersions((version) => ({
    id: `${version}/3.3/forwarded-topic-matches`,
    version,
    statements: ['MQTT-3.3.2-3'],
    title: "Every message the broker forwards has a topic name matched by one of the subscriber's filters",
    async run(ctx) {
      ctx.require('wildcardSubscriptions');
      const filters = [ctx.topic('+/x'), ctx.topic('y/#')];
      const sub = await ctx.connect();
      await subscribeOrFail(sub, filters.map((topic) => ({ topic, qos: 0 as const })));
      const pub = await ctx.connect();
      const names = ['a/x', 'a/y', 'y', 'y/z/w', 'b/x/z', 'ax', 'x', 'Y/z'];
      for (const n of names) await pub.publish(ctx.topic(n), n);
      const expected = names.filter((n) => filters.some((f) => topicMatches(f, ctx.topic(n))));
      const got = await collectPublishes(sub, expected.length, ctx.timeoutMs);
      for (const p of got) {
        if (!filters.some((f) => topicMatches(f, p.topic))) {
          throw new CheckFailed(`the broker forwarded "${p.topic}", which neither ${filters.map((f) => `"${f}"`).join(' nor ')} matches`);
        }
      }
      expectEqual(texts(got).sort(), [...expected].sort(), `messages delivered for ${filters.join(' and ')}`);
    },
  })),
];
