/**
 * AUTH (3.15) and enhanced authentication (4.12): what a broker does with Authentication Methods it does not
 * offer and AUTH packets it did not ask for, and, when it offers a SCRAM method, what its AUTH exchange looks like.
 */
import { randomBytes } from 'node:crypto';
import { generate, type IAuthPacket } from 'mqtt-packet';
import { reasonName } from '../../protocol/reason-codes.js';
import { connackCode, describePacket, encodeRawConnect, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import { closes } from './table.js';
import {
  AUTH_REASON_CODES,
  UNKNOWN_AUTH_METHOD,
  authProperties,
  connectWithAuthMethod,
  encodeAuth,
  expectClosedWith,
  maximumPacketSizeProperty,
  tryConnect,
  wireSize,
} from './session-support.js';

/** SASL mechanisms whose first client message the suite can write without credentials (RFC 5802). */
const SCRAM_METHODS = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'SCRAM-SHA-512'];

interface AuthExchange {
  client: RawClient;
  method: string;
  /** The broker's first AUTH. */
  auth: IAuthPacket;
}

/**
 * Starts a SCRAM exchange with each method in turn until the broker answers with AUTH; skips when it takes up
 * none of them. `extra` is appended to the CONNECT properties.
 */
async function startEnhancedAuth(ctx: CheckContext, extra?: Buffer): Promise<AuthExchange> {
  // A skip must rest on what a live broker answered: make sure it answers a plain CONNECT first.
  await ctx.connect();
  const answers: string[] = [];
  for (const method of SCRAM_METHODS) {
    const client = await ctx.open();
    const clientFirst = Buffer.from(`n,,n=mqbench,r=${randomBytes(18).toString('base64')}`);
    client.sendRaw(connectWithAuthMethod(ctx.clientId(method.slice(-3)), method, clientFirst, 0x02, extra));
    const reply = await client.next(undefined, ctx.timeoutMs).catch(() => undefined);
    const broken = client.parseErrors.find((e) => e.bytes[0] >> 4 === 15);
    if (broken) throw new CheckFailed(`the broker's AUTH for ${method} could not be decoded: ${broken.message} (${broken.bytes.toString('hex')})`);
    if (reply?.cmd === 'auth') return { client, method, auth: reply };
    answers.push(`Authentication Method ${method}: ${reply ? describePacket(reply) : 'closed without an answer'}`);
    client.destroy();
  }
  return ctx.skip('the broker takes up none of the enhanced authentication methods the suite can start (SCRAM-SHA-1, -256, -512)', answers.join('; '));
}

/** The server nonce from a SCRAM server-first-message, for a client-final-message that is well formed but wrong. */
function scramNonce(auth: IAuthPacket): string {
  const text = auth.properties?.authenticationData?.toString() ?? '';
  return /(?:^|,)r=([^,]*)/.exec(text)?.[1] ?? '';
}

/** After an authentication the broker must refuse: closed, and no successful CONNACK on the way. */
async function expectRefused(client: RawClient, ctx: CheckContext, what: string): Promise<void> {
  const closed = await client.closed(ctx.timeoutMs).then(
    () => true,
    () => false,
  );
  for (const p of client.received) {
    if (p.cmd === 'connack') expectThat(connackCode(p) >= 0x80, `${what}: the broker accepted the connection (CONNACK ${reasonName(connackCode(p))})`);
  }
  expectThat(closed, `${what}: the connection was still open ${ctx.timeoutMs} ms later (received: ${client.received.map(describePacket).join(', ') || 'nothing'})`);
}

