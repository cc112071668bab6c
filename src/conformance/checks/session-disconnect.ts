/**
 * PINGREQ (3.12), DISCONNECT (3.14) and handling errors (4.13): keep-alive answers, what a DISCONNECT does to the
 * will, what the broker's own DISCONNECTs may carry, and that errors end the connection.
 */
import type { Packet } from 'mqtt-packet';
import { reasonName } from '../../protocol/reason-codes.js';
import { encodeRawConnect, payloadsOf, sleep, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';
import { closes } from './table.js';
import {
  SERVER_DISCONNECT_REASON_CODES,
  UNKNOWN_AUTH_METHOD,
  connectWithAuthMethod,
  connectWithZeroReceiveMaximum,
  disconnectsOf,
  expectClosedWith,
  rawPublishV5,
  tryConnect,
  wireSize,
} from './session-support.js';

function pingresp(version: MqttVersion): Check {
  return {
    id: `${version}/3.12/pingresp`,
    version,
    statements: ['MQTT-3.12.4-1'],
    title: 'Each PINGREQ gets its own PINGRESP',
    async run(ctx) {
      const c = await ctx.connect();
      const ping = c.encode({ cmd: 'pingreq' });
      c.sendRaw(Buffer.concat([ping, ping, ping]));
      await c.nextN('pingresp', 3, ctx.timeoutMs);
      c.send({ cmd: 'pingreq' });
      await c.next('pingresp', ctx.timeoutMs);
    },
  };
}

/**
 * Clients with wills end in different ways while another client listens on the will topic. Returns the will
 * payloads that arrived once the will of `dropped` (which vanishes without DISCONNECT) is in: any will published
 * for a polite DISCONNECT would have been sent before it.
 */
async function endWithWills(ctx: CheckContext, polite: Array<[string, (c: RawClient) => void]>): Promise<string[]> {
  const topic = ctx.topic('will');
  const listener = await ctx.connect();
  await listener.subscribe(topic, 0);
  const will = (payload: string) => ({ will: { topic, payload, qos: 0 as const, retain: false } });
  for (const [payload, end] of polite) {
    const c = await ctx.connect(will(payload));
    end(c);
    await c.closed(ctx.timeoutMs).catch(() => c.destroy());
  }
  const dropped = await ctx.connect(will('dropped'));
  await sleep(100);
  dropped.destroy();
  const seen: Packet[] = [];
  for (;;) {
    const p = await listener.next('publish', ctx.timeoutMs).catch((err: Error) => {
      throw new CheckFailed(`the will of a client that vanished without DISCONNECT never arrived (${err.message})`);
    });
    seen.push(p);
    if (p.payload.toString() === 'dropped') break;
  }
  await listener.expectNothing(300, 'publish').catch(() => undefined);
  return payloadsOf([...seen, ...listener.pending()]);
}

function disconnectDiscardsWill(version: MqttVersion): Check {
  const polite: Array<[string, (c: RawClient) => void]> =
    version === '5.0'
      ? [
          ['DISCONNECT without a reason code', (c) => c.sendRaw([0xe0, 0x00])],
          ['DISCONNECT with reason code 0x00', (c) => c.sendRaw([0xe0, 0x02, 0x00, 0x00])],
        ]
      : [['DISCONNECT', (c) => c.sendRaw([0xe0, 0x00])]];
  return {
    id: `${version}/3.14/disconnect-discards-will`,
    version,
    statements: ['MQTT-3.14.4-3'],
    title:
      version === '5.0'
        ? 'DISCONNECT with reason code 0x00 discards the will: it is never published'
        : 'DISCONNECT discards the will: it is never published',
    async run(ctx) {
      const payloads = await endWithWills(ctx, polite);
      expectEqual(payloads, ['dropped'], 'wills published (each named after how its client ended)');
    },
  };
}

interface Provoked {
  what: string;
  client: RawClient;
  closed: boolean;
}

/**
 * Situations in which a v5 broker ends a connection, each on its own connection (with `props` in its CONNECT):
 * the broker may send DISCONNECT in all of them, and must close in all of them.
 */
async function provokeServerDisconnects(ctx: CheckContext, props: { maximumPacketSize?: number } = {}): Promise<Provoked[]> {
  const out: Provoked[] = [];
  // Only the session taken over outlives its connection (and is ended after the check).
  const connect = async (clientId?: string): Promise<RawClient> =>
    ctx.connect({ ...(clientId ? { clientId } : {}), properties: { ...(clientId ? { sessionExpiryInterval: 60 } : {}), ...props } });
  const settle = async (what: string, client: RawClient): Promise<void> => {
    const closed = await client.closed(ctx.timeoutMs).then(
      () => true,
      () => false,
    );
    out.push({ what, client, closed });
  };
  const id = ctx.clientId('over');
  ctx.endSession(id);
  const first = await connect(id);
  await connect(id);
  const cases: Array<[string, (c: RawClient) => void]> = [
    ['a second CONNECT', (c) => c.send(c.connectPacket({ clientId: ctx.clientId('again') }))],
    ['DISCONNECT with reserved flags set', (c) => c.sendRaw([0xe2, 0x00])],
    ['PUBLISH with Topic Alias 0', (c) => c.sendRaw(rawPublishV5(ctx.topic(), Buffer.from([0x23, 0x00, 0x00])))],
    ['PUBLISH with an unknown property', (c) => c.sendRaw(rawPublishV5(ctx.topic(), Buffer.from([0x7f, 0x00])))],
  ];
  await Promise.all([
    settle('a connection taken over by the same client id', first),
    ...cases.map(async ([what, send]) => {
      const c = await connect();
      send(c);
      await settle(`after ${what}`, c);
    }),
  ]);
  return out;
}

/** The provoked endings that came with a DISCONNECT, or a skip when the broker closed without one every time. */
function withDisconnect(ctx: CheckContext, provoked: Provoked[]): Array<Provoked & { disconnect: Extract<Packet, { cmd: 'disconnect' }> }> {
  const out = provoked.flatMap((p) => disconnectsOf(p.client).map((disconnect) => ({ ...p, disconnect })));
  if (out.length === 0) {
    ctx.skip(
      'the broker closed every connection without sending DISCONNECT, so there is no DISCONNECT to examine',
      provoked.map((p) => `${p.what}: ${p.closed ? 'closed' : 'still open'}, no DISCONNECT`).join('; '),
    );
  }
  return out;
}

export const SESSION_DISCONNECT_CHECKS: Check[] = [
  pingresp('3.1.1'),
  pingresp('5.0'),
  disconnectDiscardsWill('3.1.1'),
  disconnectDiscardsWill('5.0'),
  {
    id: '3.1.1/3.14/reserved-flags-publish-will',
    version: '3.1.1',
    statements: ['MQTT-3.14.1-1'],
    title: 'A DISCONNECT with reserved flags set is an error: the broker drops the client and publishes its will',
    async run(ctx) {
      const topic = ctx.topic('will');
      const listener = await ctx.connect();
      await listener.subscribe(topic, 0);
      const c = await ctx.connect({ will: { topic, payload: 'bad DISCONNECT', qos: 0, retain: false } });
      c.sendRaw([0xe2, 0x00]);
      await c.closed(ctx.timeoutMs);
      const will = await listener.next('publish', ctx.timeoutMs).catch((err: Error) => {
        throw new CheckFailed(`the will was not published after a DISCONNECT with flags 0x2 ended the connection (${err.message})`);
      });
      expectEqual(will.payload.toString(), 'bad DISCONNECT', 'will payload');
    },
  },
  {
    id: '5.0/3.14/reserved-flags-malformed',
    version: '5.0',
    statements: ['MQTT-3.14.1-1'],
    title: 'A DISCONNECT with reserved flags set is malformed: the broker closes (DISCONNECT 0x81 if any)',
    async run(ctx) {
      const c = await ctx.connect();
      c.sendRaw([0xe2, 0x00]);
      await expectClosedWith(c, ctx, [0x81], 'after a DISCONNECT with flags 0x2');
    },
  },
  {
    id: '5.0/3.14/no-disconnect-before-connack',
    version: '5.0',
    statements: ['MQTT-3.14.0-1'],
    title: 'The broker never sends DISCONNECT on a connection that has not had a successful CONNACK',
    async run(ctx) {
      const cases: Array<[string, Buffer]> = [
        ['a PINGREQ as the first packet', Buffer.from([0xc0, 0x00])],
        ['a CONNECT with Receive Maximum 0, then PINGREQ', Buffer.concat([connectWithZeroReceiveMaximum(ctx.clientId('rm')), Buffer.from([0xc0, 0x00])])],
        ['a CONNECT with an unknown Authentication Method', connectWithAuthMethod(ctx.clientId('am'), UNKNOWN_AUTH_METHOD)],
        ['a CONNECT with the reserved connect flag set', encodeRawConnect({ level: 5, flags: 0x03, clientId: ctx.clientId('rf') })],
      ];
      await Promise.all(
        cases.map(async ([what, bytes]) => {
          const c = await ctx.open();
          c.sendRaw(bytes);
          // Each case is one the broker must end; only then is "no DISCONNECT before a CONNACK" an observation.
          await c.closed(ctx.timeoutMs);
          const connack = c.received.find((p) => p.cmd === 'connack');
          const accepted = connack !== undefined && connack.cmd === 'connack' && (connack.reasonCode ?? 0) < 0x80;
          const d = disconnectsOf(c)[0];
          if (d !== undefined && !accepted) {
            throw new CheckFailed(`after ${what} the broker sent DISCONNECT ${reasonName(d.reasonCode ?? 0)} without a successful CONNACK first`);
          }
        }),
      );
    },
  },
  {
    id: '5.0/3.14/server-disconnect-reason-codes',
    version: '5.0',
    statements: ['MQTT-3.14.2-1'],
    title: 'Every DISCONNECT the broker sends carries a reason code from the DISCONNECT table',
    async run(ctx) {
      for (const p of withDisconnect(ctx, await provokeServerDisconnects(ctx))) {
        const rc = p.disconnect.reasonCode ?? 0;
        expectThat(SERVER_DISCONNECT_REASON_CODES.has(rc), `the DISCONNECT for ${p.what} has reason code 0x${rc.toString(16)}, not one a server may send`);
      }
    },
  },
  {
    id: '5.0/3.14/server-disconnect-no-session-expiry',
    version: '5.0',
    statements: ['MQTT-3.14.2-2'],
    title: 'A DISCONNECT from the broker never carries a Session Expiry Interval',
    async run(ctx) {
      for (const p of withDisconnect(ctx, await provokeServerDisconnects(ctx))) {
        const props = p.disconnect.properties ?? {};
        expectThat(props.sessionExpiryInterval === undefined, `the DISCONNECT for ${p.what} carries Session Expiry Interval ${props.sessionExpiryInterval}`);
      }
    },
  },
  {
    id: '5.0/3.14/disconnect-fits-client-maximum-packet-size',
    version: '5.0',
    statements: ['MQTT-3.14.2-3', 'MQTT-3.14.2-4'],
    title: 'A DISCONNECT carries a Reason String or User Properties only when they fit the client\'s Maximum Packet Size',
    async run(ctx) {
      // Room for the broker's CONNACK and a bare DISCONNECT, not for a Reason String of any length worth sending.
      const sizedId = ctx.clientId('size');
      ctx.endSession(sizedId);
      const sized = await tryConnect(ctx, { clientId: sizedId, properties: { sessionExpiryInterval: 60 } });
      expectThat(sized.connack !== undefined, 'the broker answered a plain CONNECT without CONNACK');
      const limit = Math.max(16, wireSize(sized.connack));
      const provoked = await provokeServerDisconnects(ctx, { maximumPacketSize: limit });
      for (const p of provoked) {
        for (const d of disconnectsOf(p.client)) {
          const optional = d.properties?.reasonString !== undefined || d.properties?.userProperties !== undefined;
          expectThat(
            !optional || wireSize(d) <= limit,
            `the DISCONNECT for ${p.what} is ${wireSize(d)} bytes (Maximum Packet Size ${limit}) and carries ${JSON.stringify(d.properties)}`,
          );
        }
      }
    },
  },
  {
    id: '5.0/3.14/nothing-after-disconnect',
    version: '5.0',
    statements: ['MQTT-3.14.4-1'],
    title: 'After its DISCONNECT the broker sends nothing more on the connection, even with messages flowing to it',
    async run(ctx) {
      const topic = ctx.topic();
      const clientId = ctx.clientId('sub');
      const sub = await ctx.connect({ clientId });
      await sub.subscribe(topic, 0);
      const pub = await ctx.connect();
      const burst = (from: number): Buffer =>
        Buffer.concat(Array.from({ length: 200 }, (_, i) => pub.encode({ cmd: 'publish', topic, payload: `m${from + i}`, qos: 0, retain: false, dup: false })));
      pub.sendRaw(burst(0));
      const over = await ctx.open();
      over.send(over.connectPacket({ clientId }));
      pub.sendRaw(burst(200));
      await over.next('connack', ctx.timeoutMs);
      pub.sendRaw(burst(400));
      await sub.closed(ctx.timeoutMs);
      const provoked = [{ what: 'a subscriber taken over while messages flowed to it', client: sub, closed: true }, ...(await provokeServerDisconnects(ctx))];
      for (const p of withDisconnect(ctx, provoked)) {
        const after = p.client.received.slice(p.client.received.indexOf(p.disconnect) + 1);
        expectThat(after.length === 0, `after its DISCONNECT for ${p.what} the broker sent ${after.map((x) => x.cmd.toUpperCase()).join(', ')}`);
      }
    },
  },
  {
    id: '5.0/3.14/close-after-disconnect',
    version: '5.0',
    statements: ['MQTT-3.14.4-2'],
    title: 'After sending DISCONNECT the broker closes the connection',
    async run(ctx) {
      for (const p of withDisconnect(ctx, await provokeServerDisconnects(ctx))) {
        expectThat(p.closed, `the broker sent DISCONNECT ${reasonName(p.disconnect.reasonCode ?? 0)} for ${p.what} but the connection was still open ${ctx.timeoutMs} ms later`);
      }
    },
  },
  ...closes([
    {
      id: '5.0/4.13/malformed-remaining-length',
      version: '5.0',
      statements: ['MQTT-4.13.1-1'],
      title: 'A remaining length longer than four bytes is malformed: the broker closes the connection',
      send: (c) => c.sendRaw([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
      disconnectReasons: [0x81],
    },
    {
      id: '5.0/4.13/reserved-packet-type',
      version: '5.0',
      statements: ['MQTT-4.13.1-1'],
      title: 'A packet of the reserved type 0 makes the broker close the connection',
      send: (c) => c.sendRaw([0x00, 0x00]),
      disconnectReasons: [0x81, 0x82],
    },
    {
      id: '5.0/4.13/unknown-property',
      version: '5.0',
      statements: ['MQTT-4.13.1-1'],
      title: 'A PUBLISH with an unknown property identifier is malformed: the broker closes the connection',
      send: (c, ctx) => c.sendRaw(rawPublishV5(ctx.topic(), Buffer.from([0x7f, 0x00]))),
      disconnectReasons: [0x81],
    },
    {
      id: '5.0/4.13/duplicate-property',
      version: '5.0',
      statements: ['MQTT-4.13.1-1'],
      title: 'A PUBLISH with the Payload Format Indicator twice is a protocol error: the broker closes the connection',
      send: (c, ctx) => c.sendRaw(rawPublishV5(ctx.topic(), Buffer.from([0x01, 0x00, 0x01, 0x00]))),
      disconnectReasons: [0x81, 0x82],
    },
    {
      id: '5.0/4.13/topic-alias-zero',
      version: '5.0',
      statements: ['MQTT-4.13.1-1'],
      title: 'A PUBLISH with Topic Alias 0 is a protocol error: the broker closes the connection',
      send: (c, ctx) => c.sendRaw(rawPublishV5(ctx.topic(), Buffer.from([0x23, 0x00, 0x00]))),
      // Which code fits is for the PUBLISH chapter to say; here the connection must end on an error code.
      disconnectReasons: [0x81, 0x82, 0x94],
    },
  ]),
  {
    id: '5.0/4.13/error-code-closes',
    version: '5.0',
    statements: ['MQTT-4.13.2-1'],
    title: 'A CONNACK or DISCONNECT with a reason code of 0x80 or more, from either side, ends the connection',
    async run(ctx) {
      // The client says it is ending on an error, but leaves its side open: the broker must close.
      const told = await ctx.connect();
      told.sendRaw([0xe0, 0x02, 0x83, 0x00]);
      await told.closed(ctx.timeoutMs).catch(() => {
        throw new CheckFailed(`after the client's DISCONNECT 0x83 the connection was still open ${ctx.timeoutMs} ms later`);
      });
      const refused = await tryConnect(ctx, connectWithAuthMethod(ctx.clientId('am'), UNKNOWN_AUTH_METHOD));
      const rc = refused.connack?.reasonCode ?? 0;
      if (refused.connack !== undefined && rc >= 0x80) {
        await refused.client.closed(ctx.timeoutMs).catch(() => {
          throw new CheckFailed(`after its CONNACK ${reasonName(rc)} the connection was still open ${ctx.timeoutMs} ms later`);
        });
      }
      const again = await ctx.connect();
      again.send(again.connectPacket({ clientId: ctx.clientId('again') }));
      await again.closed(ctx.timeoutMs).catch(() => {
        const d = disconnectsOf(again)[0];
        throw new CheckFailed(`after a second CONNECT${d ? ` and the broker's DISCONNECT ${reasonName(d.reasonCode ?? 0)}` : ''} the connection was still open ${ctx.timeoutMs} ms later`);
      });
    },
  },
];
