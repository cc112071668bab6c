/**
 * One listener: a socket bound to its address and port speaking MQTT over TCP, TLS, WebSocket or WebSocket over
 * TLS; its own max_connections, counted from the moment a socket is accepted (TLS handshakes and WebSocket
 * upgrades in progress included); Mosquitto's "Opening ... listen socket" lines; TLS handshakes bounded in time.
 * Each client socket, once it speaks MQTT, is handed to the broker with what it needs to know of the listener.
 */
import { lookup } from 'node:dns/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Log } from '../log.js';
import type { ListenerOptions } from '../options.js';
import { certificateName, tlsServerOptions } from './tls.js';
import { acceptUpgrade, WsLink } from './websocket.js';

const LISTEN_BACKLOG = 4096;
/** An HTTP upgrade request must arrive within this time (slow-header clients are dropped). */
const UPGRADE_HEADERS_TIMEOUT_MS = 10_000;

/** A client socket ready for MQTT, and what the broker needs to know of it. */
export interface Accepted {
  socket: Socket | WsLink;
  listener: Listener;
  /** use_identity_as_username: the certificate's common name, null without one; undefined when not used. */
  certIdentity: string | null | undefined;
}

export interface ListenerEvents {
  /** A client socket is ready for MQTT. */
  accept(a: Accepted): void;
  log: Log;
  tlsHandshakeTimeoutMs: number;
  /** The broker is shutting down: refuse everything. */
  closing(): boolean;
}

export class Listener {
  /** Port and address bound (the port is known once listen() resolved). */
  port = 0;
  host = '';
  private server: Server | TlsServer | HttpServer | null = null;

  constructor(
    readonly options: ListenerOptions,
    /** Position among the broker's listeners (its per_listener_settings belong to it). */
    readonly index: number,
    private readonly events: ListenerEvents,
  ) {}

