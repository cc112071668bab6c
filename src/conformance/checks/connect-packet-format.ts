/**
 * Packet format (2.x): reserved fixed-header flags in both directions, packet identifiers (non-zero, unused,
 * echoed by acknowledgements, absent at QoS 0), and v5 property lengths that are never left out.
 */
import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check } from '../check.js';
import type { MqttVersion } from '../statements.js';
import {
  FLAG,
  MALFORMED_DISCONNECT,
  expectPublish,
  rawConnect,
  rawPublish,
  rawSubscribe,
  rawUnsubscribe,
  refusesConnect,
  str,
  subscriber,
  levelOf,
} from './connect-wire.js';
import { closes, type ClosesRow } from './table.js';

const FLAG_STATEMENTS: Record<MqttVersion, { broker: string[]; receiver: string[] }> = {
  '3.1.1': { broker: ['MQTT-2.2.2-1'], receiver: ['MQTT-2.2.2-1', 'MQTT-2.2.2-2'] },
  '5.0': { broker: ['MQTT-2.1.3-1'], receiver: ['MQTT-2.1.3-1'] },
};

/**
 * Makes the broker send every packet type it can send to a client and fails if any arrives with fixed-header flags
 * other than those listed (the client's decoder refuses such packets and records why).
 */
function brokerFlagsCheck(version: MqttVersion): Check {
  return {
    id: `${version}/${version === '5.0' ? '2.1' : '2.2'}/reserved-flags-in-broker-packets`,
    version,
    statements: FLAG_STATEMENTS[version].broker,
    title: 'Every packet the broker sends carries the fixed-header flags the flag table lists',
    async run(ctx) {
      const topic = ctx.topic();
      const qos2 = ctx.capabilities.maximumQoS >= 2;
      const id = ctx.clientId('a');
      const c = await ctx.connect({ clientId: id });
      await c.subscribe(topic, qos2 ? 2 : 1);
      await c.publish(topic, 'q0');
      await c.publish(topic, 'q1', { qos: 1 });
      if (qos2) await c.publish(topic, 'q2', { qos: 2 });
      for (let i = 0; i < (qos2 ? 3 : 2); i++) await c.receive(ctx.timeoutMs);
      await c.unsubscribe(topic);
      c.send({ cmd: 'pingreq' });
      await c.next('pingresp', ctx.timeoutMs);
      const expected = ['connack', 'suback', 'publish', 'puback', 'unsuback', 'pingresp', ...(qos2 ? ['pubrec', 'pubrel', 'pubcomp'] : [])];
      const checked: RawClient[] = [c];
      if (version === '5.0') {
        // A session take-over makes the broker send DISCONNECT to the older connection.
        const b = await ctx.connect({ clientId: id });
        checked.push(b);
        await c.closed(ctx.timeoutMs);
        if (c.received.some((p) => p.cmd === 'disconnect')) expected.push('disconnect');
      }
      for (const client of checked) {
        if (client.parseErrors.length > 0) {
          throw new CheckFailed(
            `the broker sent packets its flag table forbids: ${client.parseErrors.map((e) => `${e.message} (${e.bytes.subarray(0, 8).toString('hex')})`).join('; ')}`,
          );
        }
      }
      const seen = new Set(c.received.map((p) => p.cmd));
      const missing = expected.filter((cmd) => !seen.has(cmd as Packet['cmd']));
      expectEqual(missing, [], 'packet types the broker was expected to send');
    },
  };
}

