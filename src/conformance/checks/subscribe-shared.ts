/**
 * Shared subscriptions (MQTT 5.0 §4.8.2): the form of a shared filter, the QoS each member gets, and what happens to
 * a message whose chosen member drops, loses its session, or refuses it.
 */
import type { IPublishPacket, QoS } from 'mqtt-packet';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import type { RawClient } from '../client.js';
import { QUIET_MS, expectFiltersRefused, firstDelivery, gather, gatherAll, hex, persistentSession, texts } from './subscribe-support.js';

/** Connects `count` members (persistent sessions when `ids` is given) to one share group on `topic` at `qos`. */
async function joinGroup(ctx: CheckContext, topic: string, qos: QoS, count: number, ids?: string[]): Promise<RawClient[]> {
  const members: RawClient[] = [];
  for (let i = 0; i < count; i++) {
    const m = await ctx.connect(ids ? persistentSession(ctx, ids[i], false) : {});
    const suback = await m.subscribe(`$share/g/${topic}`, qos);
    const g = suback.granted[0] as number;
    if (g >= 0x80) throw new CheckFailed(`SUBACK refused $share/g/${topic} with ${hex(g)}, though the broker declared shared subscriptions`);
    if (g !== qos) ctx.skip(`the broker granted QoS ${g} for a QoS ${qos} shared subscription`, `SUBACK ${hex(g)}`);
    members.push(m);
  }
  return members;
}

/** Fails if `client` receives any PUBLISH within `ms`, saying why that is wrong. */
async function expectNoDelivery(client: RawClient, ms: number, why: string): Promise<void> {
  const got = await gather(client, ms);
  expectThat(got.length === 0, `${why} (received ${JSON.stringify(texts(got))})`);
}

/** A QoS 2 message in flight to one of two members whose connection then breaks, before or after its PUBREC. */
function resumedCheck(name: string, afterPubrec: boolean): Check {
  return {
    id: `5.0/4.8/${name}`,
    version: '5.0',
    statements: ['MQTT-4.8.2-4'],
    title: afterPubrec
      ? 'A shared QoS 2 delivery cut off after PUBREC is completed to the same member when it reconnects (PUBREL resent)'
      : 'A shared QoS 2 delivery cut off before PUBREC is completed to the same member when it reconnects, not to another',
    async run(ctx) {
      ctx.require('sharedSubscriptions');
      ctx.require('qos2');
      const t = ctx.topic();
      const ids = [ctx.clientId('m0'), ctx.clientId('m1')];
      for (const id of ids) ctx.endSession(id);
      const members = await joinGroup(ctx, t, 2, 2, ids);
      const pub = await ctx.connect();
      await pub.publish(t, 'exactly-once', { qos: 2 });
      const { index, publish } = await firstDelivery(members, ctx.timeoutMs);
      const chosen = members[index];
      if (afterPubrec) {
        chosen.send({ cmd: 'pubrec', messageId: publish.messageId! });
        await chosen.next('pubrel', ctx.timeoutMs);
      }
      chosen.destroy();
      await expectNoDelivery(members[1 - index], QUIET_MS, 'the message in flight to one member was given to the other member too');
      const again = await ctx.connect(persistentSession(ctx, ids[index], true));
      if (afterPubrec) {
        const pubrel = await again.next('pubrel', ctx.timeoutMs).catch((err: Error) => {
          throw new CheckFailed(`the PUBREL was not resent when the member reconnected: ${err.message}`);
        });
        expectEqual(pubrel.messageId, publish.messageId, 'packet identifier of the resent PUBREL');
        again.send({ cmd: 'pubcomp', messageId: publish.messageId! });
      } else {
        const resent = await again.next('publish', ctx.timeoutMs).catch((err: Error) => {
          throw new CheckFailed(`the QoS 2 message was not resent when the member reconnected: ${err.message}`);
        });
        expectEqual(resent.payload.toString(), 'exactly-once', 'payload of the resent message');
        expectEqual(resent.messageId, publish.messageId, 'packet identifier of the resent message');
        await again.acknowledge(resent);
      }
    },
  };
}

