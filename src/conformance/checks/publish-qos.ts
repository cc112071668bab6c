/**
 * The QoS 1 and QoS 2 flows with the broker on either end (3.3.4, 4.3), and the acknowledgements themselves
 * (3.4-3.7): which packet answers which, packet identifiers, duplicates, reason codes and their size limit.
 */
import type { Packet, PacketCmd } from 'mqtt-packet';
import { describePacket, sleep, type PacketOf, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import { QUIET_MS, collectPublishes, forBothVersions, describePublishes, drainPublishes, hex, reasonOf, subscribeOrFail, subscriber, texts, wireSize } from './publish-support.js';

const PUBACK_CODES = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREC_CODES = PUBACK_CODES;
const PUBREL_CODES = [0x00, 0x92];
const PUBCOMP_CODES = [0x00, 0x92];

/** The next `cmd` packet, or 'closed' when the broker closes the connection first. */
async function nextOrClosed<C extends PacketCmd>(client: RawClient, cmd: C, timeoutMs: number): Promise<PacketOf<C> | 'closed'> {
  try {
    return await client.next(cmd, timeoutMs);
  } catch (err) {
    if (client.closedByBroker) return 'closed';
    throw err;
  }
}

function publishPacket(topic: string, payload: string | Buffer, qos: 0 | 1 | 2, messageId: number | undefined, more: Partial<PacketOf<'publish'>> = {}): PacketOf<'publish'> {
  return { cmd: 'publish', topic, payload, qos, retain: false, dup: false, ...(messageId !== undefined ? { messageId } : {}), ...more };
}

/** "puback 258": a packet's type and identifier, to compare the answer that came with the one owed. */
function label(p: Packet): string {
  return `${p.cmd} ${'messageId' in p ? p.messageId : '-'}`;
}

/** Sends PUBREL for `messageId` and expects the matching PUBCOMP. */
async function release(client: RawClient, messageId: number, ctx: CheckContext): Promise<void> {
  client.send({ cmd: 'pubrel', messageId });
  const comp = await client.next('pubcomp', ctx.timeoutMs);
  expectEqual(comp.messageId, messageId, 'PUBCOMP packet identifier (it must echo the PUBREL)');
}

/** Every acknowledgement of type `cmd` the client received carries a code from `allowed`. */
function expectCodes(client: RawClient, cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', allowed: number[], situations: string): void {
  const acks = client.received.filter((p) => p.cmd === cmd) as Array<{ reasonCode?: number }>;
  const wrong = acks.filter((a) => !allowed.includes(reasonOf(a)));
  expectThat(
    wrong.length === 0,
    `${cmd.toUpperCase()} with reason code ${wrong.map((a) => hex(reasonOf(a))).join(', ')} (${situations}); only ${allowed.map(hex).join(', ')} are ${cmd.toUpperCase()} codes`,
  );
}

/** A topic of at most a dozen characters, for packets that must fit a small Maximum Packet Size. */
function shortTopic(ctx: CheckContext): string {
  return ctx.clientId('');
}

/** A client whose declared Maximum Packet Size leaves room for a bare acknowledgement but hardly for properties. */
const SMALL_PACKET = 20;

function withinSize(client: RawClient, cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'): void {
  const acks = client.received.filter((p) => p.cmd === cmd);
  expectThat(acks.length > 0, `no ${cmd.toUpperCase()} arrived, so its size could not be checked`);
  for (const a of acks) {
    const size = wireSize(a as { length?: number });
    expectThat(
      size === undefined || size <= SMALL_PACKET,
      `${describePacket(a)} is ${size} bytes, over the Maximum Packet Size ${SMALL_PACKET} the client declared: a Reason String or User Property must be left out instead`,
    );
  }
}

export const PUBLISH_QOS_CHECKS: Check[] = [
  ...forBothVersions((version) => ({
    id: `${version}/3.3/answer-per-qos`,
    version,
    statements: ['MQTT-3.3.4-1'],
    title: 'The broker answers a QoS 0 PUBLISH with nothing, QoS 1 with PUBACK and QoS 2 with PUBREC',
    async run(ctx) {
      const c = await ctx.connect();
      c.send(publishPacket(ctx.topic(), 'q0', 0, undefined));
      await c.expectNothing(QUIET_MS).catch((err: Error) => {
        throw new CheckFailed(`a QoS 0 PUBLISH must get no answer: ${err.message}`);
      });
      if (ctx.capabilities.maximumQoS >= 1) {
        c.send(publishPacket(ctx.topic(), 'q1', 1, 0x0102));
        expectEqual(label(await c.next(undefined, ctx.timeoutMs)), 'puback 258', 'answer to a QoS 1 PUBLISH with packet identifier 258');
      }
      if (ctx.capabilities.maximumQoS >= 2) {
        c.send(publishPacket(ctx.topic(), 'q2', 2, 0x0203));
        expectEqual(label(await c.next(undefined, ctx.timeoutMs)), 'pubrec 515', 'answer to a QoS 2 PUBLISH with packet identifier 515');
        await release(c, 0x0203, ctx);
      }
    },
  })),
  {
    id: '5.0/4.3/qos1-receiver-puback',
    version: '5.0',
    statements: ['MQTT-4.3.2-4'],
    title: 'A QoS 1 PUBLISH is answered with a PUBACK carrying its packet identifier, and the message is passed on',
    async run(ctx) {
      ctx.require('qos1');
      const sub = await subscriber(ctx, ctx.topic());
      const pub = await ctx.connect();
      pub.send(publishPacket(ctx.topic(), 'owned', 1, 0xbeef));
      const ack = await pub.next('puback', ctx.timeoutMs);
      expectEqual(ack.messageId, 0xbeef, 'PUBACK packet identifier');
      expectThat(reasonOf(ack) < 0x80, `PUBACK ${hex(reasonOf(ack))} refuses a plain QoS 1 message`);
      expectEqual((await sub.next('publish', ctx.timeoutMs)).payload.toString(), 'owned', 'message passed on to the subscriber');
    },
  },
  {
    id: '5.0/4.3/qos2-receiver-pubrec',
    version: '5.0',
    statements: ['MQTT-4.3.3-8'],
    title: 'A QoS 2 PUBLISH is answered with a PUBREC carrying its packet identifier, and the message is passed on',
    async run(ctx) {
      ctx.require('qos2');
      const sub = await subscriber(ctx, ctx.topic());
      const pub = await ctx.connect();
      pub.send(publishPacket(ctx.topic(), 'owned', 2, 0xcafe));
      const rec = await pub.next('pubrec', ctx.timeoutMs);
      expectEqual(rec.messageId, 0xcafe, 'PUBREC packet identifier');
      expectThat(reasonOf(rec) < 0x80, `PUBREC ${hex(reasonOf(rec))} refuses a plain QoS 2 message`);
      await release(pub, 0xcafe, ctx);
      expectEqual((await sub.next('publish', ctx.timeoutMs)).payload.toString(), 'owned', 'message passed on to the subscriber');
    },
  },
  {
    id: '5.0/4.3/pubrel-answered-pubcomp',
    version: '5.0',
    statements: ['MQTT-4.3.3-11'],
    title: 'Every PUBREL is answered with a PUBCOMP carrying its packet identifier, even one for an identifier not in use',
    async run(ctx) {
      ctx.require('qos2');
      const pub = await ctx.connect();
      pub.send(publishPacket(ctx.topic(), 'x', 2, 0x0a0b));
      await pub.next('pubrec', ctx.timeoutMs);
      await release(pub, 0x0a0b, ctx);
      // A PUBREL the broker has no state for (e.g. repeated after a reconnect) is still answered.
      await release(pub, 0x0c0d, ctx);
    },
  },
  ...forBothVersions((version, pick) => ({
    id: `${version}/4.3/qos1-id-reuse-is-new`,
    version,
    statements: pick(['MQTT-4.3.2-2'], ['MQTT-4.3.2-5']),
    title: 'Once it has sent PUBACK, the broker takes a QoS 1 PUBLISH reusing the identifier as a new message, even with DUP 1',
    async run(ctx) {
      ctx.require('qos1');
      const sub = await subscriber(ctx, ctx.topic());
      const pub = await ctx.connect();
      for (const dup of [false, true]) {
        pub.send(publishPacket(ctx.topic(), 'same', 1, 77, { dup }));
        expectEqual((await pub.next('puback', ctx.timeoutMs)).messageId, 77, 'PUBACK packet identifier');
      }
      const got = await collectPublishes(sub, 2, ctx.timeoutMs);
      expectEqual(texts(got), ['same', 'same'], 'messages delivered for two QoS 1 PUBLISH packets with one identifier, each acknowledged');
    },
  })),
  ...forBothVersions((version, pick) => ({
    id: `${version}/4.3/qos2-duplicate-not-redelivered`,
    version,
    statements: pick(['MQTT-4.3.3-2'], ['MQTT-4.3.3-10']),
    title: 'Until PUBREL, a repeated QoS 2 PUBLISH is answered with PUBREC again but not delivered a second time',
    async run(ctx) {
      ctx.require('qos2');
      const sub = await subscriber(ctx, ctx.topic());
      const pub = await ctx.connect();
      pub.send(publishPacket(ctx.topic(), 'once', 2, 9));
      expectEqual((await pub.next('pubrec', ctx.timeoutMs)).messageId, 9, 'PUBREC packet identifier');
      pub.send(publishPacket(ctx.topic(), 'once', 2, 9, { dup: true }));
      const again = await pub.next('pubrec', ctx.timeoutMs);
      expectEqual(again.messageId, 9, 'packet identifier of the PUBREC answering the repeated PUBLISH');
      await release(pub, 9, ctx);
      const got = await collectPublishes(sub, 1, ctx.timeoutMs);
      expectEqual(texts(got), ['once'], 'messages delivered for a QoS 2 PUBLISH sent twice before PUBREL');
    },
  })),
  ...forBothVersions((version, pick) => ({
    id: `${version}/4.3/qos2-id-free-after-pubcomp`,
    version,
    statements: pick(['MQTT-4.3.3-2'], ['MQTT-4.3.3-12']),
    title: 'Once it has sent PUBCOMP, the broker takes a QoS 2 PUBLISH reusing the identifier as a new message',
    async run(ctx) {
      ctx.require('qos2');
      const sub = await subscriber(ctx, ctx.topic());
      const pub = await ctx.connect();
      for (let round = 0; round < 2; round++) {
        pub.send(publishPacket(ctx.topic(), 'same', 2, 33));
        const rec = await pub.next('pubrec', ctx.timeoutMs);
        expectEqual(rec.messageId, 33, 'PUBREC packet identifier');
        await release(pub, 33, ctx);
      }
      const got = await collectPublishes(sub, 2, ctx.timeoutMs);
      expectEqual(texts(got), ['same', 'same'], 'messages delivered for two complete QoS 2 flows with one identifier');
    },
  })),
  {
    id: '5.0/4.3/qos2-refused-id-is-new',
    version: '5.0',
    statements: ['MQTT-4.3.3-9'],
    title: 'After a PUBREC of 0x80 or more, a PUBLISH reusing the identifier is a new message',
    async run(ctx) {
      ctx.require('qos2');
      const pub = await ctx.connect();
      const messageId = 21;
      const attempts = [
        { what: `a PUBLISH to "$SYS/${ctx.topic('denied')}"`, packet: publishPacket(`$SYS/${ctx.topic('denied')}`, 'refuse me', 2, messageId) },
        {
          what: 'a PUBLISH with Payload Format Indicator 1 and a payload that is not UTF-8',
          packet: publishPacket(ctx.topic('bad'), Buffer.from([0xc3, 0x28, 0xff]), 2, messageId, { properties: { payloadFormatIndicator: true } }),
        },
      ];
      const seen: string[] = [];
      let refused = false;
      for (const a of attempts) {
        pub.send(a.packet);
        const rec = await nextOrClosed(pub, 'pubrec', ctx.timeoutMs);
        if (rec === 'closed') return ctx.skip('the broker closed the connection instead of refusing a QoS 2 PUBLISH with PUBREC', `${seen.concat(`${a.what}: connection closed`).join('; ')}`);
        seen.push(`${a.what}: PUBREC ${hex(reasonOf(rec))}`);
        if (reasonOf(rec) >= 0x80) {
          refused = true;
          break;
        }
        await release(pub, messageId, ctx);
      }
      if (!refused) ctx.skip('the broker refused none of the QoS 2 messages the check can provoke a refusal with', seen.join('; '));
      const sub = await subscriber(ctx, ctx.topic('ok'));
      pub.send(publishPacket(ctx.topic('ok'), 'new', 2, messageId));
      const rec = await pub.next('pubrec', ctx.timeoutMs);
      expectThat(reasonOf(rec) < 0x80, `the PUBLISH reusing the refused identifier was answered PUBREC ${hex(reasonOf(rec))}, as if it were the refused message`);
      await release(pub, messageId, ctx);
      expectEqual(texts(await collectPublishes(sub, 1, ctx.timeoutMs)), ['new'], 'messages delivered for the PUBLISH reusing the identifier');
    },
  },
  {
    id: '3.1.1/3.3/unauthorised-publish',
    version: '3.1.1',
    statements: ['MQTT-3.3.5-2'],
    title: 'A PUBLISH the broker does not authorise is acknowledged as usual or answered by closing the connection',
    async run(ctx) {
      ctx.require('qos1');
      const topic = `$SYS/${ctx.topic('denied')}`;
      const watcher = await ctx.connect();
      const granted = (await watcher.subscribe(topic, 0)).granted[0];
      if (granted === 0x80) ctx.skip('the broker refuses subscriptions to $SYS, so whether it authorised the PUBLISH cannot be seen', `SUBACK 0x80 for "${topic}"`);
      const pub = await ctx.connect();
      pub.send(publishPacket(topic, 'not authorised?', 1, 5));
      const ack = await nextOrClosed(pub, 'puback', ctx.timeoutMs).catch(() => undefined);
      const delivered = await drainPublishes(watcher, QUIET_MS);
      if (delivered.length > 0) ctx.skip('the broker authorised a client PUBLISH to $SYS, the topic brokers commonly deny; nothing here is refused', `"${topic}" was delivered to a subscriber`);
      expectThat(ack !== undefined, `the broker neither acknowledged nor closed the connection after a PUBLISH it did not pass on (to "${topic}")`);
      if (ack !== 'closed') expectEqual(ack.messageId, 5, 'PUBACK packet identifier');
    },
  },
  ...forBothVersions((version, pick) => ({
    id: `${version}/4.3/qos1-sender-flow`,
    version,
    statements: pick(['MQTT-4.3.2-1'], ['MQTT-4.3.2-1', 'MQTT-4.3.2-2']),
    title: 'QoS 1 messages go out with QoS 1, DUP 0 and a packet identifier not used by another unacknowledged message',
    async run(ctx) {
      ctx.require('qos1');
      const sub = await subscriber(ctx, ctx.topic(), 1);
      const pub = await ctx.connect();
      for (let i = 0; i < 5; i++) await pub.publish(ctx.topic(), `m${i}`, { qos: 1 });
      const got = await sub.nextN('publish', 5, ctx.timeoutMs);
      for (const p of got) expectThat(p.qos === 1 && !p.dup && (p.messageId ?? 0) > 0, `expected QoS 1, DUP 0 and a packet identifier, got ${describePublishes([p])}`);
      const ids = got.map((p) => p.messageId);
      expectThat(new Set(ids).size === ids.length, `unacknowledged messages share packet identifiers: ${ids.join(', ')}`);
      for (const p of got) await sub.acknowledge(p);
    },
  })),
  ...forBothVersions((version, pick) => ({
    id: `${version}/4.3/qos2-sender-flow`,
    version,
    statements: pick(['MQTT-4.3.3-1'], ['MQTT-4.3.3-1', 'MQTT-4.3.3-2', 'MQTT-4.3.3-4']),
    title: 'QoS 2 messages go out with QoS 2, DUP 0 and unused identifiers, and each PUBREC is answered by a PUBREL with its identifier',
    async run(ctx) {
      ctx.require('qos2');
      const sub = await subscriber(ctx, ctx.topic(), 2);
      const pub = await ctx.connect();
      for (let i = 0; i < 3; i++) await pub.publish(ctx.topic(), `m${i}`, { qos: 2 });
      const got = await sub.nextN('publish', 3, ctx.timeoutMs);
      for (const p of got) expectThat(p.qos === 2 && !p.dup && (p.messageId ?? 0) > 0, `expected QoS 2, DUP 0 and a packet identifier, got ${describePublishes([p])}`);
      const ids = got.map((p) => p.messageId!);
      expectThat(new Set(ids).size === ids.length, `unacknowledged messages share packet identifiers: ${ids.join(', ')}`);
      // PUBRECs in reverse order: each PUBREL must name the PUBREC it answers, not the next message in line.
      for (const id of [...ids].reverse()) {
        sub.send({ cmd: 'pubrec', messageId: id });
        const rel = await sub.next('pubrel', ctx.timeoutMs);
        expectEqual(rel.messageId, id, 'PUBREL packet identifier (it must echo the PUBREC)');
        if (ctx.level === 5) expectEqual(reasonOf(rel), 0, 'PUBREL reason code');
        sub.send({ cmd: 'pubcomp', messageId: id });
      }
    },
  })),
  ...([
    { qos: 1, ack: 'puback', id: '5.0/3.4/puback-reason-codes', statement: 'MQTT-3.4.2-1', codes: PUBACK_CODES },
    { qos: 2, ack: 'pubrec', id: '5.0/3.5/pubrec-reason-codes', statement: 'MQTT-3.5.2-1', codes: PUBREC_CODES },
  ] as const).map(({ qos, ack, id, statement, codes }): Check => ({
    id,
    version: '5.0',
    statements: [statement],
    title: `Every ${ack.toUpperCase()} the broker sends carries a reason code from the ${ack.toUpperCase()} table`,
    async run(ctx) {
      ctx.require(qos === 1 ? 'qos1' : 'qos2');
      const sub = await subscriber(ctx, ctx.topic('sub'));
      const c = await ctx.connect();
      const cases = [
        publishPacket(ctx.topic('sub'), 'delivered', qos, 1),
        publishPacket(ctx.topic('nobody'), 'no subscribers', qos, 2),
        publishPacket(`$SYS/${ctx.topic('denied')}`, 'maybe refused', qos, 3),
        publishPacket(ctx.topic('bad'), Buffer.from([0xc3, 0x28]), qos, 4, { properties: { payloadFormatIndicator: true } }),
      ];
      for (const p of cases) {
        c.send(p);
        const reply = await nextOrClosed(c, ack, ctx.timeoutMs);
        if (reply === 'closed') break;
        // A QoS 2 flow the broker accepted is completed, so the next PUBLISH meets a clean state.
        if (qos === 2 && reasonOf(reply) < 0x80) await release(c, reply.messageId!, ctx);
      }
      expectThat(c.received.some((p) => p.cmd === ack), `no ${ack.toUpperCase()} arrived`);
      expectCodes(c, ack, codes, 'for a delivered message, one nobody subscribed to, one to $SYS, one with a payload that is not UTF-8');
      await sub.next('publish', ctx.timeoutMs);
    },
  })),
  {
    id: '5.0/3.6/pubrel-reason-codes',
    version: '5.0',
    statements: ['MQTT-3.6.2-1'],
    title: 'Every PUBREL the broker sends carries a reason code from the PUBREL table',
    async run(ctx) {
      ctx.require('qos2');
      const sub = await subscriber(ctx, ctx.topic(), 2);
      const pub = await ctx.connect();
      await pub.publish(ctx.topic(), 'x', { qos: 2 });
      const p = await sub.next('publish', ctx.timeoutMs);
      sub.send({ cmd: 'pubrec', messageId: p.messageId! });
      await sub.next('pubrel', ctx.timeoutMs);
      sub.send({ cmd: 'pubcomp', messageId: p.messageId! });
      // A PUBREC for an identifier the broker never used may draw a PUBREL 0x92.
      sub.send({ cmd: 'pubrec', messageId: (p.messageId! % 65_535) + 1000 });
      await sleep(QUIET_MS);
      expectCodes(sub, 'pubrel', PUBREL_CODES, 'for a delivered message, and for a PUBREC with an unknown identifier');
    },
  },
  {
    id: '5.0/3.7/pubcomp-reason-codes',
    version: '5.0',
    statements: ['MQTT-3.7.2-1'],
    title: 'Every PUBCOMP the broker sends carries a reason code from the PUBCOMP table',
    async run(ctx) {
      ctx.require('qos2');
      const c = await ctx.connect();
      c.send(publishPacket(ctx.topic(), 'x', 2, 40));
      await c.next('pubrec', ctx.timeoutMs);
      c.send({ cmd: 'pubrel', messageId: 40 });
      await c.next('pubcomp', ctx.timeoutMs);
      // A PUBREL for an identifier not in use may draw a PUBCOMP 0x92.
      c.send({ cmd: 'pubrel', messageId: 41 });
      await sleep(QUIET_MS);
      expectCodes(c, 'pubcomp', PUBCOMP_CODES, 'for a completed flow, and for a PUBREL with an unknown identifier');
    },
  },
  {
    id: '5.0/3.4/puback-within-maximum-packet-size',
    version: '5.0',
    statements: ['MQTT-3.4.2-2', 'MQTT-3.4.2-3'],
    title: "PUBACKs leave out a Reason String or User Property that would take them over the client's Maximum Packet Size",
    async run(ctx) {
      ctx.require('qos1');
      const c = await ctx.connect({ properties: { maximumPacketSize: SMALL_PACKET } });
      for (const [i, topic] of [shortTopic(ctx), `$SYS/${shortTopic(ctx)}`].entries()) {
        c.send(publishPacket(topic, '', 1, i + 1));
        await c.next('puback', ctx.timeoutMs);
      }
      withinSize(c, 'puback');
    },
  },
  {
    id: '5.0/3.5/pubrec-within-maximum-packet-size',
    version: '5.0',
    statements: ['MQTT-3.5.2-2', 'MQTT-3.5.2-3'],
    title: "PUBRECs leave out a Reason String or User Property that would take them over the client's Maximum Packet Size",
    async run(ctx) {
      ctx.require('qos2');
      const c = await ctx.connect({ properties: { maximumPacketSize: SMALL_PACKET } });
      for (const [i, topic] of [shortTopic(ctx), `$SYS/${shortTopic(ctx)}`].entries()) {
        c.send(publishPacket(topic, '', 2, i + 1));
        const rec = await c.next('pubrec', ctx.timeoutMs);
        if (reasonOf(rec) < 0x80) await release(c, i + 1, ctx);
      }
      withinSize(c, 'pubrec');
    },
  },
  {
    id: '5.0/3.6/pubrel-within-maximum-packet-size',
    version: '5.0',
    statements: ['MQTT-3.6.2-2', 'MQTT-3.6.2-3'],
    title: "PUBRELs leave out a Reason String or User Property that would take them over the client's Maximum Packet Size",
    async run(ctx) {
      ctx.require('qos2');
      const topic = shortTopic(ctx);
      const sub = await ctx.connect({ properties: { maximumPacketSize: SMALL_PACKET } });
      await subscribeOrFail(sub, topic, 2);
      const pub = await ctx.connect();
      await pub.publish(topic, '', { qos: 2 });
      const p = await sub.next('publish', ctx.timeoutMs);
      sub.send({ cmd: 'pubrec', messageId: p.messageId! });
      await sub.next('pubrel', ctx.timeoutMs);
      sub.send({ cmd: 'pubcomp', messageId: p.messageId! });
      sub.send({ cmd: 'pubrec', messageId: (p.messageId! % 65_535) + 1000 });
      await sleep(QUIET_MS);
      withinSize(sub, 'pubrel');
    },
  },
  {
    id: '5.0/3.7/pubcomp-within-maximum-packet-size',
    version: '5.0',
    statements: ['MQTT-3.7.2-2', 'MQTT-3.7.2-3'],
    title: "PUBCOMPs leave out a Reason String or User Property that would take them over the client's Maximum Packet Size",
    async run(ctx) {
      ctx.require('qos2');
      const c = await ctx.connect({ properties: { maximumPacketSize: SMALL_PACKET } });
      c.send(publishPacket(shortTopic(ctx), '', 2, 50));
      await c.next('pubrec', ctx.timeoutMs);
      c.send({ cmd: 'pubrel', messageId: 50 });
      await c.next('pubcomp', ctx.timeoutMs);
      c.send({ cmd: 'pubrel', messageId: 51 });
      await sleep(QUIET_MS);
      withinSize(c, 'pubcomp');
    },
  },
];