/** Packets with flags other than those listed: the broker must treat them as malformed and close. */
function receivedFlagsChecks(version: MqttVersion): Check[] {
  const lv = levelOf(version);
  const v5 = version === '5.0';
  const statements = FLAG_STATEMENTS[version].receiver;
  const chapter = v5 ? '2.1' : '2.2';
  const extra = v5 ? { disconnectReasons: [...MALFORMED_DISCONNECT] } : {};
  const rows: ClosesRow[] = [
    {
      id: `${version}/${chapter}/pubrel-flags`,
      version,
      statements,
      title: 'A PUBREL with fixed-header flags 0000 instead of 0010 makes the broker close the connection',
      send: (c) => c.sendRaw([0x60, 0x02, 0x00, 0x01]),
      ...extra,
    },
    {
      id: `${version}/${chapter}/subscribe-flags`,
      version,
      statements,
      title: 'A SUBSCRIBE with fixed-header flags 0000 instead of 0010 makes the broker close the connection',
      send: (c, ctx) => c.sendRaw(rawSubscribe(lv, str(ctx.topic()), { firstByte: 0x80 })),
      ...extra,
    },
    {
      id: `${version}/${chapter}/unsubscribe-flags`,
      version,
      statements,
      title: 'An UNSUBSCRIBE with fixed-header flags 0000 instead of 0010 makes the broker close the connection',
      send: (c, ctx) => c.sendRaw(rawUnsubscribe(lv, str(ctx.topic()), { firstByte: 0xa0 })),
      ...extra,
    },
    {
      id: `${version}/${chapter}/pingreq-flags`,
      version,
      statements,
      title: 'A PINGREQ with fixed-header flags other than 0000 makes the broker close the connection',
      send: (c) => c.sendRaw([0xc1, 0x00]),
      ...extra,
    },
    {
      id: `${version}/${chapter}/puback-flags`,
      version,
      statements,
      title: 'A PUBACK with fixed-header flags other than 0000 makes the broker close the connection',
      send: (c) => c.sendRaw([0x42, 0x02, 0x00, 0x01]),
      ...extra,
    },
  ];
  return [
    ...refusesConnect([
      {
        id: `${version}/${chapter}/connect-flags`,
        version,
        statements: v5 ? statements : [...statements, 'MQTT-3.1.4-1'],
        title: 'A CONNECT with fixed-header flags other than 0000 is refused and the connection closed',
        valid: (ctx) => rawConnect({ level: lv, flags: FLAG.clean, payload: [str(ctx.clientId('ok'))] }),
        bytes: (ctx) => {
          const bytes = rawConnect({ level: lv, flags: FLAG.clean, payload: [str(ctx.clientId('x'))] });
          bytes[0] = 0x12;
          return bytes;
        },
      },
    ]),
    ...closes(rows),
  ];
}

const ID_STATEMENTS: Record<MqttVersion, { zero: string[]; unused: string[]; qos0: string[]; pubAcks: string[]; subAcks: string[] }> = {
  '3.1.1': {
    zero: ['MQTT-2.3.1-1'],
    unused: ['MQTT-2.3.1-4', 'MQTT-2.3.1-1'],
    qos0: ['MQTT-2.3.1-5'],
    // The broker's PUBREL, answering a PUBREC with its PUBLISH's identifier, is also the sender's QoS 2 step.
    pubAcks: ['MQTT-2.3.1-6', 'MQTT-4.3.3-1'],
    subAcks: ['MQTT-2.3.1-7'],
  },
  '5.0': {
    zero: ['MQTT-2.2.1-3'],
    unused: ['MQTT-2.2.1-4'],
    qos0: ['MQTT-2.2.1-2'],
    pubAcks: ['MQTT-2.2.1-5', 'MQTT-4.3.3-4'],
    subAcks: ['MQTT-2.2.1-6'],
  },
};

