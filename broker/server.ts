/**
 * The broker: listeners, the connections and sessions it holds, session and will lifecycles, keepalive, and the
 * once-per-tick flush of every connection's output.
 */
import { createServer, type Server, type Socket } from 'node:net';
import mqtt, { type Packet } from 'mqtt-packet';
import { RC } from '../src/protocol/reason-codes.js';
import { FlushQueue } from '../src/util/batch-writer.js';
import { CloseReason, ConnState, Connection, peerAddress } from './connection.js';
import { route } from './deliver.js';
import { Log } from './log.js';
import type { BrokerOptions } from './options.js';
import { RetainStore } from './retain.js';
import { Router } from './router.js';
import { NEVER, type Session } from './session.js';
import { SysTree } from './sys.js';

/** A socket that has not sent CONNECT within this time is closed. */
const CONNECT_TIMEOUT_MS = 20_000;
const SWEEP_INTERVAL_MS = 250;
const LISTEN_BACKLOG = 4096;
/** An online subscriber that acknowledges nothing for this long stops holding back its publishers. */
export const STALL_MS = 1_000;

export class BrokerStats {
  /** Every packet received / sent (Mosquitto's $SYS/broker/messages/...). */
  msgsReceived = 0;
  msgsSent = 0;
  bytesReceived = 0;
  bytesSent = 0;
  pubReceived = 0;
  pubSent = 0;
  pubBytesReceived = 0;
  pubBytesSent = 0;
  /** PUBLISH not delivered to a client for lack of room (queue full, QoS 0 backlog, over message_size_limit). */
  pubDropped = 0;
  /** Queued messages whose v5 expiry passed before they could be sent. */
  pubExpired = 0;
  /** Sockets accepted / clients that completed CONNECT, since start (Mosquitto's load/sockets and load/connections). */
  socketsAccepted = 0;
  connectsAccepted = 0;
  clientsConnected = 0;
  clientsMaximum = 0;
  clientsExpired = 0;
}

export class Broker {
  readonly log: Log;
  readonly stats = new BrokerStats();
  readonly router = new Router();
  readonly retained = new RetainStore();
  readonly sessions = new Map<string, Session>();
  /** Receive Maximum the broker declares to v5 clients (QoS 2 awaiting PUBREL). */
  readonly receiveMaximum: number;
  readonly startedAt = Date.now();

  private readonly conns = new Set<Connection>();
  private readonly servers: Server[] = [];
  /** Connections with output this tick. */
  readonly flushQueue = new FlushQueue();
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Sessions with publishers waiting on their queue. */
  private readonly blocked = new Set<Session>();
  private releasing: Connection[] = [];
  private readonly sys: SysTree;
  private closing = false;

  constructor(readonly options: BrokerOptions) {
    this.log = new Log(options.logTypes, options.logSink);
    const mi = options.maxInflightMessages;
    this.receiveMaximum = mi > 0 && mi < 65535 ? mi : 65535;
    this.sys = new SysTree(this);
  }

  /**
   * The broker's clock, ms: read once per socket read and per timer rather than per message, since a clock read
   * costs as much as routing a small message.
   */
  clock = Date.now();

  now(): number {
    return this.clock;
  }

  /** Refresh the cached clock (timers call this; socket reads set it directly). */
  tick(): number {
    return (this.clock = Date.now());
  }