  /** Bind; throws with the reason (address in use, unreadable certificate, ...). */
  async listen(): Promise<void> {
    const o = this.options;
    const tls = o.tls === undefined ? undefined : tlsServerOptions(o.tls);
    const ws = o.protocol === 'websockets';
    let server: Server | TlsServer | HttpServer;
    if (ws) {
      // Node checks the header and request timeouts every connectionsCheckingInterval: often enough to hold them.
      const httpOptions = { connectionsCheckingInterval: 1_000 };
      const http =
        tls === undefined
          ? createHttpServer(httpOptions)
          : createHttpsServer({ ...tls, ...httpOptions, handshakeTimeout: this.events.tlsHandshakeTimeoutMs });
      http.headersTimeout = UPGRADE_HEADERS_TIMEOUT_MS;
      http.requestTimeout = UPGRADE_HEADERS_TIMEOUT_MS;
      http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
      // No http_dir: plain HTTP requests are not served.
      http.on('request', (_req, res) => {
        res.writeHead(404, { Connection: 'close', 'Content-Type': 'text/plain' }).end('MQTT over WebSocket only\n');
      });
      http.on('clientError', (_err, socket: Socket) => {
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        socket.destroy();
      });
      server = http;
    } else if (tls !== undefined) {
      server = createTlsServer({ ...tls, handshakeTimeout: this.events.tlsHandshakeTimeoutMs }, (socket) => this.secured(socket));
    } else {
      server = createNetServer({ noDelay: true });
    }
    // max_connections counts every socket from the moment it is accepted, TLS handshakes and WebSocket upgrades
    // in progress included: beyond it, sockets are dropped before any handshake.
    const max = o.maxConnections ?? -1;
    if (max > 0) server.maxConnections = max;
    server.on('drop', (d?: { remoteAddress?: string }) => this.denied(d?.remoteAddress));
    if (max === 0) {
      server.prependListener('connection', (socket: Socket) => {
        this.denied(socket.remoteAddress);
        socket.destroy();
      });
    } else if (tls === undefined && !ws) {
      server.on('connection', (socket: Socket) => this.ready(socket, undefined));
    }
    if (tls !== undefined) server.on('tlsClientError', (err: Error, socket: TLSSocket) => this.tlsFailed(err, socket));
    this.server = server;
    const host = await this.bindAddress();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = `${o.host === '' ? '*' : o.host}:${o.port}`;
        reject(new Error(`cannot listen on ${where}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`));
      });
      server.listen({ port: o.port, host, backlog: LISTEN_BACKLOG, ipv6Only: o.socketDomain === 'ipv6' }, () => resolve());
    });
    server.on('error', (err) => {
      if (this.events.log.error) this.events.log.line(`Listener error: ${err.message}`);
    });
    const a = server.address();
    this.port = typeof a === 'object' && a !== null ? a.port : o.port;
    this.host = typeof a === 'object' && a !== null ? a.address : host ?? '';
    this.logOpening();
  }

  /** The address to bind: as given, or every address of the socket domain asked for. */
  private async bindAddress(): Promise<string | undefined> {
    const { host, socketDomain } = this.options;
    if (host === '') return socketDomain === 'ipv4' ? '0.0.0.0' : socketDomain === 'ipv6' ? '::' : undefined;
    if (socketDomain === undefined || isIP(host) !== 0) return host;
    const found = await lookup(host, { family: socketDomain === 'ipv6' ? 6 : 4 });
    return found.address;
  }

  /** Mosquitto's lines, at its level (information). */
  private logOpening(): void {
    const log = this.events.log;
    if (!log.info) return;
    if (this.options.protocol === 'websockets') {
      log.line(`Opening websockets listen socket on port ${this.port}.`);
      return;
    }
    // Mosquitto opens a socket per address family; one dual-stack socket here serves both.
    const family = isIP(this.host);
    if (family === 6 && this.options.socketDomain !== 'ipv6' && (this.host === '::' || this.host === '')) {
      log.line(`Opening ipv4 listen socket on port ${this.port}.`);
      log.line(`Opening ipv6 listen socket on port ${this.port}.`);
    } else {
      log.line(`Opening ipv${family === 6 ? 6 : 4} listen socket on port ${this.port}.`);
    }
  }

  /** New certificate and key files for new connections (a reload); throws when they cannot be used. */
  reloadTls(): void {
    if (this.options.tls === undefined || this.server === null) return;
    (this.server as TlsServer).setSecureContext(tlsServerOptions(this.options.tls));
  }

  private denied(address: string | undefined): void {
    const log = this.events.log;
    if (!this.events.closing() && log.notice) log.line(`Client connection from ${(address ?? '').replace(/^::ffff:/, '')} denied: max_connections exceeded.`);
  }

  private secured(socket: TLSSocket): void {
    if (socket.destroyed) return;
    socket.setNoDelay(true);
    this.ready(socket, this.options.tls?.useIdentityAsUsername ? certificateName(socket) : undefined);
  }

  private ready(socket: Socket | WsLink, certIdentity: string | null | undefined): void {
    if (socket.destroyed) return;
    this.events.accept({ socket, listener: this, certIdentity });
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const link = acceptUpgrade(req, socket, head);
    if (typeof link === 'string') {
      const log = this.events.log;
      if (log.notice) log.line(`WebSocket upgrade from ${(socket.remoteAddress ?? '').replace(/^::ffff:/, '')} refused: ${link}.`);
      return;
    }
    socket.setNoDelay(true);
    const tls = this.options.tls;
    const cert = tls?.useIdentityAsUsername ? certificateName(socket as TLSSocket) : undefined;
    this.ready(link, cert);
  }

  private tlsFailed(err: Error, socket: TLSSocket): void {
    socket.destroy();
    const log = this.events.log;
    const code = (err as NodeJS.ErrnoException).code;
    if (log.error && code !== 'ECONNRESET') {
      const why = code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'TLS handshake timed out' : err.message;
      log.line(`OpenSSL Error[0]: ${why}`);
    }
    if (log.notice) log.line('Client <unknown> disconnected: Protocol error.');
  }

  /** Stop accepting; resolves when the listening socket is closed. */
  close(): Promise<void> {
    const server = this.server;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