function packetIdChecks(version: MqttVersion): Check[] {
  const lv = levelOf(version);
  const v5 = version === '5.0';
  const chapter = v5 ? '2.2' : '2.3';
  const st = ID_STATEMENTS[version];
  const extra = v5 ? { disconnectReasons: [...MALFORMED_DISCONNECT] } : {};
  return [
    ...closes([
      {
        id: `${version}/${chapter}/subscribe-packet-id-zero`,
        version,
        statements: st.zero,
        title: 'A SUBSCRIBE with packet identifier 0 makes the broker close the connection',
        send: (c, ctx) => c.sendRaw(rawSubscribe(lv, str(ctx.topic()), { id: 0 })),
        ...extra,
      },
      {
        id: `${version}/${chapter}/unsubscribe-packet-id-zero`,
        version,
        statements: st.zero,
        title: 'An UNSUBSCRIBE with packet identifier 0 makes the broker close the connection',
        send: (c, ctx) => c.sendRaw(rawUnsubscribe(lv, str(ctx.topic()), { id: 0 })),
        ...extra,
      },
      {
        id: `${version}/${chapter}/publish-qos1-packet-id-zero`,
        version,
        statements: st.zero,
        title: 'A QoS 1 PUBLISH with packet identifier 0 makes the broker close the connection',
        send: (c, ctx) => c.sendRaw(rawPublish(lv, str(ctx.topic()), 'p', { qos: 1, id: 0 })),
        ...extra,
      },
      {
        id: `${version}/${chapter}/publish-qos2-packet-id-zero`,
        version,
        statements: st.zero,
        title: 'A QoS 2 PUBLISH with packet identifier 0 makes the broker close the connection',
        send: (c, ctx) => {
          ctx.require('qos2');
          c.sendRaw(rawPublish(lv, str(ctx.topic()), 'p', { qos: 2, id: 0 }));
        },
        ...extra,
      },
    ]),
    {
      id: `${version}/${chapter}/broker-packet-ids-unused`,
      version,
      statements: st.unused,
      title: v5
        ? 'Messages the broker has in flight to one client each carry a different, non-zero packet identifier'
        : 'Messages in flight to one client carry different non-zero packet identifiers, and a redelivery keeps its identifier',
      async run(ctx) {
        const topic = ctx.topic();
        const id = ctx.clientId('sub');
        const persistent = v5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };
        ctx.endSession(id);
        const sub = await ctx.connect({ clientId: id, ...persistent });
        const qos = ctx.capabilities.maximumQoS >= 2 ? 2 : 1;
        await sub.subscribe(topic, qos);
        const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
        const count = 6;
        // Unacknowledged, they stay in flight: as many as the broker lets be in flight at once.
        for (let i = 0; i < count; i++) await pub.publish(topic, `m${i}`, { qos: i % 2 === 0 ? 1 : qos });
        const first = await collectPublishes(sub, count, ctx.timeoutMs);
        expectThat(first.length > 0, 'none of the messages was delivered');
        const ids = first.map((p) => p.messageId ?? 0);
        expectThat(ids.every((n) => n > 0), `the broker sent a QoS>0 PUBLISH with packet identifier 0 (or none): [${ids.join(', ')}]`);
        expectEqual(new Set(ids).size, ids.length, `distinct packet identifiers among ${ids.length} messages in flight [${ids.join(', ')}]`);
        if (v5) return;
        // Redelivered after a reconnect: each message keeps the identifier it had.
        sub.destroy();
        const again = await ctx.open();
        const connack = await again.connect({ clientId: id, ...persistent }, ctx.timeoutMs);
        expectThat(connack.sessionPresent, 'the broker did not resume the session (CONNACK session present 0)');
        const before = new Map(first.map((p) => [p.payload.toString(), p.messageId]));
        const resent = await collectPublishes(again, count, ctx.timeoutMs);
        const redelivered = resent.filter((p) => before.has(p.payload.toString()));
        expectEqual(redelivered.length, first.length, 'number of unacknowledged messages redelivered after the reconnect');
        for (const p of redelivered) {
          expectEqual(p.messageId, before.get(p.payload.toString()), `packet identifier of the redelivered message "${p.payload.toString()}"`);
        }
      },
    },
    {
      id: `${version}/${chapter}/qos0-publish-has-no-packet-id`,
      version,
      statements: st.qos0,
      title: 'A QoS 0 PUBLISH from the broker has no packet identifier, also when it was published at QoS 1',
      async run(ctx) {
        const topic = ctx.topic();
        const sub = await subscriber(ctx, topic, 0);
        const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
        // Payload bytes that would show up shifted if an identifier were written before them.
        const payloads = [Buffer.from([0x00, 0x07, 0x41]), Buffer.from([0x12, 0x34])];
        await pub.publish(topic, payloads[0], { qos: 1 });
        await pub.publish(topic, payloads[1], { qos: 0 });
        // Published at different QoS, so they may arrive in either order: each is known by its payload.
        const got: IPublishPacket[] = [];
        for (let i = 0; i < payloads.length; i++) got.push(await expectPublish(sub, ctx, `${i} of ${payloads.length} messages were delivered`));
        for (const p of got) {
          expectEqual(p.qos, 0, 'QoS of the delivered message');
          expectEqual(p.messageId, undefined, 'packet identifier of a QoS 0 PUBLISH');
        }
        expectEqual(
          got.map((p) => p.payload.toString('hex')).sort(),
          payloads.map((p) => p.toString('hex')).sort(),
          'payload bytes of the QoS 0 PUBLISH packets (an identifier written before them would shift them)',
        );
      },
    },
    {
      id: `${version}/${chapter}/acks-echo-publish-id`,
      version,
      statements: st.pubAcks,
      title: v5
        ? 'PUBACK, PUBREC, PUBREL and PUBCOMP carry the packet identifier of the PUBLISH they belong to'
        : 'PUBACK, PUBREC and PUBREL carry the packet identifier of the PUBLISH they answer',
      async run(ctx) {
        const topic = ctx.topic();
        const c = await ctx.connect({ clientId: ctx.clientId('pub') });
        c.send({ cmd: 'publish', topic, payload: 'q1', qos: 1, retain: false, dup: false, messageId: 0xbeef });
        expectEqual((await c.next('puback', ctx.timeoutMs)).messageId, 0xbeef, 'PUBACK packet identifier');
        if (ctx.capabilities.maximumQoS < 2) return;
        c.send({ cmd: 'publish', topic, payload: 'q2', qos: 2, retain: false, dup: false, messageId: 0xffff });
        expectEqual((await c.next('pubrec', ctx.timeoutMs)).messageId, 0xffff, 'PUBREC packet identifier');
        c.send({ cmd: 'pubrel', messageId: 0xffff });
        expectEqual((await c.next('pubcomp', ctx.timeoutMs)).messageId, 0xffff, 'PUBCOMP packet identifier');
        // The broker as sender: its PUBREL answers our PUBREC with the identifier of its PUBLISH.
        const sub = await subscriber(ctx, topic, 2);
        await c.publish(topic, 'to-sub', { qos: 2 });
        const p: IPublishPacket = await expectPublish(sub, ctx, 'the QoS 2 message was not delivered');
        sub.send({ cmd: 'pubrec', messageId: p.messageId! });
        const pubrel = await sub.next('pubrel', ctx.timeoutMs);
        expectEqual(pubrel.messageId, p.messageId, "packet identifier of the broker's PUBREL");
        sub.send({ cmd: 'pubcomp', messageId: p.messageId! });
      },
    },
    {
      id: `${version}/${chapter}/suback-unsuback-echo-id`,
      version,
      statements: st.subAcks,
      title: 'SUBACK and UNSUBACK carry the packet identifier of the SUBSCRIBE or UNSUBSCRIBE they answer',
      async run(ctx) {
        const c = await ctx.connect();
        const topic = ctx.topic();
        c.send({ cmd: 'subscribe', messageId: 0xfffe, subscriptions: [{ topic, qos: 0 }] });
        c.send({ cmd: 'subscribe', messageId: 0x0100, subscriptions: [{ topic: ctx.topic('b'), qos: 0 }] });
        const subacks = await c.nextN('suback', 2, ctx.timeoutMs);
        expectEqual(subacks.map((s) => s.messageId), [0xfffe, 0x0100], 'SUBACK packet identifiers, in order');
        c.send({ cmd: 'unsubscribe', messageId: 0x8001, unsubscriptions: [topic] });
        expectEqual((await c.next('unsuback', ctx.timeoutMs)).messageId, 0x8001, 'UNSUBACK packet identifier');
      },
    },
  ];
}

