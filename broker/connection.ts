/**
 * One client's network connection: framing of the bytes it sends (partial packets charged to the broker's budget),
 * dispatch of each packet to its handler inside the core's guard, batched output, keep-alive bookkeeping, and every
 * way the connection can end.
 */
import mqtt from 'mqtt-packet';
import { RC, reasonName } from '../src/protocol/reason-codes.js';
import { FrameReader, MAX_PACKET_BYTES, type ByteBudget, type FrameLimits, type FrameSink } from '../src/protocol/frame-reader.js';
import { BatchWriter, type ByteSink, type FlushQueue } from '../src/util/batch-writer.js';
import type { BrokerOptions } from './options.js';
import type { SecurityDomain } from './auth/security.js';
import type { Client, Credentials } from './core/client.js';
import type { Core } from './core/core.js';
import { capReason } from './core/encode.js';
import { CloseReason, ConnState, type AckTicket, type AliasesOut } from './core/outlet.js';
import type { Session } from './core/session.js';
import { dispatch } from './handlers/index.js';
import { OutputGate } from './persist/output-gate.js';
import { WireError } from './wire.js';

/** Most bytes before the payload of a PUBLISH: topic (2 + 65,535), packet id (2), and 64 KiB of properties. */
const PUBLISH_OVERHEAD = 2 + 65_535 + 2 + 4 + 65_536;
/** A peer that never reads its socket does not keep a closing connection alive beyond this. */
const CLOSE_GRACE_MS = 2_000;

/**
 * The socket under a connection: TCP, TLS, or a WebSocket link (broker/listeners/websocket.ts) with the same
 * surface.
 */
export interface ClientSocket extends ByteSink, NodeJS.EventEmitter {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  pause(): this;
  resume(): this;
  end(): this;
  destroy(): this;
}

/** What a connection knows of the listener that accepted it. */
export interface ListenerSide {
  security: SecurityDomain;
  certIdentity: string | null | undefined;
}

/** What a connection needs from the broker that accepted it. */
export interface ConnectionHost {
  readonly core: Core;
  readonly flushQueue: FlushQueue;
  /** What the connections' readers accept: from any client, and from an MQTT 5 one. */
  readonly frameLimits: ConnectionFrameLimits;
  /** The socket is closed for good: forget the connection. */
  connectionGone(conn: Connection): void;
}

export interface ConnectionFrameLimits {
  readonly any: FrameLimits;
  readonly v5: FrameLimits;
}

/** The frame limits of a broker's connections under `o`, charging partial packets to `budget`. */
export function connectionFrameLimits(o: BrokerOptions, budget: ByteBudget): ConnectionFrameLimits {
  const maxPacket = o.maxPacketSize > 0 ? o.maxPacketSize : MAX_PACKET_BYTES;
  // A PUBLISH whose length alone proves its payload is over message_size_limit is refused before it arrives.
  const maxPublish = o.messageSizeLimit > 0 ? Math.min(maxPacket, 5 + PUBLISH_OVERHEAD + o.messageSizeLimit) : MAX_PACKET_BYTES;
  return {
    any: { maxPacket, maxPublish, minimalLengths: false, budget },
    // MQTT 5 clients must write remaining lengths in their shortest form [MQTT-1.5.5-1].
    v5: { maxPacket, maxPublish, minimalLengths: true, budget },
  };
}

/** With persistence: a connection's output gate, and whether its reading waits for the store to catch up. */
class StoreLink {
  /** Waiting for the store to drain: the socket is paused. */
  waiting = false;
  drained: (() => void) | null = null;
  /** The store's count of appended records when this client's last packet began to be handled. */
  frameAppended = -1;
  constructor(readonly gate: OutputGate) {}
}

/**
 * A connection is the batched writer of its own output (see src/util/batch-writer.ts) and holds a frame reader only
 * while it has bytes to frame: an idle client costs the broker one object here.
 */
