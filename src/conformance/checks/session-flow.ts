/**
 * Flow control (4.9): the broker keeps no more unacknowledged QoS 1 and 2 PUBLISH packets in flight to a client than
 * the client's Receive Maximum, and answers everything else while that quota is spent.
 */
import type { IPublishPacket, QoS } from 'mqtt-packet';
import { payloadsOf, sleep, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';

/** A subscriber announcing `receiveMaximum`, and `messages` already published to it at the QoS given with each. */
async function subscriberWithBacklog(
  ctx: CheckContext,
  receiveMaximum: number,
  messages: Array<[string, QoS]>,
): Promise<{ sub: RawClient; topic: string }> {
  const topic = ctx.topic();
  const sub = await ctx.connect({ properties: { receiveMaximum } });
  await sub.subscribe(topic, 2);
  const pub = await ctx.connect();
  for (const [payload, qos] of messages) await pub.publish(topic, payload, { qos });
  return { sub, topic };
}

/** Takes every PUBLISH that has arrived so far without waiting. */
async function takeArrived(sub: RawClient, into: IPublishPacket[]): Promise<void> {
  while (sub.pending().some((p) => p.cmd === 'publish')) into.push(await sub.next('publish', 1));
}

async function expectNoPublish(sub: RawClient, ms: number, what: string): Promise<void> {
  await sub.expectNothing(ms, 'publish').catch((err: Error) => {
    throw new CheckFailed(`${what}: ${err.message}`);
  });
}

export const SESSION_FLOW_CHECKS: Check[] = [
  {
    id: '5.0/4.9/quota-within-receive-maximum',
    version: '5.0',
    statements: ['MQTT-4.9.0-1'],
    title: 'The broker starts sending at once but never has more unacknowledged QoS 1 messages out than the Receive Maximum',
    async run(ctx) {
      ctx.require('qos1');
      const receiveMaximum = 2;
      const total = 6;
      const payloads = Array.from({ length: total }, (_, i) => `m${i}`);
      const { sub } = await subscriberWithBacklog(ctx, receiveMaximum, payloads.map((p) => [p, 1]));
      const got: IPublishPacket[] = [];
      const unacked: IPublishPacket[] = [];
      while (got.length < total) {
        if (unacked.length === 0) {
          const p = await sub.next('publish', ctx.timeoutMs).catch((err: Error) => {
            throw new CheckFailed(`${got.length} of ${total} messages arrived and none is awaiting acknowledgement, yet no more came: ${err.message}`);
          });
          got.push(p);
          unacked.push(p);
        }
        // Time for anything the broker would send beyond its quota.
        await sleep(250);
        const before = got.length;
        await takeArrived(sub, got);
        unacked.push(...got.slice(before));
        expectThat(unacked.length <= receiveMaximum, `${unacked.length} QoS 1 PUBLISH packets unacknowledged at once (${payloadsOf(unacked).join(', ')}), with Receive Maximum ${receiveMaximum}`);
        const oldest = unacked.shift()!;
        sub.send({ cmd: 'puback', messageId: oldest.messageId! });
      }
      expectEqual(payloadsOf(got).sort(), payloads, 'messages delivered');
    },
  },
  {
    id: '5.0/4.9/no-publish-at-zero-quota',
    version: '5.0',
    statements: ['MQTT-4.9.0-2'],
    title: 'With Receive Maximum 1, the broker sends the next QoS 1 or 2 PUBLISH only after PUBACK or PUBCOMP',
    async run(ctx) {
      ctx.require('qos2');
      const backlog: Array<[string, QoS]> = [
        ['first, QoS 1', 1],
        ['second, QoS 2', 2],
        ['third, QoS 1', 1],
      ];
      const { sub } = await subscriberWithBacklog(ctx, 1, backlog);
      // Messages of different QoS may come in any order; what this is about is one at a time.
      const got: IPublishPacket[] = [];
      while (got.length < backlog.length) {
        const p = await sub.next('publish', ctx.timeoutMs).catch((err: Error) => {
          throw new CheckFailed(`${got.length} of ${backlog.length} messages arrived, each completed, yet no more came: ${err.message}`);
        });
        got.push(p);
        if (p.qos === 2) {
          sub.send({ cmd: 'pubrec', messageId: p.messageId! });
          await sub.next('pubrel', ctx.timeoutMs);
          // PUBREC does not give the quota back; only PUBCOMP does.
          await expectNoPublish(sub, 400, `after PUBREC, before the PUBCOMP of "${p.payload.toString()}"`);
          sub.send({ cmd: 'pubcomp', messageId: p.messageId! });
        } else {
          if (got.length === 1) await expectNoPublish(sub, 400, `before the PUBACK of "${p.payload.toString()}"`);
          sub.send({ cmd: 'puback', messageId: p.messageId! });
        }
      }
      expectEqual(
        got.map((p) => `${p.payload.toString()} at QoS ${p.qos}`).sort(),
        backlog.map(([payload, qos]) => `${payload} at QoS ${qos}`).sort(),
        'messages delivered, and their QoS',
      );
    },
  },
  {
    id: '5.0/4.9/other-packets-at-zero-quota',
    version: '5.0',
    statements: ['MQTT-4.9.0-3'],
    title: 'While its send quota to a client is zero, the broker still answers that client\'s other packets',
    async run(ctx) {
      ctx.require('qos1');
      const { sub } = await subscriberWithBacklog(ctx, 1, [
        ['holds the quota', 1],
        ['waits', 1],
      ]);
      await sub.next('publish', ctx.timeoutMs);
      sub.send({ cmd: 'pingreq' });
      await sub.next('pingresp', ctx.timeoutMs);
      const suback = await sub.subscribe(ctx.topic('other'), 1);
      expectThat((suback.granted[0] as number) < 0x80, `SUBACK ${suback.granted[0]} while the quota was zero`);
      const own = ctx.topic('own');
      const puback = await sub.publish(own, 'QoS 1 from the client', { qos: 1 });
      expectEqual(puback?.cmd, 'puback', 'answer to a QoS 1 PUBLISH');
      if (ctx.capabilities.maximumQoS === 2) {
        const pubcomp = await sub.publish(own, 'QoS 2 from the client', { qos: 2 });
        expectEqual(pubcomp?.cmd, 'pubcomp', 'end of a QoS 2 PUBLISH flow');
      }
      const unsuback = await sub.unsubscribe(ctx.topic('other'));
      expectEqual(unsuback.cmd, 'unsuback', 'answer to UNSUBSCRIBE');
      await expectNoPublish(sub, 100, 'with the quota still zero');
    },
  },
];
