/**
 * The MQTT connection a shard coordinates over: one per shard process, to the broker under test, apart from the
 * simulated clients (its traffic is in none of the run's counters). It carries the clock exchange and the shards'
 * states, nothing else, so it is a small client: CONNECT with a will, SUBSCRIBE, PUBLISH at QoS 0 or 1, keep alive,
 * and reconnection after a lost connection. Every wait on the broker is bounded.
 */
import mqtt from 'mqtt-packet';
import { openLink, type Endpoint, type Link, type LinkHandler } from '../engine/transport.js';

export interface ControlLinkOptions {
  endpoint: Endpoint;
  protocolVersion: 3 | 4 | 5;
  clientId: string;
  username?: string;
  password?: string;
  will?: { topic: string; payload: Buffer; qos: 0 | 1; retain: boolean };
  keepaliveSec: number;
  /** How long one attempt may take, from opening the socket to CONNACK (and a SUBACK). */
  replyTimeoutMs: number;
  onMessage(topic: string, payload: Buffer): void;
  /** Connected again after a lost connection (subscriptions renewed): state that must be on the broker is re-sent. */
  onReconnect?(): void;
  /** Something worth telling the user (a lost connection, a failed reconnect). */
  onProblem?(text: string): void;
}

export class ControlLinkError extends Error {}

/** Wait between reconnection attempts. */
const RECONNECT_MS = 1_000;

