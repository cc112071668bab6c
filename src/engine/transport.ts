/**
 * The byte stream under a simulated client: TCP, TLS, WebSocket or secure WebSocket, behind one small interface.
 * The client is the handler (no closure per event); each link reports open, data and close once.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import type { ByteSink } from '../util/batch-writer.js';

export type Transport = 'mqtt' | 'mqtts' | 'ws' | 'wss';

/** TLS material, already read from disk (workers read each file once). */
export interface TlsMaterial {
  ca: Buffer | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  pfx: Buffer | undefined;
  passphrase: string | undefined;
  verify: boolean;
  serverName: string | undefined;
}

/** Where clients connect: resolved by the runner (a bundled broker becomes mqtt://127.0.0.1:<port>). */
export interface Endpoint {
  transport: Transport;
  hosts: { host: string; port: number }[];
  /** WebSocket path. */
  path: string;
  tls: TlsMaterial | undefined;
  /** Local addresses to connect from (a client keeps one: see Engine.sourceFor); absent or empty: the system's choice. */
  sources?: readonly string[];
}

/** Events of a link, each with the link they come from (a client may already be on its next one). */
export interface LinkHandler {
  onLinkOpen(link: Link): void;
  onLinkData(chunk: Buffer, link: Link): void;
  /** The link is gone. `error` is an errno-like code ("ECONNREFUSED") or null for an orderly close. */
  onLinkClose(error: string | null, link: Link): void;
  /** What was written has gone out after a write was held back (TCP and TLS links). */
  onLinkDrain?(link: Link): void;
}

export interface Link extends ByteSink {
  /** Close after what is written has gone out. */
  end(): void;
  /** Close now (also: simulate a client that vanishes). */
  destroy(): void;
  pause(): void;
  resume(): void;
}

/**
 * Every plain TCP link of a thread reads into this one buffer (Node's `onread`): without it each read allocates a
 * fresh 64 KiB buffer, which at a hundred thousand small reads a second costs more than the reads. Safe to share:
 * a read is handed to the client and parsed before the next read happens, and partial packets are copied out.
 */
const sharedReadBuffer = Buffer.allocUnsafe(64 * 1024);

/** `localAddress`: the source address to connect from, or undefined for the system's choice. */
export function openLink(endpoint: Endpoint, hostIndex: number, handler: LinkHandler, localAddress?: string): Link {
  const { host, port } = endpoint.hosts[hostIndex % endpoint.hosts.length];
  switch (endpoint.transport) {
    case 'mqtt': {
      const socket = netConnect({ host, port, localAddress, noDelay: true, onread: { buffer: sharedReadBuffer, callback: onSharedRead } });
      return socketLink(socket, 'connect', handler);
    }
    case 'mqtts': {
      const t = endpoint.tls!;
      // tls.connect hands socket options such as localAddress to the TCP connection it makes (not in its types).
      const socket = tlsConnect({
        host,
        port,
        ...({ localAddress } as object),
        ca: t.ca,
        cert: t.cert,
        key: t.key,
        pfx: t.pfx,
        passphrase: t.passphrase,
        rejectUnauthorized: t.verify,
        servername: t.serverName ?? (isIp(host) ? undefined : host),
      });
      socket.setNoDelay(true);
      return socketLink(socket, 'secureConnect', handler);
    }
    case 'ws':
    case 'wss':
      return webSocketLink(endpoint, host, port, handler, localAddress);
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/**
 * A socket is its own link. Its handler and what its close reports live on the socket, and the listeners are the
 * same functions for every socket: a hundred thousand idle clients hold no closures of their own.
 */
const HANDLER = Symbol('linkHandler');
const ERROR = Symbol('linkError');
const CLOSED = Symbol('linkClosed');
type LinkSocket = (Socket | TLSSocket) & Link & { [HANDLER]: LinkHandler; [ERROR]: string | null; [CLOSED]: boolean };

function socketLink(socket: Socket | TLSSocket, openEvent: 'connect' | 'secureConnect', handler: LinkHandler): Link {
  const link = socket as LinkSocket;
  link[HANDLER] = handler;
  link[ERROR] = null;
  link[CLOSED] = false;
  socket.once(openEvent, onSocketOpen);
  // Plain TCP reads arrive through onSharedRead instead (no 'data' events).
  if (openEvent === 'secureConnect') socket.on('data', onSocketData);
  socket.on('error', onSocketError);
  socket.on('close', onSocketClose);
  socket.on('drain', onSocketDrain);
  return link;
}

function onSocketDrain(this: LinkSocket): void {
  this[HANDLER].onLinkDrain?.(this);
}

/** Node calls a socket's `onread` callback as a method of the socket. */
function onSharedRead(this: LinkSocket, n: number, buf: Uint8Array): boolean {
  this[HANDLER].onLinkData((buf as Buffer).subarray(0, n), this);
  return true;
}

function onSocketOpen(this: LinkSocket): void {
  this[HANDLER].onLinkOpen(this);
}

function onSocketData(this: LinkSocket, chunk: Buffer): void {
  this[HANDLER].onLinkData(chunk, this);
}

function onSocketError(this: LinkSocket, err: NodeJS.ErrnoException): void {
  this[ERROR] ??= err.code ?? err.message;
}

function onSocketClose(this: LinkSocket): void {
  if (this[CLOSED]) return;
  this[CLOSED] = true;
  this[HANDLER].onLinkClose(this[ERROR], this);
}

/** A WebSocket as a byte stream: each binary message is a chunk of the MQTT stream [MQTT-6.0.0-2]. */
function webSocketLink(endpoint: Endpoint, host: string, port: number, handler: LinkHandler, localAddress: string | undefined): Link {
  const scheme = endpoint.transport === 'wss' ? 'wss' : 'ws';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const t = endpoint.tls;
  const options: WebSocket.ClientOptions & { servername?: string } = {
    perMessageDeflate: false,
    ca: t?.ca,
    cert: t?.cert,
    key: t?.key,
    pfx: t?.pfx,
    passphrase: t?.passphrase,
    rejectUnauthorized: t ? t.verify : undefined,
    // Passed through to tls.connect for SNI and the certificate name check.
    servername: t?.serverName,
    localAddress,
  };
  const ws = new WebSocket(`${scheme}://${hostPart}:${port}${endpoint.path || '/mqtt'}`, ['mqtt'], options);
  ws.binaryType = 'nodebuffer';
  let closed = false;
  let error: string | null = null;
  ws.on('open', () => handler.onLinkOpen(link));
  ws.on('message', (data: Buffer) => handler.onLinkData(data, link));
  ws.on('error', (err: NodeJS.ErrnoException) => {
    error ??= err.code ?? err.message;
  });
  ws.on('close', () => {
    if (closed) return;
    closed = true;
    handler.onLinkClose(error, link);
  });
  const link: Link = {
    write(data: Buffer): boolean {
      if (ws.readyState !== WebSocket.OPEN) return false;
      // The writer reuses its slab once the socket's buffer is empty, so the frame gets its own copy.
      ws.send(Buffer.from(data), { binary: true });
      return true;
    },
    get writableLength() {
      return ws.bufferedAmount;
    },
    get destroyed() {
      return ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING;
    },
    end: () => ws.close(1000),
    destroy: () => ws.terminate(),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
  return link;
}
