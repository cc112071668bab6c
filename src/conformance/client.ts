/**
 * A deliberately plain MQTT client for conformance checks and broker tests: one real connection (TCP, TLS or
 * WebSocket), packets in and out as mqtt-packet objects, nothing sent unless the caller says so (no automatic acks,
 * pings or retries), and a trace of everything sent and received for failure reports.
 */
import type { Socket } from 'node:net';
import {
  generate,
  parser as createParser,
  type IConnackPacket,
  type IConnectPacket,
  type IPublishPacket,
  type ISubackPacket,
  type ISubscription,
  type Packet,
  type PacketCmd,
  type QoS,
  type UserProperties,
} from 'mqtt-packet';
import { openLink, type Endpoint as LinkEndpoint, type Link } from '../engine/transport.js';
import { framePacket, takeFrame, varintSize, writeVarint } from '../protocol/varint.js';

/** 3 = MQTT 3.1 ("MQIsdp"), 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export type ProtocolVersion = 3 | 4 | 5;

export type PacketOf<C extends PacketCmd> = Extract<Packet, { cmd: C }>;

/** A plain TCP address, or a full endpoint (TLS, WebSocket). */
export type Endpoint = { host: string; port: number } | LinkEndpoint;

/** One line of a client's trace. */
export interface TraceEvent {
  /** Milliseconds since the client opened. */
  atMs: number;
  dir: 'sent' | 'received' | 'raw' | 'closed';
  what: string;
}

const TRACE_LIMIT = 200;

export type ConnectOptions = Partial<Omit<IConnectPacket, 'cmd' | 'protocolVersion' | 'protocolId'>>;

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
  dup?: boolean;
  messageId?: number;
  properties?: IPublishPacket['properties'];
}

const DEFAULT_WAIT_MS = 2_000;

interface Waiter {
  cmd: PacketCmd | undefined;
  resolve: (packet: Packet) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class RawClient {
  /** What was sent and received, in order (the last TRACE_LIMIT events). */
  readonly trace: TraceEvent[] = [];
  /** Trace times count from here: the start of the check, shared by its clients. */
  private openedAt = Date.now();
  /** This side closed the connection (so the trace does not blame the broker). */
  private closingOnPurpose = false;
  /** Every packet received, in arrival order, including those already taken by `next()`. */
  readonly received: Packet[] = [];
  /** Every packet sent with `send()` (raw bytes are not decoded). */
  readonly sent: Packet[] = [];
  private readonly queue: Packet[] = [];
  private waiter: Waiter | undefined;
  private isClosed = false;
  /** When the connection closed (Date.now()), undefined while it is open. */
  private closedAtMs: number | undefined;
  private closeWaiters: Array<() => void> = [];
  /**
   * Packets mqtt-packet refused to decode (e.g. a reason code the spec does not allow in that packet). Acks,
   * SUBACK/UNSUBACK and DISCONNECT are still decoded leniently into `received`; anything else only lands here.
   */
  readonly parseErrors: Array<{ message: string; bytes: Buffer }> = [];
  private parser: ReturnType<typeof createParser>;
  private inbound: Buffer = Buffer.alloc(0);
  private frameError: Error | undefined;
  private nextMessageId = 1;

  private socket!: Link;

  private constructor(readonly protocolVersion: ProtocolVersion) {
    this.parser = this.createParser();
  }

  /** Opens a connection; nothing is sent yet. Fails with the reason when the broker cannot be reached. */
  static open(endpoint: Endpoint, protocolVersion: ProtocolVersion = 4, traceOrigin?: number): Promise<RawClient> {
    const full: LinkEndpoint =
      'transport' in endpoint ? endpoint : { transport: 'mqtt', hosts: [{ host: endpoint.host, port: endpoint.port }], path: '', tls: undefined };
    const client = new RawClient(protocolVersion);
    if (traceOrigin !== undefined) client.openedAt = traceOrigin;
    return new Promise((resolve, reject) => {
      let opened = false;
      client.socket = openLink(full, 0, {
        onLinkOpen() {
          opened = true;
          resolve(client);
        },
        onLinkData(chunk: Buffer) {
          // The link may reuse its read buffer: keep a copy.
          client.onData(Buffer.from(chunk));
        },
        onLinkClose(error: string | null) {
          if (!opened) {
            reject(new Error(`cannot connect to ${full.hosts.map((h) => `${h.host}:${h.port}`).join(', ')}: ${error ?? 'closed'}`));
            return;
          }
          client.isClosed = true;
          client.closedAtMs = Date.now();
          client.note('closed', client.closingOnPurpose ? 'by this client' : (error ?? 'by the broker'));
          client.failWaiter('the broker closed the connection');
          for (const wake of client.closeWaiters.splice(0)) wake();
        },
      });
    });
  }

  private note(dir: TraceEvent['dir'], what: string): void {
    if (this.trace.length === TRACE_LIMIT) this.trace.shift();
    this.trace.push({ atMs: Date.now() - this.openedAt, dir, what });
  }

  get closedByBroker(): boolean {
    return this.isClosed;
  }

  /** When the connection closed (Date.now() milliseconds), or undefined while it is open. */
  get closedAt(): number | undefined {
    return this.closedAtMs;
  }

  /** The CONNECT this client would send for `opts` (protocol name and level follow the client's version). */
  connectPacket(opts: ConnectOptions = {}): IConnectPacket {
    return {
      cmd: 'connect',
      protocolId: this.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.protocolVersion,
      clientId: '',
      clean: true,
      keepalive: 60,
      ...opts,
    };
  }

  /** Sends CONNECT and returns the CONNACK, whatever its code. */
  async connect(opts: ConnectOptions = {}, timeoutMs = DEFAULT_WAIT_MS): Promise<IConnackPacket> {
    this.send(this.connectPacket(opts));
    return this.next('connack', timeoutMs);
  }

  send(packet: Packet): void {
    this.sent.push(packet);
    this.note('sent', describePacket(packet));
    this.socket.write(generate(packet, { protocolVersion: this.protocolVersion }));
  }

  sendRaw(bytes: Buffer | readonly number[]): void {
    const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    this.note('raw', b.length > 48 ? `${b.subarray(0, 48).toString('hex')}… (${b.length} bytes)` : b.toString('hex'));
    this.socket.write(b);
  }

  /** Encodes a packet at this client's protocol version without sending it (to corrupt it first). */
  encode(packet: Packet): Buffer {
    return generate(packet, { protocolVersion: this.protocolVersion });
  }

  /** A fresh packet identifier (1, 2, 3, ...). */
  messageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = id === 65_535 ? 1 : id + 1;
    return id;
  }

