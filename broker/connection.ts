/**
 * One client's network connection: framing of the bytes it sends, dispatch of each packet to its handler,
 * batched output (src/util/batch-writer.ts), flow control, and every way the connection can end.
 */
import type { Socket } from 'node:net';
import { RC, reasonName } from '../src/protocol/reason-codes.js';
import { FrameReader, MAX_PACKET_BYTES, type FrameSink } from '../src/protocol/frame-reader.js';
import { BatchWriter } from '../src/util/batch-writer.js';
import { dispatch } from './handlers/index.js';
import type { Broker } from './server.js';
import type { Session } from './session.js';
import { WireError } from './wire.js';

export const ConnState = {
  /** Socket open, no CONNECT yet. */
  New: 0,
  Connected: 1,
  /** Closing or closed: nothing more is read from it or routed to it. */
  Closed: 2,
} as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

/** Why a connection ended; decides the log line and whether the will is published. */
export const CloseReason = {
  /** DISCONNECT received (the handler has settled the will). */
  Disconnect: 0,
  /** The peer closed the socket without DISCONNECT. */
  PeerClosed: 1,
  SocketError: 2,
  KeepaliveTimeout: 3,
  TakenOver: 4,
  ProtocolError: 5,
  Malformed: 6,
  /** Refused at CONNECT (no session was attached). */
  Refused: 7,
  BrokerShutdown: 8,
  /** The broker ended it with a DISCONNECT of its own (e.g. packet too large). */
  ServerDisconnect: 9,
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];


export class Connection implements FrameSink {
  state: ConnState = ConnState.New;
  session: Session | null = null;
  clientId = '';
  /** 3, 4 or 5 once CONNECT has been read. */
  protocolVersion = 0;
  keepaliveMs = 0;
  lastRx: number;
  readonly connectedAt: number;

  // Limits the client declared in its v5 CONNECT.
  /** Receive Maximum: outgoing QoS 1/2 in flight [MQTT-3.3.4-7]. */
  receiveMaximum = 65535;
  /** Largest packet the client accepts. */
  maxPacketOut = MAX_PACKET_BYTES;
  /** Topic aliases the client accepts from us, and those assigned so far. */
  aliasOutMax = 0;
  aliasOut: Map<string, number> | null = null;
  /** Topic aliases the client has set towards us (index = alias). */
  aliasIn: (string | undefined)[] | null = null;
  /** v5 Request Problem Information: reason strings allowed on packets other than CONNACK/DISCONNECT/PUBLISH. */
  problemInfo = true;
  /** QoS 1/2 messages the broker may have in flight to this client at once. */
  inflightLimit = 65535;
  /** Largest packet accepted from this client (total bytes). */
  maxPacketIn: number;

  /** Framing of what the client sends; stopped while the connection is blocked. */
  private readonly reader: FrameReader;

  /** Output, flushed once per tick. */
  readonly writer: BatchWriter;

  private closeTimer: NodeJS.Timeout | null = null;

  /** Set while reading is paused because a subscriber's queue is full (flow control, see deliver.ts). */
  blockedOn: Session | null = null;

