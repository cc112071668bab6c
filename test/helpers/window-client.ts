/**
 * A QoS 1/2 client for flow tests over a plain socket: it publishes numbered messages keeping at most `window`
 * unacknowledged, acknowledges every delivery at once (or not, on request), and records each sequence number that
 * arrived, per topic. Payloads are `<seq>` in ASCII.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { generate, parser as createParser, type Packet, type QoS } from 'mqtt-packet';

export interface WindowClientOptions {
  clientId: string;
  protocolVersion?: 3 | 4 | 5;
  clean?: boolean;
  keepalive?: number;
}

export class WindowClient {
  /** Sequence numbers received, per topic, in arrival order. */
  readonly received = new Map<string, number[]>();
  /** Packets other than PUBLISH and acknowledgements, in order (CONNACK, SUBACK, DISCONNECT...). */
  readonly control: Packet[] = [];
  acknowledge = true;
  closed = false;
  /** Acknowledgements sent for deliveries (PUBACK, PUBREC). */
  acksSent = 0;
  private readonly waiters = new Set<() => void>();
  private inFlight = new Set<number>();
  private nextId = 1;

  private constructor(
    private readonly socket: Socket,
    readonly protocolVersion: 3 | 4 | 5,
  ) {}

  static connect(port: number, opts: WindowClientOptions, timeoutMs = 5_000): Promise<WindowClient> {
    const version = opts.protocolVersion ?? 4;
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      const client = new WindowClient(socket, version);
      const parser = createParser({ protocolVersion: version });
      parser.on('packet', (p: Packet) => client.onPacket(p));
      parser.on('error', (err: Error) => socket.destroy(err));
      socket.on('data', (d) => parser.parse(d));
      socket.on('error', () => {});
      socket.on('close', () => {
        client.closed = true;
        client.wake();
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${opts.clientId}: no CONNACK within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        client.send({
          cmd: 'connect',
          protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
          protocolVersion: version,
          clientId: opts.clientId,
          clean: opts.clean ?? true,
          keepalive: opts.keepalive ?? 60,
        });
      });
      client
        .until(() => client.control.some((p) => p.cmd === 'connack'), timeoutMs)
        .then(() => {
          clearTimeout(timer);
          const connack = client.control.find((p) => p.cmd === 'connack') as { returnCode?: number; reasonCode?: number };
          const rc = connack.reasonCode ?? connack.returnCode ?? 0;
          if (rc !== 0) reject(new Error(`${opts.clientId}: CONNACK ${rc}`));
          else resolve(client);
        }, reject);
    });
  }

  send(p: Packet): void {
    if (!this.socket.destroyed) this.socket.write(generate(p, { protocolVersion: this.protocolVersion }));
  }

  async subscribe(topic: string, qos: QoS, timeoutMs = 5_000): Promise<void> {
    const before = this.control.filter((p) => p.cmd === 'suback').length;
    this.send({ cmd: 'subscribe', messageId: this.id(), subscriptions: [{ topic, qos }] });
    await this.until(() => this.control.filter((p) => p.cmd === 'suback').length > before, timeoutMs);
  }

  /** Publish `count` messages numbered from `first`, at most `window` unacknowledged; resolves on the last PUBACK. */
  async publishAll(topic: string, count: number, window: number, qos: 1 | 2 = 1, timeoutMs = 30_000, first = 1): Promise<void> {
    let next = first;
    const end = first + count;
    const deadline = Date.now() + timeoutMs;
    while (next < end || this.inFlight.size > 0) {
      while (next < end && this.inFlight.size < window) {
        const id = this.id();
        this.inFlight.add(id);
        this.send({ cmd: 'publish', topic, qos, messageId: id, payload: Buffer.from(String(next++)), dup: false, retain: false });
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        throw new Error(`${this.closed ? 'closed' : 'timed out'} with ${end - next} to send and ${this.inFlight.size} unacknowledged`);
      }
      // Room for the next message, or (all sent) every acknowledgement in.
      await this.until(() => (next < end ? this.inFlight.size < window : this.inFlight.size === 0), left).catch(() => undefined);
    }
  }

  /** Resolves when `test()` holds; rejects after `timeoutMs` or when the connection closes first. */
  until(test: () => boolean, timeoutMs: number): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (test()) {
          done();
          resolve();
        } else if (this.closed) {
          done();
          reject(new Error('connection closed'));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  count(topic: string): number {
    return this.received.get(topic)?.length ?? 0;
  }

  /** Sequence numbers 1..n that never arrived on `topic`, and how many arrived more than once. */
  accounting(topic: string, n: number): { missing: number; duplicates: number } {
    const seen = new Uint8Array(n + 1);
    let duplicates = 0;
    for (const s of this.received.get(topic) ?? []) {
      if (s >= 1 && s <= n) {
        if (seen[s]) duplicates++;
        seen[s] = 1;
      }
    }
    let missing = 0;
    for (let i = 1; i <= n; i++) if (!seen[i]) missing++;
    return { missing, duplicates };
  }

  end(): void {
    this.socket.destroy();
  }

  private id(): number {
    let id = this.nextId;
    while (this.inFlight.has(id)) id = id === 65_535 ? 1 : id + 1;
    this.nextId = id === 65_535 ? 1 : id + 1;
    return id;
  }

  private onPacket(p: Packet): void {
    switch (p.cmd) {
      case 'publish': {
        const list = this.received.get(p.topic) ?? [];
        list.push(Number(p.payload.toString()));
        this.received.set(p.topic, list);
        if (this.acknowledge && p.qos === 1) this.send({ cmd: 'puback', messageId: p.messageId! });
        if (this.acknowledge && p.qos === 2) this.send({ cmd: 'pubrec', messageId: p.messageId! });
        if (this.acknowledge && p.qos > 0) this.acksSent++;
        break;
      }
      case 'pubrel':
        this.send({ cmd: 'pubcomp', messageId: p.messageId! });
        break;
      case 'puback':
      case 'pubcomp':
        this.inFlight.delete(p.messageId!);
        break;
      case 'pubrec':
        this.send({ cmd: 'pubrel', messageId: p.messageId! });
        break;
      default:
        this.control.push(p);
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
