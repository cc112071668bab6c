/**
 * Data representation (1.5): ill-formed UTF-8, U+0000, U+FEFF kept intact, minimal variable byte integers and UTF-8
 * string pairs, sent where the broker has to read them.
 */
import { encodeRawPacket } from '../client.js';
import { expectEqual, expectThat, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';
import {
  FLAG,
  MALFORMED_CONNACK,
  MALFORMED_DISCONNECT,
  expectPublish,
  props,
  rawConnect,
  rawPublish,
  rawSubscribe,
  refusesConnect,
  str,
  strWith,
  userProperty,
  levelOf,
  SURROGATE,
} from './connect-wire.js';
import { closes } from './table.js';

/** An overlong encoding of '/': ill-formed, and a classic way to smuggle a separator past a filter. */
const OVERLONG_SLASH = [0xc0, 0xaf];
/** A lead byte followed by a byte that is not a continuation byte. */
const BROKEN_SEQUENCE = [0xc3, 0x28];
const NUL = [0x00];

const TOPIC_NAME_DISCONNECT = [...MALFORMED_DISCONNECT, 0x90];
const TOPIC_FILTER_DISCONNECT = [...MALFORMED_DISCONNECT, 0x8f];
/** A client identifier the broker cannot read may also be refused as one it does not allow (3.1.1 code 2, 5.0 0x85). */
const CLIENT_ID_CONNACK: Record<MqttVersion, 'none' | readonly number[]> = { '3.1.1': [2], '5.0': [...MALFORMED_CONNACK, 0x85] };

interface StringRule {
  name: string;
  title: string;
  raw: readonly number[];
  statements: Record<MqttVersion, string[]>;
}

const ILL_FORMED: StringRule = {
  name: 'ill-formed-utf8',
  title: 'ill-formed UTF-8',
  raw: SURROGATE,
  statements: { '3.1.1': ['MQTT-1.5.3-1'], '5.0': ['MQTT-1.5.4-1'] },
};
const NUL_CHAR: StringRule = {
  name: 'null-char',
  title: 'U+0000',
  raw: NUL,
  statements: { '3.1.1': ['MQTT-1.5.3-2'], '5.0': ['MQTT-1.5.4-2'] },
};

function stringChecks(version: MqttVersion): Check[] {
  const lv = levelOf(version);
  const v5 = version === '5.0';
  const rows = [ILL_FORMED, NUL_CHAR];
  return [
    ...closes(
      rows.flatMap((rule) => [
        {
          id: `${version}/1.5/${rule.name}-in-topic-name`,
          version,
          statements: rule.statements[version],
          title: `A PUBLISH whose topic name holds ${rule.title} makes the broker close the connection`,
          send: (c, ctx: CheckContext) => c.sendRaw(rawPublish(lv, strWith(ctx.topic('x'), rule.raw), 'p')),
          ...(v5 ? { disconnectReasons: TOPIC_NAME_DISCONNECT } : {}),
        },
        {
          id: `${version}/1.5/${rule.name}-in-topic-filter`,
          version,
          statements: rule.statements[version],
          title: `A SUBSCRIBE whose topic filter holds ${rule.title} makes the broker close the connection`,
          send: (c, ctx: CheckContext) => c.sendRaw(rawSubscribe(lv, strWith(ctx.topic('x'), rule.raw))),
          ...(v5 ? { disconnectReasons: TOPIC_FILTER_DISCONNECT } : {}),
        },
      ]),
    ),
    ...closes([
      {
        id: `${version}/1.5/overlong-utf8-in-topic-filter`,
        version,
        statements: ILL_FORMED.statements[version],
        title: 'A SUBSCRIBE whose topic filter holds an overlong UTF-8 encoding makes the broker close the connection',
        send: (c, ctx) => c.sendRaw(rawSubscribe(lv, strWith(ctx.topic('x'), OVERLONG_SLASH))),
        ...(v5 ? { disconnectReasons: TOPIC_FILTER_DISCONNECT } : {}),
      },
      {
        id: `${version}/1.5/broken-utf8-in-topic-name`,
        version,
        statements: ILL_FORMED.statements[version],
        title: 'A PUBLISH whose topic name holds a lead byte without its continuation makes the broker close the connection',
        send: (c, ctx) => c.sendRaw(rawPublish(lv, strWith(ctx.topic('x'), BROKEN_SEQUENCE), 'p')),
        ...(v5 ? { disconnectReasons: TOPIC_NAME_DISCONNECT } : {}),
      },
    ]),
    ...refusesConnect(
      rows.map((rule) => ({
        id: `${version}/1.5/${rule.name}-in-client-id`,
        version,
        statements: [...rule.statements[version], ...(rule === ILL_FORMED ? ['MQTT-3.1.3-4'] : [])],
        title: `A CONNECT whose client identifier holds ${rule.title} is refused and the connection closed`,
        valid: (ctx: CheckContext) => rawConnect({ level: lv, flags: FLAG.clean, payload: [str(ctx.clientId('ok'))] }),
        bytes: (ctx: CheckContext) => rawConnect({ level: lv, flags: FLAG.clean, payload: [strWith(ctx.clientId('x'), rule.raw)] }),
        connack: CLIENT_ID_CONNACK[version],
      })),
    ),
    {
      id: `${version}/1.5/bom-kept`,
      version,
      statements: version === '5.0' ? ['MQTT-1.5.4-3'] : ['MQTT-1.5.3-3'],
      title: 'EF BB BF (U+FEFF) in a topic is an ordinary character: matched and delivered intact, never stripped',
      async run(ctx) {
        const topics = [`\uFEFF${ctx.topic('lead')}`, ctx.topic('mid\uFEFFdle'), ctx.topic('tail\uFEFF')];
        const sub = await ctx.connect({ clientId: ctx.clientId('sub') });
        const suback = await sub.subscribe(topics.map((topic) => ({ topic, qos: 0 as const })));
        expectThat(suback.granted.every((g) => (g as number) < 0x80), `the broker refused a topic filter holding U+FEFF: [${suback.granted.join(', ')}]`);
        const pub = await ctx.connect({ clientId: ctx.clientId('pub') });
        for (const [i, topic] of topics.entries()) await pub.publish(topic, `m${i}`);
        // Messages on different topics may be reordered: the payload says which topic each was published to.
        const seen = new Set<string>();
        for (let n = 0; n < topics.length; n++) {
          const p = await expectPublish(sub, ctx, 'a message published to a topic holding U+FEFF was not delivered to the matching subscription');
          const payload = p.payload.toString();
          const topic = topics[Number(payload.slice(1))];
          expectThat(topic !== undefined && !seen.has(payload), `unexpected message "${payload}"`);
          seen.add(payload);
          expectEqual(Buffer.from(p.topic, 'utf8').toString('hex'), Buffer.from(topic, 'utf8').toString('hex'), 'topic bytes of the delivered message');
        }
      },
    },
  ];
}

/** MQTT 5 only: minimal variable byte integers, and string pairs held to the string rules. */
const V5_ONLY: Check[] = [
  ...closes([
    {
      id: '5.0/1.5/non-minimal-remaining-length',
      version: '5.0',
      statements: ['MQTT-1.5.5-1'],
      title: 'A remaining length encoded in more bytes than needed is malformed: the broker closes the connection',
      // PINGREQ with remaining length 0 written as two bytes.
      send: (c) => c.sendRaw([0xc0, 0x80, 0x00]),
      disconnectReasons: [...MALFORMED_DISCONNECT],
    },
    {
      id: '5.0/1.5/non-minimal-property-length',
      version: '5.0',
      statements: ['MQTT-1.5.5-1'],
      title: 'A property length encoded in more bytes than needed is malformed: the broker closes the connection',
      // A QoS 0 PUBLISH whose empty property section has its length 0 written as 80 00.
      send: (c, ctx) => c.sendRaw(encodeRawPacket(0x30, Buffer.concat([str(ctx.topic()), Buffer.from([0x80, 0x00]), Buffer.from('p')]))),
      disconnectReasons: [...MALFORMED_DISCONNECT],
    },
    {
      id: '5.0/1.5/ill-formed-utf8-user-property-name',
      version: '5.0',
      statements: ['MQTT-1.5.7-1', 'MQTT-1.5.4-1'],
      title: 'A User Property whose name is ill-formed UTF-8 makes the broker close the connection',
      send: (c, ctx) => c.sendRaw(rawPublish(5, str(ctx.topic()), 'p', { properties: props(userProperty(str(SURROGATE), str('v'))) })),
      disconnectReasons: [...MALFORMED_DISCONNECT],
    },
    {
      id: '5.0/1.5/null-char-in-user-property-value',
      version: '5.0',
      statements: ['MQTT-1.5.7-1', 'MQTT-1.5.4-2'],
      title: 'A User Property whose value holds U+0000 makes the broker close the connection',
      send: (c, ctx) => c.sendRaw(rawPublish(5, str(ctx.topic()), 'p', { properties: props(userProperty(str('k'), str([0x61, 0x00, 0x62]))) })),
      disconnectReasons: [...MALFORMED_DISCONNECT],
    },
  ]),
  ...refusesConnect([
    {
      id: '5.0/1.5/non-minimal-connect-property-length',
      version: '5.0',
      statements: ['MQTT-1.5.5-1'],
      title: 'A CONNECT whose property length uses more bytes than needed is refused and the connection closed',
      valid: (ctx) => rawConnect({ level: 5, flags: FLAG.clean, properties: Buffer.from([0x00]), payload: [str(ctx.clientId('ok'))] }),
      bytes: (ctx) => rawConnect({ level: 5, flags: FLAG.clean, properties: Buffer.from([0x80, 0x00]), payload: [str(ctx.clientId('x'))] }),
    },
    {
      id: '5.0/1.5/ill-formed-utf8-connect-user-property',
      version: '5.0',
      statements: ['MQTT-1.5.7-1'],
      title: 'A CONNECT carrying a User Property whose value is ill-formed UTF-8 is refused and the connection closed',
      valid: (ctx) => rawConnect({ level: 5, flags: FLAG.clean, properties: props(userProperty(str('k'), str('v'))), payload: [str(ctx.clientId('ok'))] }),
      bytes: (ctx) =>
        rawConnect({ level: 5, flags: FLAG.clean, properties: props(userProperty(str('k'), str(BROKEN_SEQUENCE))), payload: [str(ctx.clientId('x'))] }),
    },
  ]),
];

export const DATA_CHECKS: Check[] = [...stringChecks('3.1.1'), ...stringChecks('5.0'), ...V5_ONLY];
