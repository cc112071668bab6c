/**
 * What the broker owes a session across connections: unacknowledged PUBLISH and PUBREL resent on resuming with
 * their identifiers and DUP 1, and at no other time (4.4); settled messages never again; QoS 2 flows finished even
 * past Message Expiry (4.3.3); accepted messages added to every matching session (4.5).
 */
import type { IPublishPacket } from 'mqtt-packet';
import { sleep, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import { QUIET_MS, collectPublishes, forBothVersions, describePublishes, drainPublishes, reasonOf, hex, resumeSession, sessionOptions, subscribeOrFail, subscriber, texts } from './publish-support.js';

/** Long enough for any broker retrying on a timer while connected to show it; short enough for a quick check. */
const RETRY_WATCH_MS = 1_000;

/** Waits long enough for a 1 s Message Expiry Interval to run out, whole-second clocks included. */
const EXPIRY_WAIT_MS = 2_200;

/** A subscriber with a session that outlives its connection, subscribed to `topic` at `qos`. */
async function persistentSubscriber(ctx: CheckContext, name: string, topic: string, qos: 1 | 2): Promise<{ id: string; client: RawClient }> {
  const id = ctx.clientId(name);
  const client = await ctx.connect(sessionOptions(ctx, id, false));
  await subscribeOrFail(client, topic, qos);
  return { id, client };
}

/** The messages with these payloads, in the order given (they may have arrived in any order); fails if one is missing. */
function byPayload(got: IPublishPacket[], payloads: string[]): IPublishPacket[] {
  return payloads.map((payload) => {
    const p = got.find((m) => m.payload.toString() === payload);
    expectThat(p !== undefined, `"${payload}" was not among the messages first sent: ${describePublishes(got)}`);
    return p;
  });
}

function describeResend(p: IPublishPacket, original: IPublishPacket): string | undefined {
  if (p.messageId !== original.messageId) return `resent with packet identifier ${p.messageId}, first sent with ${original.messageId}`;
  if (!p.dup) return `resent with DUP 0: ${describePublishes([p])}`;
  if (p.payload.toString() !== original.payload.toString()) return `resent with another payload: ${describePublishes([p])}`;
  return undefined;
}

/** Sends a QoS 1 or 2 PUBLISH with a chosen identifier; fails unless the broker takes it (PUBACK or PUBREC, success). */
async function publishWithId(client: RawClient, ctx: CheckContext, topic: string, payload: string, qos: 1 | 2, messageId: number, dup = false): Promise<void> {
  client.send({ cmd: 'publish', topic, payload, qos, messageId, retain: false, dup });
  const ack = await client.next(qos === 1 ? 'puback' : 'pubrec', ctx.timeoutMs);
  expectThat(
    ack.messageId === messageId && reasonOf(ack) < 0x80,
    `"${payload}" (QoS ${qos}, packet identifier ${messageId}${dup ? ', DUP 1' : ''}) was answered ${qos === 1 ? 'PUBACK' : 'PUBREC'} ${ack.messageId} ${hex(reasonOf(ack))}`,
  );
}

/** Sends PUBREL for `messageId` and expects its PUBCOMP. */
async function release(client: RawClient, ctx: CheckContext, messageId: number): Promise<void> {
  client.send({ cmd: 'pubrel', messageId });
  const comp = await client.next('pubcomp', ctx.timeoutMs);
  expectEqual(comp.messageId, messageId, 'PUBCOMP packet identifier (it must echo the PUBREL)');
}

export const PUBLISH_SESSION_CHECKS: Check[] = [
  ...forBothVersions((version, pick) => ({
    id: `${version}/4.4/qos1-resent-on-resume`,
    version,
    statements: pick(['MQTT-3.3.1-1', 'MQTT-4.3.2-1', 'MQTT-4.4.0-1'], ['MQTT-3.3.1-1', 'MQTT-4.3.2-3', 'MQTT-4.4.0-1']),
    title: 'On resuming a session, a QoS 1 message not yet acknowledged is resent with its identifier and DUP 1; an acknowledged one is not',
    async run(ctx) {
      ctx.require('qos1');
      const topic = ctx.topic();
      const { id, client: sub } = await persistentSubscriber(ctx, 's', topic, 1);
      const pub = await ctx.connect();
      await pub.publish(topic, 'acknowledged', { qos: 1 });
      await pub.publish(topic, 'unacknowledged', { qos: 1 });
      const [acked, unacked] = byPayload(await sub.nextN('publish', 2, ctx.timeoutMs), ['acknowledged', 'unacknowledged']);
      sub.send({ cmd: 'puback', messageId: acked.messageId! });
      await sleep(50);
      await sub.disconnect();
      const back = await resumeSession(ctx, id);
      const again = await collectPublishes(back, 1, ctx.timeoutMs);
      expectEqual(texts(again), ['unacknowledged'], 'messages resent on resuming the session');
      const problem = describeResend(again[0], unacked);
      expectThat(problem === undefined, `the unacknowledged message was ${problem}`);
      await back.acknowledge(again[0]);
    },
  })),
  ...forBothVersions((version, pick) => ({
    id: `${version}/4.4/qos2-resent-on-resume`,
    version,
    statements: pick(
      ['MQTT-3.3.1-1', 'MQTT-4.3.3-1', 'MQTT-4.4.0-1'],
      ['MQTT-3.3.1-1', 'MQTT-4.3.3-3', 'MQTT-4.3.3-5', 'MQTT-4.3.3-6', 'MQTT-4.4.0-1'],
    ),
    title: 'On resuming a session, an unanswered QoS 2 PUBLISH is resent with DUP 1 and an unanswered PUBREL is resent, never its PUBLISH',
    async run(ctx) {
      ctx.require('qos2');
      const topic = ctx.topic();
      const { id, client: sub } = await persistentSubscriber(ctx, 's', topic, 2);
      const pub = await ctx.connect();
      await pub.publish(topic, 'released', { qos: 2 });
      await pub.publish(topic, 'unanswered', { qos: 2 });
      const [released, unanswered] = byPayload(await sub.nextN('publish', 2, ctx.timeoutMs), ['released', 'unanswered']);
      sub.send({ cmd: 'pubrec', messageId: released.messageId! });
      expectEqual((await sub.next('pubrel', ctx.timeoutMs)).messageId, released.messageId, 'PUBREL packet identifier');
      await sub.disconnect();
      const back = await resumeSession(ctx, id);
      const rel = await back.next('pubrel', ctx.timeoutMs);
      expectEqual(rel.messageId, released.messageId, 'identifier of the PUBREL resent on resuming the session');
      const again = await collectPublishes(back, 1, ctx.timeoutMs);
      expectEqual(texts(again), ['unanswered'], 'PUBLISH packets resent on resuming (none for the message already released)');
      const problem = describeResend(again[0], unanswered);
      expectThat(problem === undefined, `the unanswered QoS 2 message was ${problem}`);
      back.send({ cmd: 'pubcomp', messageId: released.messageId! });
      await back.acknowledge(again[0]);
    },
  })),
  {
    id: '5.0/4.4/no-resend-while-connected',
    version: '5.0',
    statements: ['MQTT-4.4.0-1'],
    title: 'While the connection lasts, the broker does not resend a message the client has not acknowledged',
    async run(ctx) {
      ctx.require('qos1');
      const qos = ctx.capabilities.maximumQoS >= 2 ? 2 : 1;
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic, qos);
      const pub = await ctx.connect();
      await pub.publish(topic, 'q1', { qos: 1 });
      if (qos === 2) await pub.publish(topic, 'q2', { qos: 2 });
      const first = await sub.nextN('publish', qos, ctx.timeoutMs);
      const more = await drainPublishes(sub, RETRY_WATCH_MS);
      expectThat(more.length === 0, `unacknowledged messages were resent on the same connection: ${describePublishes(more)}`);
      for (const p of first) await sub.acknowledge(p);
    },
  },
  {
    id: '5.0/4.4/refused-ack-settles',
    version: '5.0',
    statements: ['MQTT-4.4.0-2'],
    title: 'A message the client answered with PUBACK or PUBREC of 0x80 or more is settled: not released, not resent',
    async run(ctx) {
      ctx.require('qos1');
      const qos = ctx.capabilities.maximumQoS >= 2 ? 2 : 1;
      const topic = ctx.topic();
      const { id, client: sub } = await persistentSubscriber(ctx, 's', topic, qos);
      const pub = await ctx.connect();
      await pub.publish(topic, 'refused-q1', { qos: 1 });
      if (qos === 2) await pub.publish(topic, 'refused-q2', { qos: 2 });
      for (const p of await sub.nextN('publish', qos, ctx.timeoutMs)) {
        sub.send(p.qos === 2 ? { cmd: 'pubrec', messageId: p.messageId!, reasonCode: 0x80 } : { cmd: 'puback', messageId: p.messageId!, reasonCode: 0x80 });
      }
      await sleep(QUIET_MS);
      const rel = sub.received.filter((p) => p.cmd === 'pubrel');
      expectThat(rel.length === 0, 'the broker sent PUBREL after a PUBREC of 0x80: the flow ended with the PUBREC');
      await sub.disconnect();
      const back = await resumeSession(ctx, id);
      await pub.publish(topic, 'after', { qos: 1 });
      const got = await collectPublishes(back, 1, ctx.timeoutMs);
      for (const p of got) await back.acknowledge(p);
      expectEqual(texts(got), ['after'], 'messages sent on resuming the session (those refused earlier are settled)');
      const relAgain = back.received.filter((p) => p.cmd === 'pubrel');
      expectThat(relAgain.length === 0, 'the broker sent PUBREL on resuming for a message refused with PUBREC 0x80');
    },
  },
  {
    id: '5.0/4.3/qos2-sent-not-expired',
    version: '5.0',
    statements: ['MQTT-4.3.3-7'],
    title: 'A QoS 2 message already sent is not expired by the broker: it is resent on resuming even after its expiry',
    async run(ctx) {
      ctx.require('qos2');
      const topic = ctx.topic();
      const { id, client: sub } = await persistentSubscriber(ctx, 's', topic, 2);
      const pub = await ctx.connect();
      await pub.publish(topic, 'short-lived', { qos: 2, properties: { messageExpiryInterval: 1 } });
      const first = await sub.next('publish', ctx.timeoutMs);
      await sub.disconnect();
      await sleep(EXPIRY_WAIT_MS);
      const back = await resumeSession(ctx, id);
      const again = await collectPublishes(back, 1, ctx.timeoutMs);
      expectEqual(texts(again), ['short-lived'], 'messages resent on resuming (a QoS 2 message sent before it expired)');
      expectEqual(again[0].messageId, first.messageId, 'packet identifier of the resent message');
      await back.acknowledge(again[0]);
    },
  },
  {
    id: '5.0/4.3/qos2-expired-flow-completes',
    version: '5.0',
    statements: ['MQTT-4.3.3-13'],
    title: 'The broker completes the QoS 2 flow of a message whose Message Expiry Interval has run out',
    async run(ctx) {
      ctx.require('qos2');
      const pub = await ctx.connect();
      pub.send({ cmd: 'publish', topic: ctx.topic(), payload: 'expiring', qos: 2, messageId: 61, retain: false, dup: false, properties: { messageExpiryInterval: 1 } });
      const rec = await pub.next('pubrec', ctx.timeoutMs);
      expectThat(reasonOf(rec) < 0x80, `PUBREC ${hex(reasonOf(rec))} refuses a plain QoS 2 message`);
      await sleep(EXPIRY_WAIT_MS);
      pub.send({ cmd: 'pubrel', messageId: 61 });
      const comp = await pub.next('pubcomp', ctx.timeoutMs);
      expectEqual(comp.messageId, 61, 'PUBCOMP packet identifier');
      expectEqual(hex(reasonOf(comp)), hex(0), 'PUBCOMP reason code (the flow is still known after expiry)');
    },
  },
  ...forBothVersions((version, pick) => ({
    id: `${version}/4.3/qos2-duplicate-after-reconnect`,
    version,
    statements: pick(['MQTT-4.3.3-2'], ['MQTT-4.3.3-8', 'MQTT-4.3.3-10', 'MQTT-4.3.3-11']),
    title: 'A QoS 2 PUBLISH resent with DUP 1 after a reconnect, before its PUBREL, is acknowledged again but delivered once; a PUBREL alone completes the other',
    async run(ctx) {
      ctx.require('qos2');
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic, 2);
      const id = ctx.clientId('p');
      const pub = await ctx.connect(sessionOptions(ctx, id, false));
      await publishWithId(pub, ctx, topic, 'resent', 2, 5);
      await publishWithId(pub, ctx, topic, 'released-later', 2, 6);
      // The connection breaks before either PUBREL: the session keeps both identifiers awaiting release. (Whether
      // CONNACK then says Session Present is the CONNACK checks' concern; here, only what gets delivered.)
      pub.destroy();
      const back = await ctx.connect(sessionOptions(ctx, id, true));
      await publishWithId(back, ctx, topic, 'resent', 2, 5, true);
      await release(back, ctx, 5);
      await release(back, ctx, 6);
      const got = await collectPublishes(sub, 2, ctx.timeoutMs);
      for (const p of got) await sub.acknowledge(p);
      expectEqual(texts(got).sort(), ['released-later', 'resent'], 'messages delivered (each QoS 2 message once, however often it was sent)');
    },
  })),
  ...forBothVersions((version, pick) => ({
    id: `${version}/4.3/packet-id-reused-across-qos`,
    version,
    statements: pick(['MQTT-4.3.2-2', 'MQTT-4.3.3-2'], ['MQTT-4.3.2-5', 'MQTT-4.3.3-12']),
    title: 'A packet identifier freed by PUBACK or PUBCOMP starts a new message at the other QoS too, with DUP 1 or not',
    async run(ctx) {
      ctx.require('qos2');
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic, 2);
      const pub = await ctx.connect();
      const messageId = 4242;
      const flows: Array<[string, 1 | 2, boolean]> = [
        ['first, QoS 1', 1, false],
        ['second, QoS 2 with DUP 1', 2, true],
        ['third, QoS 1 with DUP 1', 1, true],
        ['fourth, QoS 2', 2, false],
      ];
      for (const [payload, qos, dup] of flows) {
        await publishWithId(pub, ctx, topic, payload, qos, messageId, dup);
        if (qos === 2) await release(pub, ctx, messageId);
      }
      const got = await collectPublishes(sub, flows.length, ctx.timeoutMs);
      for (const p of got) await sub.acknowledge(p);
      expectEqual(texts(got).sort(), flows.map(([payload]) => payload).sort(), `messages delivered for four flows, one after another, all with packet identifier ${messageId}`);
    },
  })),
  {
    id: '5.0/4.3/qos2-expired-duplicate-acknowledged',
    version: '5.0',
    statements: ['MQTT-4.3.3-13', 'MQTT-4.3.3-10'],
    title: 'A QoS 2 PUBLISH resent after its Message Expiry Interval, before PUBREL, is acknowledged again and not delivered twice',
    async run(ctx) {
      ctx.require('qos2');
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic, 2);
      const pub = await ctx.connect();
      const publish = (dup: boolean) =>
        pub.send({ cmd: 'publish', topic, payload: 'expiring', qos: 2, messageId: 62, retain: false, dup, properties: { messageExpiryInterval: 1 } });
      publish(false);
      expectEqual((await pub.next('pubrec', ctx.timeoutMs)).messageId, 62, 'PUBREC packet identifier');
      await sleep(EXPIRY_WAIT_MS);
      // The message has expired in the broker; the flow has not, and the resent PUBLISH is the same message.
      publish(true);
      const again = await pub.next('pubrec', ctx.timeoutMs);
      expectThat(again.messageId === 62 && reasonOf(again) < 0x80, `the PUBLISH resent after its expiry was answered PUBREC ${again.messageId} ${hex(reasonOf(again))}`);
      await release(pub, ctx, 62);
      // A broker that passes the message on at PUBREL may have dropped it as expired [MQTT-3.3.2-5]: none or one.
      const got = await collectPublishes(sub, 1, ctx.timeoutMs);
      for (const p of got) await sub.acknowledge(p);
      expectThat(got.length <= 1, `a QoS 2 message sent twice, before and after its expiry, was delivered ${got.length} times: ${describePublishes(got)}`);
    },
  },
  {
    id: '5.0/4.3/qos2-in-flight-not-expired',
    version: '5.0',
    statements: ['MQTT-4.3.3-7'],
    title: 'A QoS 2 message already sent is not expired by the broker: a PUBREC arriving after its expiry gets its PUBREL',
    async run(ctx) {
      ctx.require('qos2');
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic, 2);
      const pub = await ctx.connect();
      await pub.publish(topic, 'short-lived', { qos: 2, properties: { messageExpiryInterval: 1 } });
      const p = await sub.next('publish', ctx.timeoutMs);
      await sleep(EXPIRY_WAIT_MS);
      sub.send({ cmd: 'pubrec', messageId: p.messageId! });
      const rel = await sub.next('pubrel', ctx.timeoutMs).catch((err: Error) => {
        throw new CheckFailed(`a PUBREC sent ${EXPIRY_WAIT_MS} ms after a message with Message Expiry Interval 1 arrived got no PUBREL: ${err.message}`);
      });
      expectEqual(rel.messageId, p.messageId, 'PUBREL packet identifier');
      sub.send({ cmd: 'pubcomp', messageId: p.messageId! });
    },
  },
  ...forBothVersions((version) => ({
    id: `${version}/4.5/message-to-every-session`,
    version,
    statements: ['MQTT-4.5.0-1'],
    title: 'An accepted message is added to every session with a matching subscription, connected or not',
    async run(ctx) {
      ctx.require('qos1');
      const topic = ctx.topic('x/y');
      const online = await subscriber(ctx, topic, 1);
      const filter = ctx.capabilities.wildcardSubscriptions ? ctx.topic('x/+') : topic;
      const { id, client: offline } = await persistentSubscriber(ctx, 'o', filter, 1);
      await offline.disconnect();
      const pub = await ctx.connect();
      await pub.publish(topic, 'for-everyone', { qos: 1 });
      expectEqual((await online.receive(ctx.timeoutMs)).payload.toString(), 'for-everyone', 'message for the connected subscriber');
      const back = await resumeSession(ctx, id);
      expectEqual((await back.receive(ctx.timeoutMs)).payload.toString(), 'for-everyone', 'message kept in the disconnected session');
    },
  })),
];