export class ControlLink implements LinkHandler {
  private link: Link | null = null;
  private parser: ReturnType<typeof mqtt.parser> | null = null;
  private connected = false;
  private closing = false;
  private nextId = 1;
  private lastHeardMs = 0;
  private readonly filters: string[] = [];
  private readonly acks = new Map<number, () => void>();
  private connackWaiter: ((rc: number | string) => void) | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly options: ControlLinkOptions) {}

  /** Connects (each host of the endpoint in turn); rejects with the reasons when none accepts. */
  static async open(options: ControlLinkOptions): Promise<ControlLink> {
    const c = new ControlLink(options);
    await c.connect();
    c.keepAliveTimer = setInterval(() => c.keepAlive(), Math.max(500, (options.keepaliveSec * 1000) / 2));
    c.keepAliveTimer.unref();
    return c;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Subscribes at QoS 1 and waits for SUBACK (bounded by replyTimeoutMs); renewed after each reconnect. */
  async subscribe(filters: string[]): Promise<void> {
    for (const f of filters) if (!this.filters.includes(f)) this.filters.push(f);
    await this.sendSubscribe(filters);
  }

  /** Sends a message if connected (false otherwise); a QoS 1 message's PUBACK is not waited for. */
  publish(topic: string, payload: Buffer | string, qos: 0 | 1, retain: boolean): boolean {
    if (!this.connected || this.link === null) return false;
    const packet: mqtt.IPublishPacket = {
      cmd: 'publish',
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      qos,
      retain,
      dup: false,
      ...(qos > 0 ? { messageId: this.takeId() } : {}),
    };
    this.write(packet);
    return true;
  }

  /** DISCONNECT (no will) and close; bounded by replyTimeoutMs. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const link = this.link;
    if (link === null) return;
    if (this.connected) this.write({ cmd: 'disconnect' });
    this.connected = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        link.destroy();
        resolve();
      }, this.options.replyTimeoutMs);
      this.afterClose = () => {
        clearTimeout(timer);
        resolve();
      };
      link.end();
    });
  }

  private afterClose: (() => void) | null = null;

  // ---- link events -----------------------------------------------------------------------------------------------

  onLinkOpen(link: Link): void {
    if (link !== this.link) return;
    const o = this.options;
    this.write({
      cmd: 'connect',
      protocolId: o.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: o.protocolVersion,
      clientId: o.clientId,
      clean: true,
      keepalive: o.keepaliveSec,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: Buffer.from(o.password) } : {}),
      ...(o.will !== undefined ? { will: { topic: o.will.topic, payload: o.will.payload, qos: o.will.qos, retain: o.will.retain } } : {}),
    });
  }

  onLinkData(chunk: Buffer, link: Link): void {
    if (link !== this.link || this.parser === null) return;
    this.lastHeardMs = Date.now();
    this.parser.parse(chunk);
  }

  onLinkClose(error: string | null, link: Link): void {
    if (link !== this.link) return;
    const wasConnected = this.connected;
    this.connected = false;
    this.link = null;
    this.parser = null;
    this.connackWaiter?.(error ?? 'connection closed');
    if (this.closing) {
      this.afterClose?.();
      return;
    }
    if (wasConnected) {
      this.options.onProblem?.(`the coordination connection to the broker was lost (${error ?? 'closed'}); reconnecting`);
      this.scheduleReconnect();
    }
  }

  // ---- internals --------------------------------------------------------------------------------------------------

  private onPacket(p: mqtt.Packet): void {
    switch (p.cmd) {
      case 'connack': {
        const rc = p.reasonCode ?? p.returnCode ?? 0;
        this.connackWaiter?.(rc);
        return;
      }
      case 'suback':
      case 'puback': {
        const done = this.acks.get(p.messageId ?? -1);
        if (done) {
          this.acks.delete(p.messageId!);
          done();
        }
        return;
      }
      case 'publish': {
        if (p.qos === 1 && p.messageId !== undefined) this.write({ cmd: 'puback', messageId: p.messageId });
        const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
        try {
          this.options.onMessage(p.topic, payload);
        } catch (err) {
          this.options.onProblem?.(`a coordination message on ${p.topic} could not be handled: ${err instanceof Error ? err.message : String(err)}`);
        }
        return;
      }
      default:
        return;
    }
  }

  /** One try of every host, each bounded by replyTimeoutMs. */
  private async connect(): Promise<void> {
    const failures: string[] = [];
    const hosts = this.options.endpoint.hosts;
    for (let i = 0; i < hosts.length; i++) {
      const problem = await this.connectTo(i);
      if (problem === null) return;
      failures.push(`${hosts[i].host}:${hosts[i].port}: ${problem}`);
      if (this.closing) break;
    }
    throw new ControlLinkError(`the coordination connection could not connect (${failures.join('; ')})`);
  }

  private connectTo(hostIndex: number): Promise<string | null> {
    return new Promise<string | null>((resolve) => {
      const parser = mqtt.parser({ protocolVersion: this.options.protocolVersion });
      parser.on('packet', (p: mqtt.Packet) => this.onPacket(p));
      parser.on('error', (err: Error) => this.link?.destroy() ?? this.options.onProblem?.(err.message));
      this.parser = parser;
      const timer = setTimeout(() => finish('no CONNACK in time'), this.options.replyTimeoutMs);
      const finish = (outcome: number | string) => {
        clearTimeout(timer);
        this.connackWaiter = null;
        if (outcome === 0) {
          this.connected = true;
          this.lastHeardMs = Date.now();
          resolve(null);
          return;
        }
        const link = this.link;
        this.link = null;
        link?.destroy();
        resolve(typeof outcome === 'number' ? `CONNACK refused the connection (code ${outcome})` : outcome);
      };
      this.connackWaiter = finish;
      this.link = openLink(this.options.endpoint, hostIndex, this);
    });
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer !== null) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().then(
        async () => {
          if (this.filters.length > 0) await this.sendSubscribe(this.filters).catch(() => undefined);
          this.options.onReconnect?.();
        },
        () => this.scheduleReconnect(),
      );
    }, RECONNECT_MS);
  }

  private sendSubscribe(filters: string[]): Promise<void> {
    if (!this.connected) return Promise.reject(new ControlLinkError('not connected to the broker'));
    const messageId = this.takeId();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(messageId);
        reject(new ControlLinkError(`no SUBACK within ${this.options.replyTimeoutMs} ms`));
      }, this.options.replyTimeoutMs);
      this.acks.set(messageId, () => {
        clearTimeout(timer);
        resolve();
      });
      this.write({ cmd: 'subscribe', messageId, subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })) });
    });
  }

  private keepAlive(): void {
    if (!this.connected || this.link === null) return;
    if (Date.now() - this.lastHeardMs > this.options.keepaliveSec * 1500) {
      // The broker has said nothing for one and a half keep-alive periods: the connection is dead.
      this.link.destroy();
      return;
    }
    this.write({ cmd: 'pingreq' });
  }

  private takeId(): number {
    const id = this.nextId;
    this.nextId = id === 65535 ? 1 : id + 1;
    return id;
  }

  private write(packet: mqtt.Packet): void {
    this.link?.write(mqtt.generate(packet, { protocolVersion: this.options.protocolVersion }));
  }
}
