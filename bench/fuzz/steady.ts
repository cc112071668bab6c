/**
 * The well-behaved side of a fuzz run: a QoS 1 publisher and a persistent-session subscriber that count every
 * message (each payload is a sequence number), and a probe that opens a fresh connection every second and times its
 * CONNECT to CONNACK. Their names never collide with the fuzzers' (`fuzz-…` ids, `fuzz…` topics).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Packet } from 'mqtt-packet';
import { MqttClient, connackCode } from '../harness/mqtt-client.js';

const CONNECT_TIMEOUT_MS = 5_000;
const SUBACK_TIMEOUT_MS = 5_000;
/** A QoS 1 PUBLISH not acknowledged within this long counts as a failure of the broker. */
export const PUBACK_TIMEOUT_MS = 5_000;
const PUBLISH_EVERY_MS = 10;
const PUBLISH_WINDOW = 10;

export interface SteadyNames {
  subscriberId: string;
  publisherId: string;
  topic: string;
  probePrefix: string;
}

/** Names derived from a tag the fuzzers cannot produce. */
export function steadyNames(tag: string): SteadyNames {
  return { subscriberId: `${tag}-sub`, publisherId: `${tag}-pub`, topic: `${tag}/seq`, probePrefix: `${tag}-probe` };
}

/** A persistent-session v5 subscriber; records the distinct sequence numbers it receives, and repeats. */
export class SteadySubscriber {
  readonly received = new Set<number>();
  /** Deliveries of a sequence number already received (allowed at QoS 1, after the reconnection say). */
  duplicates = 0;
  client: MqttClient | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly names: SteadyNames,
  ) {}

  async start(): Promise<void> {
    await this.connect(true);
    this.client!.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: this.names.topic, qos: 1 }] });
    const suback = await this.client!.next((p) => p.cmd === 'suback', SUBACK_TIMEOUT_MS, 'SUBACK');
    if (suback.cmd !== 'suback' || suback.granted[0] !== 1) {
      const granted = JSON.stringify(suback.cmd === 'suback' ? suback.granted : suback);
      throw new Error(`steady subscriber: SUBACK granted ${granted}, wanted QoS 1`);
    }
  }

  /** Disconnect and come back on the same session: what was published meanwhile must be queued for it. */
  async bounce(awayMs: number): Promise<void> {
    await this.client!.disconnect();
    await sleep(awayMs);
    const sessionPresent = await this.connect(false);
    if (!sessionPresent) {
      throw new Error('steady subscriber: reconnected with Clean Start 0 but CONNACK says no session present');
    }
  }

  stop(): void {
    this.client?.destroy();
  }

  private async connect(cleanStart: boolean): Promise<boolean> {
    const [client, connack] = await MqttClient.open({
      host: this.host,
      port: this.port,
      connect: {
        cmd: 'connect',
        protocolVersion: 5,
        clientId: this.names.subscriberId,
        clean: cleanStart,
        keepalive: 60,
        properties: { sessionExpiryInterval: 300 },
      },
      name: 'steady subscriber',
      timeoutMs: CONNECT_TIMEOUT_MS,
      onPacket: (self, p) => this.receive(self, p),
    });
    if (connack.cmd !== 'connack' || connack.reasonCode !== 0) {
      client.destroy();
      throw new Error(`steady subscriber: CONNACK ${JSON.stringify(connack)}`);
    }
    this.client = client;
    return connack.sessionPresent;
  }

  private receive(client: MqttClient, p: Packet): void {
    if (p.cmd !== 'publish') return;
    // QoS 1 may deliver twice (after the bounce, say); only distinct sequence numbers count as received.
    const seq = Number(p.payload.toString());
    if (this.received.has(seq)) this.duplicates++;
    else this.received.add(seq);
    if (p.qos === 1) client.send({ cmd: 'puback', messageId: p.messageId, reasonCode: 0 });
  }
}