  /**
   * The first packet not yet taken (of type `cmd`, when given; packets of other types stay queued for later calls).
   * Fails after `timeoutMs`, or when the connection closes first, naming what did arrive.
   */
  next<C extends PacketCmd>(cmd: C, timeoutMs?: number): Promise<PacketOf<C>>;
  next(cmd?: undefined, timeoutMs?: number): Promise<Packet>;
  next(cmd?: PacketCmd, timeoutMs = DEFAULT_WAIT_MS): Promise<Packet> {
    if (this.waiter) return Promise.reject(new Error('next() is already waiting on this client'));
    const index = this.queue.findIndex((p) => cmd === undefined || p.cmd === cmd);
    if (index >= 0) return Promise.resolve(this.queue.splice(index, 1)[0]);
    const wanted = cmd ?? 'any packet';
    if (this.isClosed) return Promise.reject(new Error(this.describeMiss(wanted, 'the broker closed the connection')));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(this.describeMiss(wanted, `nothing matching within ${timeoutMs} ms`)));
      }, timeoutMs);
      this.waiter = { cmd, resolve, reject, timer };
    });
  }

  /** Takes `count` packets of type `cmd`, in arrival order. */
  async nextN<C extends PacketCmd>(cmd: C, count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Array<PacketOf<C>>> {
    const out: Array<PacketOf<C>> = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count) out.push(await this.next(cmd, Math.max(1, deadline - Date.now())));
    return out;
  }

  /** Resolves if no packet (of type `cmd`, when given) arrives within `ms`; fails naming the packet that did. */
  async expectNothing(ms: number, cmd?: PacketCmd): Promise<void> {
    const start = this.received.length;
    const queued = this.queue.filter((p) => cmd === undefined || p.cmd === cmd);
    if (queued.length > 0) throw new Error(`expected no ${cmd ?? 'packet'}, but already queued: ${describeAll(queued)}`);
    await sleep(ms);
    const arrived = this.received.slice(start).filter((p) => cmd === undefined || p.cmd === cmd);
    if (arrived.length > 0) throw new Error(`expected no ${cmd ?? 'packet'} for ${ms} ms, got: ${describeAll(arrived)}`);
  }

  /** Resolves when the broker closes the connection; fails if it is still open after `timeoutMs`. */
  closed(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `expected the broker to close the connection within ${timeoutMs} ms; it is still open` +
              ` (received: ${describeAll(this.received)})`,
          ),
        );
      }, timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves true if the connection is still open after `ms`. */
  async stillOpenAfter(ms: number): Promise<boolean> {
    await sleep(ms);
    return !this.isClosed;
  }

  /** Packets received but not yet taken by `next()`. */
  pending(): Packet[] {
    return [...this.queue];
  }

  /** Sends SUBSCRIBE and returns the SUBACK. */
  async subscribe(
    subscriptions: string | ISubscription | ISubscription[],
    qos: QoS = 0,
    properties?: { subscriptionIdentifier?: number; userProperties?: UserProperties },
  ): Promise<ISubackPacket> {
    const list =
      typeof subscriptions === 'string'
        ? [{ topic: subscriptions, qos }]
        : Array.isArray(subscriptions)
          ? subscriptions
          : [subscriptions];
    const messageId = this.messageId();
    this.send({ cmd: 'subscribe', messageId, subscriptions: list, ...(properties ? { properties } : {}) });
    const suback = await this.next('suback');
    if (suback.messageId !== messageId) {
      throw new Error(`SUBACK for packet id ${suback.messageId}, expected ${messageId}`);
    }
    return suback;
  }

  async unsubscribe(topics: string | string[]): Promise<PacketOf<'unsuback'>> {
    const messageId = this.messageId();
    this.send({ cmd: 'unsubscribe', messageId, unsubscriptions: typeof topics === 'string' ? [topics] : topics });
    return this.next('unsuback');
  }

  /**
   * Publishes and completes the sender side of the flow: QoS 1 waits for PUBACK, QoS 2 for PUBREC, sends PUBREL
   * and waits for PUBCOMP. Returns the last acknowledgement (undefined at QoS 0).
   */
  async publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<Packet | undefined> {
    const qos = opts.qos ?? 0;
    const messageId = qos > 0 ? (opts.messageId ?? this.messageId()) : undefined;
    this.send({
      cmd: 'publish',
      topic,
      payload,
      qos,
      retain: opts.retain ?? false,
      dup: opts.dup ?? false,
      ...(messageId !== undefined ? { messageId } : {}),
      ...(opts.properties ? { properties: opts.properties } : {}),
    });
    if (qos === 0) return undefined;
    if (qos === 1) return this.next('puback');
    const pubrec = await this.next('pubrec');
    if ((pubrec.reasonCode ?? 0) >= 0x80) return pubrec;
    this.send({ cmd: 'pubrel', messageId: messageId! });
    return this.next('pubcomp');
  }

  /** Acknowledges a received PUBLISH as the receiver: PUBACK at QoS 1; PUBREC, then PUBREL → PUBCOMP at QoS 2. */
  async acknowledge(publish: IPublishPacket): Promise<void> {
    if (publish.qos === 1) this.send({ cmd: 'puback', messageId: publish.messageId! });
    if (publish.qos === 2) {
      this.send({ cmd: 'pubrec', messageId: publish.messageId! });
      const pubrel = await this.next('pubrel');
      if (pubrel.messageId !== publish.messageId) {
        throw new Error(`PUBREL for packet id ${pubrel.messageId}, expected ${publish.messageId}`);
      }
      this.send({ cmd: 'pubcomp', messageId: publish.messageId! });
    }
  }

  /** Waits for the next PUBLISH and acknowledges it per its QoS. */
  async receive(timeoutMs = DEFAULT_WAIT_MS): Promise<IPublishPacket> {
    const publish = await this.next('publish', timeoutMs);
    await this.acknowledge(publish);
    return publish;
  }

  /** Sends DISCONNECT and closes the socket. */
  async disconnect(reasonCode?: number): Promise<void> {
    if (this.isClosed) return;
    this.send(reasonCode === undefined ? { cmd: 'disconnect' } : { cmd: 'disconnect', reasonCode });
    await this.end();
  }

  /** Half-closes politely and waits for the socket to close. */
  end(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    const done = this.closed(DEFAULT_WAIT_MS).catch(() => {
      this.socket.destroy();
    });
    this.closingOnPurpose = true;
    this.socket.end();
    return done;
  }

  /** Drops the connection without DISCONNECT (an abrupt network close as the broker sees it). */
  destroy(): void {
    this.closingOnPurpose = true;
    this.socket.destroy();
  }

  /** Like `destroy()` but with a TCP RST instead of an orderly FIN (plain TCP only): the broker's read fails with a reset. */
  reset(): void {
    const s = this.socket as unknown as Socket;
    this.closingOnPurpose = true;
    if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
    else this.socket.destroy();
  }

  private createParser(): ReturnType<typeof createParser> {
    const parser = createParser({ protocolVersion: this.protocolVersion });
    parser.on('packet', (packet: Packet) => this.onPacket(packet));
    parser.on('error', (err: Error) => {
      this.frameError = err;
    });
    return parser;
  }

  /** Splits the stream into whole packets so one undecodable packet does not swallow the ones after it. */
  private onData(chunk: Buffer): void {
    this.inbound = this.inbound.length === 0 ? chunk : Buffer.concat([this.inbound, chunk]);
    for (;;) {
      const frame = takeFrame(this.inbound);
      if (frame === undefined) return;
      if (frame === null) {
        this.parseErrors.push({ message: 'malformed remaining length from the broker', bytes: this.inbound });
        this.failWaiter('the broker sent a malformed remaining length');
        this.inbound = Buffer.alloc(0);
        return;
      }
      const bytes = this.inbound.subarray(0, frame);
      this.inbound = this.inbound.subarray(frame);
      this.frameError = undefined;
      this.parser.parse(bytes);
      if (this.frameError) {
        // mqtt-packet's parser keeps a stale read position after an error, so it cannot be reused.
        this.parser = this.createParser();
        this.onUndecodable(bytes, (this.frameError as Error).message);
      }
    }
  }

  private onUndecodable(bytes: Buffer, message: string): void {
    this.parseErrors.push({ message, bytes });
    const lenient = decodeLeniently(bytes, this.protocolVersion);
    if (lenient) this.onPacket(lenient);
    else this.failWaiter(`could not decode a packet from the broker (${message}): ${bytes.toString('hex')}`);
  }

  private onPacket(packet: Packet): void {
    this.received.push(packet);
    this.note('received', describePacket(packet));
    const w = this.waiter;
    if (w && (w.cmd === undefined || w.cmd === packet.cmd)) {
      clearTimeout(w.timer);
      this.waiter = undefined;
      w.resolve(packet);
      return;
    }
    this.queue.push(packet);
  }

  private failWaiter(why: string): void {
    const w = this.waiter;
    if (!w) return;
    clearTimeout(w.timer);
    this.waiter = undefined;
    w.reject(new Error(this.describeMiss(w.cmd ?? 'any packet', why)));
  }

  private describeMiss(wanted: string, why: string): string {
    const parse =
      this.parseErrors.length > 0 ? `; undecodable: ${this.parseErrors.map((e) => e.message).join('; ')}` : '';
    return (
      `waiting for ${wanted}: ${why}. Not yet taken: ${describeAll(this.queue)}. ` +
      `All received: ${describeAll(this.received)}${parse}`
    );
  }
}

