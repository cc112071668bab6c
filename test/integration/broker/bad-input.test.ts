/**
 * Malformed packets and protocol errors close that connection only (v5: after a DISCONNECT with the reason code
 * Mosquitto sends), while other clients keep receiving every message.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import {
  TestResources,
  encodeRawPacket,
  payloadsOf,
  uniqueName,
  utf8Field,
  type RawClient,
} from '../../helpers/raw-client.js';
import { RC } from '../../../src/protocol/reason-codes.js';

/** v5 property length 0, present only at v5. */
const props = (v5: boolean) => (v5 ? Buffer.from([0]) : Buffer.alloc(0));

function publishBytes(topic: Buffer, qos: number, packetId: number, v5: boolean): Buffer {
  const id = qos > 0 ? Buffer.from([packetId >> 8, packetId & 0xff]) : Buffer.alloc(0);
  return encodeRawPacket(0x30 | (qos << 1), Buffer.concat([utf8Field(topic), id, props(v5), Buffer.from('payload')]));
}

function subscribeBytes(firstByte: number, packetId: number, entries: Array<[Buffer, number]>, v5: boolean): Buffer {
  const body: Buffer[] = [Buffer.from([packetId >> 8, packetId & 0xff]), props(v5)];
  for (const [filter, options] of entries) body.push(utf8Field(filter), Buffer.from([options]));
  return encodeRawPacket(firstByte, Buffer.concat(body));
}

interface BadCase {
  title: string;
  bytes: (v5: boolean) => Buffer;
  /**
   * The DISCONNECT reason a v5 client must get before the close (what Mosquitto 2.0.11 sends); a list when
   * Mosquitto closes without one and the bundled broker may either do the same or send one of these.
   */
  v5: number | Array<number | undefined>;
}

const BAD_UTF8 = Buffer.from([0x61, 0xc3, 0x28]);
const SURROGATE = Buffer.from([0x61, 0xed, 0xa0, 0x80]);
const NUL = Buffer.from([0x61, 0x00, 0x62]);

const CASES: BadCase[] = [
  {
    title: 'a remaining length longer than four bytes',
    bytes: () => Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
    v5: [undefined, RC.MalformedPacket],
  },
  {
    title: '[MQTT-3.3.1-4] PUBLISH with both QoS bits set (QoS 3)',
    bytes: (v5) => {
      const b = publishBytes(Buffer.from('t'), 1, 1, v5);
      b[0] = 0x36;
      return b;
    },
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-3.3.2-2] [MQTT-4.7.1-1] PUBLISH to a topic containing "+"',
    bytes: (v5) => publishBytes(Buffer.from('a/+'), 0, 0, v5),
    v5: RC.ProtocolError,
  },
  {
    title: '[MQTT-3.3.2-2] [MQTT-4.7.1-1] PUBLISH to a topic containing "#"',
    bytes: (v5) => publishBytes(Buffer.from('a/#'), 1, 1, v5),
    v5: RC.ProtocolError,
  },
  {
    title: '[MQTT-1.5.3-1] PUBLISH topic with ill-formed UTF-8',
    bytes: (v5) => publishBytes(BAD_UTF8, 0, 0, v5),
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-1.5.3-1] PUBLISH topic with an encoded UTF-16 surrogate',
    bytes: (v5) => publishBytes(SURROGATE, 0, 0, v5),
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-1.5.3-2] [MQTT-4.7.3-2] PUBLISH topic containing U+0000',
    bytes: (v5) => publishBytes(NUL, 1, 1, v5),
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-4.7.3-1] PUBLISH with an empty topic (and no topic alias)',
    bytes: (v5) => publishBytes(Buffer.alloc(0), 0, 0, v5),
    v5: RC.ProtocolError,
  },
  {
    title: '[MQTT-2.3.1-1] PUBLISH at QoS 1 with packet identifier 0',
    bytes: (v5) => publishBytes(Buffer.from('t'), 1, 0, v5),
    v5: RC.ProtocolError,
  },
  {
    title: 'a topic string whose length runs past the end of the packet',
    bytes: () => encodeRawPacket(0x30, Buffer.concat([Buffer.from([0x00, 0x32]), Buffer.from('abc')])),
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-3.8.3-3] SUBSCRIBE without any topic filter',
    bytes: (v5) => subscribeBytes(0x82, 1, [], v5),
    // The v5 spec calls this a Protocol Error (the bundled broker's 0x82); Mosquitto sends 0x81.
    v5: [RC.ProtocolError, RC.MalformedPacket],
  },
  {
    title: '[MQTT-3.8.1-1] [MQTT-2.2.2-2] SUBSCRIBE with reserved header flags 0000',
    bytes: (v5) => subscribeBytes(0x80, 1, [[Buffer.from('t'), 1]], v5),
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-3.8.3-4] SUBSCRIBE requesting QoS 3',
    bytes: (v5) => subscribeBytes(0x82, 1, [[Buffer.from('t'), 3]], v5),
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-3.8.3-4] [MQTT-3.8.3-5] SUBSCRIBE with reserved option bits set',
    bytes: (v5) => subscribeBytes(0x82, 1, [[Buffer.from('t'), 0xc1]], v5),
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-2.3.1-1] SUBSCRIBE with packet identifier 0',
    bytes: (v5) => subscribeBytes(0x82, 0, [[Buffer.from('t'), 1]], v5),
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-3.8.3-1] SUBSCRIBE filter with ill-formed UTF-8',
    bytes: (v5) => subscribeBytes(0x82, 1, [[BAD_UTF8, 1]], v5),
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-3.10.3-2] UNSUBSCRIBE without any topic filter',
    bytes: (v5) => encodeRawPacket(0xa2, Buffer.concat([Buffer.from([0, 1]), props(v5)])),
    // The v5 spec calls this a Protocol Error (the bundled broker's 0x82); Mosquitto sends 0x81.
    v5: [RC.ProtocolError, RC.MalformedPacket],
  },
  {
    title: '[MQTT-3.10.1-1] UNSUBSCRIBE with reserved header flags 0000',
    bytes: (v5) => encodeRawPacket(0xa0, Buffer.concat([Buffer.from([0, 1]), props(v5), utf8Field('t')])),
    v5: RC.MalformedPacket,
  },
  {
    title: '[MQTT-3.6.1-1] PUBREL with reserved header flags 0000',
    bytes: () => encodeRawPacket(0x60, [0x00, 0x01]),
    v5: [undefined, RC.MalformedPacket, RC.ProtocolError],
  },
  {
    title: '[MQTT-3.14.1-1] DISCONNECT with reserved header flags set',
    bytes: () => encodeRawPacket(0xe1, []),
    v5: [undefined, RC.MalformedPacket],
  },
  {
    title: 'the reserved packet type 0',
    bytes: () => encodeRawPacket(0x00, []),
    v5: RC.ProtocolError,
  },
  {
    title: 'packet type 15 (AUTH in v5, reserved in 3.1.1) with no body',
    bytes: () => encodeRawPacket(0xf0, []),
    v5: [undefined, RC.ProtocolError, RC.MalformedPacket],
  },
];

