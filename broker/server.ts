/**
 * The broker's listeners: they accept sockets (within max_connections), make each a Connection bound to the core,
 * enforce keep alive and the CONNECT deadline, publish $SYS, and shut everything down on close().
 */
import { createServer, type Server, type Socket } from 'node:net';
import { RC } from '../src/protocol/reason-codes.js';
import { FlushQueue } from '../src/util/batch-writer.js';
import { Connection, peerAddress, type ConnectionHost } from './connection.js';
import { Core } from './core/core.js';
import { CloseReason, ConnState } from './core/outlet.js';
import { Log } from './log.js';
import type { BrokerOptions } from './options.js';
import { PartialBudget } from './partial-budget.js';
import { SysTree } from './sys.js';

/** A socket that has not sent CONNECT within this time is closed. */
const CONNECT_TIMEOUT_MS = 20_000;
const SWEEP_INTERVAL_MS = 250;
const LISTEN_BACKLOG = 4096;

export class Broker implements ConnectionHost {
  readonly log: Log;
  readonly core: Core;
  /** Connections with output this tick. */
  readonly flushQueue = new FlushQueue();
  readonly partialBudget: PartialBudget;

  private readonly conns = new Set<Connection>();
  private readonly servers: Server[] = [];
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly sys: SysTree;
  private closing = false;

  constructor(readonly options: BrokerOptions) {
    this.log = new Log(options.logTypes, options.logSink);
    this.core = new Core(options, this.log);
    this.partialBudget = new PartialBudget(options.partialPacketBudget);
    this.sys = new SysTree(this.core);
  }

  async listen(): Promise<{ host: string; port: number }[]> {
    const bound: { host: string; port: number }[] = [];
    for (const l of this.options.listeners) {
      let listenPort = l.port;
      const server = createServer({ noDelay: true }, (socket) => this.accept(socket, listenPort));
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
      server.on('error', (err) => {
        if (this.log.error) this.log.line(`Listener error: ${err.message}`);
      });
      listenPort = port;
      bound.push({ host: l.host, port });
      if (this.log.notice) this.log.line(`Opening ipv4 listen socket on port ${port}.`);
    }
    if (!this.options.allowAnonymous && this.options.authenticate === undefined && this.log.warning) {
      this.log.line('Warning: allow_anonymous is false and no way to check passwords is configured: every client will be refused.');
    }
    this.sweepTimer = setInterval(this.sweep, SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
    this.sys.start();
    return bound;
  }

  private accept(socket: Socket, port: number): void {
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
    this.core.stats.socketsAccepted++;
    const conn = new Connection(this, socket);
    if (this.log.notice) this.log.line(`New connection from ${conn.address} on port ${port}.`);
    this.conns.add(conn);
  }

  connectionGone(conn: Connection): void {
    this.conns.delete(conn);
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  private readonly sweep = (): void => {
    const core = this.core;
    const now = core.tick();
    try {
      core.sweep(now);
    } catch (err) {
      core.fault(null, err, 'the stall check');
    }
    for (const conn of this.conns) {
      try {
        if (conn.state === ConnState.Connected) {
          // [MQTT-3.1.2-24] no complete packet within 1.5 × keep alive: the connection is treated as failed (will sent).
          if (conn.keepaliveMs > 0 && now - conn.lastRx > conn.keepaliveMs * 1.5) {
            if (conn.protocolVersion === 5) conn.sendDisconnect(RC.KeepAliveTimeout);
            conn.close(CloseReason.KeepaliveTimeout);
          }
        } else if (conn.state === ConnState.New && now - conn.openedAt > CONNECT_TIMEOUT_MS) {
          conn.close(CloseReason.ProtocolError);
        }
      } catch (err) {
        core.fault(conn, err, 'the keep-alive check');
      }
    }
  };

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sys.stop();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const conn of [...this.conns]) {
      try {
        if (conn.state === ConnState.Connected && conn.protocolVersion === 5) conn.sendDisconnect(RC.ServerShuttingDown);
        conn.close(CloseReason.BrokerShutdown);
      } catch (err) {
        this.core.fault(conn, err, 'shutdown');
      }
      conn.socket.destroy();
    }
    this.core.close();
    await Promise.all(closed);
  }
}