export interface RawConnectFields {
  /** Default "MQTT" ("MQIsdp" for level 3). */
  protocolName?: string;
  /** Protocol level byte; default 4. */
  level?: number;
  /** Connect flags byte; default 0x02 (clean session, nothing else). */
  flags?: number;
  keepalive?: number;
  clientId?: string;
  /** v5 CONNECT properties, already encoded (without the length prefix); default none. Only sent at level 5. */
  properties?: Buffer;
}

/**
 * A CONNECT built byte by byte, for the cases mqtt-packet refuses to encode (empty client id without clean session,
 * unknown protocol levels, reserved flags).
 */
export function encodeRawConnect(fields: RawConnectFields = {}): Buffer {
  const level = fields.level ?? 4;
  const name = fields.protocolName ?? (level === 3 ? 'MQIsdp' : 'MQTT');
  const keepalive = fields.keepalive ?? 60;
  const parts: Buffer[] = [
    utf8Field(name),
    Buffer.from([level, fields.flags ?? 0x02, keepalive >> 8, keepalive & 0xff]),
  ];
  if (level === 5) {
    const props = fields.properties ?? Buffer.alloc(0);
    parts.push(encodeVarInt(props.length), props);
  }
  parts.push(utf8Field(fields.clientId ?? ''));
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x10]), encodeVarInt(body.length), body]);
}