  constructor(
    readonly broker: Broker,
    readonly socket: Socket,
  ) {
    this.lastRx = Date.now();
    this.connectedAt = this.lastRx;
    this.maxPacketIn = broker.options.maxPacketSize > 0 ? broker.options.maxPacketSize : MAX_PACKET_BYTES;
    this.writer = new BatchWriter(socket, broker.flushQueue, broker.stats);
    this.reader = new FrameReader(this);
    this.reader.maxPacket = this.maxPacketIn;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.close(CloseReason.PeerClosed));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      // A reset is the peer going away, which Mosquitto reports as the client closing its connection.
      this.close(err.code === 'ECONNRESET' ? CloseReason.PeerClosed : CloseReason.SocketError),
    );
    socket.on('close', () => this.onSocketClosed());
  }

  private peer: string | null = null;

  /**
   * The client's "ip:port", looked up when first needed (log lines, authentication): asking the kernel for every
   * connection costs two system calls that a benchmark run at log level "error" never uses.
   */
  get address(): string {
    return (this.peer ??= peerAddress(this.socket));
  }

  /** Name used in log lines: the client id, or "<unknown>" before CONNECT. */
  get logId(): string {
    return this.clientId || '<unknown>';
  }

  get v5(): boolean {
    return this.protocolVersion === 5;
  }

  /** Set from CONNECT. MQTT 5 clients must write remaining lengths in their shortest form [MQTT-1.5.5-1]. */
  setProtocolVersion(version: number): void {
    this.protocolVersion = version;
    this.reader.minimalLengths = version === 5;
  }

  // ---- input ------------------------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.state === ConnState.Closed) return;
    this.lastRx = this.broker.clock = Date.now();
    this.broker.stats.bytesReceived += chunk.length;
    this.reader.feed(chunk);
  }

  acceptHeader(header: number): boolean {
    // [MQTT-3.1.0-1] judge the first packet by its first byte: do not wait for the body of something that is not a
    // CONNECT (its length may be anything).
    if (this.state === ConnState.New && header >> 4 !== 1) {
      this.fail(RC.ProtocolError, 'first packet is not CONNECT');
      return false;
    }
    return true;
  }

  onFrame(header: number, buf: Buffer, start: number, end: number): boolean {
    this.broker.stats.msgsReceived++;
    try {
      dispatch(this, header, buf, start, end);
    } catch (err) {
      if (err instanceof WireError) {
        this.fail(err.rc, err.message);
      } else {
        this.broker.logError(`Error handling packet from client ${this.logId}: ${(err as Error).stack ?? err}`);
        this.fail(RC.ImplementationSpecificError, 'internal error');
      }
    }
    // Stop at this packet boundary when closed or blocked; a blocked connection resumes in unblock().
    return this.state !== ConnState.Closed && this.blockedOn === null;
  }

  onFrameError(kind: 'malformed' | 'too-large', detail: string): void {
    // [MQTT-3.2.2-?] v5: a packet above the Maximum Packet Size the broker declared gets 0x95.
    this.fail(kind === 'too-large' ? RC.PacketTooLarge : RC.MalformedPacket, detail);
  }

  /** Stop reading this client until `session` has room (called by the broker). */
  block(session: Session): void {
    this.blockedOn = session;
    this.socket.pause();
  }

  unblock(): void {
    if (this.blockedOn === null) return;
    this.blockedOn = null;
    if (this.state === ConnState.Closed) return;
    this.lastRx = this.broker.clock;
    this.reader.resume();
    // resume() may have closed or re-blocked the connection.
    if (this.blockedOn === null && (this.state as ConnState) !== ConnState.Closed) this.socket.resume();
  }

  // ---- output -----------------------------------------------------------------------------------------------

  /** The slab packets are encoded into, at offsets from reserve(). */
  get out(): Buffer | null {
    return this.writer.out;
  }

  /** Reserve `n` bytes for one packet; returns the offset in `this.out` to write it at. */
  reserve(n: number): number {
    this.broker.stats.msgsSent++;
    return this.writer.reserve(n);
  }

  writeBytes(bytes: Buffer): void {
    const off = this.reserve(bytes.length);
    bytes.copy(this.writer.out!, off);
  }

  /** Bytes waiting to be written to this client. */
  get backlog(): number {
    return this.writer.backlog;
  }

  // ---- ending -----------------------------------------------------------------------------------------------

  /**
   * End the connection because of an error in what the client sent: v5 clients get a DISCONNECT with the reason
   * first [MQTT-4.13.1-1]; 3.1/3.1.1 clients are just closed [MQTT-4.8.0-1].
   */
  fail(rc: number, detail: string): void {
    if (this.state === ConnState.Closed) return;
    const log = this.broker.log;
    if (log.debug) log.line(`Client ${this.logId} protocol problem: ${detail} (${reasonName(rc)}).`);
    if (this.state === ConnState.Connected && this.v5) this.sendDisconnect(rc, this.problemInfo ? detail : undefined);
    this.close(rc === RC.MalformedPacket ? CloseReason.Malformed : rc === RC.PacketTooLarge ? CloseReason.ServerDisconnect : CloseReason.ProtocolError);
  }

  sendDisconnect(rc: number, reasonString?: string): void {
    const properties = reasonString ? { reasonString } : undefined;
    const bytes = this.broker.generate({ cmd: 'disconnect', reasonCode: rc, properties }, 5);
    // [MQTT-3.14.2-?] a reason string that would exceed the client's maximum packet size is left out.
    this.writeBytes(bytes.length > this.maxPacketOut ? this.broker.generate({ cmd: 'disconnect', reasonCode: rc }, 5) : bytes);
  }

  /** End this connection. Idempotent. Pending output is flushed before the socket closes. */
  close(reason: CloseReason): void {
    if (this.state === ConnState.Closed) return;
    const wasConnected = this.state === ConnState.Connected;
    this.state = ConnState.Closed;
    this.reader.kill();
    this.writer.finish();
    if (!this.socket.destroyed) {
      if (
        reason === CloseReason.PeerClosed ||
        reason === CloseReason.SocketError ||
        // The client said goodbye and is owed nothing more: close at once, as Mosquitto does, rather than
        // half-close and wait for its FIN. (Unread input would turn the close into a reset, which would only
        // matter if something were still on its way to the client.)
        (reason === CloseReason.Disconnect && this.socket.writableLength === 0)
      ) {
        this.socket.destroy();
      } else {
        this.socket.end();
        // A peer that never reads must not keep the socket alive.
        this.closeTimer = setTimeout(() => this.socket.destroy(), 2_000);
        this.closeTimer.unref();
      }
    }
    this.broker.connectionClosed(this, reason, wasConnected);
  }

  private onSocketClosed(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.close(CloseReason.PeerClosed);
    this.broker.socketGone(this);
  }
}

/** "ip:port" of the far end of `socket`, IPv4-mapped addresses written as plain IPv4. */
export function peerAddress(socket: Socket): string {
  return `${(socket.remoteAddress ?? '').replace(/^::ffff:/, '')}:${socket.remotePort}`;
}
