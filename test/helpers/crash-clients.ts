/**
 * MQTT 3.1.1 clients with persistent sessions that outlive any number of broker crashes: each keeps its own side of
 * the QoS 1/2 flows in memory across reconnections, as a well-behaved client keeps it on disk, and resends what the
 * protocol says after each reconnection. A publisher records which sequence numbers the broker acknowledged (PUBACK
 * at QoS 1, PUBREC at QoS 2); the subscriber counts deliveries per sequence number, with QoS 2 receiver state
 * (packet ids awaiting PUBREL) so that a resent PUBLISH is not counted twice.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { generate, parser as createParser, type Packet } from 'mqtt-packet';

abstract class SessionClient {
  protected socket: Socket | null = null;
  /** CONNACK received on this connection. */
  protected up = false;
  /** A session was created at least once: later CONNACKs must say it is present. */
  private established = false;
  /** Problems that break the protocol's promises (a lost session); the test fails on any. */
  readonly problems: string[] = [];
  connections = 0;

  constructor(readonly clientId: string) {}

  get connected(): boolean {
    return this.up;
  }

  /** Open a connection to `port`; resolves at CONNACK, or false when the broker is not there (or goes away). */
  connect(port: number, timeoutMs = 3_000): Promise<boolean> {
    this.drop();
    return new Promise((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      this.socket = socket;
      const parser = createParser({ protocolVersion: 4 });
      let settled = false;
      const settle = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => {
        socket.destroy();
        settle(false);
      }, timeoutMs);
      parser.on('packet', (p: Packet) => {
        if (socket !== this.socket) return;
        if (p.cmd === 'connack') {
          if (p.returnCode !== 0) {
            this.problems.push(`${this.clientId}: CONNACK ${p.returnCode}`);
            socket.destroy();
            settle(false);
            return;
          }
          if (this.established && !p.sessionPresent) this.problems.push(`${this.clientId}: its session was lost (session present 0)`);
          this.established = true;
          this.up = true;
          this.connections++;
          this.resume();
          settle(true);
          return;
        }
        this.onPacket(p);
      });
      parser.on('error', () => socket.destroy());
      socket.on('data', (d) => parser.parse(d));
      socket.on('error', () => {});
      socket.on('close', () => {
        if (socket === this.socket) this.up = false;
        settle(false);
      });
      socket.once('connect', () => {
        socket.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: this.clientId, clean: false, keepalive: 0 }));
      });
    });
  }

  drop(): void {
    this.up = false;
    this.socket?.destroy();
    this.socket = null;
  }

  protected send(p: Packet): void {
    if (this.up && this.socket !== null) this.socket.write(generate(p));
  }

  /** Just connected: resend what the protocol says and go on. */
  protected abstract resume(): void;
  protected abstract onPacket(p: Packet): void;
}

/** Publishes `<tag>:<seq>` at one QoS on one topic, keeping up to `window` unacknowledged. */
export class CrashPublisher extends SessionClient {
  /** Sequence numbers the broker acknowledged. */
  readonly acked = new Set<number>();
  /** Packet id → [seq, step]: step 0 awaiting PUBACK / PUBREC, 1 PUBREL sent, awaiting PUBCOMP. */
  private readonly inFlight = new Map<number, [number, number]>();
  private nextSeq = 0;
  private nextId = 1;
  /** New messages are sent only while this is true. */
  producing = true;

  constructor(
    clientId: string,
    private readonly topic: string,
    private readonly qos: 1 | 2,
    private readonly window: number,
    private readonly limit: number,
  ) {
    super(clientId);
  }

  get sent(): number {
    return this.nextSeq;
  }

  get unfinished(): number {
    return this.inFlight.size;
  }

  protected resume(): void {
    for (const [id, [seq, step]] of this.inFlight) {
      if (step === 0) this.send({ cmd: 'publish', topic: this.topic, payload: this.payload(seq), qos: this.qos, messageId: id, dup: true, retain: false });
      else this.send({ cmd: 'pubrel', messageId: id });
    }
    this.fill();
  }

  private payload(seq: number): string {
    return `${this.clientId}:${seq}`;
  }

  private fill(): void {
    while (this.up && this.producing && this.inFlight.size < this.window && this.nextSeq < this.limit) {
      while (this.inFlight.has(this.nextId)) this.nextId = (this.nextId % 65535) + 1;
      const id = this.nextId;
      this.nextId = (this.nextId % 65535) + 1;
      const seq = this.nextSeq++;
      this.inFlight.set(id, [seq, 0]);
      this.send({ cmd: 'publish', topic: this.topic, payload: this.payload(seq), qos: this.qos, messageId: id, dup: false, retain: false });
    }
  }

  protected onPacket(p: Packet): void {
    if (p.cmd === 'puback' && this.qos === 1) {
      const f = this.inFlight.get(p.messageId!);
      if (f === undefined) return;
      this.acked.add(f[0]);
      this.inFlight.delete(p.messageId!);
      this.fill();
    } else if (p.cmd === 'pubrec' && this.qos === 2) {
      const f = this.inFlight.get(p.messageId!);
      if (f !== undefined) {
        this.acked.add(f[0]);
        f[1] = 1;
      }
      this.send({ cmd: 'pubrel', messageId: p.messageId! });
    } else if (p.cmd === 'pubcomp' && this.qos === 2) {
      if (this.inFlight.delete(p.messageId!)) this.fill();
    } else {
      this.problems.push(`${this.clientId}: unexpected ${p.cmd}`);
    }
  }
}

/** Subscribes once to `filter` at QoS 2 and counts each `<tag>:<seq>` delivered, per tag. */
export class CrashSubscriber extends SessionClient {
  /** tag → seq → deliveries counted (a QoS 2 resend of a packet id awaiting PUBREL is not a delivery). */
  readonly counts = new Map<string, Map<number, number>>();
  /** QoS 2 packet ids received and awaiting PUBREL: the receiver's side of exactly once. */
  private readonly awaitingRelease = new Set<number>();
  private subscribed = false;
  deliveries = 0;

  constructor(
    clientId: string,
    private readonly filter: string,
  ) {
    super(clientId);
  }

  count(tag: string, seq: number): number {
    return this.counts.get(tag)?.get(seq) ?? 0;
  }

  protected resume(): void {
    // Until a SUBACK arrived the subscription may not exist: ask again.
    if (!this.subscribed) this.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: this.filter, qos: 2 }] });
  }

  protected onPacket(p: Packet): void {
    if (p.cmd === 'suback') {
      this.subscribed = true;
    } else if (p.cmd === 'publish') {
      const id = p.messageId!;
      if (p.qos === 2) {
        if (!this.awaitingRelease.has(id)) {
          this.awaitingRelease.add(id);
          this.record(String(p.payload));
        }
        this.send({ cmd: 'pubrec', messageId: id });
      } else {
        this.record(String(p.payload));
        if (p.qos === 1) this.send({ cmd: 'puback', messageId: id });
      }
    } else if (p.cmd === 'pubrel') {
      this.awaitingRelease.delete(p.messageId!);
      this.send({ cmd: 'pubcomp', messageId: p.messageId! });
    } else {
      this.problems.push(`${this.clientId}: unexpected ${p.cmd}`);
    }
  }

  private record(payload: string): void {
    const colon = payload.lastIndexOf(':');
    const tag = payload.slice(0, colon);
    const seq = Number(payload.slice(colon + 1));
    let m = this.counts.get(tag);
    if (m === undefined) this.counts.set(tag, (m = new Map()));
    m.set(seq, (m.get(seq) ?? 0) + 1);
    this.deliveries++;
  }
}