export const SESSION_AUTH_CHECKS: Check[] = [
  ...closes([
    {
      id: '5.0/3.15/auth-reserved-flags',
      version: '5.0',
      statements: ['MQTT-3.15.1-1'],
      title: 'An AUTH packet with reserved fixed-header flags set is malformed: the broker closes the connection',
      send: (c) => c.sendRaw(encodeAuth(0x18, authProperties(UNKNOWN_AUTH_METHOD), 0xf2)),
      disconnectReasons: [0x81, 0x82],
    },
    {
      id: '5.0/4.12/auth-without-method',
      version: '5.0',
      statements: ['MQTT-4.12.0-7'],
      title: 'AUTH on a connection that started without an Authentication Method is a protocol error: the broker closes',
      send: (c) => c.sendRaw(encodeAuth(0x18)),
      disconnectReasons: [0x82, 0x8c],
    },
  ]),
  {
    id: '5.0/4.12/reauthenticate-other-method',
    version: '5.0',
    statements: ['MQTT-4.12.1-1', 'MQTT-4.12.1-2'],
    title: 'Re-authenticating with a method other than the connection\'s (here: none) fails, and the broker closes',
    async run(ctx) {
      const c = await ctx.connect();
      c.sendRaw(encodeAuth(0x19, authProperties('SCRAM-SHA-256', Buffer.from(`n,,n=mqbench,r=${randomBytes(18).toString('base64')}`))));
      await expectClosedWith(c, ctx, [0x80, 0x82, 0x87, 0x8c], 'after AUTH 0x19 (re-authenticate) with SCRAM-SHA-256');
      expectThat(!c.received.some((p) => p.cmd === 'auth'), 'the broker answered the re-authentication with AUTH');
    },
  },
  {
    id: '5.0/4.12/unknown-method-refused',
    version: '5.0',
    statements: ['MQTT-4.12.0-1'],
    title: 'A CONNECT with an Authentication Method the broker does not offer is refused (CONNACK 0x8C or 0x87, or none) and closed',
    async run(ctx) {
      const { client, connack } = await tryConnect(ctx, connectWithAuthMethod(ctx.clientId('am'), UNKNOWN_AUTH_METHOD));
      if (connack) {
        const rc = connackCode(connack);
        expectThat(rc === 0x8c || rc === 0x87, `the CONNACK for Authentication Method "${UNKNOWN_AUTH_METHOD}" has reason code ${reasonName(rc)}; expected 0x8c or 0x87`);
      }
      await client.closed(ctx.timeoutMs);
    },
  },
  {
    id: '5.0/4.12/no-auth-without-method',
    version: '5.0',
    statements: ['MQTT-4.12.0-6'],
    title: 'Without an Authentication Method in CONNECT, the broker sends no AUTH and no method in CONNACK',
    async run(ctx) {
      const { client, connack } = await tryConnect(ctx, {});
      expectThat(connack !== undefined && connackCode(connack) === 0, 'a plain CONNECT was not accepted');
      expectThat(connack.properties?.authenticationMethod === undefined, `CONNACK names Authentication Method "${connack.properties?.authenticationMethod}"`);
      client.send({ cmd: 'pingreq' });
      await client.subscribe(ctx.topic(), 1);
      await client.next('pingresp', ctx.timeoutMs);
      // Authentication Data without a method is a protocol error; it is no invitation to an AUTH exchange either.
      const dataOnly = await ctx.open();
      dataOnly.sendRaw(encodeRawConnect({ level: 5, clientId: ctx.clientId('ad'), properties: Buffer.from([0x16, 0x00, 0x02, 0x61, 0x62]) }));
      await dataOnly.closed(ctx.timeoutMs).catch(() => undefined);
      await client.expectNothing(300, 'auth');
      for (const c of [client, dataOnly]) {
        const auth = c.received.find((p) => p.cmd === 'auth');
        expectThat(auth === undefined, `the broker sent ${auth ? describePacket(auth) : ''} to a client that named no Authentication Method`);
        const named = c.received.find((p) => p.cmd === 'connack' && p.properties?.authenticationMethod !== undefined);
        expectThat(named === undefined, `the broker sent ${named ? describePacket(named) : ''} to a client that named no Authentication Method`);
      }
    },
  },
  {
    id: '5.0/4.12/auth-continue',
    version: '5.0',
    statements: ['MQTT-4.12.0-2', 'MQTT-3.15.2-1'],
    title: 'An AUTH the broker sends to continue authentication has reason code 0x18',
    async run(ctx) {
      const { auth, method } = await startEnhancedAuth(ctx);
      expectThat(AUTH_REASON_CODES.has(auth.reasonCode), `AUTH reason code 0x${auth.reasonCode.toString(16)} is not an AUTH reason code`);
      expectEqual(auth.reasonCode, 0x18, `reason code of the broker's AUTH during ${method} authentication`);
    },
  },
  {
    id: '5.0/4.12/auth-repeats-method',
    version: '5.0',
    statements: ['MQTT-4.12.0-5'],
    title: 'Every AUTH the broker sends names the Authentication Method of the CONNECT',
    async run(ctx) {
      const { auth, method } = await startEnhancedAuth(ctx);
      expectEqual(auth.properties?.authenticationMethod, method, 'Authentication Method in the broker\'s AUTH');
    },
  },
  {
    id: '5.0/4.12/auth-reply-wrong-code',
    version: '5.0',
    statements: ['MQTT-4.12.0-3'],
    title: 'Answering the broker\'s AUTH with a reason code other than 0x18 is a protocol error: the broker closes',
    async run(ctx) {
      const { client, method, auth } = await startEnhancedAuth(ctx);
      client.sendRaw(encodeAuth(0x19, authProperties(method, Buffer.from(`c=biws,r=${scramNonce(auth)},p=AAAA`))));
      await expectRefused(client, ctx, `after answering the broker's AUTH with AUTH 0x19 (${method})`);
    },
  },
  {
    id: '5.0/4.12/auth-rejected-closes',
    version: '5.0',
    statements: ['MQTT-4.12.0-4'],
    title: 'A broker rejecting an authentication exchange closes the connection (after a CONNACK of 0x80 or more, if any)',
    async run(ctx) {
      const { client, method, auth } = await startEnhancedAuth(ctx);
      const proof = randomBytes(method === 'SCRAM-SHA-1' ? 20 : method === 'SCRAM-SHA-256' ? 32 : 64).toString('base64');
      client.sendRaw(encodeAuth(0x18, authProperties(method, Buffer.from(`c=biws,r=${scramNonce(auth)},p=${proof}`))));
      await expectRefused(client, ctx, `after a ${method} client proof for an unknown user`);
    },
  },
  {
    id: '5.0/3.15/auth-fits-client-maximum-packet-size',
    version: '5.0',
    statements: ['MQTT-3.15.2-2', 'MQTT-3.15.2-3'],
    title: 'An AUTH carries a Reason String or User Properties only when they fit the client\'s Maximum Packet Size',
    async run(ctx) {
      const free = await startEnhancedAuth(ctx);
      const { reasonString: _r, userProperties: _u, ...rest } = free.auth.properties ?? {};
      const limit = generate({ cmd: 'auth', reasonCode: free.auth.reasonCode, properties: rest }, { protocolVersion: 5 }).length;
      const tight = await startEnhancedAuth(ctx, maximumPacketSizeProperty(limit));
      const optional = tight.auth.properties?.reasonString !== undefined || tight.auth.properties?.userProperties !== undefined;
      expectThat(!optional || wireSize(tight.auth) <= limit, `an AUTH of ${wireSize(tight.auth)} bytes (Maximum Packet Size ${limit}) carries a Reason String or User Properties`);
    },
  },
];