  async listen(): Promise<{ host: string; port: number }[]> {
    const bound: { host: string; port: number }[] = [];
    for (const l of this.options.listeners) {
      const server = createServer({ noDelay: true }, (socket) => this.accept(socket, server));
      this.servers.push(server);
      const port = await new Promise<number>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => {
          reject(new Error(`cannot listen on ${l.host}:${l.port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`));
        });
        // A deep accept queue: connection storms of thousands per second would otherwise overflow it and make
        // clients wait out a one-second SYN retry.
        server.listen({ port: l.port, host: l.host, backlog: LISTEN_BACKLOG }, () => {
          const a = server.address();
          resolve(typeof a === 'object' && a ? a.port : l.port);
        });
      });
      server.on('error', (err) => this.logError(`Listener error: ${err.message}`));
      bound.push({ host: l.host, port });
      if (this.log.notice) this.log.line(`Opening ipv4 listen socket on port ${port}.`);
    }
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
    this.sys.start();
    return bound;
  }

  private accept(socket: Socket, server: Server): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const max = this.options.maxConnections;
    if (max >= 0 && this.conns.size >= max) {
      if (this.log.notice) this.log.line(`Client connection from ${peerAddress(socket)} denied: max_connections exceeded.`);
      socket.destroy();
      return;
    }
    this.stats.socketsAccepted++;
    const conn = new Connection(this, socket);
    if (this.log.notice) {
      const local = server.address();
      this.log.line(`New connection from ${conn.address} on port ${typeof local === 'object' && local ? local.port : ''}.`);
    }
    this.conns.add(conn);
  }

  // ---- packets ----------------------------------------------------------------------------------------------

  generate(packet: Packet, protocolVersion: number): Buffer {
    return mqtt.generate(packet, { protocolVersion });
  }

  writeGenerated(conn: Connection, packet: Packet): void {
    conn.writeBytes(this.generate(packet, conn.protocolVersion));
  }

  logError(text: string): void {
    if (this.log.error) this.log.line(text);
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------------

  clientConnected(_conn: Connection): void {
    const s = this.stats;
    s.connectsAccepted++;
    s.clientsConnected++;
    if (s.clientsConnected > s.clientsMaximum) s.clientsMaximum = s.clientsConnected;
  }

  connectionClosed(conn: Connection, reason: CloseReason, wasConnected: boolean): void {
    const log = this.log;
    if (log.notice) {
      const id = conn.logId;
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
          // Take-over and refusals were logged where they happened; shutdown is silent, as in Mosquitto.
          break;
      }
    }
    if (!wasConnected) return;
    this.stats.clientsConnected--;
    const session = conn.session;
    if (session === null || session.conn !== conn) return;
    session.conn = null;
    this.releaseParkedOffline(session);
    if (reason === CloseReason.BrokerShutdown) return;
    const will = session.will;
    if (will !== null) {
      // [MQTT-3.1.2-8] the will goes out when the connection ends without DISCONNECT, after the v5 will delay
      // unless the session ends first [MQTT-3.1.3-9].
      if (will.delay > 0 && session.expiryInterval > 0) {
        session.willTimer = setTimeout(() => this.publishWill(session), Math.min(will.delay, session.expiryInterval) * 1000);
        session.willTimer.unref();
      } else {
        this.publishWill(session);
      }
    }
    if (session.expiryInterval === 0) {
      this.endSession(session);
    } else if (session.expiryInterval !== NEVER) {
      session.expiryTimer = setTimeout(() => this.expireSession(session), session.expiryInterval * 1000);
      session.expiryTimer.unref();
    }
  }

  /** `pub` stops being read until `session`'s queue has drained (flow control instead of loss). */
  holdPublisher(pub: Connection, session: Session, now: number): void {
    if (session.waiters === null) {
      session.waiters = [];
      session.heldSince = now;
      this.blocked.add(session);
    }
    // Held by several full sessions (a burst that filled them all), the publisher goes on when the first drains.
    if (!session.waiters.includes(pub)) session.waiters.push(pub);
    if (pub.blockedOn === null) pub.block(session);
  }

  /**
   * Let the publishers waiting on `session` be read again, on the next turn of the event loop. The parked messages
   * join the queue when it has drained, or are dropped when the client stalled or went away without a session.
   */
  releaseWaiters(session: Session, why: 'drained' | 'stalled' | 'gone'): void {
    const parked = session.parked;
    session.parked = null;
    if (parked !== null) {
      if (why === 'drained') {
        for (const out of parked) session.enqueue(out);
      } else {
        session.dropped += parked.length;
        this.stats.pubDropped += parked.length;
      }
    }
    if (why === 'stalled') {
      session.stalled = true;
      if (this.log.notice) this.log.line(`Outgoing messages are being dropped for client ${session.clientId}.`);
    }
    const waiters = session.waiters;
    if (waiters === null) return;
    session.waiters = null;
    this.blocked.delete(session);
    if (this.releasing.length === 0) setImmediate(this.unblockAll);
    for (const c of waiters) this.releasing.push(c);
  }

  private readonly unblockAll = (): void => {
    this.tick();
    const list = this.releasing;
    this.releasing = [];
    for (const c of list) c.unblock();
  };

  /** The subscriber went away with its session kept: parked messages are queued as far as the queue allows. */
  private releaseParkedOffline(session: Session): void {
    const parked = session.parked;
    session.parked = null;
    const limit = this.options.maxQueuedMessages;
    if (parked !== null) {
      for (const out of parked) {
        if (limit > 0 && session.queued >= limit) {
          session.dropped++;
          this.stats.pubDropped++;
        } else {
          session.enqueue(out);
        }
      }
    }
    this.releaseWaiters(session, 'gone');
  }

  socketGone(conn: Connection): void {
    this.conns.delete(conn);
  }

  publishWill(session: Session): void {
    const will = session.will;
    if (will === null) return;
    session.will = null;
    if (session.willTimer) clearTimeout(session.willTimer);
    session.willTimer = null;
    const now = this.tick();
    const msg = will.msg;
    if (will.expiry > 0) msg.expiryAt = now + will.expiry * 1000;
    if (this.log.debug) this.log.line(`Sending will message for client ${session.clientId} to '${msg.topic}'`);
    if (msg.retain) this.retained.set(msg);
    this.stats.pubReceived++;
    route(this, msg, now);
  }

  private expireSession(session: Session): void {
    this.tick();
    if (session.conn !== null || session.ended) return;
    if (this.log.notice) this.log.line(`Expiring client ${session.clientId} due to timeout.`);
    this.stats.clientsExpired++;
    this.endSession(session);
  }

  /** End a session: its pending will goes out [MQTT-3.1.3-9], its subscriptions and queued messages go away. */
  endSession(session: Session): void {
    if (session.ended) return;
    session.ended = true;
    if (session.expiryTimer) clearTimeout(session.expiryTimer);
    session.expiryTimer = null;
    if (session.will !== null && session.conn === null) this.publishWill(session);
    session.clearTimers();
    this.releaseWaiters(session, 'gone');
    for (const sub of session.subs.values()) this.router.remove(sub);
    session.subs.clear();
    session.inflight.clear();
    session.clearQueue();
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
  }

  private sweep(): void {
    const now = this.tick();
    for (const session of this.blocked) {
      // A subscriber that has not acknowledged anything for a while no longer holds its publishers back.
      if (now - Math.max(session.lastProgress, session.heldSince) > STALL_MS) this.releaseWaiters(session, 'stalled');
    }
    for (const conn of this.conns) {
      if (conn.state === ConnState.Connected) {
        // [MQTT-3.1.2-24] no packet within 1.5 × keepalive: the connection is treated as failed (will sent).
        if (conn.keepaliveMs > 0 && now - conn.lastRx > conn.keepaliveMs * 1.5 && conn.blockedOn === null) {
          if (conn.protocolVersion === 5) conn.sendDisconnect(RC.KeepAliveTimeout);
          conn.close(CloseReason.KeepaliveTimeout);
        }
      } else if (conn.state === ConnState.New && now - conn.connectedAt > CONNECT_TIMEOUT_MS) {
        conn.close(CloseReason.ProtocolError);
      }
    }
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sys.stop();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const conn of [...this.conns]) {
      if (conn.state === ConnState.Connected && conn.protocolVersion === 5) conn.sendDisconnect(RC.ServerShuttingDown);
      conn.close(CloseReason.BrokerShutdown);
      conn.socket.destroy();
    }
    for (const session of this.sessions.values()) session.clearTimers();
    await Promise.all(closed);
  }
}
