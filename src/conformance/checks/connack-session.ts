/**
 * CONNACK, PINGREQ, DISCONNECT, AUTH, session state, network connections, flow control, enhanced authentication,
 * error handling, WebSocket and conformance (3.2, 3.12, 3.14, 3.15, 4.1, 4.2, 4.9, 4.12, 4.13, 6, 7): the CONNACK
 * checks live here, the other chapters in the session-*.ts files gathered below.
 */
import { generate, type IConnackPacket, type QoS } from 'mqtt-packet';
import { reasonName } from '../../protocol/reason-codes.js';
import { connackCode, encodeRawConnect, sleep, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import { SESSION_AUTH_CHECKS } from './session-auth.js';
import { SESSION_DISCONNECT_CHECKS } from './session-disconnect.js';
import { SESSION_FLOW_CHECKS } from './session-flow.js';
import { SESSION_STATE_CHECKS } from './session-state.js';
import { SESSION_TRANSPORT_CHECKS } from './session-transport.js';
import {
  CONNACK_REASON_CODES,
  UNKNOWN_AUTH_METHOD,
  connectWithAuthMethod,
  connectWithZeroReceiveMaximum,
  expectClosedWith,
  expectOnly,
  maximumPacketSizeProperty,
  persistent,
  storeSession,
  tryConnect,
  wireSize,
} from './session-support.js';

/**
 * A stored session with a QoS 1 message waiting in it (where the broker offers QoS 1), so the broker has something
 * to send the moment it can.
 */
async function sessionWithQueuedMessage(ctx: CheckContext): Promise<string> {
  const clientId = ctx.clientId('s');
  const topic = ctx.topic();
  await storeSession(ctx, clientId, topic);
  if (ctx.capabilities.maximumQoS >= 1) {
    const publisher = await ctx.connect();
    await publisher.publish(topic, 'queued while offline', { qos: 1 });
  }
  return clientId;
}

/** Reconnects to a stored session with a PINGREQ in the same write as CONNECT, and waits for the PINGRESP. */
async function resumeWithPipelinedPing(ctx: CheckContext, clientId: string): Promise<RawClient> {
  const c = await ctx.open();
  c.sendRaw(Buffer.concat([c.encode(c.connectPacket({ clientId, clean: false, ...persistent(ctx) })), c.encode({ cmd: 'pingreq' })]));
  await c.next('pingresp', ctx.timeoutMs).catch(() => undefined);
  return c;
}

interface Refusal {
  what: string;
  client: RawClient;
  connack: IConnackPacket | undefined;
}

/**
 * CONNECTs every broker must refuse, each naming a client id that has a stored session (so a careless broker could
 * report it as present). 3.1.1 requires a CONNACK for both; 5.0 lets the broker close without one.
 */
async function provokeRefusals(ctx: CheckContext): Promise<Refusal[]> {
  const clientId = ctx.clientId('s');
  await storeSession(ctx, clientId, ctx.topic());
  const attempts: Array<[string, Buffer]> =
    ctx.level === 5
      ? [
          ['a CONNECT with an Authentication Method the broker cannot know', connectWithAuthMethod(clientId, UNKNOWN_AUTH_METHOD, undefined, 0x00)],
          ['a CONNECT with Receive Maximum 0 (a Protocol Error)', connectWithZeroReceiveMaximum(clientId, 0x00)],
        ]
      : [
          ['a CONNECT with protocol level 42', encodeRawConnect({ level: 42, flags: 0x00, clientId })],
          ['a CONNECT with an empty client id and CleanSession 0', encodeRawConnect({ flags: 0x00, clientId: '' })],
        ];
  const out: Refusal[] = [];
  for (const [what, bytes] of attempts) out.push({ what, ...(await tryConnect(ctx, bytes)) });
  return out;
}

/** The refusals that came with a CONNACK, or a skip when the broker closed without one every time. */
function refusingConnacks(ctx: CheckContext, refusals: Refusal[]): Array<Refusal & { connack: IConnackPacket }> {
  const withConnack = refusals.filter((r): r is Refusal & { connack: IConnackPacket } => r.connack !== undefined && connackCode(r.connack) !== 0);
  if (withConnack.length === 0) {
    ctx.skip(
      'the broker refused without a CONNACK every time, so there is no refusing CONNACK to examine',
      refusals.map((r) => `${r.what}: ${r.connack ? `CONNACK ${connackCode(r.connack)}` : 'closed without CONNACK'}`).join('; '),
    );
  }
  return withConnack;
}

function declared(ctx: CheckContext): string {
  return ctx.capabilities.declared.join('; ') || 'no declarations in CONNACK';
}

function connackFirst(version: '3.1.1' | '5.0'): Check {
  return {
    id: `${version}/3.2/connack-first`,
    version,
    statements: ['MQTT-3.2.0-1'],
    title:
      version === '5.0'
        ? 'The broker sends nothing but CONNACK (or AUTH) before a successful CONNACK, even with messages waiting'
        : 'The first packet the broker sends is CONNACK, even when a resumed session has messages waiting',
    async run(ctx) {
      const clientId = await sessionWithQueuedMessage(ctx);
      const c = await resumeWithPipelinedPing(ctx, clientId);
      const first = c.received.find((p) => p.cmd !== 'auth' || ctx.level === 4);
      expectThat(first !== undefined, 'the broker sent nothing after CONNECT');
      expectEqual(first.cmd, 'connack', 'the first packet from the broker');
      if (first.cmd === 'connack') expectEqual(connackCode(first), 0, 'CONNACK code');
      if (ctx.level === 5) {
        // A refused CONNECT never gets its CONNACK 0x00, so nothing but CONNACK or AUTH may come back at all.
        const refused = await ctx.open();
        refused.sendRaw(Buffer.concat([connectWithZeroReceiveMaximum(ctx.clientId('r')), refused.encode({ cmd: 'pingreq' })]));
        await refused.closed(ctx.timeoutMs);
        expectOnly(refused, ['connack', 'auth'], 'after a refused CONNECT followed by PINGREQ');
      }
    },
  };
}

function cleanStartNoSessionPresent(version: '3.1.1' | '5.0'): Check {
  return {
    id: `${version}/3.2/clean-start-session-not-present`,
    version,
    statements: [version === '5.0' ? 'MQTT-3.2.2-2' : 'MQTT-3.2.2-1'],
    title: 'A clean-start connection is accepted with Session Present 0, even when a session was stored for its client id',
    async run(ctx) {
      const clientId = ctx.clientId('s');
      await storeSession(ctx, clientId, ctx.topic());
      const c = await ctx.open();
      const connack = await c.connect({ clientId, clean: true });
      expectEqual(connackCode(connack), 0, 'CONNACK code');
      expectEqual(connack.sessionPresent, false, 'Session Present');
    },
  };
}

export const CONNACK_CHECKS: Check[] = [
  connackFirst('3.1.1'),
  connackFirst('5.0'),
  {
    id: '5.0/3.2/one-connack',
    version: '5.0',
    statements: ['MQTT-3.2.0-2'],
    title: 'The broker sends one CONNACK per connection, however many CONNECTs arrive on it',
    async run(ctx) {
      const later = await ctx.connect();
      later.send(later.connectPacket({ clientId: ctx.clientId('again') }));
      const packed = await ctx.open();
      const connect = (name: string): Buffer => packed.encode(packed.connectPacket({ clientId: ctx.clientId(name) }));
      packed.sendRaw(Buffer.concat([connect('p1'), connect('p2')]));
      for (const [what, c] of [
        ['a second CONNECT after CONNACK', later],
        ['two CONNECTs in one write', packed],
      ] as const) {
        await c.closed(ctx.timeoutMs).catch(() => undefined);
        const count = c.received.filter((p) => p.cmd === 'connack').length;
        expectThat(count <= 1, `the broker sent ${count} CONNACKs on one connection after ${what}`);
      }
    },
  },
  cleanStartNoSessionPresent('3.1.1'),
  cleanStartNoSessionPresent('5.0'),
  {
    id: '3.1.1/3.2/session-present-when-stored',
    version: '3.1.1',
    statements: ['MQTT-3.2.2-2'],
    title: 'Resuming a stored session with CleanSession 0 is accepted with Session Present 1',
    async run(ctx) {
      const clientId = ctx.clientId('s');
      await storeSession(ctx, clientId, ctx.topic());
      const c = await ctx.open();
      const connack = await c.connect({ clientId, clean: false });
      expectEqual(connackCode(connack), 0, 'CONNACK return code');
      expectEqual(connack.sessionPresent, true, 'Session Present');
    },
  },
  {
    id: '3.1.1/3.2/session-not-present-when-none',
    version: '3.1.1',
    statements: ['MQTT-3.2.2-3'],
    title: 'CleanSession 0 with no stored session is accepted with Session Present 0 (also after a clean session ended)',
    async run(ctx) {
      const fresh = ctx.clientId('f');
      ctx.endSession(fresh);
      const a = await ctx.open();
      const first = await a.connect({ clientId: fresh, clean: false });
      expectEqual(connackCode(first), 0, 'CONNACK return code for an unknown client id');
      expectEqual(first.sessionPresent, false, 'Session Present for an unknown client id');
      // A CleanSession 1 session ends with its connection, so nothing is stored for the next one.
      const cleanId = ctx.clientId('c');
      ctx.endSession(cleanId);
      const b = await ctx.connect({ clientId: cleanId, clean: true });
      await b.subscribe(ctx.topic(), 1);
      await b.disconnect();
      const c = await ctx.open();
      const again = await c.connect({ clientId: cleanId, clean: false });
      expectEqual(connackCode(again), 0, 'CONNACK return code after a clean session');
      expectEqual(again.sessionPresent, false, 'Session Present after a CleanSession 1 session ended');
    },
  },
  {
    id: '5.0/3.2/session-present-reflects-state',
    version: '5.0',
    statements: ['MQTT-3.2.2-3'],
    title: 'With Clean Start 0, Session Present is 1 exactly when the broker holds a session for the client id',
    async run(ctx) {
      const fresh = ctx.clientId('f');
      ctx.endSession(fresh);
      const a = await ctx.open();
      const first = await a.connect({ clientId: fresh, clean: false, properties: { sessionExpiryInterval: 300 } });
      expectEqual(connackCode(first), 0, 'CONNACK reason code for an unknown client id');
      expectEqual(first.sessionPresent, false, 'Session Present for an unknown client id');
      await a.disconnect();
      const b = await ctx.open();
      const resumed = await b.connect({ clientId: fresh, clean: false, properties: { sessionExpiryInterval: 0 } });
      expectEqual(connackCode(resumed), 0, 'CONNACK reason code when resuming');
      expectEqual(resumed.sessionPresent, true, 'Session Present when resuming a session that had 300 s to live');
      // Session Expiry 0 ends the session with this connection: nothing is left for the next.
      await b.disconnect();
      const c = await ctx.open();
      const after = await c.connect({ clientId: fresh, clean: false });
      expectEqual(connackCode(after), 0, 'CONNACK reason code after a session with expiry 0 ended');
      expectEqual(after.sessionPresent, false, 'Session Present after a session with Session Expiry Interval 0 ended');
    },
  },
  {
    id: '5.0/3.2/connack-flags-reserved',
    version: '5.0',
    statements: ['MQTT-3.2.2-1'],
    title: 'CONNACK acknowledge flags carry nothing but Session Present (bits 7-1 zero)',
    async run(ctx) {
      // The decoder rejects a CONNACK whose bits 7-1 are set, so each answer decoding at all is the check.
      const clientId = ctx.clientId('s');
      await storeSession(ctx, clientId, ctx.topic());
      const answers = [
        await tryConnect(ctx, { clientId, clean: false, properties: { sessionExpiryInterval: 300 } }),
        await tryConnect(ctx, { clientId: ctx.clientId('n'), clean: true }),
        await tryConnect(ctx, connectWithAuthMethod(ctx.clientId('r'), UNKNOWN_AUTH_METHOD)),
      ];
      expectThat(answers[0].connack?.sessionPresent === true, 'resuming the stored session did not get a CONNACK with Session Present 1');
      expectThat(answers[1].connack !== undefined, 'a plain CONNECT got no CONNACK');
      for (const a of answers) expectEqual(a.client.parseErrors.map((e) => e.message), [], 'undecodable packets');
    },
  },
  {
    id: '3.1.1/3.2/refusal-session-not-present',
    version: '3.1.1',
    statements: ['MQTT-3.2.2-4'],
    title: 'A CONNACK refusing the connection has Session Present 0, even for a client id with a stored session',
    async run(ctx) {
      for (const r of refusingConnacks(ctx, await provokeRefusals(ctx))) {
        expectEqual(r.connack.sessionPresent, false, `Session Present in the CONNACK refusing ${r.what}`);
      }
    },
  },
  {
    id: '5.0/3.2/refusal-session-not-present',
    version: '5.0',
    statements: ['MQTT-3.2.2-6'],
    title: 'A CONNACK with a non-zero reason code has Session Present 0, even for a client id with a stored session',
    async run(ctx) {
      for (const r of refusingConnacks(ctx, await provokeRefusals(ctx))) {
        expectEqual(r.connack.sessionPresent, false, `Session Present in the CONNACK (${reasonName(connackCode(r.connack))}) refusing ${r.what}`);
      }
    },
  },
  {
    id: '3.1.1/3.2/refusal-closes',
    version: '3.1.1',
    statements: ['MQTT-3.2.2-5'],
    title: 'After a CONNACK with a non-zero return code the broker closes the connection',
    async run(ctx) {
      for (const r of refusingConnacks(ctx, await provokeRefusals(ctx))) {
        await r.client.closed(ctx.timeoutMs).catch(() => {
          throw new CheckFailed(`after CONNACK ${connackCode(r.connack)} refusing ${r.what}, the connection was still open ${ctx.timeoutMs} ms later`);
        });
      }
    },
  },
  {
    id: '5.0/3.2/refusal-closes',
    version: '5.0',
    statements: ['MQTT-3.2.2-7'],
    title: 'After a CONNACK with a reason code of 0x80 or more the broker closes the connection',
    async run(ctx) {
      for (const r of refusingConnacks(ctx, await provokeRefusals(ctx))) {
        const rc = connackCode(r.connack);
        if (rc < 0x80) continue;
        await r.client.closed(ctx.timeoutMs).catch(() => {
          throw new CheckFailed(`after CONNACK ${reasonName(rc)} refusing ${r.what}, the connection was still open ${ctx.timeoutMs} ms later`);
        });
      }
    },
  },
  {
    id: '5.0/3.2/connack-reason-codes',
    version: '5.0',
    statements: ['MQTT-3.2.2-8'],
    title: 'Every CONNACK reason code, accepting or refusing, comes from the CONNACK reason code table',
    async run(ctx) {
      const attempts: Array<[string, Parameters<typeof tryConnect>[1]]> = [
        ['a plain CONNECT', { clientId: ctx.clientId('ok') }],
        ['an unknown Authentication Method', connectWithAuthMethod(ctx.clientId('am'), UNKNOWN_AUTH_METHOD)],
        ['Receive Maximum 0', connectWithZeroReceiveMaximum(ctx.clientId('rm'))],
        ['Maximum Packet Size 0', encodeRawConnect({ level: 5, clientId: ctx.clientId('mp'), properties: maximumPacketSizeProperty(0) })],
        ['a will topic with a wildcard', { clientId: ctx.clientId('wt'), will: { topic: `${ctx.topic()}/#`, payload: 'w', qos: 0, retain: false } }],
      ];
      const seen: string[] = [];
      for (const [what, connect] of attempts) {
        const { connack } = await tryConnect(ctx, connect);
        if (connack === undefined) continue;
        const rc = connackCode(connack);
        seen.push(`${what}: ${reasonName(rc)}`);
        expectThat(CONNACK_REASON_CODES.has(rc), `the CONNACK answering ${what} has reason code 0x${rc.toString(16)}, which is not a CONNACK reason code`);
      }
      expectThat(seen.length > 0, 'the broker answered none of the CONNECTs with a CONNACK');
    },
  },
  {
    id: '5.0/3.2/qos-as-declared',
    version: '5.0',
    statements: ['MQTT-3.2.2-9'],
    title: 'Every QoS up to the declared Maximum QoS (2 when none is declared) is accepted and delivered',
    async run(ctx) {
      const max = ctx.capabilities.maximumQoS;
      const topic = ctx.topic();
      const sub = await ctx.connect();
      const suback = await sub.subscribe(topic, 2);
      const granted = suback.granted[0] as number;
      expectThat(granted <= max, `SUBACK granted ${granted} for a QoS 2 subscription, above the declared Maximum QoS ${max}`);
      const pub = await ctx.connect();
      for (let qos = 1 as QoS; qos <= max; qos = (qos + 1) as QoS) {
        const ack = await pub.publish(topic, `qos ${qos}`, { qos });
        const rc = ack && 'reasonCode' in ack ? (ack.reasonCode ?? 0) : 0;
        expectThat(rc < 0x80, `a QoS ${qos} PUBLISH (Maximum QoS ${max}${ctx.capabilities.declared.some((d) => d.includes('maximumQoS')) ? '' : ', none declared'}) was refused: ${ack?.cmd} ${reasonName(rc)}`);
        const got = await sub.receive(ctx.timeoutMs);
        expectEqual(got.payload.toString(), `qos ${qos}`, 'delivered payload');
        expectEqual(got.qos, Math.min(qos, granted), `QoS of the delivered QoS ${qos} message`);
      }
    },
  },
  {
    id: '5.0/3.2/subscribe-any-qos-under-maximum-qos',
    version: '5.0',
    statements: ['MQTT-3.2.2-10'],
    title: 'A broker capped below QoS 2 still accepts subscriptions requesting QoS 0, 1 and 2',
    async run(ctx) {
      const max = ctx.capabilities.maximumQoS;
      if (max === 2) ctx.skip('the broker declares no Maximum QoS below 2', declared(ctx));
      const c = await ctx.connect();
      for (const qos of [0, 1, 2] as const) {
        const suback = await c.subscribe(ctx.topic(`q${qos}`), qos);
        const granted = suback.granted[0] as number;
        expectThat(granted <= max, `a QoS ${qos} subscription got SUBACK ${granted} (Maximum QoS ${max})`);
      }
    },
  },
  {
    id: '5.0/3.2/publish-above-maximum-qos',
    version: '5.0',
    statements: ['MQTT-3.2.2-11'],
    title: 'A PUBLISH above the declared Maximum QoS makes the broker disconnect (0x9B)',
    async run(ctx) {
      const max = ctx.capabilities.maximumQoS;
      if (max === 2) ctx.skip('the broker declares no Maximum QoS below 2', declared(ctx));
      const c = await ctx.connect();
      c.send({ cmd: 'publish', topic: ctx.topic(), payload: 'too high', qos: (max + 1) as QoS, messageId: 1, retain: false, dup: false });
      await expectClosedWith(c, ctx, [0x9b], `after a QoS ${max + 1} PUBLISH`);
    },
  },
  {
    id: '5.0/3.2/will-qos-above-maximum',
    version: '5.0',
    statements: ['MQTT-3.2.2-12'],
    title: 'A CONNECT whose will QoS is above the declared Maximum QoS is refused and closed',
    async run(ctx) {
      const max = ctx.capabilities.maximumQoS;
      if (max === 2) ctx.skip('the broker declares no Maximum QoS below 2', declared(ctx));
      const { client, connack } = await tryConnect(ctx, { will: { topic: ctx.topic('will'), payload: 'w', qos: (max + 1) as QoS, retain: false } });
      if (connack) expectThat(connackCode(connack) >= 0x80, `a will at QoS ${max + 1} was accepted: CONNACK ${reasonName(connackCode(connack))}`);
      await client.closed(ctx.timeoutMs);
    },
  },
  {
    id: '5.0/3.2/will-retain-without-retain',
    version: '5.0',
    statements: ['MQTT-3.2.2-13'],
    title: 'Without retain support, a CONNECT with a retained will is refused and closed',
    async run(ctx) {
      if (ctx.capabilities.retainAvailable) ctx.skip('the broker supports retained messages', declared(ctx));
      const { client, connack } = await tryConnect(ctx, { will: { topic: ctx.topic('will'), payload: 'w', qos: 0, retain: true } });
      if (connack) expectThat(connackCode(connack) >= 0x80, `a retained will was accepted: CONNACK ${reasonName(connackCode(connack))}`);
      await client.closed(ctx.timeoutMs);
    },
  },
  {
    id: '5.0/3.2/retained-publish-without-retain',
    version: '5.0',
    statements: ['MQTT-3.2.2-14'],
    title: 'Without retain support, a retained PUBLISH makes the broker disconnect (0x9A)',
    async run(ctx) {
      if (ctx.capabilities.retainAvailable) ctx.skip('the broker supports retained messages', declared(ctx));
      const c = await ctx.connect();
      const topic = ctx.topic();
      ctx.clearRetained(topic);
      c.send({ cmd: 'publish', topic, payload: 'kept?', qos: 0, retain: true, dup: false });
      await expectClosedWith(c, ctx, [0x9a], 'after a retained PUBLISH');
    },
  },
  {
    id: '5.0/3.2/packet-above-maximum-packet-size',
    version: '5.0',
    statements: ['MQTT-3.2.2-15'],
    title: 'A packet larger than the declared Maximum Packet Size makes the broker disconnect (0x95)',
    async run(ctx) {
      const max = ctx.capabilities.maximumPacketSize;
      if (max === undefined) return ctx.skip('the broker declares no Maximum Packet Size', declared(ctx));
      if (max > 16 * 1024 * 1024) ctx.skip('the declared Maximum Packet Size is too large to exceed in a quick check', declared(ctx));
      const c = await ctx.connect();
      const topic = ctx.topic();
      // QoS 1 where offered, so that a broker taking the packet in shows it with a PUBACK.
      const qos: QoS = ctx.capabilities.maximumQoS >= 1 ? 1 : 0;
      const packet = (n: number) => ({ cmd: 'publish' as const, topic, payload: Buffer.alloc(n, 0x61), qos, ...(qos ? { messageId: 1 } : {}), retain: false, dup: false });
      // Grow the payload until the whole PUBLISH, fixed header included, is exactly one byte over the limit.
      let payload = Math.max(0, max - topic.length - 8);
      const sizeOf = (n: number): number => c.encode(packet(n)).length;
      while (sizeOf(payload) <= max) payload++;
      while (payload > 0 && sizeOf(payload - 1) > max) payload--;
      c.send(packet(payload));
      await expectClosedWith(c, ctx, [0x95], `after a ${sizeOf(payload)}-byte PUBLISH (Maximum Packet Size ${max})`);
      expectThat(!c.received.some((p) => p.cmd === 'puback'), 'the broker acknowledged a PUBLISH larger than its Maximum Packet Size');
    },
  },
  {
    id: '5.0/3.2/assigned-client-identifier',
    version: '5.0',
    statements: ['MQTT-3.2.2-16'],
    title: 'An empty client id gets an Assigned Client Identifier, different for each connected client',
    async run(ctx) {
      const assigned: string[] = [];
      for (let i = 0; i < 2; i++) {
        const c = await ctx.open();
        const connack = await c.connect({ clientId: '', clean: true });
        const rc = connackCode(connack);
        if (rc === 0x85) ctx.skip('the broker refuses a zero-length client identifier', `CONNACK ${reasonName(rc)}`);
        expectEqual(rc, 0, 'CONNACK reason code for an empty client id');
        const id = connack.properties?.assignedClientIdentifier;
        expectThat(typeof id === 'string' && id.length > 0, `CONNACK for an empty client id has no Assigned Client Identifier (properties: ${JSON.stringify(connack.properties ?? {})})`);
        assigned.push(id);
      }
      expectThat(assigned[0] !== assigned[1], `two clients connected at the same time were both assigned "${assigned[0]}"`);
    },
  },
  {
    id: '5.0/3.2/topic-alias-above-maximum',
    version: '5.0',
    statements: ['MQTT-3.2.2-17'],
    title: 'A Topic Alias above the declared Topic Alias Maximum makes the broker disconnect',
    async run(ctx) {
      const max = ctx.capabilities.topicAliasMaximum;
      if (max === 0) ctx.skip('the broker accepts no topic aliases', declared(ctx));
      if (max >= 65535) ctx.skip('the broker accepts every Topic Alias value', declared(ctx));
      const c = await ctx.connect();
      c.send({ cmd: 'publish', topic: ctx.topic(), payload: 'aliased', qos: 0, retain: false, dup: false, properties: { topicAlias: max + 1 } });
      await expectClosedWith(c, ctx, [0x94, 0x82], `after a PUBLISH with Topic Alias ${max + 1} (Topic Alias Maximum ${max})`);
    },
  },
  {
    id: '5.0/3.2/topic-alias-not-allowed',
    version: '5.0',
    statements: ['MQTT-3.2.2-18'],
    title: 'A broker that allows no topic aliases disconnects a client that sends one',
    async run(ctx) {
      if (ctx.capabilities.topicAliasMaximum > 0) ctx.skip('the broker accepts topic aliases', declared(ctx));
      const c = await ctx.connect();
      c.send({ cmd: 'publish', topic: ctx.topic(), payload: 'aliased', qos: 0, retain: false, dup: false, properties: { topicAlias: 1 } });
      await expectClosedWith(c, ctx, [0x94, 0x82], 'after a PUBLISH with Topic Alias 1');
    },
  },
  {
    id: '5.0/3.2/connack-fits-client-maximum-packet-size',
    version: '5.0',
    statements: ['MQTT-3.2.2-19', 'MQTT-3.2.2-20'],
    title: 'A CONNACK carries a Reason String or User Properties only when they fit the client\'s Maximum Packet Size',
    async run(ctx) {
      const outcomes: Array<[string, (limit?: number) => Parameters<typeof tryConnect>[1]]> = [
        ['an accepted CONNECT', (limit) => ({ clientId: ctx.clientId('ok'), properties: limit ? { maximumPacketSize: limit } : {} })],
        [
          'a CONNECT with an unknown Authentication Method',
          (limit) => connectWithAuthMethod(ctx.clientId('am'), UNKNOWN_AUTH_METHOD, undefined, 0x02, limit ? maximumPacketSizeProperty(limit) : undefined),
        ],
      ];
      for (const [what, build] of outcomes) {
        const free = (await tryConnect(ctx, build())).connack;
        if (free === undefined) continue;
        // The smallest CONNACK the broker could send for this outcome: the same without the optional properties.
        const limit = Math.max(bareConnackSize(free), 8);
        const tight = (await tryConnect(ctx, build(limit))).connack;
        if (tight === undefined) continue;
        const optional = tight.properties?.reasonString !== undefined || tight.properties?.userProperties !== undefined;
        expectThat(
          !optional || wireSize(tight) <= limit,
          `the CONNACK answering ${what} with Maximum Packet Size ${limit} is ${wireSize(tight)} bytes and carries ${JSON.stringify({ reasonString: tight.properties?.reasonString, userProperties: tight.properties?.userProperties })}`,
        );
      }
    },
  },
  {
    id: '5.0/3.2/keep-alive-enforced',
    version: '5.0',
    statements: ['MQTT-3.2.2-22'],
    title: 'Without a Server Keep Alive, the broker holds each client to the Keep Alive it asked for',
    async run(ctx) {
      const quiet = await ctx.open();
      const connack = await quiet.connect({ clientId: ctx.clientId('q'), keepalive: 1 });
      expectEqual(connackCode(connack), 0, 'CONNACK reason code');
      const serverKeepAlive = connack.properties?.serverKeepAlive;
      if (serverKeepAlive !== undefined) ctx.skip('the broker replaces the client\'s Keep Alive with its own', `CONNACK serverKeepAlive=${serverKeepAlive}`);
      // Just as silent, but asking for a minute: closing it too would mean the broker used some value of its own.
      const patient = await ctx.connect({ keepalive: 60 });
      const busy = await ctx.connect({ keepalive: 1 });
      const started = Date.now();
      // One and a half Keep Alives, plus room for brokers that sweep keep alives every few seconds (Mosquitto 2.0
      // every 5 s); how soon a broker must close is MQTT-3.1.2-22's concern, which value it uses is this one's.
      const deadline = started + 1_500 + 6_000;
      let pings = 0;
      while (!quiet.closedByBroker && Date.now() < deadline) {
        busy.send({ cmd: 'pingreq' });
        pings++;
        await sleep(500);
      }
      expectThat(quiet.closedByBroker, `a client silent for ${Date.now() - started} ms with Keep Alive 1 s is still connected`);
      expectThat(!patient.closedByBroker, `a client silent for ${Date.now() - started} ms with Keep Alive 60 s was disconnected too`);
      expectThat(!busy.closedByBroker, 'the broker closed a client that sent PINGREQ every 500 ms with Keep Alive 1 s');
      await busy.nextN('pingresp', pings, ctx.timeoutMs);
    },
  },
];

/** Bytes of `connack` without its Reason String and User Properties. */
function bareConnackSize(connack: IConnackPacket): number {
  const { reasonString: _r, userProperties: _u, ...rest } = connack.properties ?? {};
  return generate({ cmd: 'connack', sessionPresent: connack.sessionPresent, reasonCode: connackCode(connack), properties: rest }, { protocolVersion: 5 }).length;
}

export const CONNACK_SESSION_CHECKS: Check[] = [
  ...CONNACK_CHECKS,
  ...SESSION_STATE_CHECKS,
  ...SESSION_DISCONNECT_CHECKS,
  ...SESSION_AUTH_CHECKS,
  ...SESSION_FLOW_CHECKS,
  ...SESSION_TRANSPORT_CHECKS,
];