export class Connection extends BatchWriter implements Client, FrameSink {
  state: ConnState = ConnState.New;
  session: Session | null = null;
  clientId = '';
  protocolVersion = 0;
  keepaliveMs = 0;
  /**
   * When the last complete packet arrived (partial packets are not activity [MQTT-3.1.2-24]) and when the socket
   * opened: ms since the broker started, which stay small integers stored in the object (a Date.now() value would take
   * a boxed number per field per connection).
   */
  private rx: number;
  private readonly opened: number;

  // Limits the client declared in its v5 CONNECT.
  maxPacketOut = MAX_PACKET_BYTES;
  aliasOut: AliasesOut | null = null;
  aliasIn: (string | undefined)[] | null = null;
  problemInfo = true;
  inflightLimit = 65535;
  heldAcks: AckTicket[] | null = null;
  readonly security: SecurityDomain;
  readonly certIdentity: string | null | undefined;
  username: string | undefined = undefined;
  credentials: Credentials | null = null;

  /**
   * Framing of what the client sends: made when bytes arrive, dropped by trim() while it holds nothing (most clients
   * of a large test are idle most of the time).
   */
  private reader: FrameReader | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private peer: string | null = null;
  /** A handler is still working on this client's last packet (pauseInput). */
  private inputPaused = false;
  /** With persistence: output waiting for the disk, and reading waiting for the store; null without. */
  private readonly store: StoreLink | null;

