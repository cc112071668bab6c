/**
 * An independent subscriber for durability tests: a persistent session over a plain socket (mqtt-packet, none of
 * the engine's code) that acknowledges every delivery and keeps a ledger of which sequence numbers of mqbench's
 * timestamped payloads arrived, per topic. Its own connection at a time; reconnect() opens another.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { generate, parser as createParser, type Packet } from 'mqtt-packet';

export class LedgerSubscriber {
  /** Distinct sequence numbers received, per topic. */
  readonly received = new Map<string, Set<number>>();
  /** Deliveries of a sequence already received, per topic. */
  readonly repeats = new Map<string, number>();
  private socket: Socket | undefined;
  private sessionPresent = false;
  /** Called on the next SUBACK. */
  private subackWaiter: (() => void) | undefined;

  constructor(
    private readonly port: number,
    readonly clientId: string,
  ) {}

  /** Connect (clean session false); resolves with whether the broker had the session. */
  async connect(timeoutMs = 5_000): Promise<boolean> {
    this.socket?.destroy();
    const socket = netConnect({ host: '127.0.0.1', port: this.port });
    this.socket = socket;
    const parser = createParser({ protocolVersion: 4 });
    let connack: ((present: boolean) => void) | undefined;
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connack') connack?.(p.sessionPresent === true && (p.returnCode ?? 0) === 0);
      else if (p.cmd === 'suback') this.subackWaiter?.();
      else if (p.cmd === 'publish') this.onPublish(p, socket);
      else if (p.cmd === 'pubrel') socket.write(generate({ cmd: 'pubcomp', messageId: p.messageId! }));
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => undefined);
    return withTimeout(
      new Promise<boolean>((resolve) => {
        connack = (present) => {
          this.sessionPresent = present;
          resolve(present);
        };
        socket.once('connect', () =>
          socket.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: this.clientId, clean: false, keepalive: 60 })),
        );
      }),
      timeoutMs,
      `${this.clientId}: no CONNACK`,
    );
  }

  /** Whether the broker had the session at the last CONNACK. */
  get hadSession(): boolean {
    return this.sessionPresent;
  }

  async subscribe(filter: string, timeoutMs = 5_000): Promise<void> {
    const socket = this.socket!;
    await withTimeout(
      new Promise<void>((resolve) => {
        this.subackWaiter = resolve;
        socket.write(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 2 }] }));
      }),
      timeoutMs,
      `${this.clientId}: no SUBACK`,
    );
  }

  /** Close the connection (after DISCONNECT: the session stays on the broker). */
  async disconnect(): Promise<void> {
    const socket = this.socket;
    if (socket === undefined || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end(generate({ cmd: 'disconnect' }));
      setTimeout(() => socket.destroy(), 1_000).unref();
    });
  }

  /** Wait until `n` distinct messages have arrived over all topics, or `timeoutMs` has passed. */
  async waitFor(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.total() < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  total(): number {
    let n = 0;
    for (const s of this.received.values()) n += s.size;
    return n;
  }

  count(topic: string): number {
    return this.received.get(topic)?.size ?? 0;
  }

  close(): void {
    this.socket?.destroy();
  }

  private onPublish(p: Packet & { cmd: 'publish' }, socket: Socket): void {
    const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload);
    // mqbench's header: magic "MQ", layout 1, reserved, publisher id, sequence (high, low 32 bits), send time.
    if (payload.length >= 24 && payload[0] === 0x4d && payload[1] === 0x51 && payload[2] === 1) {
      const seq = payload.readUInt32BE(8) * 0x1_0000_0000 + payload.readUInt32BE(12);
      let set = this.received.get(p.topic);
      if (set === undefined) this.received.set(p.topic, (set = new Set()));
      if (set.has(seq)) this.repeats.set(p.topic, (this.repeats.get(p.topic) ?? 0) + 1);
      set.add(seq);
    }
    if (p.qos === 1) socket.write(generate({ cmd: 'puback', messageId: p.messageId! }));
    else if (p.qos === 2) socket.write(generate({ cmd: 'pubrec', messageId: p.messageId! }));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms))),
  ]);
}
