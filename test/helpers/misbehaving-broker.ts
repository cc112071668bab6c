/**
 * A TCP server that speaks just enough MQTT to accept clients and then misbehaves in one chosen way: it never sends
 * SUBACK or PUBACK, answers a SUBSCRIBE with 200,000 return codes, sends DISCONNECT to a 3.1.1 client, starts a huge
 * packet and never finishes it, or goes silent after CONNACK (as when the network drops without a FIN). For tests
 * that a run ends, with the right errors, whatever the broker does.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { generate } from 'mqtt-packet';
import { FrameReader } from '../../src/protocol/frame-reader.js';

export type Misbehaviour = 'no-suback' | 'no-puback' | 'suback-200k' | 'disconnect-311' | 'unfinished-packet' | 'silent';

export interface MisbehavingBroker {
  port: number;
  /** Packets of each type received (by first-byte type). */
  received: Map<number, number>;
  stop(): Promise<void>;
}

export async function startMisbehavingBroker(how: Misbehaviour): Promise<MisbehavingBroker> {
  const sockets = new Set<Socket>();
  const received = new Map<number, number>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let silent = false;
    const reader = new FrameReader({
      acceptHeader: () => true,
      onFrameError: () => socket.destroy(),
      onFrame(header, buf, start, end) {
        const type = header >> 4;
        received.set(type, (received.get(type) ?? 0) + 1);
        if (silent) return true;
        const id = end - start >= 2 ? (buf[start] << 8) | buf[start + 1] : 0;
        switch (type) {
          case 1:
            socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
            if (how === 'silent') silent = true;
            if (how === 'disconnect-311') socket.write(Buffer.from([0xe0, 0x00]));
            // A PUBLISH announcing 100 MB, of which only the topic arrives.
            if (how === 'unfinished-packet') socket.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x32, 0x00, 0x01, 0x74]));
            break;
          case 3: {
            const qos = (header >> 1) & 3;
            if (qos === 0 || how === 'no-puback') break;
            const tLen = (buf[start] << 8) | buf[start + 1];
            const p = start + 2 + tLen;
            const packetId = (buf[p] << 8) | buf[p + 1];
            socket.write(generate({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: packetId }));
            break;
          }
          case 6:
            socket.write(generate({ cmd: 'pubcomp', messageId: id }));
            break;
          case 8:
            if (how === 'no-suback') break;
            if (how === 'suback-200k') {
              const body = Buffer.alloc(2 + 200_000);
              body.writeUInt16BE(id, 0);
              socket.write(Buffer.concat([Buffer.from([0x90, 0xc2, 0x9a, 0x0c]), body]));
              break;
            }
            socket.write(generate({ cmd: 'suback', messageId: id, granted: [1] }));
            break;
          case 12:
            socket.write(Buffer.from([0xd0, 0x00]));
            break;
          case 14:
            socket.end();
            break;
          default:
            break;
        }
        return true;
      },
    });
    socket.on('data', (d) => reader.feed(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