  constructor(
    private readonly host: ConnectionHost,
    readonly socket: ClientSocket,
    side: ListenerSide,
  ) {
    const durable = host.core.durable;
    const gate = durable !== null ? new OutputGate(socket, durable) : null;
    super(gate ?? socket, host.flushQueue);
    this.store = gate !== null ? new StoreLink(gate) : null;
    this.security = side.security;
    this.certIdentity = side.certIdentity;
    const core = host.core;
    this.rx = core.clock - core.startedAt;
    this.opened = this.rx;
    // The same four listener functions serve every connection (no closures per connection): each finds its
    // connection on the socket.
    (socket as BrokerSocket)[CONNECTION] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  /**
   * The client's "ip:port", looked up when first needed (log lines, authentication): asking the kernel for every
   * connection costs two system calls that a benchmark run at log level "error" never uses.
   */
  get address(): string {
    return (this.peer ??= peerAddress(this.socket));
  }

  get core(): Core {
    return this.host.core;
  }

  get logId(): string {
    return this.clientId || '<unknown>';
  }

  setProtocolVersion(version: number): void {
    this.protocolVersion = version;
    if (this.reader !== null) this.reader.limits = this.frameLimits;
  }

  private get frameLimits(): FrameLimits {
    return this.protocolVersion === 5 ? this.host.frameLimits.v5 : this.host.frameLimits.any;
  }

  /** Give back what an idle connection need not hold: its frame reader, when no packet is partial. */
  trim(): void {
    if (this.reader !== null && this.reader.idle) this.reader = null;
  }

  // ---- input ------------------------------------------------------------------------------------------------

  /** A read from the socket. */
  onData(chunk: Buffer): void {
    if (this.state === ConnState.Closed) return;
    const core = this.core;
    core.clock = Date.now();
    core.stats.bytesReceived += chunk.length;
    try {
      (this.reader ??= new FrameReader(this, this.frameLimits)).feed(chunk);
    } catch (err) {
      core.fault(this, err, 'reading');
    }
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
    const core = this.core;
    core.stats.msgsReceived++;
    this.rx = core.clock - core.startedAt;
    const store = this.store;
    if (store !== null) store.frameAppended = core.durable!.appended;
    try {
      dispatch(core, this, header, buf, start, end);
    } catch (err) {
      if (err instanceof WireError) this.fail(err.rc, err.message);
      else core.fault(this, err, 'handling a packet');
    }
    // This packet added records while the store has more waiting for the disk than its bound: read nothing more from
    // this client for now (clients that add nothing go on).
    if (store !== null && this.state !== ConnState.Closed) {
      const durable = core.durable!;
      if (durable.congested && durable.appended !== store.frameAppended) this.waitForStore(store);
    }
    return this.state !== ConnState.Closed && !this.inputPaused && !this.storeWaiting;
  }

  /**
   * When the last complete packet arrived, ms; keep alive is measured from it. While the broker itself is not reading
   * the client (waiting for the store), the client is not idle: it counts as heard from now.
   */
  get lastRx(): number {
    const core = this.core;
    return this.storeWaiting ? core.clock : core.startedAt + this.rx;
  }

  private get storeWaiting(): boolean {
    return this.store !== null && this.store.waiting;
  }

  /** When the socket opened, ms (Date.now() clock). */
  get openedAt(): number {
    return this.core.startedAt + this.opened;
  }

  private waitForStore(store: StoreLink): void {
    if (store.waiting) return;
    store.waiting = true;
    this.socket.pause();
    this.core.durable!.whenDrained((store.drained ??= () => {
      store.waiting = false;
      this.resumeReading();
    }));
  }

  pauseInput(): void {
    this.inputPaused = true;
    this.socket.pause();
  }

  resumeInput(): void {
    if (!this.inputPaused) return;
    this.inputPaused = false;
    this.resumeReading();
  }

  private resumeReading(): void {
    if (this.state === ConnState.Closed || this.inputPaused || this.storeWaiting) return;
    const reader = this.reader;
    if (reader !== null) reader.resume();
    if (!this.inputPaused && !this.storeWaiting && (reader === null || !reader.paused) && (this.state as ConnState) !== ConnState.Closed) this.socket.resume();
  }

  onFrameError(kind: 'malformed' | 'too-large', detail: string): void {
    // v5: a packet above the Maximum Packet Size the broker declared gets 0x95 [MQTT-3.2.2-15].
    this.fail(kind === 'too-large' ? RC.PacketTooLarge : RC.MalformedPacket, detail);
  }

  /** The partial-packet budget is exhausted: stop reading this client until it has room again. */
  onStarved(): void {
    if (this.state !== ConnState.Closed) this.socket.pause();
  }

  onFed(): void {
    if (this.state !== ConnState.Closed && !this.inputPaused && !this.storeWaiting) this.socket.resume();
  }

  // ---- output -----------------------------------------------------------------------------------------------

  /** Every packet the broker writes is counted ($SYS messages/sent). */
  override reserve(n: number): number {
    this.host.core.stats.msgsSent++;
    return super.reserve(n);
  }

  awaitDurable(): void {
    const store = this.store;
    if (store === null) return;
    const durable = this.core.durable!;
    // Nothing recorded since this client's packet began to be handled: what it is answered depends on nothing
    // waiting for the disk (and goes out behind anything held before it anyway).
    if (durable.appended === store.frameAppended) return;
    const batch = durable.pendingBatch();
    // The next packet starts after what the gate has been given and what is still buffered here.
    if (batch !== 0) store.gate.mark(batch, store.gate.position + this.pending);
  }

  // ---- ending -----------------------------------------------------------------------------------------------

  /**
   * End the connection because of an error in what the client sent: v5 clients get a DISCONNECT with the reason
   * first [MQTT-4.13.1-1]; 3.1/3.1.1 clients are just closed [MQTT-4.8.0-1].
   */
  fail(rc: number, detail: string): void {
    if (this.state === ConnState.Closed) return;
    const log = this.core.log;
    if (log.debug) log.line(`Client ${this.logId} protocol problem: ${detail} (${reasonName(rc)}).`);
    if (this.state === ConnState.Connected && this.protocolVersion === 5) this.sendDisconnect(rc, this.problemInfo ? detail : undefined);
    this.close(rc === RC.MalformedPacket ? CloseReason.Malformed : rc === RC.PacketTooLarge ? CloseReason.ServerDisconnect : CloseReason.ProtocolError);
  }

  sendDisconnect(rc: number, reasonString?: string): void {
    const properties = reasonString ? { reasonString: capReason(reasonString) } : undefined;
    const full = mqtt.generate({ cmd: 'disconnect', reasonCode: rc, properties }, { protocolVersion: 5 });
    // [MQTT-3.14.2-3] the reason string is left out when it would exceed the client's Maximum Packet Size.
    const bytes = full.length > this.maxPacketOut ? mqtt.generate({ cmd: 'disconnect', reasonCode: rc }, { protocolVersion: 5 }) : full;
    if (bytes.length <= this.maxPacketOut) this.writeBytes(bytes);
  }

  /** End this connection. Idempotent. Pending output is flushed before the socket closes. */
  close(reason: CloseReason): void {
    if (this.state === ConnState.Closed) return;
    this.state = ConnState.Closed;
    this.credentials = null;
    this.reader?.kill();
    this.finish();
    const socket = this.socket;
    if (!socket.destroyed) {
      if (
        reason === CloseReason.PeerClosed ||
        reason === CloseReason.SocketError ||
        // The client said goodbye and is owed nothing more: close at once, as Mosquitto does, rather than
        // half-close and wait for its FIN. (Unread input would turn the close into a reset, which would only
        // matter if something were still on its way to the client.)
        (reason === CloseReason.Disconnect && socket.writableLength === 0)
      ) {
        this.store?.gate.drop();
        socket.destroy();
      } else {
        // Output held for the disk goes first (see persist/output-gate.ts).
        if (this.store !== null) this.store.gate.endAfterRelease();
        else socket.end();
        // A peer that never reads must not keep the socket alive.
        this.closeTimer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
        this.closeTimer.unref();
      }
    }
    this.logClose(reason);
    this.core.detach(this, this.session, reason);
  }

  private logClose(reason: CloseReason): void {
    const log = this.core.log;
    if (!log.notice || !log.connections) return;
    const id = this.logId;
    switch (reason) {
      case CloseReason.Disconnect:
        log.line(`Client ${id} disconnected.`);
        break;
      case CloseReason.PeerClosed:
        log.line(`Client ${id} closed its connection.`);
        break;
      case CloseReason.SocketError:
        log.line(`Socket error on client ${id}, disconnecting.`);
        break;
      case CloseReason.KeepaliveTimeout:
        log.line(`Client ${id} has exceeded timeout, disconnecting.`);
        break;
      case CloseReason.ProtocolError:
        log.line(`Client ${id} disconnected due to protocol error.`);
        break;
      case CloseReason.Malformed:
        log.line(`Client ${id} disconnected due to malformed packet.`);
        break;
      case CloseReason.ServerDisconnect:
        log.line(`Client ${id} disconnected due to oversize packet.`);
        break;
      default:
        // Take-over, refusals and faults were logged where they happened; shutdown is silent, as in Mosquitto.
        break;
    }
  }

  /** Socket events run inside the guard too: a will routed from a close handler cannot take the process down. */
  guarded(reason: CloseReason): void {
    try {
      this.close(reason);
    } catch (err) {
      this.core.fault(this, err, 'closing');
    }
  }

  onSocketClosed(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.store?.gate.drop();
    this.guarded(CloseReason.PeerClosed);
    this.host.connectionGone(this);
  }
}

const CONNECTION = Symbol('connection');
type BrokerSocket = ClientSocket & { [CONNECTION]: Connection };

function onSocketData(this: BrokerSocket, chunk: Buffer): void {
  this[CONNECTION].onData(chunk);
}

function onSocketEnd(this: BrokerSocket): void {
  this[CONNECTION].guarded(CloseReason.PeerClosed);
}

function onSocketError(this: BrokerSocket, err: NodeJS.ErrnoException): void {
  // A reset is the peer going away, which Mosquitto reports as the client closing its connection.
  this[CONNECTION].guarded(err.code === 'ECONNRESET' ? CloseReason.PeerClosed : CloseReason.SocketError);
}

function onSocketClose(this: BrokerSocket): void {
  this[CONNECTION].onSocketClosed();
}

/** "ip:port" of the far end of `socket`, IPv4-mapped addresses written as plain IPv4. */
export function peerAddress(socket: { remoteAddress?: string; remotePort?: number }): string {
  return `${(socket.remoteAddress ?? '').replace(/^::ffff:/, '')}:${socket.remotePort}`;
}
