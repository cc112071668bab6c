/**
 * A TCP proxy between clients and a broker that drops or repeats chosen PUBLISH packets on their way from the broker
 * to the clients, so tests know exactly how many messages a report must count as lost or duplicated.
 *
 * The choice is made from the mqbench latency header in the payload (publisher id and sequence number), so it is
 * the same whatever the timing.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { FrameReader, type FrameSink } from '../../src/protocol/frame-reader.js';
import { header, readHeader } from '../../src/engine/payload.js';
import { framePacket } from '../../src/protocol/varint.js';

export type Verdict = 'pass' | 'drop' | 'repeat';

export interface ManglingProxy {
  port: number;
  dropped: number;
  repeated: number;
  close(): Promise<void>;
}

export async function startManglingProxy(
  broker: { host: string; port: number },
  decide: (publisherId: number, seq: number) => Verdict,
): Promise<ManglingProxy> {
  const sockets = new Set<Socket>();
  const state = { dropped: 0, repeated: 0 };
  const server: Server = createServer((client) => {
    const upstream = connect(broker.port, broker.host);
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    const sink: FrameSink = {
      acceptHeader: () => true,
      onFrameError: () => client.destroy(),
      onFrame(h, buf, start, end) {
        const bytes = framePacket(h, buf.subarray(start, end));
        if (h >> 4 === 3 && ((h >> 1) & 3) === 0) {
          const topicLen = buf.readUInt16BE(start);
          const payload = start + 2 + topicLen;
          if (readHeader(buf, payload, end)) {
            const v = decide(header.publisherId, header.seq);
            if (v === 'drop') {
              state.dropped++;
              return true;
            }
            if (v === 'repeat') {
              state.repeated++;
              client.write(bytes);
            }
          }
        }
        client.write(bytes);
        return true;
      },
    };
    const reader = new FrameReader(sink);
    upstream.on('data', (chunk: Buffer) => reader.feed(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    get dropped() {
      return state.dropped;
    },
    get repeated() {
      return state.repeated;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
