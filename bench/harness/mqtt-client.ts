/**
 * A minimal, correct MQTT client over a raw socket (mqtt-packet for the encoding): send packets, await matching
 * ones, every wait bounded. The well-behaved clients and the probes of the fuzzer and of bench:abuse are built on it.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { generate, parser as createParser, type IConnectPacket, type Packet } from 'mqtt-packet';
import { waitForEvent } from './socket-events.js';

export type MqttVersion = 3 | 4 | 5;

interface PacketWaiter {
  match: (p: Packet) => boolean;
  resolve: (p: Packet) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface OpenOptions {
  host: string;
  port: number;
  connect: IConnectPacket;
  /** Used in every error message. */
  name: string;
  /** Time for the TCP connection and the CONNACK together. */
  timeoutMs: number;
  /** In place before CONNECT leaves: queued messages may share a TCP segment with the CONNACK. */
  onPacket?: (client: MqttClient, p: Packet) => void;
}

export class MqttClient {
  /** Set when the connection ends; says who ended it. */
  closedReason: string | undefined;
  /** performance.now() when the socket closed. */
  closedAt: number | undefined;
  onPacket: ((p: Packet) => void) | undefined;
  /** Bytes handed to the socket so far. */
  bytesWritten = 0;
  private readonly waiters: PacketWaiter[] = [];
  private hangingUp = false;

  private constructor(
    readonly name: string,
    readonly version: MqttVersion,
    readonly socket: Socket,
  ) {
    const decoder = createParser({ protocolVersion: version });
    decoder.on('packet', (p: Packet) => this.dispatch(p));
    decoder.on('error', (err: Error) => {
      this.fail(`${name}: undecodable packet from the broker: ${err.message}`);
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => decoder.parse(chunk));
    socket.on('error', (err) => this.fail(`${name}: socket error: ${err.message}`));
    socket.on('close', () => {
      this.closedAt = performance.now();
      this.fail(`${name}: closed by the ${this.hangingUp ? 'client' : 'broker'}`);
    });
  }

  /** Connects and sends CONNECT; resolves with the client and its CONNACK (whatever its code). */
  static async open(options: OpenOptions): Promise<[MqttClient, Packet]> {
    const version = (options.connect.protocolVersion ?? 4) as MqttVersion;
    const socket = netConnect({ host: options.host, port: options.port });
    socket.setNoDelay(true);
    const client = new MqttClient(options.name, version, socket);
    const onPacket = options.onPacket;
    if (onPacket) client.onPacket = (p) => onPacket(client, p);
    const connack = client.next((p) => p.cmd === 'connack', options.timeoutMs, 'CONNACK');
    client.send(options.connect);
    try {
      return [client, await connack];
    } catch (err) {
      client.destroy();
      throw err;
    }
  }

  get open(): boolean {
    return this.closedReason === undefined;
  }

  /** Encodes and writes `packet`; false when the socket's buffer is full (see drain()). */
  send(packet: Packet): boolean {
    return this.write(generate(packet, { protocolVersion: this.version }));
  }

  write(bytes: Buffer): boolean {
    if (this.closedReason !== undefined) return false;
    this.bytesWritten += bytes.length;
    return this.socket.write(bytes);
  }

  /** Waits until the socket's buffer has room, the connection ends, or `timeoutMs` passes; true if there is room. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (!this.socket.writableNeedDrain) return this.open;
    return (await waitForEvent(this.socket, ['drain', 'close'], timeoutMs)) === 'drain';
  }

  next(match: (p: Packet) => boolean, timeoutMs: number, what: string): Promise<Packet> {
    if (this.closedReason !== undefined) return Promise.reject(new Error(`${this.closedReason} (waiting for ${what})`));
    return new Promise((resolve, reject) => {
      const waiter: PacketWaiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Waits for the broker to close the connection; true if it did within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    if (this.closedReason !== undefined) return true;
    return (await waitForEvent(this.socket, ['close'], timeoutMs)) === 'close';
  }

  /** Stops reading the socket for good: what the broker sends piles up in the kernel's buffers, then in the broker. */
  stopReading(): void {
    this.socket.pause();
  }

  /** DISCONNECT, then wait (bounded) for the broker to close the connection. */
  async disconnect(timeoutMs = 2_000): Promise<void> {
    if (this.closedReason !== undefined) return;
    this.send(this.version === 5 ? { cmd: 'disconnect', reasonCode: 0 } : { cmd: 'disconnect' });
    this.hangingUp = true;
    this.socket.end();
    if ((await waitForEvent(this.socket, ['close'], timeoutMs)) === 'timeout') this.socket.destroy();
  }

  /** Drops the connection without DISCONNECT (a will is published). */
  destroy(): void {
    this.hangingUp = true;
    this.socket.destroy();
  }

  private dispatch(p: Packet): void {
    this.onPacket?.(p);
    const i = this.waiters.findIndex((w) => w.match(p));
    if (i < 0) return;
    const [w] = this.waiters.splice(i, 1);
    clearTimeout(w.timer);
    w.resolve(p);
  }

  private fail(reason: string): void {
    this.closedReason ??= reason;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(reason));
    }
  }
}

/** The CONNACK's result code, whichever protocol version carried it. */
export function connackCode(p: Packet): number | undefined {
  if (p.cmd !== 'connack') return undefined;
  return p.reasonCode ?? p.returnCode;
}
