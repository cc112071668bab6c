/**
 * Session state (4.1): the broker keeps a session, its subscriptions and unacknowledged messages, while it lasts,
 * across a take-over, and discards it once a v5 session's expiry has run out after the connection closed.
 */
import { connackCode, payloadsOf, sleep } from '../client.js';
import { expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import { persistent } from './session-support.js';

/**
 * A second connection takes over a client id while the first is still connected. The new connection's session
 * (the old one resumed, or a fresh one with a clean start) must work once the broker has closed the old connection:
 * tidying up after the old one must not take the new session with it.
 */
async function takeOver(ctx: CheckContext, clean: boolean): Promise<void> {
  const clientId = ctx.clientId('s');
  const kept = ctx.topic('kept');
  const fresh = ctx.topic('fresh');
  const first = await ctx.connect({ clientId, clean, ...persistent(ctx, 60) });
  ctx.endSession(clientId);
  await first.subscribe(kept, 1);
  const second = await ctx.open();
  const connack = await second.connect({ clientId, clean, ...persistent(ctx, 60) });
  expectEqual(connackCode(connack), 0, 'CONNACK code for the connection taking over');
  await second.subscribe(fresh, 1);
  await first.closed(ctx.timeoutMs);
  // Give the broker time to finish with the old connection before looking at the new session.
  await sleep(300);
  const pub = await ctx.connect();
  const topics = clean ? [fresh] : [kept, fresh];
  for (const t of topics) await pub.publish(t, `to ${t.slice(t.lastIndexOf('/') + 1)}`, { qos: 0 });
  const got = [];
  for (let i = 0; i < topics.length; i++) got.push(await second.receive(ctx.timeoutMs));
  expectEqual(
    payloadsOf(got).sort(),
    topics.map((t) => `to ${t.slice(t.lastIndexOf('/') + 1)}`).sort(),
    `messages the connection that took over (clean ${clean ? 1 : 0}) received`,
  );
  second.send({ cmd: 'pingreq' });
  await second.next('pingresp', ctx.timeoutMs);
}

export const SESSION_STATE_CHECKS: Check[] = [
  {
    id: '3.1.1/4.1/session-kept-while-offline',
    version: '3.1.1',
    statements: ['MQTT-4.1.0-1'],
    title: 'A CleanSession 0 session keeps its subscription, its unacknowledged and its queued QoS 1 messages across a reconnect',
    async run(ctx) {
      ctx.require('qos1');
      const clientId = ctx.clientId('s');
      const topic = ctx.topic();
      const a = await ctx.connect({ clientId, clean: false });
      ctx.endSession(clientId);
      await a.subscribe(topic, 1);
      const pub = await ctx.connect();
      await pub.publish(topic, 'unacknowledged', { qos: 1 });
      await a.next('publish', ctx.timeoutMs);
      // Dropped before the PUBACK: the message stays part of the session.
      a.destroy();
      await pub.publish(topic, 'queued', { qos: 1 });
      const b = await ctx.open();
      const connack = await b.connect({ clientId, clean: false });
      expectEqual(connack.sessionPresent, true, 'Session Present on reconnecting');
      const resent = [await b.receive(ctx.timeoutMs), await b.receive(ctx.timeoutMs)];
      // The order of the two is MQTT-4.6.0-1's concern (resent-in-order); here, that both are kept.
      expectEqual(payloadsOf(resent).sort(), ['queued', 'unacknowledged'], 'messages delivered on reconnecting');
      await pub.publish(topic, 'after', { qos: 1 });
      expectEqual((await b.receive(ctx.timeoutMs)).payload.toString(), 'after', 'a message published after reconnecting (the subscription was kept)');
    },
  },
  {
    id: '3.1.1/4.1/takeover-keeps-session',
    version: '3.1.1',
    statements: ['MQTT-4.1.0-1'],
    title: 'When a CleanSession 0 connection takes over a client id, the session carries on with its subscriptions',
    run: (ctx) => takeOver(ctx, false),
  },
  {
    id: '3.1.1/4.1/session-lasts-with-connection',
    version: '3.1.1',
    statements: ['MQTT-4.1.0-2'],
    title: 'A CleanSession 1 session that took over a client id lasts as long as its own connection',
    run: (ctx) => takeOver(ctx, true),
  },
  {
    id: '5.0/4.1/takeover-keeps-session',
    version: '5.0',
    statements: ['MQTT-4.1.0-1'],
    title: 'A session resumed by a connection taking over its client id is kept while that connection is open',
    run: (ctx) => takeOver(ctx, false),
  },
  {
    id: '5.0/4.1/clean-takeover-keeps-new-session',
    version: '5.0',
    statements: ['MQTT-4.1.0-1'],
    title: 'A Clean Start session that took over a client id is kept while its connection is open',
    run: (ctx) => takeOver(ctx, true),
  },
  {
    id: '5.0/4.1/expiry-waits-for-close',
    version: '5.0',
    statements: ['MQTT-4.1.0-1'],
    title: 'A session with a 1 s Session Expiry Interval is kept for as long as its connection stays open',
    async run(ctx) {
      const topic = ctx.topic();
      const c = await ctx.connect({ clean: true, properties: { sessionExpiryInterval: 1 } });
      await c.subscribe(topic, 1);
      for (let i = 0; i < 4; i++) {
        await sleep(500);
        c.send({ cmd: 'pingreq' });
      }
      await c.nextN('pingresp', 4, ctx.timeoutMs);
      const pub = await ctx.connect();
      await pub.publish(topic, 'after 2 s', { qos: 0 });
      const got = await c.receive(ctx.timeoutMs);
      expectEqual(got.payload.toString(), 'after 2 s', 'message delivered to the subscription made 2 s earlier');
    },
  },
  {
    id: '5.0/4.1/session-expiry-shortened-on-disconnect',
    version: '5.0',
    statements: ['MQTT-4.1.0-2'],
    title: 'A DISCONNECT lowering the Session Expiry Interval from 300 s to 1 s: the session is gone once that second has passed',
    async run(ctx) {
      const id = ctx.clientId('d');
      const topic = ctx.topic();
      const c = await ctx.connect({ clientId: id, clean: true, properties: { sessionExpiryInterval: 300 } });
      ctx.endSession(id);
      await c.subscribe(topic, 1);
      c.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 1 } });
      await c.end();
      // 1 s of expiry, and time for a broker that looks for expired sessions once a second.
      await sleep(3_000);
      const qos = ctx.capabilities.maximumQoS >= 1 ? 1 : 0;
      const pub = await ctx.connect();
      await pub.publish(topic, 'for an expired session', { qos });
      const again = await ctx.open();
      const connack = await again.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 0 } });
      expectEqual(connackCode(connack), 0, 'CONNACK reason code');
      expectThat(!connack.sessionPresent, 'Session Present 1 for a session whose DISCONNECT set its Session Expiry Interval to 1 s, 3 s earlier (300 s at CONNECT)');
      await again.expectNothing(400, 'publish');
    },
  },
  {
    id: '5.0/4.1/session-discarded-after-expiry',
    version: '5.0',
    statements: ['MQTT-4.1.0-2'],
    title: 'Once a closed connection\'s Session Expiry Interval has passed, the broker no longer has its session',
    async run(ctx) {
      const ids = [ctx.clientId('d'), ctx.clientId('x')];
      const topics = [ctx.topic('d'), ctx.topic('x')];
      for (let i = 0; i < 2; i++) {
        const c = await ctx.connect({ clientId: ids[i], clean: true, properties: { sessionExpiryInterval: 1 } });
        ctx.endSession(ids[i]);
        await c.subscribe(topics[i], 1);
        // One ends with DISCONNECT, the other drops without one: the expiry applies either way.
        if (i === 0) await c.disconnect();
        else c.destroy();
      }
      // 1 s of expiry, and time for a broker that looks for expired sessions once a second.
      await sleep(3_000);
      // At QoS 1 a session the broker wrongly kept would also have the message queued.
      const qos = ctx.capabilities.maximumQoS >= 1 ? 1 : 0;
      const pub = await ctx.connect();
      for (const t of topics) await pub.publish(t, 'for an expired session', { qos });
      for (let i = 0; i < 2; i++) {
        const c = await ctx.open();
        const connack = await c.connect({ clientId: ids[i], clean: false, properties: { sessionExpiryInterval: 0 } });
        expectEqual(connackCode(connack), 0, 'CONNACK reason code');
        expectThat(!connack.sessionPresent, `Session Present 1 for a session whose connection ${i === 0 ? 'disconnected' : 'dropped'} 3 s ago with Session Expiry Interval 1`);
        await c.expectNothing(400, 'publish');
      }
    },
  },
];