/** A length-prefixed MQTT string field. */
export function utf8Field(text: string | Buffer): Buffer {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** MQTT variable byte integer. */
export function encodeVarInt(n: number): Buffer {
  const out = Buffer.allocUnsafe(varintSize(n));
  writeVarint(out, 0, n);
  return out;
}

/** A whole packet from its first byte and body, with the remaining length computed. */
export function encodeRawPacket(firstByte: number, body: Buffer | readonly number[]): Buffer {
  return framePacket(firstByte, Buffer.isBuffer(body) ? body : Buffer.from(body));
}


const ACK_TYPES: Record<number, 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'> = {
  4: 'puback',
  5: 'pubrec',
  6: 'pubrel',
  7: 'pubcomp',
};

/**
 * Decodes the fields tests look at from packets mqtt-packet rejects, so that a broker's out-of-spec reason code
 * shows up as a value an assertion can name rather than as a silent gap.
 */
function decodeLeniently(bytes: Buffer, protocolVersion: ProtocolVersion): Packet | undefined {
  const type = bytes[0] >> 4;
  let offset = 1;
  while (bytes[offset] & 0x80) offset++;
  const body = bytes.subarray(offset + 1);
  const ack = ACK_TYPES[type];
  if (ack && body.length >= 2) {
    const messageId = body.readUInt16BE(0);
    return body.length >= 3 ? { cmd: ack, messageId, reasonCode: body[2] } : { cmd: ack, messageId };
  }
  if (type === 14) return { cmd: 'disconnect', reasonCode: body.length > 0 ? body[0] : 0 };
  if ((type === 9 || type === 11) && body.length >= 2) {
    const messageId = body.readUInt16BE(0);
    let pos = 2;
    if (protocolVersion === 5) {
      let propLen = 0;
      let mul = 1;
      let b: number;
      do {
        b = body[pos++];
        propLen += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80);
      pos += propLen;
    }
    const granted = [...body.subarray(pos)];
    return type === 9 ? { cmd: 'suback', messageId, granted } : { cmd: 'unsuback', messageId, granted };
  }
  return undefined;
}