/** One member refuses the message with a failing acknowledgement; nobody gets it after that. */
function refusedCheck(name: string, qos: 1 | 2): Check {
  const ack = qos === 1 ? 'PUBACK' : 'PUBREC';
  return {
    id: `5.0/4.8/${name}`,
    version: '5.0',
    statements: ['MQTT-4.8.2-6'],
    title: `A shared message refused with ${ack} 0x80 is discarded: neither resent nor offered to another member`,
    async run(ctx) {
      ctx.require('sharedSubscriptions');
      ctx.require(qos === 1 ? 'qos1' : 'qos2');
      const t = ctx.topic();
      const members = await joinGroup(ctx, t, qos, 2);
      const pub = await ctx.connect();
      await pub.publish(t, 'refused', { qos });
      const { index, publish } = await firstDelivery(members, ctx.timeoutMs);
      members[index].send({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: publish.messageId!, reasonCode: 0x80 });
      const [mine, theirs] = await gatherAll([members[index], members[1 - index]], QUIET_MS);
      expectThat(mine.length === 0, `after ${ack} 0x80 the broker sent the member ${JSON.stringify(texts(mine))} again`);
      expectThat(theirs.length === 0, `after ${ack} 0x80 from one member the message went to the other (${JSON.stringify(texts(theirs))})`);
    },
  };
}

export const SHARED_SUBSCRIPTION_CHECKS: Check[] = [
  {
    id: '5.0/4.8/share-name-required',
    version: '5.0',
    statements: ['MQTT-4.8.2-1'],
    title: 'A shared filter needs a share name of at least one character: $share/g/t works, $share//t is refused',
    async run(ctx) {
      ctx.require('sharedSubscriptions');
      const t = ctx.topic();
      const [member] = await joinGroup(ctx, t, 0, 1);
      const pub = await ctx.connect();
      await pub.publish(t, 'shared');
      const got = await gather(member, ctx.timeoutMs, (g) => g.length > 0);
      expectEqual(texts(got), ['shared'], `messages delivered through $share/g/${t}`);
      await expectFiltersRefused(ctx, [`$share//${t}`, '$share/', '$share//']);
    },
  },
  {
    id: '5.0/4.8/share-name-form',
    version: '5.0',
    statements: ['MQTT-4.8.2-2'],
    title: 'A share name containing + or #, or not followed by / and a topic filter, is refused',
    async run(ctx) {
      ctx.require('sharedSubscriptions');
      const t = ctx.topic();
      await expectFiltersRefused(ctx, [`$share/g+/${t}`, `$share/g#/${t}`, `$share/+/${t}`, '$share/g', '$share/g/']);
    },
  },
  {
    id: '5.0/4.8/shared-granted-qos',
    version: '5.0',
    statements: ['MQTT-4.8.2-3'],
    title: "Each member of a share group gets messages at no more than the QoS granted to its own subscription",
    async run(ctx) {
      ctx.require('sharedSubscriptions');
      ctx.require('qos1');
      const t = ctx.topic();
      const [low] = await joinGroup(ctx, t, 0, 1);
      const [high] = await joinGroup(ctx, t, 1, 1);
      const pub = await ctx.connect();
      const sent = Array.from({ length: 10 }, (_, i) => `s${i}`);
      for (const m of sent) await pub.publish(t, m, { qos: 1 });
      const delivered = (got: IPublishPacket[][]) => new Set(texts(got.flat()));
      const [lowGot, highGot] = await gatherAll([low, high], ctx.timeoutMs, (got) => delivered(got).size >= sent.length);
      for (const p of lowGot) expectThat(p.qos === 0, `${p.payload.toString()} reached the QoS 0 member at QoS ${p.qos}`);
      for (const p of highGot) expectThat(p.qos === 1, `${p.payload.toString()} (published at QoS 1) reached the QoS 1 member at QoS ${p.qos}`);
      const missing = sent.filter((m) => !delivered([lowGot, highGot]).has(m));
      expectThat(missing.length === 0, `not delivered to any member of the group: ${missing.join(', ')}`);
    },
  },
  resumedCheck('shared-qos2-resumed-before-pubrec', false),
  resumedCheck('shared-qos2-resumed-after-pubrec', true),
  {
    id: '5.0/4.8/shared-session-ended-not-redelivered',
    version: '5.0',
    statements: ['MQTT-4.8.2-5'],
    title: "A shared QoS 2 message whose member's session ends mid-delivery is not passed to another member",
    async run(ctx) {
      ctx.require('sharedSubscriptions');
      ctx.require('qos2');
      const t = ctx.topic();
      // No Session Expiry Interval: a member's session ends with its connection.
      const members = await joinGroup(ctx, t, 2, 2);
      const pub = await ctx.connect();
      await pub.publish(t, 'orphan', { qos: 2 });
      const { index } = await firstDelivery(members, ctx.timeoutMs);
      members[index].destroy();
      await expectNoDelivery(members[1 - index], 2 * QUIET_MS, "the message of a member whose session ended was passed to another member");
    },
  },
  refusedCheck('shared-puback-refusal-discarded', 1),
  refusedCheck('shared-pubrec-refusal-discarded', 2),
];