/** Up to `max` PUBLISH packets, as many as arrive before `ms` passes without one. */
async function collectPublishes(c: RawClient, max: number, ms: number): Promise<IPublishPacket[]> {
  const out: IPublishPacket[] = [];
  while (out.length < max) {
    try {
      out.push(await c.next('publish', out.length === 0 ? ms : 500));
    } catch {
      break;
    }
  }
  return out;
}

/** MQTT 5: a property section with nothing in it is written as length 0, never left out. */
const PROPERTY_LENGTH: Check = {
  id: '5.0/2.2/empty-property-length-present',
  version: '5.0',
  statements: ['MQTT-2.2.2-1'],
  title: 'CONNACK, SUBACK, UNSUBACK and PUBLISH from the broker carry a property length even with no properties',
  async run(ctx) {
    const topic = ctx.topic();
    const c = await ctx.open();
    const connack = await c.connect({ clientId: ctx.clientId('a') }, ctx.timeoutMs);
    // CONNACK: flags, reason code, then the property length.
    expectThat((connack.length ?? 0) >= 3, `the CONNACK has remaining length ${connack.length}: its property length is missing`);
    // Were the property length left out, the first reason code would be read as one and the list would shrink.
    const suback = await c.subscribe([
      { topic, qos: 1 },
      { topic: ctx.topic('b'), qos: 0 },
    ]);
    expectEqual(suback.granted, [1, 0], 'SUBACK reason codes');
    const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
    const payload = Buffer.from([0x00, 0x26, 0x00]);
    await pub.publish(topic, payload, { qos: 1 });
    const p = await expectPublish(c, ctx, 'the message was not delivered');
    expectEqual(p.payload.toString('hex'), payload.toString('hex'), 'payload bytes of the delivered PUBLISH');
    await c.acknowledge(p);
    const unsuback = await c.unsubscribe([topic, ctx.topic('b')]);
    expectEqual(unsuback.granted, [0, 0], 'UNSUBACK reason codes');
    if (c.parseErrors.length > 0) throw new CheckFailed(`undecodable packets from the broker: ${c.parseErrors.map((e) => e.message).join('; ')}`);
  },
};

export const PACKET_FORMAT_CHECKS: Check[] = [
  brokerFlagsCheck('3.1.1'),
  brokerFlagsCheck('5.0'),
  ...receivedFlagsChecks('3.1.1'),
  ...receivedFlagsChecks('5.0'),
  ...packetIdChecks('3.1.1'),
  ...packetIdChecks('5.0'),
  PROPERTY_LENGTH,
];