/** One line per packet for failure messages, e.g. `publish(q1 m3 r0 d0 "a/b" 5B)`. */
export function describePacket(p: Packet): string {
  switch (p.cmd) {
    case 'publish':
      return (
        `publish(q${p.qos}${p.messageId !== undefined ? ` m${p.messageId}` : ''} r${p.retain ? 1 : 0} ` +
        `d${p.dup ? 1 : 0} "${p.topic}" ${Buffer.byteLength(p.payload)}B${p.properties ? ' ' + JSON.stringify(p.properties) : ''})`
      );
    case 'connack':
      return `connack(rc=${p.reasonCode ?? p.returnCode} sp=${p.sessionPresent ? 1 : 0}${p.properties ? ' ' + JSON.stringify(p.properties) : ''})`;
    case 'suback':
      return `suback(m${p.messageId} [${p.granted.join(',')}])`;
    case 'disconnect':
      return `disconnect(rc=${p.reasonCode ?? 0}${p.properties ? ' ' + JSON.stringify(p.properties) : ''})`;
    default: {
      const id = p.messageId !== undefined ? ` m${p.messageId}` : '';
      const rc = 'reasonCode' in p && p.reasonCode !== undefined ? ` rc=${p.reasonCode}` : '';
      return `${p.cmd}(${(id + rc).trim()})`;
    }
  }
}

function describeAll(packets: readonly Packet[]): string {
  return packets.length === 0 ? '(none)' : packets.map(describePacket).join(', ');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The CONNACK's code whatever the version: 3.1/3.1.1 return code or v5 reason code. */
export function connackCode(connack: IConnackPacket): number {
  return connack.reasonCode ?? connack.returnCode ?? 0;
}

/** Payloads of PUBLISH packets as text, for order and content assertions. */
export function payloadsOf(packets: readonly Packet[]): string[] {
  return packets.flatMap((p) => (p.cmd === 'publish' ? [p.payload.toString()] : []));
}
