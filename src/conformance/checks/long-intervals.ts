/**
 * MQTT 5's intervals at their extremes (3.1.2.11.2, 3.1.3.2.2, 3.3.2.3.3, 3.14.2.2.2): a Session Expiry, Will Delay
 * or Message Expiry Interval of decades, or the largest Four Byte Integer, must last that long. A broker that arms
 * one timer per interval in a runtime whose timers reach only 2^31 − 1 ms (about 24.8 days, Node's limit) has them
 * run out at once instead; these checks stay a short while and see that nothing has run out.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { sleep, type RawClient } from '../client.js';
import { expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import { expectNoPublish, expectPublish } from './connect-wire.js';
import { collectPublishes, describePublishes, resumeSession, sessionOptions, subscribeOrFail } from './publish-support.js';

/** About 31.7 years: far beyond what a Node timer can wait. */
const FAR = 999_999_999;
/** The largest Four Byte Integer: about 136 years (for a Session Expiry Interval, "never expires"). */
const LARGEST = 0xffff_ffff;

/** How long the checks stay away: a timer that ran out at once has long done its work by then. */
const AWAY_MS = 1_200;

/** Connects `clientId` with a session of `expiry` seconds, subscribed to `topic` at QoS 1. */
async function sessionSubscribed(ctx: CheckContext, clientId: string, topic: string, expiry: number): Promise<RawClient> {
  ctx.endSession(clientId);
  const c = await ctx.connect({ clientId, clean: true, properties: { sessionExpiryInterval: expiry } });
  await subscribeOrFail(c, topic, 1);
  return c;
}

/** Resumes `clientId` after a message was published to its subscription meanwhile; fails unless both were kept. */
async function expectSessionKept(ctx: CheckContext, clientId: string, payload: string, how: string): Promise<void> {
  const back = await ctx.open();
  const connack = await back.connect({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } }, ctx.timeoutMs);
  expectEqual([connack.reasonCode ?? 0, connack.sessionPresent], [0, true], `CONNACK reason code and Session Present, ${AWAY_MS} ms after ${how}`);
  const p = await expectPublish(back, ctx, `the message queued for the session ${how} was not delivered on resuming`);
  expectEqual(p.payload.toString(), payload, 'payload delivered from the session');
  await back.acknowledge(p);
}

/**
 * Fails unless `p` carries a Message Expiry Interval between what was sent minus the whole seconds it can have waited
 * (one more for rounding) and what was sent.
 */
function expectRemaining(p: IPublishPacket, sent: number, sentAt: number, what: string): void {
  const left = p.properties?.messageExpiryInterval;
  const waited = Math.ceil((Date.now() - sentAt) / 1000);
  expectThat(left !== undefined, `${what} was forwarded without its Message Expiry Interval: ${describePublishes([p])}`);
  expectThat(
    left <= sent && left >= sent - waited - 1,
    `${what}, published with Message Expiry Interval ${sent} at most ${waited} s earlier, was forwarded with ${left}; expected ${sent - waited - 1} to ${sent}`,
  );
}

