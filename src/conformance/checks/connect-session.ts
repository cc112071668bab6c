/**
 * What a CONNECT does to sessions (3.1.2.4, 3.1.2.11.2, 3.1.3.1, 3.1.4): CleanSession / Clean Start, sessions kept
 * while the client is away, the client identifier as the session key, and take-over of a connected client id.
 */
import type { IConnackPacket } from 'mqtt-packet';
import { describePacket, sleep, type ConnectOptions, type RawClient } from '../client.js';
import { expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';
import { codeOf, expectNoPublish, expectPublish } from './connect-wire.js';

/** How long a test session outlives its connection (v5); long enough for any check, ended by cleanup. */
const EXPIRY_S = 60;

function persistent(version: MqttVersion): ConnectOptions {
  return version === '5.0' ? { clean: false, properties: { sessionExpiryInterval: EXPIRY_S } } : { clean: false };
}

/** A connection as `clientId` with the given options; fails unless accepted. Returns the client and its CONNACK. */
async function connectAs(ctx: CheckContext, clientId: string, opts: ConnectOptions): Promise<{ c: RawClient; connack: IConnackPacket }> {
  const c = await ctx.open();
  const connack = await c.connect({ clientId, ...opts }, ctx.timeoutMs);
  expectThat(codeOf(connack) === 0, `the broker refused the CONNECT as "${clientId}": ${describePacket(connack)}`);
  return { c, connack };
}

function sessionChecks(version: MqttVersion): Check[] {
  const v5 = version === '5.0';
  const keep = persistent(version);
  // The same rule has different ids in the two versions.
  const ids = v5
    ? { store: ['MQTT-3.1.2-6', 'MQTT-3.1.4-4'], resume: ['MQTT-3.1.2-5', 'MQTT-3.1.4-4'], discard: ['MQTT-3.1.2-4', 'MQTT-3.1.4-4'], key: 'MQTT-3.1.3-2', takeover: 'MQTT-3.1.4-3' }
    : { store: ['MQTT-3.1.2-4', 'MQTT-3.1.4-3'], resume: ['MQTT-3.1.2-4', 'MQTT-3.1.2-5', 'MQTT-3.1.4-3'], discard: ['MQTT-3.1.2-6', 'MQTT-3.1.4-3'], key: 'MQTT-3.1.3-2', takeover: 'MQTT-3.1.4-2' };
  const flag = v5 ? 'Clean Start' : 'CleanSession';
  return [
    {
      id: `${version}/3.1/${v5 ? 'clean-start-0-creates-session' : 'clean-session-0-stores-session'}`,
      version,
      statements: ids.store,
      title: `${flag} 0 for an unknown client id starts a new session, which is still there after a disconnect`,
      async run(ctx) {
        const id = ctx.clientId('p');
        const topic = ctx.topic();
        ctx.endSession(id);
        const first = await connectAs(ctx, id, keep);
        expectEqual(first.connack.sessionPresent, false, 'session present for a client id the broker has never seen');
        await first.c.subscribe(topic, 1);
        await first.c.disconnect();
        const second = await connectAs(ctx, id, keep);
        expectEqual(second.connack.sessionPresent, true, `session present when reconnecting with ${flag} 0`);
        const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
        await pub.publish(topic, 'after', { qos: 1 });
        const p = await expectPublish(second.c, ctx, 'the subscription made before the disconnect did not survive in the session');
        expectEqual(p.payload.toString(), 'after', 'payload');
      },
    },
    {
      id: `${version}/3.1/${v5 ? 'clean-start-0-resumes-session' : 'clean-session-0-queues-while-away'}`,
      version,
      statements: ids.resume,
      title: `${flag} 0 resumes the stored session: QoS 1 and 2 messages that arrived meanwhile are delivered`,
      async run(ctx) {
        const id = ctx.clientId('p');
        const topic = ctx.topic();
        const qos = ctx.capabilities.maximumQoS >= 2 ? 2 : 1;
        ctx.endSession(id);
        const away = await connectAs(ctx, id, keep);
        await away.c.subscribe(topic, qos);
        await away.c.disconnect();
        const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
        await pub.publish(topic, 'q1', { qos: 1 });
        if (qos === 2) await pub.publish(topic, 'q2', { qos: 2 });
        const back = await connectAs(ctx, id, keep);
        expectEqual(back.connack.sessionPresent, true, `session present when reconnecting with ${flag} 0`);
        const got: string[] = [];
        for (let i = 0; i < qos; i++) {
          const p = await expectPublish(back.c, ctx, `messages published while the client was away were not delivered (got: ${got.join(', ') || 'none'})`);
          got.push(p.payload.toString());
          await back.c.acknowledge(p);
        }
        // A QoS 1 and a QoS 2 message: their order is not what this is about.
        expectEqual(got.sort(), qos === 2 ? ['q1', 'q2'] : ['q1'], 'messages delivered from the session');
      },
    },
    {
      id: `${version}/3.1/${v5 ? 'clean-start-1-discards-session' : 'clean-session-1-discards-session'}`,
      version,
      statements: ids.discard,
      title: `${flag} 1 throws the stored session away: no session present, no old subscriptions, nothing kept`,
      async run(ctx) {
        const id = ctx.clientId('p');
        const topic = ctx.topic();
        ctx.endSession(id);
        const first = await connectAs(ctx, id, keep);
        await first.c.subscribe(topic, 1);
        const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
        // The subscription delivers while it exists, so silence later means it is gone.
        await pub.publish(topic, 'live', { qos: 1 });
        await first.c.acknowledge(await expectPublish(first.c, ctx, 'the subscription did not deliver while connected'));
        await first.c.disconnect();
        const clean = await connectAs(ctx, id, v5 ? { clean: true, properties: { sessionExpiryInterval: 0 } } : { clean: true });
        expectEqual(clean.connack.sessionPresent, false, `session present with ${flag} 1`);
        await pub.publish(topic, 'old-subscription', { qos: 1 });
        await expectNoPublish(clean.c, 400, 'the subscription of the discarded session still delivers');
        // A session that ends with its connection is not there for the next one, with its subscription or without.
        await clean.c.subscribe(topic, 1);
        await clean.c.disconnect();
        await pub.publish(topic, 'while-away', { qos: 1 });
        const next = await connectAs(ctx, id, keep);
        expectEqual(next.connack.sessionPresent, false, 'session present after a session that was not to be kept');
        await expectNoPublish(next.c, 400, 'a message for the session that ended with its connection was delivered to the next one');
      },
    },
    {
      id: `${version}/3.1/client-id-keys-session`,
      version,
      statements: [ids.key],
      title: 'Each client id gets back its own session: its own subscriptions and its own queued messages',
      async run(ctx) {
        const ids2 = [ctx.clientId('a'), ctx.clientId('b')];
        const topics = [ctx.topic('a'), ctx.topic('b')];
        for (const [i, id] of ids2.entries()) {
          ctx.endSession(id);
          const s = await connectAs(ctx, id, keep);
          await s.c.subscribe(topics[i], 1);
          await s.c.disconnect();
        }
        const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
        await pub.publish(topics[0], 'for-a', { qos: 1 });
        await pub.publish(topics[1], 'for-b', { qos: 1 });
        for (const [i, id] of ids2.entries()) {
          const back = await connectAs(ctx, id, keep);
          expectEqual(back.connack.sessionPresent, true, `session present for "${id}"`);
          const p = await expectPublish(back.c, ctx, `"${id}" did not get the message queued in its session`);
          expectEqual(p.topic, topics[i], `topic of the message delivered to "${id}"`);
          await back.c.acknowledge(p);
          await expectNoPublish(back.c, 300, `"${id}" got a message from another client's session`);
        }
      },
    },
    {
      id: `${version}/3.1/session-takeover`,
      version,
      statements: [ids.takeover],
      title: v5
        ? 'A second connection with a client id in use closes the first (after DISCONNECT 0x8E, if any)'
        : 'A second connection with a client id in use makes the broker close the first one',
      async run(ctx) {
        const id = ctx.clientId('t');
        const first = await connectAs(ctx, id, { clean: true });
        const second = await connectAs(ctx, id, { clean: true });
        await first.c.closed(ctx.timeoutMs);
        if (v5) {
          const d = first.c.received.find((p) => p.cmd === 'disconnect');
          if (d && d.cmd === 'disconnect') expectEqual(d.reasonCode ?? 0, 0x8e, 'reason code of the DISCONNECT sent to the older connection');
        }
        second.c.send({ cmd: 'pingreq' });
        await second.c.next('pingresp', ctx.timeoutMs);
        expectThat(!second.c.closedByBroker, 'the broker closed the new connection as well');
      },
    },
  ];
}

const V311_ONLY: Check[] = [
  {
    id: '3.1.1/3.1/retained-survives-session-end',
    version: '3.1.1',
    statements: ['MQTT-3.1.2-7'],
    title: 'A retained message outlives the session of the client that published it',
    async run(ctx) {
      ctx.require('retainAvailable');
      const id = ctx.clientId('p');
      const topic = ctx.topic();
      ctx.endSession(id);
      ctx.clearRetained(topic);
      const first = await connectAs(ctx, id, { clean: false });
      await first.c.publish(topic, 'kept', { qos: 1, retain: true });
      await first.c.disconnect();
      // CleanSession 1 ends the stored session; the connection's own session ends with it.
      const clean = await connectAs(ctx, id, { clean: true });
      await clean.c.disconnect();
      const sub = await ctx.connect({ clientId: ctx.clientId('sub') });
      await sub.subscribe(topic, 1);
      const p = await expectPublish(sub, ctx, 'the retained message was deleted with the session of its publisher');
      expectEqual([p.payload.toString(), p.retain], ['kept', true], 'payload and retain flag of the retained message');
    },
  },
];

const V5_ONLY: Check[] = [
  {
    id: '5.0/3.1/session-kept-after-network-close',
    version: '5.0',
    statements: ['MQTT-3.1.2-23'],
    title: 'With a Session Expiry Interval above 0 the session survives a dropped connection',
    async run(ctx) {
      const id = ctx.clientId('p');
      const topic = ctx.topic();
      ctx.endSession(id);
      const first = await connectAs(ctx, id, { clean: true, properties: { sessionExpiryInterval: EXPIRY_S } });
      await first.c.subscribe(topic, 1);
      // No DISCONNECT: the network connection just goes away.
      first.c.destroy();
      await sleep(200);
      const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
      await pub.publish(topic, 'while-away', { qos: 1 });
      const back = await connectAs(ctx, id, { clean: false, properties: { sessionExpiryInterval: EXPIRY_S } });
      expectEqual(back.connack.sessionPresent, true, 'session present after the connection dropped');
      const p = await expectPublish(back.c, ctx, 'the message queued in the kept session was not delivered');
      expectEqual(p.payload.toString(), 'while-away', 'payload');
    },
  },
];

export const SESSION_CHECKS: Check[] = [...sessionChecks('3.1.1'), ...sessionChecks('5.0'), ...V311_ONLY, ...V5_ONLY];
