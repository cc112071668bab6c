/**
 * Before a worker reports ready, run the client's code paths once over a private loopback socket pair, so the first
 * clients of a run are not timed while the thread is still compiling them (tens of milliseconds otherwise). The
 * broker under test is not involved.
 */
import { createServer, connect } from 'node:net';
import mqtt from 'mqtt-packet';
import { DeliveryTracker } from '../metrics/delivery.js';
import { LatencyHistogram } from '../metrics/histogram.js';
import { LiveQuantiles } from '../metrics/live-quantiles.js';
import { FrameReader } from '../protocol/frame-reader.js';
import { BatchWriter, FlushQueue } from '../util/batch-writer.js';
import { PublishTemplate, decodeControl, writeAck } from './codec.js';
import { readHeader } from './payload.js';

export async function warmUp(): Promise<void> {
  const packets: Buffer[] = [
    mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'warm', clean: true, keepalive: 60 }),
    mqtt.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'warm/#', qos: 1 }] }),
    mqtt.generate({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['warm/#'] }),
    mqtt.generate({ cmd: 'disconnect' }),
  ];
  for (const v of [4, 5] as const) {
    decodeControl(0x20, v === 5 ? Buffer.from([0, 0, 0]) : Buffer.from([0, 0]), v);
    decodeControl(0x90, v === 5 ? Buffer.from([0, 1, 0, 1]) : Buffer.from([0, 1, 1]), v);
  }
  const server = createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const queue = new FlushQueue({ bytesSent: 0 });
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const writer = new BatchWriter(socket, queue);
  const template = new PublishTemplate('warm/t', 1, false, Buffer.alloc(64), true, 1, false);
  const histogram = new LatencyHistogram();
  const live = new LiveQuantiles();
  const tracker = new DeliveryTracker();
  let seen = 0;
  const expected = 2_000;
  const done = new Promise<void>((resolve) => {
    const reader = new FrameReader({
      acceptHeader: () => true,
      onFrameError: () => resolve(),
      onFrame(h, buf, start, end) {
        if (h >> 4 === 3) {
          const p = start + 2 + buf.readUInt16BE(start) + 2;
          if (readHeader(buf, p, end)) {
            histogram.record(5);
            live.record(5);
            tracker.receive(1, 'warm/t', seen, 1);
          }
          if (++seen === expected) resolve();
        }
        return true;
      },
    });
    socket.on('data', (chunk: Buffer) => reader.feed(chunk));
  });
  for (const p of packets) writer.writeBytes(p);
  for (let i = 0; i < expected; i++) {
    template.encode(writer, (i % 65535) + 1, i, i, false);
    if (i % 64 === 0) writeAck(writer, 0x40, 1);
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 2_000))]);
  histogram.summarize();
  socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