export const INTERVAL_CHECKS: Check[] = [
  {
    id: '5.0/3.1/session-expiry-far-future',
    version: '5.0',
    statements: ['MQTT-3.1.2-23'],
    title: `A session with a Session Expiry Interval of ${FAR} s, or the largest (${LARGEST}, never), is kept after its connection closes`,
    async run(ctx) {
      ctx.require('qos1');
      const sessions = [
        { expiry: FAR, id: ctx.clientId('far'), topic: ctx.topic('far'), how: `dropped with Session Expiry Interval ${FAR}` },
        { expiry: LARGEST, id: ctx.clientId('max'), topic: ctx.topic('max'), how: `disconnected with Session Expiry Interval ${LARGEST}` },
      ];
      for (const [i, s] of sessions.entries()) {
        const c = await sessionSubscribed(ctx, s.id, s.topic, s.expiry);
        if (i === 0) c.destroy();
        else await c.disconnect();
      }
      await sleep(AWAY_MS);
      const pub = await ctx.connect();
      for (const s of sessions) await pub.publish(s.topic, `for ${s.expiry}`, { qos: 1 });
      for (const s of sessions) await expectSessionKept(ctx, s.id, `for ${s.expiry}`, s.how);
    },
  },
  {
    id: '5.0/3.14/session-expiry-far-future-on-disconnect',
    version: '5.0',
    statements: ['MQTT-3.1.2-23'],
    title: `A DISCONNECT raising the Session Expiry Interval from 1 s to ${FAR} s, or to ${LARGEST}, keeps the session`,
    async run(ctx) {
      ctx.require('qos1');
      const sessions = [
        { expiry: FAR, id: ctx.clientId('far'), topic: ctx.topic('far') },
        { expiry: LARGEST, id: ctx.clientId('max'), topic: ctx.topic('max') },
      ];
      for (const s of sessions) {
        const c = await sessionSubscribed(ctx, s.id, s.topic, 1);
        c.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: s.expiry } });
        await c.end();
      }
      // Past the 1 s the CONNECT asked for, and a one-second sweep beyond it.
      await sleep(2_500);
      const pub = await ctx.connect();
      for (const s of sessions) await pub.publish(s.topic, `for ${s.expiry}`, { qos: 1 });
      for (const s of sessions) await expectSessionKept(ctx, s.id, `for ${s.expiry}`, `a DISCONNECT with Session Expiry Interval ${s.expiry} (1 at CONNECT)`);
    },
  },
  {
    id: '5.0/3.1/will-delay-far-future',
    version: '5.0',
    statements: ['MQTT-3.1.2-8', 'MQTT-3.3.2-6'],
    title: `A will with a Will Delay Interval of ${FAR} s or ${LARGEST} s is not published when the connection drops; one without delay is, with its Message Expiry Interval`,
    async run(ctx) {
      const far = ctx.topic('will/far');
      const now = ctx.topic('will/now');
      const watcher = await ctx.connect();
      await subscribeOrFail(watcher, [
        { topic: far, qos: 1 },
        { topic: now, qos: 1 },
      ]);
      const delayed: RawClient[] = [];
      for (const [i, delay] of [FAR, LARGEST].entries()) {
        const id = ctx.clientId(`w${i}`);
        ctx.endSession(id);
        // The session lasts as long as the delay, so only the delay holds the will back.
        delayed.push(
          await ctx.connect({
            clientId: id,
            clean: true,
            properties: { sessionExpiryInterval: delay },
            will: { topic: far, payload: Buffer.from(`delayed ${delay}`), qos: 1, retain: false, properties: { willDelayInterval: delay } },
          }),
        );
      }
      // Without a delay the will goes out at once: the broker does publish wills, and the delayed ones are held back.
      const control = await ctx.connect({
        clientId: ctx.clientId('now'),
        will: { topic: now, payload: Buffer.from('at once'), qos: 1, retain: false, properties: { messageExpiryInterval: LARGEST } },
      });
      for (const c of delayed) c.destroy();
      const droppedAt = Date.now();
      control.destroy();
      const will = await expectPublish(watcher, ctx, 'the will without a Will Delay Interval was not published when its connection dropped');
      await watcher.acknowledge(will);
      expectEqual([will.topic, will.payload.toString()], [now, 'at once'], 'topic and payload of the first will published');
      expectRemaining(will, LARGEST, droppedAt, 'the will');
      await expectNoPublish(watcher, Math.max(0, AWAY_MS - (Date.now() - droppedAt)), `a will with a Will Delay Interval of ${FAR} or ${LARGEST} s was published`);
    },
  },
  {
    id: '5.0/3.3/message-expiry-far-future-queued',
    version: '5.0',
    statements: ['MQTT-3.3.2-5', 'MQTT-3.3.2-6'],
    title: `Messages queued for a session with a Message Expiry Interval of ${FAR} s or ${LARGEST} s are delivered, with what is left of it`,
    async run(ctx) {
      ctx.require('qos1');
      const id = ctx.clientId('s');
      const topic = ctx.topic();
      const sub = await ctx.connect(sessionOptions(ctx, id, false));
      await subscribeOrFail(sub, topic, 1);
      await sub.disconnect();
      const pub = await ctx.connect();
      const sentAt = Date.now();
      for (const expiry of [FAR, LARGEST]) await pub.publish(topic, `expires in ${expiry}`, { qos: 1, properties: { messageExpiryInterval: expiry } });
      await sleep(AWAY_MS);
      const back = await resumeSession(ctx, id);
      const got = await collectPublishes(back, 2, ctx.timeoutMs);
      for (const p of got) await back.acknowledge(p);
      for (const expiry of [FAR, LARGEST]) {
        const p = got.find((m) => m.payload.toString() === `expires in ${expiry}`);
        expectThat(p !== undefined, `the message published with Message Expiry Interval ${expiry} was not delivered on resuming ${AWAY_MS} ms later: ${describePublishes(got)}`);
        expectRemaining(p, expiry, sentAt, 'the queued message');
      }
    },
  },
  {
    id: '5.0/3.3/message-expiry-far-future-retained',
    version: '5.0',
    statements: ['MQTT-3.3.2-5', 'MQTT-3.3.2-6'],
    title: `Retained messages with a Message Expiry Interval of ${FAR} s or ${LARGEST} s are sent to a later subscriber, with what is left of it`,
    async run(ctx) {
      ctx.require('retainAvailable');
      ctx.require('qos1');
      const pub = await ctx.connect();
      const topics = [ctx.topic('far'), ctx.topic('max')];
      const sentAt = Date.now();
      for (const [i, expiry] of [FAR, LARGEST].entries()) {
        ctx.clearRetained(topics[i]);
        await pub.publish(topics[i], `expires in ${expiry}`, { qos: 1, retain: true, properties: { messageExpiryInterval: expiry } });
      }
      await sleep(AWAY_MS);
      const sub = await ctx.connect();
      await subscribeOrFail(sub, topics.map((topic) => ({ topic, qos: 1 as const })));
      const got = await collectPublishes(sub, 2, ctx.timeoutMs);
      for (const p of got) await sub.acknowledge(p);
      for (const expiry of [FAR, LARGEST]) {
        const p = got.find((m) => m.payload.toString() === `expires in ${expiry}`);
        expectThat(p !== undefined, `the message retained with Message Expiry Interval ${expiry} was not sent to a subscriber ${AWAY_MS} ms later: ${describePublishes(got)}`);
        expectRemaining(p, expiry, sentAt, 'the retained message');
      }
    },
  },
];
