/**
 * What a client asks for in its CONNECT and the broker must then honour (3.1.2.10, 3.1.2.11): Keep Alive, and in
 * MQTT 5 Maximum Packet Size, Topic Alias Maximum, Request Response Information and Request Problem Information.
 */
import type { IConnackPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { describePacket, sleep, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';
import { codeOf, expectPublish } from './connect-wire.js';

/** Timer slack granted on top of 1.5 × Keep Alive: a broker may look at its clients once a second. */
const KEEPALIVE_SLACK_MS = 1_000;

/**
 * A client may stay silent for up to 1.5 × Keep Alive. The checks look at 1.3 ×: a correct broker's clock starts at
 * the CONNECT (or the last packet), a little before the client's does, and the difference leaves room for that.
 */
const GRACE = 1.3;

/** The Keep Alive the broker holds this client to: its own Server Keep Alive (v5) or the client's. */
function keepAliveInForce(ctx: CheckContext, connack: IConnackPacket, asked: number): number {
  const keepAliveS = connack.properties?.serverKeepAlive ?? asked;
  if (keepAliveS === 0) ctx.skip('the broker switched keep alive off', 'CONNACK serverKeepAlive=0');
  return keepAliveS;
}

function keepAliveCheck(version: MqttVersion): Check {
  const v5 = version === '5.0';
  return {
    id: `${version}/3.1/keep-alive-expiry`,
    version,
    statements: v5 ? ['MQTT-3.1.2-22', 'MQTT-3.1.2-8'] : ['MQTT-3.1.2-24', 'MQTT-3.1.2-8'],
    title: 'A client silent for 1.3 × Keep Alive is still served; silent for 1.5 × it is cut off as if the network failed (will published)',
    async run(ctx) {
      const topic = ctx.topic('will');
      const s = await ctx.connect({ clientId: ctx.clientId('sub') });
      await s.subscribe(topic, 1);
      const c = await ctx.open();
      const connack = await c.connect(
        { clientId: ctx.clientId('k'), keepalive: 2, will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } },
        ctx.timeoutMs,
      );
      let silentFrom = Date.now();
      expectEqual(codeOf(connack), 0, 'CONNACK code');
      // A v5 broker may impose its own Keep Alive, which then is the one that counts.
      const keepAliveS = keepAliveInForce(ctx, connack, 2);
      if (keepAliveS > 10) ctx.skip('the broker imposes a Keep Alive too long to wait out', `CONNACK serverKeepAlive=${keepAliveS}`);
      const earliestMs = keepAliveS * 1_000 * GRACE;
      const tooSoon = (closedAt: number) =>
        `the broker closed the connection of a client silent for ${closedAt - silentFrom} ms, less than 1.5 × its Keep Alive of ${keepAliveS} s`;
      // Not yet 1.5 × Keep Alive: the client is still served.
      await sleep(earliestMs);
      if (c.closedByBroker) {
        // Closed while this side slept: early, or on time and this side woke late. When tells which.
        expectThat(c.closedAt! - silentFrom >= earliestMs, tooSoon(c.closedAt!));
      } else {
        c.send({ cmd: 'pingreq' });
        await c.next('pingresp', ctx.timeoutMs).catch((err: Error) => {
          if (c.closedByBroker && c.closedAt! - silentFrom < earliestMs) throw new CheckFailed(tooSoon(c.closedAt!));
          if (c.closedByBroker) return;
          throw new CheckFailed(`a PINGREQ after ${GRACE} × Keep Alive of silence was not answered: ${err.message}`);
        });
        // The PINGREQ counts as the last packet: 1.5 × Keep Alive from here the broker must close.
        if (!c.closedByBroker) silentFrom = Date.now();
      }
      const limitMs = keepAliveS * 1_500 + KEEPALIVE_SLACK_MS;
      try {
        await c.closed(limitMs);
      } catch {
        throw new CheckFailed(`a client silent for ${(Date.now() - silentFrom) / 1000} s with Keep Alive ${keepAliveS} s is still connected (1.5 × Keep Alive is ${keepAliveS * 1.5} s)`);
      }
      const after = c.closedAt! - silentFrom;
      expectThat(
        after >= earliestMs,
        `the broker closed the connection ${after} ms after the client's last packet (a PINGREQ), before 1.5 × its Keep Alive of ${keepAliveS} s had passed`,
      );
      const will = await expectPublish(s, ctx, 'no will was published when the broker cut off the silent client');
      expectEqual(will.payload.toString(), 'gone', 'will payload');
    },
  };
}

/** The largest Keep Alive a client can ask for (65,535 s, over 18 hours) is taken as it is, not as something short. */
function keepAliveMaximumCheck(version: MqttVersion): Check {
  const v5 = version === '5.0';
  return {
    id: `${version}/3.1/keep-alive-maximum`,
    version,
    statements: v5 ? ['MQTT-3.1.2-22', 'MQTT-3.2.2-22'] : ['MQTT-3.1.2-24'],
    title: 'A client asking for the largest Keep Alive (65,535 s) is accepted and still served after seconds of silence',
    async run(ctx) {
      const c = await ctx.open();
      const connack = await c.connect({ clientId: ctx.clientId('k'), keepalive: 65_535 }, ctx.timeoutMs);
      const silentFrom = Date.now();
      expectEqual(codeOf(connack), 0, 'CONNACK code for Keep Alive 65535');
      const keepAliveS = keepAliveInForce(ctx, connack, 65_535);
      // A broker imposing a short Server Keep Alive of its own may close a silent client sooner; that is its right.
      const silenceMs = Math.min(3_000, keepAliveS * 1_000 * GRACE);
      await sleep(silenceMs);
      expectThat(
        !c.closedByBroker,
        `the broker closed the connection of a client with Keep Alive ${keepAliveS} s after ${Date.now() - silentFrom} ms of silence`,
      );
      c.send({ cmd: 'pingreq' });
      await c.next('pingresp', ctx.timeoutMs).catch((err: Error) => {
        throw new CheckFailed(`a PINGREQ after ${silenceMs} ms of silence with Keep Alive ${keepAliveS} s was not answered: ${err.message}`);
      });
    },
  };
}

const MAX_PACKET = 256;

/** Total size of a received packet: fixed header byte, remaining length bytes, body. */
function sizeOf(p: Packet): number {
  const len = p.length ?? 0;
  return 1 + (len < 128 ? 1 : len < 16_384 ? 2 : len < 2_097_152 ? 3 : 4) + len;
}

/**
 * A subscriber declaring Maximum Packet Size 256 gets a 1000-byte QoS 1 message and then small ones: the large one
 * must never arrive, and the small ones must.
 */
function maximumPacketSizeCheck(c: { id: string; statements: string[]; title: string; receiveMaximum: number | undefined }): Check {
  return {
    id: c.id,
    version: '5.0',
    statements: c.statements,
    title: c.title,
    async run(ctx) {
      const topic = ctx.topic();
      const brokerMax = ctx.capabilities.maximumPacketSize;
      if (brokerMax !== undefined && brokerMax < 2_000) {
        ctx.skip('the broker takes no PUBLISH large enough for this check', `CONNACK maximumPacketSize=${brokerMax}`);
      }
      const sub = await ctx.open();
      const properties = { maximumPacketSize: MAX_PACKET, ...(c.receiveMaximum !== undefined ? { receiveMaximum: c.receiveMaximum } : {}) };
      const connack = await sub.connect({ clientId: ctx.clientId('sub'), properties }, ctx.timeoutMs);
      expectEqual(codeOf(connack), 0, 'CONNACK code');
      await sub.subscribe(topic, 1);
      const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
      const ack = await pub.publish(topic, Buffer.alloc(1_000, 0x61), { qos: 1 });
      expectThat(ack !== undefined && ack.cmd === 'puback', 'no PUBACK for the large message');
      for (const payload of ['small-1', 'small-2']) {
        await pub.publish(topic, payload, { qos: 1 });
        const p = await expectPublish(sub, ctx, `"${payload}", published after a message too large for the client, never arrived`);
        expectEqual(p.payload.toString(), payload, 'payload of the next message the client received');
        await sub.acknowledge(p);
      }
      const over = sub.received.filter((p) => sizeOf(p) > MAX_PACKET);
      expectThat(over.length === 0, `the broker sent packets above the client's Maximum Packet Size ${MAX_PACKET}: ${over.map((p) => `${describePacket(p)} ${sizeOf(p)} bytes`).join(', ')}`);
    },
  };
}

const V5_ONLY: Check[] = [
  maximumPacketSizeCheck({
    id: '5.0/3.1/maximum-packet-size-respected',
    statements: ['MQTT-3.1.2-24'],
    title: "The broker never sends a packet above the client's Maximum Packet Size: the large message is left out",
    receiveMaximum: undefined,
  }),
  maximumPacketSizeCheck({
    id: '5.0/3.1/oversized-message-counts-as-delivered',
    statements: ['MQTT-3.1.2-25'],
    title: 'A QoS 1 message dropped for being too large frees its place in flight as if delivered (Receive Maximum 1)',
    // With a single slot, a dropped message still holding it would block every message after it.
    receiveMaximum: 1,
  }),
  {
    id: '5.0/3.1/topic-alias-within-client-maximum',
    version: '5.0',
    statements: ['MQTT-3.1.2-26'],
    title: "Topic Aliases the broker sends stay within the client's Topic Alias Maximum and name the right topics",
    async run(ctx) {
      const sub = await ctx.open();
      const connack = await sub.connect({ clientId: ctx.clientId('sub'), properties: { topicAliasMaximum: 2 } }, ctx.timeoutMs);
      expectEqual(codeOf(connack), 0, 'CONNACK code');
      const topics = [ctx.topic('a'), ctx.topic('b'), ctx.topic('c'), ctx.topic('d')];
      await sub.subscribe(topics.map((topic) => ({ topic, qos: 0 as const })));
      const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
      const rounds = 3;
      for (let round = 0; round < rounds; round++) {
        for (const [i, topic] of topics.entries()) await pub.publish(topic, `${i}`);
      }
      // Messages on different topics may be reordered: the payload says which topic each was published to.
      const aliases = new Map<number, string>();
      for (let n = 0; n < rounds * topics.length; n++) {
        const p = await expectPublish(sub, ctx, 'a message was not delivered');
        resolveAlias(p, aliases, 2);
        const topic = p.topic === '' ? aliases.get(p.properties!.topicAlias!) : p.topic;
        expectEqual(topic, topics[Number(p.payload.toString())], 'topic of the delivered message (alias resolved)');
      }
    },
  },
  {
    id: '5.0/3.1/no-topic-alias-without-maximum',
    version: '5.0',
    statements: ['MQTT-3.1.2-27'],
    title: 'A client that declares no Topic Alias Maximum (or 0) never receives a Topic Alias',
    async run(ctx) {
      const topic = ctx.topic();
      const subs: RawClient[] = [];
      for (const [i, properties] of [undefined, { topicAliasMaximum: 0 }].entries()) {
        const c = await ctx.open();
        const connack = await c.connect({ clientId: ctx.clientId(`s${i}`), ...(properties ? { properties } : {}) }, ctx.timeoutMs);
        expectEqual(codeOf(connack), 0, 'CONNACK code');
        await c.subscribe(topic, 0);
        subs.push(c);
      }
      const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
      for (let i = 0; i < 4; i++) await pub.publish(topic, `m${i}`);
      for (const [i, c] of subs.entries()) {
        for (let n = 0; n < 4; n++) {
          const p = await expectPublish(c, ctx, 'a message was not delivered');
          expectThat(p.properties?.topicAlias === undefined, `a client declaring ${i === 0 ? 'no' : 'a zero'} Topic Alias Maximum received Topic Alias ${p.properties?.topicAlias}`);
          expectEqual(p.topic, topic, 'topic of the delivered message');
        }
      }
    },
  },
  {
    id: '5.0/3.1/no-response-information-unrequested',
    version: '5.0',
    statements: ['MQTT-3.1.2-28'],
    title: 'A client that does not request Response Information (absent or 0) gets none in CONNACK',
    async run(ctx) {
      for (const [i, properties] of [undefined, { requestResponseInformation: false }].entries()) {
        const c = await ctx.open();
        const connack = await c.connect({ clientId: ctx.clientId(`c${i}`), ...(properties ? { properties } : {}) }, ctx.timeoutMs);
        expectEqual(codeOf(connack), 0, 'CONNACK code');
        expectThat(
          connack.properties?.responseInformation === undefined,
          `CONNACK carries Response Information "${connack.properties?.responseInformation}" though the client ${i === 0 ? 'did not ask' : 'asked for none'}`,
        );
        await c.disconnect();
      }
    },
  },
  {
    id: '5.0/3.1/no-problem-information-unrequested',
    version: '5.0',
    statements: ['MQTT-3.1.2-29'],
    title: 'With Request Problem Information 0, acknowledgements carry no Reason String or User Property',
    async run(ctx) {
      const c = await ctx.open();
      const connack = await c.connect({ clientId: ctx.clientId('c'), properties: { requestProblemInformation: false } }, ctx.timeoutMs);
      expectEqual(codeOf(connack), 0, 'CONNACK code');
      // Acknowledgements with non-success reason codes are where brokers like to explain themselves.
      const nobody = ctx.topic('nobody');
      await c.subscribe(ctx.topic('s'), 1);
      await c.publish(nobody, 'q1', { qos: 1 });
      if (ctx.capabilities.maximumQoS >= 2) await c.publish(nobody, 'q2', { qos: 2 });
      c.send({ cmd: 'pubrel', messageId: 4242 });
      await c.next('pubcomp', ctx.timeoutMs);
      await c.unsubscribe(ctx.topic('never-subscribed'));
      await sleep(100);
      const explained = c.received.filter(
        (p) => p.cmd !== 'publish' && p.cmd !== 'connack' && p.cmd !== 'disconnect' && 'properties' in p && p.properties !== undefined && ('reasonString' in p.properties || 'userProperties' in p.properties),
      );
      expectThat(explained.length === 0, `the broker sent a Reason String or User Property to a client that asked for none: ${explained.map(describePacket).join(', ')}`);
    },
  },
];

/** Records the alias a PUBLISH sets, or checks the one it uses; fails on aliases above `max`. */
function resolveAlias(p: IPublishPacket, aliases: Map<number, string>, max: number): void {
  const alias = p.properties?.topicAlias;
  if (alias === undefined) {
    expectThat(p.topic !== '', 'a PUBLISH with neither a topic nor a Topic Alias');
    return;
  }
  expectThat(alias >= 1 && alias <= max, `the broker sent Topic Alias ${alias}; the client allows 1..${max}`);
  if (p.topic !== '') aliases.set(alias, p.topic);
  else expectThat(aliases.has(alias), `the broker used Topic Alias ${alias} before setting it`);
}

export const LIMIT_CHECKS: Check[] = [keepAliveCheck('3.1.1'), keepAliveCheck('5.0'), keepAliveMaximumCheck('3.1.1'), keepAliveMaximumCheck('5.0'), ...V5_ONLY];

