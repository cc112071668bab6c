/**
 * Node's platform floor for the connection rows: a bare `net` server that holds sockets and answers just enough MQTT
 * for the generator's clients (CONNECT → CONNACK, SUBSCRIBE → SUBACK with one code per filter, PINGREQ → PINGRESP,
 * DISCONNECT → close), keeping no state of its own per connection: what a Node.js broker cannot go below. Everything
 * else is read and discarded. Listens on a free loopback port and prints it on stdout.
 */
import { createServer, type Socket } from 'node:net';

const TYPE_CONNECT = 1;
const TYPE_SUBSCRIBE = 8;
const TYPE_PINGREQ = 12;
const TYPE_DISCONNECT = 14;
const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);

/** Bytes of a packet cut by a read boundary, for the few sockets that have one. */
const carries = new Map<Socket, Buffer>();

/** One listener function for every socket (`this` is the socket), so a connection costs no closure. */
function onData(this: Socket, chunk: Buffer): void {
  let buf = chunk;
  const carried = carries.get(this);
  if (carried !== undefined) {
    carries.delete(this);
    buf = Buffer.concat([carried, chunk]);
  }
  let pos = 0;
  while (pos < buf.length) {
    const first = buf[pos];
    let i = pos + 1;
    let length = 0;
    let multiplier = 1;
    let complete = false;
    while (i < buf.length && i - pos <= 4) {
      const b = buf[i++];
      length += (b & 0x7f) * multiplier;
      multiplier *= 128;
      if ((b & 0x80) === 0) {
        complete = true;
        break;
      }
    }
    if (!complete || i + length > buf.length) {
      if (i - pos > 4) {
        this.destroy();
        return;
      }
      carries.set(this, Buffer.from(buf.subarray(pos)));
      return;
    }
    answer(this, first >> 4, buf, i, length);
    pos = i + length;
  }
}

function answer(socket: Socket, type: number, buf: Buffer, body: number, length: number): void {
  switch (type) {
    case TYPE_CONNECT:
      socket.write(CONNACK);
      break;
    case TYPE_SUBSCRIBE: {
      // Packet id, then (filter, options) pairs: one return code per filter, the QoS asked for.
      const codes: number[] = [];
      let at = body + 2;
      const end = body + length;
      while (at + 2 < end) {
        const filterLength = (buf[at] << 8) | buf[at + 1];
        at += 2 + filterLength;
        codes.push(Math.min(2, buf[at] & 3));
        at++;
      }
      socket.write(Buffer.from([0x90, 2 + codes.length, buf[body], buf[body + 1], ...codes]));
      break;
    }
    case TYPE_PINGREQ:
      socket.write(PINGRESP);
      break;
    case TYPE_DISCONNECT:
      socket.end();
      break;
  }
}

function onError(this: Socket): void {
  this.destroy();
}

function onClose(this: Socket): void {
  carries.delete(this);
}

const server = createServer({ noDelay: true }, (socket) => {
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onClose);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
const stop = (): void => process.exit(0);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
