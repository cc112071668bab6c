/**
 * A broker broken on purpose: a TCP proxy in front of a correct broker that changes, drops, holds back or adds
 * packets on their way in either direction, so a test can show which conformance checks a given bug makes fail.
 *
 * Packets are framed by their remaining length and handed to the breakage as bytes (decoded on request at the
 * connection's protocol level, read from its CONNECT). Bytes the proxy cannot frame pass through unchanged.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import mqtt, { type Packet } from 'mqtt-packet';
import { framePacket, takeFrame } from '../../src/protocol/varint.js';

export interface Frame {
  /** First byte of the packet. */
  header: number;
  /** Packet type (header >> 4). */
  type: number;
  body: Buffer;
  /** The whole packet as it came. */
  bytes: Buffer;
  /** Decoded at the connection's protocol level; undefined when mqtt-packet refuses it. */
  decode(): Packet | undefined;
}

/** What goes on instead of a packet: nothing, bytes, or bytes held back for a while (later packets wait behind). */
export type Passed = Buffer | null | { bytes: Buffer; holdMs: number };

export interface ProxyLink {
  /** Protocol level of the client's CONNECT (3, 4 or 5); 0 before it. */
  level: number;
  /** When the last complete packet from the client arrived (Date.now()). */
  lastFromClient: number;
  /** Anything a breakage wants to remember about this connection. */
  readonly state: Map<string, unknown>;
  toClient(bytes: Buffer): void;
  toBroker(bytes: Buffer): void;
  /** Ends both sides, as a broker closing the connection. */
  close(): void;
  /** Encodes a packet at this connection's level. */
  encode(packet: Packet): Buffer;
}

export interface Breakage {
  /** A packet on its way from the broker to the client (default: passed on unchanged). */
  fromBroker?(frame: Frame, link: ProxyLink): Passed;
  /** A packet on its way from the client to the broker (default: passed on unchanged). */
  fromClient?(frame: Frame, link: ProxyLink): Passed;
  /** A new connection; return a function to call when it ends (to stop timers). */
  onOpen?(link: ProxyLink): (() => void) | void;
  /** The broker closing a connection never reaches the client: its side stays open and silent. */
  keepOpen?: boolean;
}

export interface BreakingProxy {
  host: string;
  port: number;
  close(): Promise<void>;
}


function decodeAt(level: number, bytes: Buffer): Packet | undefined {
  const parser = mqtt.parser({ protocolVersion: level === 5 ? 5 : 4 });
  let out: Packet | undefined;
  parser.on('packet', (p: Packet) => {
    out = p;
  });
  parser.on('error', () => {
    out = undefined;
  });
  parser.parse(bytes);
  return out;
}

/** Reads packets from a byte stream and passes what `handle` returns on to `write`, in order, holding back as told. */
class Pipe {
  private pending: Buffer = Buffer.alloc(0);
  private raw = false;
  private queue: Array<{ bytes: Buffer; at: number }> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly handle: (frame: Frame) => Passed,
    private readonly write: (bytes: Buffer) => void,
    private readonly level: () => number,
  ) {}

  feed(chunk: Buffer): void {
    if (this.raw) return this.push(chunk, 0);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const n = takeFrame(this.pending);
      if (n === undefined) return;
      if (n === null) {
        // Not framable: from here on, bytes go through as they are.
        this.raw = true;
        this.push(this.pending, 0);
        this.pending = Buffer.alloc(0);
        return;
      }
      const bytes = this.pending.subarray(0, n);
      this.pending = this.pending.subarray(n);
      let start = 1;
      while (bytes[start] & 0x80) start++;
      const level = this.level();
      const frame: Frame = {
        header: bytes[0],
        type: bytes[0] >> 4,
        body: bytes.subarray(start + 1),
        bytes,
        decode: () => decodeAt(level, bytes),
      };
      const out = this.handle(frame);
      if (out === null) continue;
      if (Buffer.isBuffer(out)) this.push(out, 0);
      else this.push(out.bytes, out.holdMs);
    }
  }

  private push(bytes: Buffer, holdMs: number): void {
    if (this.queue.length === 0 && holdMs <= 0) {
      this.write(bytes);
      return;
    }
    this.queue.push({ bytes, at: Date.now() + holdMs });
    this.pump();
  }

  private pump(): void {
    if (this.timer) return;
    while (this.queue.length > 0 && this.queue[0].at <= Date.now()) this.write(this.queue.shift()!.bytes);
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, this.queue[0].at - Date.now());
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
  }
}

/** The protocol level a CONNECT body names (after the protocol name). */
function connectLevel(body: Buffer): number {
  if (body.length < 3) return 0;
  const nameLength = body.readUInt16BE(0);
  return body[2 + nameLength] ?? 0;
}

export async function startBreakingProxy(broker: { host: string; port: number }, breakage: Breakage): Promise<BreakingProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(broker.port, broker.host);
    sockets.add(client).add(upstream);
    const link: ProxyLink = {
      level: 0,
      lastFromClient: Date.now(),
      state: new Map(),
      toClient: (bytes) => {
        if (!client.destroyed) client.write(bytes);
      },
      toBroker: (bytes) => {
        if (!upstream.destroyed) upstream.write(bytes);
      },
      close: () => {
        client.destroy();
        upstream.destroy();
      },
      encode: (packet) => mqtt.generate(packet, { protocolVersion: link.level === 5 ? 5 : 4 }),
    };
    const fromClient = new Pipe(
      (frame) => {
        link.lastFromClient = Date.now();
        if (frame.type === 1 && link.level === 0) link.level = connectLevel(frame.body);
        return breakage.fromClient ? breakage.fromClient(frame, link) : frame.bytes;
      },
      link.toBroker,
      () => link.level,
    );
    const fromBroker = new Pipe((frame) => (breakage.fromBroker ? breakage.fromBroker(frame, link) : frame.bytes), link.toClient, () => link.level);
    const ended = breakage.onOpen?.(link);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      fromClient.stop();
      fromBroker.stop();
      ended?.();
    };
    client.on('data', (d: Buffer) => fromClient.feed(d));
    upstream.on('data', (d: Buffer) => fromBroker.feed(d));
    upstream.on('close', () => {
      if (!breakage.keepOpen) {
        client.destroy();
        finish();
      }
    });
    client.on('close', () => {
      upstream.destroy();
      finish();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const a = server.address();
  return {
    host: '127.0.0.1',
    port: typeof a === 'object' && a ? a.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Re-frames a packet from its first byte and body (after changing either). */
export function reframe(header: number, body: Buffer): Buffer {
  return framePacket(header, body);
}
