/**
 * The will (3.1.2.5-3.1.2.7, 3.1.3.2-3.1.3.4): published when the connection ends without a normal DISCONNECT,
 * never otherwise, once only, with its retain flag and user properties as sent, and (v5) after its delay.
 */
import type { IConnectPacket } from 'mqtt-packet';
import { describePacket, sleep, type RawClient } from '../client.js';
import { expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';
import { codeOf, expectNoPublish, expectPublish } from './connect-wire.js';

/** How long to watch for a will that must not come. */
const QUIET_MS = 500;

type Will = NonNullable<IConnectPacket['will']>;

interface WillOptions {
  clientId?: string;
  clean?: boolean;
  retain?: boolean;
  /** v5 will properties. */
  properties?: Will['properties'];
  /** v5 session expiry. */
  sessionExpiry?: number;
  keepalive?: number;
}

/** Connects a client that leaves a will on `topic`; fails unless accepted. */
async function connectWithWill(ctx: CheckContext, topic: string, opts: WillOptions = {}): Promise<RawClient> {
  const c = await ctx.open();
  const connack = await c.connect(
    {
      clientId: opts.clientId ?? ctx.clientId('w'),
      clean: opts.clean ?? true,
      keepalive: opts.keepalive ?? 60,
      will: { topic, payload: Buffer.from('gone'), qos: 1, retain: opts.retain ?? false, ...(opts.properties ? { properties: opts.properties } : {}) },
      ...(opts.sessionExpiry !== undefined ? { properties: { sessionExpiryInterval: opts.sessionExpiry } } : {}),
    },
    ctx.timeoutMs,
  );
  expectThat(codeOf(connack) === 0, `the broker refused a CONNECT with a will: ${describePacket(connack)}`);
  return c;
}

/** A subscriber to the will topic (QoS 1). */
async function watch(ctx: CheckContext, topic: string, name = 'sub'): Promise<RawClient> {
  const s = await ctx.connect({ clientId: ctx.clientId(name) });
  await s.subscribe(topic, 1);
  return s;
}

async function expectWill(s: RawClient, ctx: CheckContext, topic: string, why: string, timeoutMs = ctx.timeoutMs): Promise<void> {
  const p = await expectPublish(s, ctx, why, timeoutMs);
  expectEqual([p.topic, p.payload.toString()], [topic, 'gone'], 'topic and payload of the will');
  await s.acknowledge(p);
}

function willChecks(version: MqttVersion): Check[] {
  const v5 = version === '5.0';
  const ids = v5
    ? { stored: ['MQTT-3.1.2-7', 'MQTT-3.1.2-8'], published: ['MQTT-3.1.2-8'], forgotten: ['MQTT-3.1.2-10'], notRetained: 'MQTT-3.1.2-14', retained: 'MQTT-3.1.2-15' }
    : { stored: ['MQTT-3.1.2-8'], published: ['MQTT-3.1.2-8'], forgotten: ['MQTT-3.1.2-10'], notRetained: 'MQTT-3.1.2-16', retained: 'MQTT-3.1.2-17' };
  const keep = v5 ? { clean: false, sessionExpiry: 60 } : { clean: false };
  return [
    {
      id: `${version}/3.1/will-on-network-close`,
      version,
      statements: ids.stored,
      title: 'The will is published when the connection drops without a DISCONNECT',
      async run(ctx) {
        const topic = ctx.topic('will');
        const s = await watch(ctx, topic);
        const c = await connectWithWill(ctx, topic);
        c.destroy();
        await expectWill(s, ctx, topic, 'the will was not published after the connection dropped');
      },
    },
    {
      id: `${version}/3.1/will-on-protocol-error`,
      version,
      statements: ids.published,
      title: 'The will is published when the broker closes the connection over a malformed packet',
      async run(ctx) {
        const topic = ctx.topic('will');
        const s = await watch(ctx, topic);
        const c = await connectWithWill(ctx, topic);
        // PUBREL with fixed-header flags 0000 (0010 is required): malformed, whatever the broker's session state.
        c.sendRaw([0x60, 0x02, 0x00, 0x01]);
        await c.closed(ctx.timeoutMs);
        await expectWill(s, ctx, topic, 'the will was not published after the broker closed the connection over a malformed packet');
      },
    },
    {
      id: `${version}/3.1/will-on-second-connect`,
      version,
      statements: ids.published,
      title: 'The will is published when the broker closes the connection over a second CONNECT',
      async run(ctx) {
        const topic = ctx.topic('will');
        const s = await watch(ctx, topic);
        const c = await connectWithWill(ctx, topic);
        // A second CONNECT is a protocol violation the broker must close on [MQTT-3.1.0-2]; it does not end the will.
        c.send(c.connectPacket({ clientId: ctx.clientId('again') }));
        await c.closed(ctx.timeoutMs);
        await expectWill(s, ctx, topic, 'the will was not published after the broker closed the connection over a second CONNECT');
      },
    },
    {
      id: `${version}/3.1/no-will-after-disconnect`,
      version,
      statements: [...ids.forgotten, ...ids.published],
      title: v5 ? 'A DISCONNECT with reason 0x00 deletes the will: it is never published' : 'A DISCONNECT deletes the will: it is never published',
      async run(ctx) {
        const topic = ctx.topic('will');
        const s = await watch(ctx, topic);
        const c = await connectWithWill(ctx, topic);
        await c.disconnect(v5 ? 0 : undefined);
        await expectNoPublish(s, QUIET_MS, 'the will was published after a normal DISCONNECT');
      },
    },
    {
      id: `${version}/3.1/will-published-once`,
      version,
      statements: ids.forgotten,
      title: 'Once published the will is gone: the session resumed without a will leaves none behind',
      async run(ctx) {
        const topic = ctx.topic('will');
        const id = ctx.clientId('w');
        ctx.endSession(id);
        const s = await watch(ctx, topic);
        const c = await connectWithWill(ctx, topic, { clientId: id, ...keep });
        c.destroy();
        await expectWill(s, ctx, topic, 'the will was not published after the connection dropped');
        const again = await ctx.open();
        const connack = await again.connect({ clientId: id, clean: false, ...(v5 ? { properties: { sessionExpiryInterval: 60 } } : {}) }, ctx.timeoutMs);
        expectEqual(codeOf(connack), 0, 'CONNACK code when resuming without a will');
        again.destroy();
        await expectNoPublish(s, QUIET_MS, 'the will was published a second time');
      },
    },
    {
      id: `${version}/3.1/no-will-without-will-flag`,
      version,
      statements: v5 ? ids.forgotten : ['MQTT-3.1.2-12'],
      title: 'A connection made without a will leaves none when it drops, though the session once had one',
      async run(ctx) {
        const topic = ctx.topic('will');
        const id = ctx.clientId('w');
        ctx.endSession(id);
        const s = await watch(ctx, topic);
        const c = await connectWithWill(ctx, topic, { clientId: id, ...keep });
        await c.disconnect(v5 ? 0 : undefined);
        const again = await ctx.open();
        const connack = await again.connect({ clientId: id, clean: false, ...(v5 ? { properties: { sessionExpiryInterval: 60 } } : {}) }, ctx.timeoutMs);
        expectEqual(codeOf(connack), 0, 'CONNACK code for the connection without a will');
        again.destroy();
        await expectNoPublish(s, QUIET_MS, 'a will was published for a connection made without the Will Flag');
      },
    },
    {
      id: `${version}/3.1/will-retain-0-not-retained`,
      version,
      statements: [ids.notRetained],
      title: 'A will sent with Will Retain 0 is published but not retained',
      async run(ctx) {
        const topic = ctx.topic('will');
        ctx.clearRetained(topic);
        const s = await watch(ctx, topic);
        const c = await connectWithWill(ctx, topic, { retain: false });
        c.destroy();
        await expectWill(s, ctx, topic, 'the will was not published');
        const late = await ctx.connect({ clientId: ctx.clientId('late') });
        await late.subscribe(topic, 1);
        await expectNoPublish(late, QUIET_MS, 'a will sent with Will Retain 0 was kept as a retained message');
      },
    },
    {
      id: `${version}/3.1/will-retain-1-retained`,
      version,
      statements: [ids.retained],
      title: 'A will sent with Will Retain 1 is published as a retained message',
      async run(ctx) {
        ctx.require('retainAvailable');
        const topic = ctx.topic('will');
        ctx.clearRetained(topic);
        const s = await watch(ctx, topic);
        const c = await connectWithWill(ctx, topic, { retain: true });
        c.destroy();
        await expectWill(s, ctx, topic, 'the will was not published');
        const late = await ctx.connect({ clientId: ctx.clientId('late') });
        await late.subscribe(topic, 1);
        const p = await expectPublish(late, ctx, 'a will sent with Will Retain 1 was not retained');
        expectEqual([p.payload.toString(), p.retain], ['gone', true], 'payload and retain flag of the retained will');
      },
    },
  ];
}

const V5_ONLY: Check[] = [
  {
    id: '5.0/3.1/will-after-disconnect-with-will',
    version: '5.0',
    statements: ['MQTT-3.1.2-8'],
    title: 'Only DISCONNECT 0x00 deletes the will: after DISCONNECT 0x04 it is published',
    async run(ctx) {
      const topic = ctx.topic('will');
      const s = await watch(ctx, topic);
      const c = await connectWithWill(ctx, topic);
      await c.disconnect(0x04);
      await expectWill(s, ctx, topic, 'the will was not published after DISCONNECT 0x04 (Disconnect with Will Message)');
    },
  },
  {
    id: '5.0/3.1/will-delay',
    version: '5.0',
    statements: ['MQTT-3.1.2-8'],
    title: 'A will with a Will Delay Interval is published once the delay has passed, not before',
    async run(ctx) {
      const topic = ctx.topic('will');
      const s = await watch(ctx, topic);
      const c = await connectWithWill(ctx, topic, { sessionExpiry: 30, properties: { willDelayInterval: 2 } });
      ctx.endSession(ctx.clientId('w'));
      c.destroy();
      const dropped = Date.now();
      await expectNoPublish(s, 1_200, 'the will was published before its 2 s Will Delay Interval had passed');
      // Brokers check delays on a one-second tick: allow the delay plus that tick and some slack.
      await expectWill(s, ctx, topic, 'the will was not published once its 2 s delay had passed', 2_000 + 2_500 - (Date.now() - dropped));
    },
  },
  {
    id: '5.0/3.1/will-at-session-end',
    version: '5.0',
    statements: ['MQTT-3.1.2-8'],
    title: 'A session that ends before the Will Delay Interval has passed publishes the will when it ends',
    async run(ctx) {
      const topic = ctx.topic('will');
      const s = await watch(ctx, topic);
      const c = await connectWithWill(ctx, topic, { sessionExpiry: 1, properties: { willDelayInterval: 60 } });
      ctx.endSession(ctx.clientId('w'));
      c.destroy();
      await expectWill(s, ctx, topic, 'the will was not published when the session expired after 1 s (its delay was 60 s)', 1_000 + 2_500);
    },
  },
  {
    id: '5.0/3.1/no-will-on-reconnect-within-delay',
    version: '5.0',
    statements: ['MQTT-3.1.3-9', 'MQTT-3.1.2-8'],
    title: 'Reconnecting to the session before the Will Delay Interval has passed cancels the will',
    async run(ctx) {
      const topic = ctx.topic('will');
      const id = ctx.clientId('w');
      ctx.endSession(id);
      const s = await watch(ctx, topic);
      const c = await connectWithWill(ctx, topic, { clientId: id, clean: false, sessionExpiry: 30, properties: { willDelayInterval: 2 } });
      c.destroy();
      await sleep(300);
      const back = await ctx.open();
      const connack = await back.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 30 } }, ctx.timeoutMs);
      expectEqual([codeOf(connack), connack.sessionPresent], [0, true], 'CONNACK code and session present on reconnecting');
      // Past the delay, and a one-second tick beyond it.
      await expectNoPublish(s, 3_000, 'the will was published although the client came back within the Will Delay Interval');
    },
  },
  {
    id: '5.0/3.1/will-user-property-order',
    version: '5.0',
    statements: ['MQTT-3.1.3-10'],
    title: 'The User Properties of a will are published in the order the client gave them',
    async run(ctx) {
      const topic = ctx.topic('will');
      const s = await watch(ctx, topic);
      // Not in sorted order, with repeated names whose values are not sorted either.
      const userProperties = { zulu: ['3', '1', '2'], alpha: 'x', mike: ['b', 'a'] };
      const c = await connectWithWill(ctx, topic, { properties: { userProperties } });
      c.destroy();
      const p = await expectPublish(s, ctx, 'the will was not published');
      const got = p.properties?.userProperties;
      expectEqual(got, userProperties, 'User Properties of the published will (names in order of first appearance, values in order)');
      expectEqual(Object.keys(got ?? {}), Object.keys(userProperties), 'order of the User Property names');
    },
  },
];

export const WILL_CHECKS: Check[] = [...willChecks('3.1.1'), ...willChecks('5.0'), ...V5_ONLY];
