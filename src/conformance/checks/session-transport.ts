/**
 * The byte stream under MQTT (4.2 in 5.0, 7.1 in 3.1.1): the broker reads packets from an ordered, lossless stream
 * however its bytes are cut up, and what it sends back comes whole and in order.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { connackCode, sleep, type RawClient } from '../client.js';
import { expectEqual, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';

/** Writes `bytes` in pieces of 1, 2, 3, … 13 bytes, yielding between pieces so they leave as separate writes. */
async function writeInPieces(client: RawClient, bytes: Buffer): Promise<void> {
  let size = 1;
  for (let at = 0; at < bytes.length; at += size, size = (size % 13) + 1) {
    client.sendRaw(bytes.subarray(at, at + size));
    await sleep(1);
  }
}

/** A payload whose bytes differ by message and position, so a lost, moved or altered byte shows. */
function payloadFor(i: number): Buffer {
  return Buffer.from(Array.from({ length: 40 + i }, (_, j) => (i * 31 + j * 7) & 0xff));
}

function orderedByteStream(version: MqttVersion, statement: string): Check {
  return {
    id: `${version}/${version === '5.0' ? '4.2' : '7.1'}/ordered-byte-stream`,
    version,
    statements: [statement],
    title: 'Packets cut at arbitrary byte boundaries, or packed many to a write, are all read and answered in order',
    async run(ctx: CheckContext) {
      const c = await ctx.open();
      await writeInPieces(c, c.encode(c.connectPacket({ clientId: ctx.clientId('s') })));
      const connack = await c.next('connack', ctx.timeoutMs);
      expectEqual(connackCode(connack), 0, 'CONNACK code for a CONNECT written a few bytes at a time');
      const topic = ctx.topic();
      // QoS 1 where offered, so that every packet read is also answered.
      const qos = ctx.capabilities.maximumQoS >= 1 ? 1 : 0;
      await c.subscribe(topic, qos);
      const count = 30;
      const publishes = Array.from({ length: count }, (_, i) =>
        c.encode({ cmd: 'publish', topic, payload: payloadFor(i), qos, ...(qos ? { messageId: 100 + i } : {}), retain: false, dup: false }),
      );
      // Half cut into pieces, half in one write.
      await writeInPieces(c, Buffer.concat(publishes.slice(0, count / 2)));
      c.sendRaw(Buffer.concat(publishes.slice(count / 2)));
      if (qos === 1) {
        const acks = await c.nextN('puback', count, ctx.timeoutMs * 2);
        expectEqual(
          acks.map((a) => a.messageId).sort((a, b) => a! - b!),
          Array.from({ length: count }, (_, i) => 100 + i),
          'packet ids acknowledged',
        );
      }
      const delivered: IPublishPacket[] = [];
      for (let i = 0; i < count; i++) delivered.push(await c.receive(ctx.timeoutMs));
      // Every message whole; the order in which the broker forwards them is 4.6's concern, not the byte stream's.
      expectEqual(
        delivered.map((p) => Buffer.from(p.payload).toString('hex')).sort(),
        Array.from({ length: count }, (_, i) => payloadFor(i).toString('hex')).sort(),
        'payloads of the delivered messages (each byte as sent)',
      );
    },
  };
}

export const SESSION_TRANSPORT_CHECKS: Check[] = [orderedByteStream('3.1.1', 'MQTT-7.1.1-1'), orderedByteStream('5.0', 'MQTT-4.2-1')];
