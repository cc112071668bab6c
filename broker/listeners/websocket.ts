/**
 * MQTT over WebSocket, server side (RFC 6455, MQTT §6): the upgrade (any path, subprotocol `mqtt` or `mqttv3.1`, as
 * Mosquitto accepts), then a stream of binary frames turned into the byte stream a connection reads, and its writes
 * turned into frames. Frames are parsed as they arrive — a payload is handed on in pieces, never held whole — so a
 * client cannot make the broker buffer a large message, and a frame cut into single bytes works like any other.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Subprotocols offered by MQTT clients, in the order they are preferred [MQTT-6.0.0-3]. */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

/** Close codes (RFC 6455 §7.4.1). */
const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_UNSUPPORTED_DATA = 1003;

/**
 * Answer an upgrade request: the 101 response and a link over the socket, or a 400 response naming what is wrong
 * (and undefined).
 */
export function acceptUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): WsLink | string {
  const problem = upgradeProblem(req);
  if (typeof problem === 'string') {
    const body = `${problem}\n`;
    socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    return problem;
  }
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${GUID}`).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${problem.protocol}\r\n\r\n`,
  );
  return new WsLink(socket, head);
}

function upgradeProblem(req: IncomingMessage): string | { protocol: string } {
  if (req.method !== 'GET') return `a WebSocket upgrade is a GET, not ${req.method}`;
  const h = req.headers;
  if ((h.upgrade ?? '').toLowerCase() !== 'websocket') return 'Upgrade: websocket expected';
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(h.connection ?? '')) return 'Connection: Upgrade expected';
  if (h['sec-websocket-version'] !== '13') return 'Sec-WebSocket-Version: 13 expected';
  const key = h['sec-websocket-key'] ?? '';
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return 'Sec-WebSocket-Key is not 16 bytes of base64';
  const offered = (h['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const protocol = SUBPROTOCOLS.find((p) => offered.includes(p));
  if (protocol === undefined) return 'MQTT over WebSocket needs the "mqtt" subprotocol (Sec-WebSocket-Protocol: mqtt)';
  return { protocol };
}

const enum State {
  Header,
  Payload,
  Closed,
}

/**
 * One WebSocket connection as the byte stream of its binary messages, with the surface of a socket the broker's
 * connection uses: 'data', 'end', 'error', 'close' events, write, pause, resume, end, destroy.
 */
export class WsLink extends EventEmitter {
  private state = State.Header;
  /** The frame header being read (at most 14 bytes). */
  private readonly header = Buffer.alloc(14);
  private headerLen = 0;
  private opcode = 0;
  private fin = false;
  private readonly mask = Buffer.alloc(4);
  private maskPos = 0;
  private remaining = 0;
  /** A fragmented binary message is in progress (continuation frames may follow). */
  private inMessage = false;
  /** Payload of the control frame being read. */
  private control: Buffer | null = null;
  private controlLen = 0;
  private closeSent = false;

  constructor(
    private readonly socket: Socket,
    head: Buffer,
  ) {
    super();
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    socket.on('end', () => this.emit('end'));
    socket.on('error', (err) => this.emit('error', err));
    socket.on('close', () => {
      this.state = State.Closed;
      this.emit('close');
    });
    if (head.length > 0) queueMicrotask(() => this.onChunk(head));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** The underlying socket (TLS details of a wss connection). */
  get raw(): Socket {
    return this.socket;
  }

  /** One binary frame holding `data` [MQTT-6.0.0-1]. */
  write(data: Buffer): boolean {
    if (this.closeSent || this.socket.destroyed) return false;
    const socket = this.socket;
    socket.cork();
    socket.write(frameHeader(0x82, data.length));
    const ok = socket.write(data);
    socket.uncork();
    return ok;
  }

  pause(): this {
    this.socket.pause();
    return this;
  }

  resume(): this {
    this.socket.resume();
    return this;
  }

  /** Close handshake, then the socket ends once what was written has gone. */
  end(): this {
    this.sendClose(CLOSE_NORMAL);
    this.socket.end();
    return this;
  }

  destroy(): this {
    this.state = State.Closed;
    this.socket.destroy();
    return this;
  }

  private sendClose(code: number): void {
    if (this.closeSent || this.socket.destroyed) return;
    this.closeSent = true;
    const body = Buffer.alloc(2);
    body.writeUInt16BE(code);
    this.socket.write(Buffer.concat([frameHeader(0x88, 2), body]));
  }

  /** The peer broke the protocol: close with `code` and report it as a socket error. */
  private fail(code: number, why: string): void {
    this.state = State.Closed;
    this.sendClose(code);
    this.socket.end();
    this.emit('error', Object.assign(new Error(`WebSocket: ${why}`), { code: 'EWSPROTO' }));
  }

  private onChunk(chunk: Buffer): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n && this.state !== State.Closed) {
      if (this.state === State.Header) {
        pos = this.readHeader(chunk, pos);
        continue;
      }
      const take = Math.min(this.remaining, n - pos);
      this.unmask(chunk, pos, take);
      this.remaining -= take;
      if (this.control !== null) {
        chunk.copy(this.control, this.controlLen, pos, pos + take);
        this.controlLen += take;
      } else if (take > 0) {
        this.emit('data', chunk.subarray(pos, pos + take));
      }
      pos += take;
      if (this.remaining === 0) this.endFrame();
    }
  }

  /** Read header bytes from chunk[pos...]; returns the new position. */
  private readHeader(chunk: Buffer, pos: number): number {
    const h = this.header;
    while (pos < chunk.length && this.headerLen < 2) h[this.headerLen++] = chunk[pos++];
    if (this.headerLen < 2) return pos;
    const b0 = h[0];
    const b1 = h[1];
    if ((b0 & 0x70) !== 0) return this.failAt(CLOSE_PROTOCOL_ERROR, 'reserved bits set (no extension was agreed)');
    // RFC 6455 §5.1: a server closes the connection on an unmasked client frame.
    if ((b1 & 0x80) === 0) return this.failAt(CLOSE_PROTOCOL_ERROR, 'client frame not masked');
    const need = this.headerNeed();
    while (pos < chunk.length && this.headerLen < need) h[this.headerLen++] = chunk[pos++];
    if (this.headerLen < need) return pos;
    this.fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    let len = b1 & 0x7f;
    let at = 2;
    if (len === 126) {
      len = h.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      const hi = h.readUInt32BE(2);
      if (hi > 0x1fffff) return this.failAt(CLOSE_PROTOCOL_ERROR, 'frame length beyond 2^53');
      len = hi * 2 ** 32 + h.readUInt32BE(6);
      at = 10;
    }
    h.copy(this.mask, 0, at, at + 4);
    this.maskPos = 0;
    this.remaining = len;
    this.headerLen = 0;
    if (opcode >= 8) {
      if (opcode > 10) return this.failAt(CLOSE_PROTOCOL_ERROR, `unknown control opcode ${opcode}`);
      if (!this.fin || len > 125) return this.failAt(CLOSE_PROTOCOL_ERROR, 'control frame fragmented or longer than 125 bytes');
      this.control = Buffer.alloc(len);
      this.controlLen = 0;
    } else if (opcode === 1) {
      // [MQTT-6.0.0-1] MQTT travels in binary frames only; anything else closes the connection.
      return this.failAt(CLOSE_UNSUPPORTED_DATA, 'text frame (MQTT is sent in binary frames)');
    } else if (opcode === 2) {
      if (this.inMessage) return this.failAt(CLOSE_PROTOCOL_ERROR, 'new message before the last one finished');
      this.inMessage = !this.fin;
    } else if (opcode === 0) {
      if (!this.inMessage) return this.failAt(CLOSE_PROTOCOL_ERROR, 'continuation frame outside a message');
      if (this.fin) this.inMessage = false;
    } else {
      return this.failAt(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
    }
    this.opcode = opcode;
    this.state = State.Payload;
    if (len === 0) this.endFrame();
    return pos;
  }

  private failAt(code: number, why: string): number {
    this.fail(code, why);
    return Number.MAX_SAFE_INTEGER;
  }

  /** Header bytes of the frame whose first two bytes are read: length and mask included. */
  private headerNeed(): number {
    const len = this.header[1] & 0x7f;
    return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + 4;
  }

  private unmask(buf: Buffer, start: number, n: number): void {
    const mask = this.mask;
    let m = this.maskPos;
    for (let i = start, end = start + n; i < end; i++) {
      buf[i] ^= mask[m];
      m = (m + 1) & 3;
    }
    this.maskPos = m;
  }

  private endFrame(): void {
    this.state = State.Header;
    const control = this.control;
    if (control === null) return;
    this.control = null;
    if (this.opcode === 9) {
      // Ping: pong with the same payload.
      if (!this.closeSent && !this.socket.destroyed) this.socket.write(Buffer.concat([frameHeader(0x8a, control.length), control]));
    } else if (this.opcode === 8) {
      // The client closes: answer, and the connection ends as if its socket had.
      this.state = State.Closed;
      this.sendClose(control.length >= 2 ? control.readUInt16BE(0) : CLOSE_NORMAL);
      this.socket.end();
      this.emit('end');
    }
  }
}

/** A server frame header (unmasked): FIN + opcode in `b0`, then the length. */
function frameHeader(b0: number, len: number): Buffer {
  if (len < 126) return Buffer.from([b0, len]);
  if (len < 65_536) {
    const h = Buffer.alloc(4);
    h[0] = b0;
    h[1] = 126;
    h.writeUInt16BE(len, 2);
    return h;
  }
  const h = Buffer.alloc(10);
  h[0] = b0;
  h[1] = 127;
  h.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
  h.writeUInt32BE(len >>> 0, 6);
  return h;
}