describe.each(testBrokerKinds())('%s broker: bad input', (kind) => {
  let broker: TestBroker;
  const res = new TestResources();
  const keep = new TestResources();
  let observer: RawClient;
  let steady: RawClient;
  const topic = uniqueName('steady');
  let sent = 0;

  beforeAll(async () => {
    broker = await startTestBroker(kind);
    observer = await keep.connect(broker, 5, { clientId: uniqueName('observer') });
    await observer.subscribe(topic, 1);
    steady = await keep.connect(broker, 4, { clientId: uniqueName('steady-pub') });
  });
  afterAll(async () => {
    await keep.releaseAll();
    await broker?.stop();
  });
  afterEach(() => res.releaseAll());

  /** The observer still gets a message published by another healthy client. */
  async function othersStillServed(): Promise<void> {
    const payload = `m${sent++}`;
    await steady.publish(topic, payload, { qos: 1 });
    expect(payloadsOf([await observer.receive()])).toEqual([payload]);
  }

  for (const v of [4, 5] as const) {
    for (const c of CASES) {
      it(`${c.title} closes that connection only (v${v})`, async () => {
        const bad = await res.connect(broker, v, { clientId: uniqueName('bad') });
        bad.sendRaw(c.bytes(v === 5));
        await bad.closed();
        const disconnect = bad.received.find((p) => p.cmd === 'disconnect');
        const reason = disconnect?.cmd === 'disconnect' ? (disconnect.reasonCode ?? 0) : undefined;
        if (v === 4) {
          expect(bad.received.map((p) => p.cmd)).toEqual(['connack']);
        } else if (Array.isArray(c.v5)) {
          expect(c.v5).toContain(reason);
        } else {
          expect(reason).toBe(c.v5);
        }
        await othersStillServed();
      });
    }
  }

  it('a steady stream reaches its subscriber in full and in order while other clients send garbage', async () => {
    const t = uniqueName('stream');
    const sub = await res.connect(broker, 4, { clientId: uniqueName('stream-sub') });
    await sub.subscribe(t, 1);
    const pub = await res.connect(broker, 5, { clientId: uniqueName('stream-pub') });
    const n = 40;
    const publishing = (async () => {
      for (let i = 0; i < n; i++) await pub.publish(t, `s${i}`, { qos: 1 });
    })();
    const vandals = CASES.map(async (c, i) => {
      const v = i % 2 === 0 ? 4 : 5;
      const bad = await res.connect(broker, v, { clientId: uniqueName('vandal') });
      bad.sendRaw(c.bytes(v === 5));
      await bad.closed();
    });
    await Promise.all([publishing, ...vandals]);
    const got: string[] = [];
    while (got.length < n) got.push(payloadsOf([await sub.receive()])[0]);
    expect(got).toEqual(Array.from({ length: n }, (_, i) => `s${i}`));
    await othersStillServed();
  });
});
