/**
 * A stand-in broker that measures the load generator's own ceiling. It acknowledges everything at once and, for every
 * PUBLISH a publisher sends, writes one PUBLISH (same payload size and sequence header, the subscriber's topic and
 * QoS) to every subscriber, copied from a pre-encoded template: no topic matching, no sessions, no per-message state,
 * so the generator meets the same traffic shape as with a real broker at a cost to the sink far below any broker's.
 * Acks from subscribers are read and dropped. Listens on a free loopback port and prints it on stdout.
 */
import { createServer, type Socket } from 'node:net';
import { PacketWalker, type PacketHandler } from './packet-walker.js';
import { ACK_FIRST_BYTE, PacketType, SEQ_HEADER_BYTES, encodePublishRun, makePayload, type PublishRun, type Qos } from './mqtt-wire.js';

const CONNACK = [0x20, 0x02, 0x00, 0x00];
const TYPE_CONNECT = 1;
const TYPE_SUBSCRIBE = 8;
const TYPE_PINGREQ = 12;
const TYPE_DISCONNECT = 14;

const subscribers = new Set<SinkConnection>();
const publishers = new Set<SinkConnection>();
/** Subscribers whose socket buffer is full: publishers are not read until it is 0 again. */
let blocked = 0;
let payloadBytes = -1;
let publishesReceived = 0;
/** Sequence headers of the PUBLISH packets in the read being handled, back to back. */
let headers = Buffer.allocUnsafe(64 * 1024);
let headerCount = 0;
/** Per read, the bytes for QoS 0 subscribers of one topic are built once and written to all of them. */
const shared = new Map<string, { pass: number; bytes: Buffer }>();
let readPass = 0;

class SinkConnection implements PacketHandler {
  private readonly walker = new PacketWalker(this);
  private replies: number[] = [];
  private publishesInRead = 0;
  private subscription: { topic: string; qos: Qos } | undefined;
  private template: PublishRun | undefined;
  private nextId = 1;
  private waitingForDrain = false;

  constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onClose());
  }

  onPacket(first: number, buf: Buffer, body: number, length: number): void {
    const type = first >> 4;
    if (type === PacketType.publish) {
      this.publishesInRead++;
      const qos = (first >> 1) & 3;
      const topicLength = (buf[body] << 8) | buf[body + 1];
      if (payloadBytes < 0) payloadBytes = length - 2 - topicLength - (qos > 0 ? 2 : 0);
      const payloadAt = body + 2 + topicLength + (qos > 0 ? 2 : 0);
      if ((headerCount + 1) * SEQ_HEADER_BYTES > headers.length) {
        const grown = Buffer.allocUnsafe(headers.length * 2);
        headers.copy(grown, 0, 0, headerCount * SEQ_HEADER_BYTES);
        headers = grown;
      }
      buf.copy(headers, headerCount * SEQ_HEADER_BYTES, payloadAt, payloadAt + SEQ_HEADER_BYTES);
      headerCount++;
      if (qos === 0) return;
      const idAt = body + 2 + topicLength;
      this.replies.push(qos === 1 ? ACK_FIRST_BYTE.puback : ACK_FIRST_BYTE.pubrec, 2, buf[idAt], buf[idAt + 1]);
    } else if (type === PacketType.pubrel) {
      this.replies.push(ACK_FIRST_BYTE.pubcomp, 2, buf[body], buf[body + 1]);
    } else if (type === TYPE_CONNECT) {
      this.replies.push(...CONNACK);
    } else if (type === TYPE_SUBSCRIBE) {
      const filterLength = (buf[body + 2] << 8) | buf[body + 3];
      const qos = Math.min(2, buf[body + 4 + filterLength] & 3) as Qos;
      this.replies.push(0x90, 3, buf[body], buf[body + 1], qos);
      this.subscription = { topic: buf.toString('utf8', body + 4, body + 4 + filterLength), qos };
      subscribers.add(this);
    } else if (type === TYPE_PINGREQ) {
      this.replies.push(0xd0, 0);
    } else if (type === TYPE_DISCONNECT) {
      this.socket.end();
    }
  }

  /** Writes this read's PUBLISH packets (their sequence headers in `headers`) to this subscriber. */
  deliver(count: number): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    const full = !this.socket.write(this.build(count));
    if (full && !this.waitingForDrain) {
      this.waitingForDrain = true;
      if (blocked++ === 0) for (const p of publishers) p.socket.pause();
    }
  }

  private build(count: number): Buffer {
    const { topic, qos } = this.subscription!;
    const key = `${qos} ${topic}`;
    const reuse = qos === 0 ? shared.get(key) : undefined;
    if (reuse !== undefined && reuse.pass === readPass) return reuse.bytes;
    const t = (this.template ??= encodePublishRun(topic, makePayload(Math.max(SEQ_HEADER_BYTES, payloadBytes)), qos, 1));
    const size = t.packetSize;
    const bytes = Buffer.allocUnsafe(count * size);
    for (let i = 0; i < count; i++) {
      const at = i * size;
      t.bytes.copy(bytes, at);
      headers.copy(bytes, at + t.payloadAt, i * SEQ_HEADER_BYTES, (i + 1) * SEQ_HEADER_BYTES);
      if (qos > 0) {
        bytes[at + t.idAt] = this.nextId >>> 8;
        bytes[at + t.idAt + 1] = this.nextId & 0xff;
        this.nextId = this.nextId === 65535 ? 1 : this.nextId + 1;
      }
    }
    if (qos === 0) shared.set(key, { pass: readPass, bytes });
    return bytes;
  }

  private onData(chunk: Buffer): void {
    headerCount = 0;
    this.walker.feed(chunk, 0, chunk.length);
    if (this.replies.length > 0) {
      this.socket.write(Buffer.from(this.replies));
      this.replies = [];
    }
    const count = this.publishesInRead;
    if (count === 0) return;
    this.publishesInRead = 0;
    publishesReceived += count;
    if (!publishers.has(this)) {
      publishers.add(this);
      if (blocked > 0) this.socket.pause();
    }
    readPass++;
    for (const s of subscribers) s.deliver(count);
  }

  private onDrain(): void {
    if (!this.waitingForDrain) return;
    this.waitingForDrain = false;
    if (--blocked === 0) for (const p of publishers) p.socket.resume();
  }

  private onClose(): void {
    subscribers.delete(this);
    publishers.delete(this);
    this.onDrain();
  }
}

const server = createServer((socket) => new SinkConnection(socket));
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
const stop = (): void => {
  process.stderr.write(`sink: ${publishesReceived} PUBLISH packets received\n`);
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
