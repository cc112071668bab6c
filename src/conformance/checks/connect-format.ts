/**
 * The shape of a CONNECT (3.1.2, 3.1.3, 3.1.4): protocol name and level, connect flags against the payload fields
 * they announce, client identifiers the broker must take, refuse or assign, and what happens to data sent behind a
 * refused CONNECT.
 */
import { describePacket, type RawClient } from '../client.js';
import { CheckFailed, expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';
import {
  FLAG,
  MALFORMED_CONNACK,
  codeOf,
  expectNoPublish,
  expectPublish,
  expectRefusedAndClosed,
  props,
  rawConnect,
  rawPublish,
  rawSubscribe,
  refusesConnect,
  str,
  stringProperty,
  strWith,
  subscriber,
  PROP,
  type RefusedConnectRow,
  levelOf,
  SURROGATE,
} from './connect-wire.js';

/** Statement ids that differ between the versions for the same rule. */
const IDS: Record<MqttVersion, Record<string, string>> = {
  '3.1.1': {
    reserved: 'MQTT-3.1.2-3',
    willFields: 'MQTT-3.1.2-9',
    willQosNoFlag: 'MQTT-3.1.2-13',
    willRetainNoFlag: 'MQTT-3.1.2-15',
    willQos3: 'MQTT-3.1.2-14',
    noUserName: 'MQTT-3.1.2-18',
    userName: 'MQTT-3.1.2-19',
    noPassword: 'MQTT-3.1.2-20',
    password: 'MQTT-3.1.2-21',
    clientIdPresent: 'MQTT-3.1.3-3',
    willTopicUtf8: 'MQTT-3.1.3-10',
    userNameUtf8: 'MQTT-3.1.3-11',
    conforms: 'MQTT-3.1.4-1',
    accepted: 'MQTT-3.1.4-4',
  },
  '5.0': {
    reserved: 'MQTT-3.1.2-3',
    willFields: 'MQTT-3.1.2-9',
    willQosNoFlag: 'MQTT-3.1.2-11',
    willRetainNoFlag: 'MQTT-3.1.2-13',
    willQos3: 'MQTT-3.1.2-12',
    noUserName: 'MQTT-3.1.2-16',
    userName: 'MQTT-3.1.2-17',
    noPassword: 'MQTT-3.1.2-18',
    password: 'MQTT-3.1.2-19',
    clientIdPresent: 'MQTT-3.1.3-3',
    willTopicUtf8: 'MQTT-3.1.3-11',
    userNameUtf8: 'MQTT-3.1.3-12',
    conforms: 'MQTT-3.1.4-1',
    accepted: 'MQTT-3.1.4-5',
  },
};

function malformedConnects(version: MqttVersion): Check[] {
  const lv = levelOf(version);
  const v5 = version === '5.0';
  const id = IDS[version];
  // In 3.1.1 "Will Flag 0 means no will fields and zero will QoS/retain" is one more statement, MQTT-3.1.2-11.
  const noWill = v5 ? [] : ['MQTT-3.1.2-11'];
  /** The will fields: v5 puts a property section before the topic. */
  const will = (ctx: CheckContext, topic: Buffer = str(ctx.topic('will'))): Buffer[] => (v5 ? [props(), topic, str('gone')] : [topic, str('gone')]);
  const cid = (ctx: CheckContext, name: string): Buffer => str(ctx.clientId(name));
  const connect = (flags: number, payload: Buffer[]): Buffer => rawConnect({ level: lv, flags, payload });
  const row = (
    name: string,
    statements: string[],
    title: string,
    valid: (ctx: CheckContext) => Buffer,
    bytes: (ctx: CheckContext) => Buffer,
    connack?: RefusedConnectRow['connack'],
  ): RefusedConnectRow => ({
    id: `${version}/3.1/${name}`,
    version,
    statements: [...statements, id.conforms],
    title,
    valid,
    bytes,
    ...(connack !== undefined ? { connack } : {}),
  });
  const rows: RefusedConnectRow[] = [
    row(
      'reserved-connect-flag',
      [id.reserved],
      'A CONNECT with the reserved connect flag set is refused and the connection closed',
      (ctx) => connect(FLAG.clean, [cid(ctx, 'ok')]),
      (ctx) => connect(FLAG.clean | FLAG.reserved, [cid(ctx, 'x')]),
    ),
    row(
      'will-flag-without-will-fields',
      [id.willFields],
      'A CONNECT announcing a will but carrying no will fields is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.will, [cid(ctx, 'ok'), ...will(ctx)]),
      (ctx) => connect(FLAG.clean | FLAG.will, [cid(ctx, 'x')]),
    ),
    row(
      'will-payload-missing',
      [id.willFields],
      'A CONNECT announcing a will but ending after the will topic is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.will, [cid(ctx, 'ok'), ...will(ctx)]),
      (ctx) => connect(FLAG.clean | FLAG.will, [cid(ctx, 'x'), ...will(ctx).slice(0, -1)]),
    ),
    row(
      'will-qos-without-will-flag',
      [...noWill, id.willQosNoFlag],
      'A CONNECT with a will QoS but no Will Flag is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.will | FLAG.willQos1, [cid(ctx, 'ok'), ...will(ctx)]),
      (ctx) => connect(FLAG.clean | FLAG.willQos1, [cid(ctx, 'x')]),
    ),
    row(
      'will-retain-without-will-flag',
      [...noWill, id.willRetainNoFlag],
      'A CONNECT with Will Retain but no Will Flag is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.will, [cid(ctx, 'ok'), ...will(ctx)]),
      (ctx) => connect(FLAG.clean | FLAG.willRetain, [cid(ctx, 'x')]),
    ),
    row(
      'will-qos-3',
      [id.willQos3],
      'A CONNECT with will QoS 3 is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.will | FLAG.willQos2, [cid(ctx, 'ok'), ...will(ctx)]),
      (ctx) => connect(FLAG.clean | FLAG.will | FLAG.willQos1 | FLAG.willQos2, [cid(ctx, 'x'), ...will(ctx)]),
    ),
    row(
      'user-name-without-flag',
      [id.noUserName],
      'A CONNECT carrying a user name without the User Name Flag is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.username, [cid(ctx, 'ok'), str('user')]),
      (ctx) => connect(FLAG.clean, [cid(ctx, 'x'), str('user')]),
    ),
    row(
      'user-name-flag-without-user-name',
      [id.userName],
      'A CONNECT with the User Name Flag but no user name is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.username, [cid(ctx, 'ok'), str('user')]),
      (ctx) => connect(FLAG.clean | FLAG.username, [cid(ctx, 'x')]),
    ),
    row(
      'password-without-flag',
      [id.noPassword],
      'A CONNECT carrying a password without the Password Flag is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.username | FLAG.password, [cid(ctx, 'ok'), str('user'), str('secret')]),
      (ctx) => connect(FLAG.clean | FLAG.username, [cid(ctx, 'x'), str('user'), str('secret')]),
    ),
    row(
      'password-flag-without-password',
      [id.password],
      'A CONNECT with the Password Flag but no password is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.username | FLAG.password, [cid(ctx, 'ok'), str('user'), str('secret')]),
      (ctx) => connect(FLAG.clean | FLAG.username | FLAG.password, [cid(ctx, 'x'), str('user')]),
    ),
    row(
      'client-id-missing',
      [id.clientIdPresent],
      'A CONNECT whose payload lacks the client identifier field is refused and the connection closed',
      (ctx) => connect(FLAG.clean, [cid(ctx, 'ok')]),
      () => connect(FLAG.clean, []),
    ),
    row(
      'ill-formed-will-topic',
      [id.willTopicUtf8],
      'A CONNECT whose will topic is ill-formed UTF-8 is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.will, [cid(ctx, 'ok'), ...will(ctx)]),
      (ctx) => connect(FLAG.clean | FLAG.will, [cid(ctx, 'x'), ...will(ctx, strWith(ctx.topic('will'), SURROGATE))]),
      v5 ? [...MALFORMED_CONNACK, 0x90] : undefined,
    ),
    row(
      'ill-formed-user-name',
      [id.userNameUtf8],
      'A CONNECT whose user name is ill-formed UTF-8 is refused and the connection closed',
      (ctx) => connect(FLAG.clean | FLAG.username, [cid(ctx, 'ok'), str('user')]),
      (ctx) => connect(FLAG.clean | FLAG.username, [cid(ctx, 'x'), strWith('user', SURROGATE)]),
      v5 ? [...MALFORMED_CONNACK, 0x86] : undefined,
    ),
  ];
  if (!v5) {
    rows.push(
      row(
        'password-without-user-name',
        ['MQTT-3.1.2-22'],
        'A 3.1.1 CONNECT with the Password Flag but not the User Name Flag is refused and the connection closed',
        (ctx) => connect(FLAG.clean | FLAG.username | FLAG.password, [cid(ctx, 'ok'), str('user'), str('secret')]),
        (ctx) => connect(FLAG.clean | FLAG.password, [cid(ctx, 'x'), str('secret')]),
      ),
    );
  }
  return refusesConnect(rows);
}

/** Protocol name and level the broker does not serve. */
function protocolChecks(): Check[] {
  return [
    {
      id: '3.1.1/3.1/unknown-protocol-name',
      version: '3.1.1',
      statements: ['MQTT-3.1.2-1'],
      title: 'A CONNECT naming another protocol is never handled as MQTT 3.1.1: no CONNACK, no answers',
      async run(ctx) {
        // Baseline: the same broker does answer a well-formed 3.1.1 CONNECT, so silence below means something.
        const baseline = await ctx.connect({ clean: true }, 4);
        baseline.send({ cmd: 'disconnect' });
        const c = await ctx.open();
        c.sendRaw(rawConnect({ level: 4, protocolName: 'MQTX', flags: FLAG.clean, payload: [str(ctx.clientId())] }));
        // The broker may hang up, or go on in some other protocol; what it must not do is carry on as MQTT 3.1.1.
        const closed = await c.closed(ctx.timeoutMs).then(
          () => true,
          () => false,
        );
        if (!closed) {
          c.send({ cmd: 'pingreq' });
          await c.stillOpenAfter(500);
        }
        const mqtt = c.received.filter((p) => p.cmd === 'connack' || p.cmd === 'pingresp');
        expectThat(mqtt.length === 0, `the broker answered as MQTT 3.1.1: ${mqtt.map(describePacket).join(', ')}`);
      },
    },
    {
      id: '5.0/3.1/unknown-protocol-name',
      version: '5.0',
      statements: ['MQTT-3.1.2-1', 'MQTT-3.1.4-1'],
      title: 'A CONNECT naming another protocol is refused (at most CONNACK 0x84) and the connection closed',
      async run(ctx) {
        const c = await ctx.open();
        c.sendRaw(rawConnect({ level: 5, protocolName: 'MQTX', flags: FLAG.clean, payload: [str(ctx.clientId())] }));
        await expectRefusedAndClosed(c, ctx, [0x84]);
      },
    },
    {
      id: '5.0/3.1/unsupported-protocol-version',
      version: '5.0',
      statements: ['MQTT-3.1.2-2'],
      title: 'A CONNECT for a protocol version the broker does not serve is refused (at most CONNACK 0x84) and closed',
      async run(ctx) {
        const c = await ctx.open();
        c.sendRaw(rawConnect({ level: 6, flags: FLAG.clean, payload: [str(ctx.clientId())] }));
        // A broker cannot know how a client of an unknown version reads CONNACK; 0x01 in the 3.1.1 form is the same
        // refusal (unacceptable protocol version) as 0x84 in the v5 form.
        await expectRefusedAndClosed(c, ctx, [0x84, 0x01]);
      },
    },
  ];
}

function clientIdChecks(version: MqttVersion): Check[] {
  const v5 = version === '5.0';
  const accepted = IDS[version].accepted;
  return [
    {
      id: `${version}/3.1/client-id-1-to-23-chars`,
      version,
      statements: ['MQTT-3.1.3-5', accepted],
      title: 'Client identifiers of 1 and of 23 letters and digits are accepted with a success CONNACK',
      async run(ctx) {
        const long = ctx.clientId('ZzYx0123456789abcdefghijk');
        expectEqual(long.length, 23, 'length of the generated client identifier');
        // A one-character id cannot be unique to the run: pick one at random and hold it only for a moment.
        const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
        const short = alphabet[Math.floor(Math.random() * alphabet.length)];
        for (const clientId of [long, short]) {
          const c = await ctx.open();
          const connack = await c.connect({ clientId, clean: true }, ctx.timeoutMs);
          expectEqual(codeOf(connack), 0, `CONNACK code for client identifier "${clientId}"`);
          expectEqual(connack.sessionPresent, false, `session present for a clean connection as "${clientId}"`);
          await c.disconnect();
        }
      },
    },
    {
      id: `${version}/3.1/empty-client-id-assigned`,
      version,
      statements: v5 ? ['MQTT-3.1.3-6', 'MQTT-3.1.3-7'] : ['MQTT-3.1.3-6'],
      title: v5
        ? 'Clients with an empty client identifier get distinct ones, returned in CONNACK and usable to resume'
        : 'Clients with an empty client identifier get distinct ones: neither takes over the other',
      async run(ctx) {
        const clients: RawClient[] = [];
        const assigned: string[] = [];
        for (let i = 0; i < 2; i++) {
          const c = await ctx.open();
          const connack = await c.connect({ clientId: '', clean: true, ...(v5 ? { properties: { sessionExpiryInterval: 30 } } : {}) }, ctx.timeoutMs);
          const code = codeOf(connack);
          if (code !== 0) ctx.skip('the broker refuses a zero-length client identifier', `CONNACK code 0x${code.toString(16)} for an empty client identifier`);
          if (v5) {
            const id = connack.properties?.assignedClientIdentifier;
            expectThat(typeof id === 'string' && id.length > 0, `CONNACK for an empty client identifier has no Assigned Client Identifier: ${describePacket(connack)}`);
            assigned.push(id);
            ctx.endSession(id);
          }
          clients.push(c);
        }
        if (v5) expectThat(assigned[0] !== assigned[1], `both clients were assigned the identifier "${assigned[0]}"`);
        // Each is its own client: its subscription gets its own messages, and neither connection was taken over.
        const topics = [ctx.topic('a'), ctx.topic('b')];
        for (const [i, c] of clients.entries()) await c.subscribe(topics[i], 0);
        const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
        await pub.publish(topics[0], 'for-a');
        await pub.publish(topics[1], 'for-b');
        for (const [i, c] of clients.entries()) {
          const p = await expectPublish(c, ctx, `client ${i + 1} (empty client identifier) got no message on its own subscription`);
          expectEqual(p.topic, topics[i], `topic delivered to client ${i + 1}`);
          expectThat(!c.closedByBroker, `the broker closed client ${i + 1}: the two empty client identifiers were treated as one`);
        }
        if (!v5) return;
        // The assigned identifier names the session as if the client had sent it.
        await clients[0].disconnect();
        const again = await ctx.open();
        const connack = await again.connect({ clientId: assigned[0], clean: false, properties: { sessionExpiryInterval: 30 } }, ctx.timeoutMs);
        expectEqual(codeOf(connack), 0, `CONNACK code when resuming as the assigned "${assigned[0]}"`);
        expectThat(connack.sessionPresent, `resuming as the assigned "${assigned[0]}" found no session (session present 0)`);
        await pub.publish(topics[0], 'again');
        const p = await expectPublish(again, ctx, 'the session resumed under the assigned identifier lost its subscription');
        expectEqual(p.topic, topics[0], 'topic delivered to the resumed session');
      },
    },
  ];
}

const CLIENT_ID_REFUSALS: Check[] = [
  {
    id: '3.1.1/3.1/empty-client-id-persistent-session',
    version: '3.1.1',
    statements: ['MQTT-3.1.3-8', 'MQTT-3.1.3-9'],
    title: 'An empty client identifier with CleanSession 0 gets CONNACK 0x02, then the connection closes',
    async run(ctx) {
      const c = await ctx.open();
      c.sendRaw(rawConnect({ level: 4, flags: 0, payload: [str('')] }));
      const connack = await c.next('connack', ctx.timeoutMs);
      expectEqual(codeOf(connack), 2, 'CONNACK return code');
      await c.closed(ctx.timeoutMs);
    },
  },
  {
    id: '5.0/3.1/refused-client-id-closes',
    version: '5.0',
    statements: ['MQTT-3.1.3-8', 'MQTT-3.1.4-2'],
    title: 'A client identifier the broker refuses ends the connection, after CONNACK 0x85 or nothing',
    async run(ctx) {
      // Identifiers a broker may refuse: none of them is one every broker must accept.
      const candidates: Array<{ what: string; bytes: Buffer }> = [
        { what: 'an empty client identifier with Clean Start 0', bytes: rawConnect({ level: 5, flags: 0, payload: [str('')] }) },
        {
          what: 'a 300-byte client identifier',
          bytes: rawConnect({ level: 5, flags: FLAG.clean, payload: [str(ctx.clientId('L') + 'x'.repeat(277))] }),
        },
        { what: 'a client identifier with "/", "#", "+" and a space', bytes: rawConnect({ level: 5, flags: FLAG.clean, payload: [str(`${ctx.clientId('s')}/#+ x`)] }) },
      ];
      const accepted: string[] = [];
      for (const candidate of candidates) {
        const c = await ctx.open();
        c.sendRaw(candidate.bytes);
        let connack;
        try {
          connack = await c.next('connack', ctx.timeoutMs);
        } catch {
          // No CONNACK: refused by closing, which is allowed, or not answered at all, which is not.
          expectThat(c.closedByBroker, `the broker neither answered nor closed after ${candidate.what}`);
          return;
        }
        const code = codeOf(connack);
        if (code === 0) {
          accepted.push(candidate.what);
          const assigned = connack.properties?.assignedClientIdentifier;
          if (assigned !== undefined) ctx.endSession(assigned);
          await c.disconnect();
          continue;
        }
        expectThat(code >= 0x80, `CONNACK code 0x${code.toString(16)} is not a refusal`);
        if (code !== 0x85) {
          throw new CheckFailed(`the broker refused ${candidate.what} with CONNACK 0x${code.toString(16)}; a refused client identifier is 0x85`);
        }
        await c.closed(ctx.timeoutMs);
        return;
      }
      ctx.skip('the broker refused none of the client identifiers tried', `CONNACK 0x00 for ${accepted.join('; ')}`);
    },
  },
];

/** After refusing a CONNECT the broker acts on nothing the client sent behind it. */
function ignoredAfterRefusal(version: MqttVersion): Check[] {
  const v5 = version === '5.0';
  const lv = levelOf(version);
  const statement = v5 ? 'MQTT-3.1.4-6' : 'MQTT-3.1.4-5';
  const refusals: Array<{ name: string; what: string; connect: (ctx: CheckContext) => Buffer; statements: string[]; allowed: 'none' | readonly number[] }> = v5
    ? [
        {
          name: 'reserved-flag',
          what: 'a CONNECT with the reserved flag set',
          connect: (ctx) => rawConnect({ level: 5, flags: FLAG.clean | FLAG.reserved, payload: [str(ctx.clientId('x'))] }),
          statements: [statement],
          allowed: MALFORMED_CONNACK,
        },
        {
          // An authentication method the broker cannot know: refused, or an AUTH exchange begins in which a
          // PUBLISH before CONNACK is a protocol error. Either way the PUBLISH is never acted on.
          name: 'unknown-auth-method',
          what: 'a CONNECT with an unknown authentication method',
          connect: (ctx) =>
            rawConnect({ level: 5, flags: FLAG.clean, properties: props(stringProperty(PROP.authMethod, 'MQBENCH-UNKNOWN-METHOD')), payload: [str(ctx.clientId('x'))] }),
          statements: [statement, 'MQTT-3.1.2-30', 'MQTT-3.1.4-2'],
          allowed: [...MALFORMED_CONNACK, 0x87, 0x8c],
        },
      ]
    : [
        {
          name: 'refused-client-id',
          what: 'a CONNECT with an empty client identifier and CleanSession 0',
          connect: () => rawConnect({ level: 4, flags: 0, payload: [str('')] }),
          statements: [statement],
          allowed: [2],
        },
        {
          name: 'reserved-flag',
          what: 'a CONNECT with the reserved flag set',
          connect: (ctx) => rawConnect({ level: 4, flags: FLAG.clean | FLAG.reserved, payload: [str(ctx.clientId('x'))] }),
          statements: [statement],
          allowed: 'none',
        },
      ];
  return refusals.map((r) => ({
    id: `${version}/3.1/ignored-after-refused-connect-${r.name}`,
    version,
    statements: r.statements,
    title: `A PUBLISH and SUBSCRIBE sent right behind ${r.what} are not acted on`,
    async run(ctx) {
      const topic = ctx.topic();
      const sub = await subscriber(ctx, topic, 1);
      const c = await ctx.open();
      // One write: the broker has everything in its buffer before it decides on the CONNECT.
      c.sendRaw(Buffer.concat([r.connect(ctx), rawPublish(lv, str(topic), 'behind', { qos: 1, id: 7 }), rawSubscribe(lv, str(ctx.topic('#')), { id: 8 })]));
      await expectRefusedAndClosed(c, ctx, r.allowed);
      const acted = c.received.filter((p) => p.cmd !== 'connack');
      expectThat(acted.length === 0, `the broker answered what followed the refused CONNECT: ${acted.map(describePacket).join(', ')}`);
      await expectNoPublish(sub, 400, 'the PUBLISH sent behind the refused CONNECT was delivered');
    },
  }));
}

/** The payload fields in their order, all present: each lands where it belongs. */
function payloadOrder(version: MqttVersion): Check {
  const v5 = version === '5.0';
  return {
    id: `${version}/3.1/payload-field-order`,
    version,
    statements: ['MQTT-3.1.3-1', IDS[version].accepted],
    title: 'A CONNECT with every payload field in order is accepted, and its will is read from the right fields',
    async run(ctx) {
      const topic = ctx.topic('will');
      const sub = await subscriber(ctx, topic, 1);
      const c = await ctx.open();
      const connack = await c.connect(
        {
          clientId: ctx.clientId('c'),
          clean: true,
          username: 'user-field',
          password: Buffer.from('password-field'),
          will: {
            topic,
            payload: Buffer.from('will-payload-field'),
            qos: 1,
            retain: false,
            ...(v5 ? { properties: { contentType: 'text/x-will-properties-field' } } : {}),
          },
        },
        ctx.timeoutMs,
      );
      expectEqual(codeOf(connack), 0, 'CONNACK code');
      expectEqual(connack.sessionPresent, false, 'session present');
      c.destroy();
      const will = await expectPublish(sub, ctx, 'the will was not published after the connection dropped');
      expectEqual(will.topic, topic, 'will topic');
      expectEqual(will.payload.toString(), 'will-payload-field', 'will payload');
      if (v5) expectEqual(will.properties?.contentType, 'text/x-will-properties-field', 'Content Type from the will properties');
    },
  };
}

export const FORMAT_CHECKS: Check[] = [
  ...malformedConnects('3.1.1'),
  ...malformedConnects('5.0'),
  ...protocolChecks(),
  ...clientIdChecks('3.1.1'),
  ...clientIdChecks('5.0'),
  ...CLIENT_ID_REFUSALS,
  ...ignoredAfterRefusal('3.1.1'),
  ...ignoredAfterRefusal('5.0'),
  payloadOrder('3.1.1'),
  payloadOrder('5.0'),
];