/** A 3.1.1 publisher sending QoS 1 sequence numbers with a small in-flight window. */
export class SteadyPublisher {
  /** Sequence numbers the broker acknowledged: the subscriber is owed each of them. */
  readonly acked = new Set<number>();
  /** The first thing that went wrong: a PUBACK too late, the connection lost. */
  problem: string | undefined;
  private readonly inflight = new Map<number, { seq: number; sentAt: number }>();
  private nextSeq = 0;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly client: MqttClient,
    private readonly topic: string,
  ) {
    client.onPacket = (p) => {
      if (p.cmd !== 'puback' || p.messageId === undefined) return;
      const entry = this.inflight.get(p.messageId);
      if (!entry) return;
      this.inflight.delete(p.messageId);
      this.acked.add(entry.seq);
    };
  }

  static async start(host: string, port: number, names: SteadyNames): Promise<SteadyPublisher> {
    const [client, connack] = await MqttClient.open({
      host,
      port,
      connect: { cmd: 'connect', protocolVersion: 4, clientId: names.publisherId, clean: true, keepalive: 60 },
      name: 'steady publisher',
      timeoutMs: CONNECT_TIMEOUT_MS,
    });
    if (connackCode(connack) !== 0) {
      client.destroy();
      throw new Error(`steady publisher: CONNACK ${JSON.stringify(connack)}`);
    }
    const publisher = new SteadyPublisher(client, names.topic);
    publisher.timer = setInterval(() => publisher.tick(), PUBLISH_EVERY_MS);
    return publisher;
  }

  get sent(): number {
    return this.nextSeq;
  }

  /** Stops publishing and waits (bounded) for the last PUBACKs; afterwards `problem` says what went wrong, if anything. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + PUBACK_TIMEOUT_MS;
    const waiting = (): boolean => this.inflight.size > 0 && this.problem === undefined && this.client.open;
    while (waiting() && Date.now() < deadline) await sleep(10);
    if (this.problem === undefined && this.inflight.size > 0) {
      const seqs = [...this.inflight.values()].map((e) => e.seq);
      this.problem =
        `steady publisher: ${seqs.length} QoS 1 PUBLISH never acknowledged (seq ${seqs.slice(0, 10).join(', ')})` +
        (this.client.closedReason ? `; ${this.client.closedReason}` : '');
    }
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    return this.client.disconnect();
  }

  private tick(): void {
    if (!this.client.open) {
      this.problem ??= this.client.closedReason;
      clearInterval(this.timer);
      return;
    }
    const now = Date.now();
    for (const entry of this.inflight.values()) {
      if (now - entry.sentAt > PUBACK_TIMEOUT_MS) {
        this.problem ??= `steady publisher: no PUBACK for seq ${entry.seq} within ${PUBACK_TIMEOUT_MS} ms`;
        clearInterval(this.timer);
        return;
      }
    }
    if (this.inflight.size >= PUBLISH_WINDOW) return;
    const seq = this.nextSeq++;
    // Packet ids cycle through 1..65535; the window is far smaller, so an id is never reused while in flight.
    const messageId = (seq % 65535) + 1;
    this.inflight.set(messageId, { seq, sentAt: now });
    this.client.send({ cmd: 'publish', topic: this.topic, qos: 1, dup: false, retain: false, messageId, payload: String(seq) });
  }
}

export interface ConnectProbeResult {
  probes: number;
  /** Longest CONNECT → CONNACK, ms (a probe that failed counts with the time it waited). */
  longestMs: number;
  /** Probes slower than the limit, or refused, or unanswered: "at 12.0 s: v5 no CONNACK within 5000 ms". */
  failures: string[];
}

/** A fresh client every second: CONNECT, time the CONNACK, DISCONNECT. Versions 3.1.1 and 5 take turns. */
export class ConnectProbe {
  private readonly result: ConnectProbeResult = { probes: 0, longestMs: 0, failures: [] };
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;
  private stopped: Promise<ConnectProbeResult> | undefined;
  private readonly started = performance.now();

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly prefix: string,
    private readonly limitMs: number,
    everyMs = 1_000,
  ) {
    this.timer = setInterval(() => {
      this.running ??= this.probe(this.result.probes % 2 === 0 ? 4 : 5).finally(() => (this.running = undefined));
    }, everyMs);
  }

  /** One more probe of each version now, then no more; resolves with everything seen. */
  stop(): Promise<ConnectProbeResult> {
    clearInterval(this.timer);
    return (this.stopped ??= (async () => {
      await this.running;
      await this.probe(4);
      await this.probe(5);
      return this.result;
    })());
  }

  private async probe(version: 4 | 5): Promise<void> {
    const at = `at ${((performance.now() - this.started) / 1000).toFixed(1)} s`;
    const sent = performance.now();
    this.result.probes++;
    let opened: [MqttClient, Packet];
    try {
      opened = await MqttClient.open({
        host: this.host,
        port: this.port,
        connect: { cmd: 'connect', protocolVersion: version, clientId: `${this.prefix}-v${version}`, clean: true, keepalive: 10 },
        name: `probe v${version}`,
        timeoutMs: CONNECT_TIMEOUT_MS,
      });
    } catch (err) {
      this.result.longestMs = Math.max(this.result.longestMs, performance.now() - sent);
      this.result.failures.push(`${at}: ${(err as Error).message}`);
      return;
    }
    const waited = performance.now() - sent;
    this.result.longestMs = Math.max(this.result.longestMs, waited);
    const [client, connack] = opened;
    const code = connackCode(connack);
    if (code !== 0) this.result.failures.push(`${at}: probe v${version}: CONNACK code ${code}`);
    else if (waited > this.limitMs) this.result.failures.push(`${at}: probe v${version}: CONNACK after ${waited.toFixed(0)} ms`);
    await client.disconnect();
  }
}
