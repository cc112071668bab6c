/**
 * The broker's own view of a run: one connection of the main thread, not a simulated client, that subscribes at QoS
 * 0 to a few `$SYS/broker/...` topics and records each value with the second of the run it arrived in.
 *
 * It counts in none of the run's figures (connections, messages, errors), bounds every wait for the broker by the
 * scenario's reply timeout, and never fails or holds up the run: a broker that refuses it, does not answer, or never
 * publishes `$SYS` leaves the series empty, with the reason in words.
 */
import mqtt, { type Packet } from 'mqtt-packet';
import { randomBytes } from 'node:crypto';
import { connectErrorKind } from '../engine/connect-packet.js';
import { decodeControl, lastDecodeError } from '../engine/codec.js';
import { openLink, type Endpoint, type Link, type LinkHandler } from '../engine/transport.js';
import { FrameReader, type FrameSink } from '../protocol/frame-reader.js';
import { connackName, reasonName } from '../protocol/reason-codes.js';
import type { ProtocolVersion } from '../scenario/schema.js';
import { Timer, Timers } from '../util/timers.js';
import type { BrokerSys, SysPoint } from './result.js';

/** The topics read, by the series they fill. */
export const SYS_TOPICS = {
  storedMessages: '$SYS/broker/store/messages/count',
  retainedMessages: '$SYS/broker/retained messages/count',
  dropped: '$SYS/broker/publish/messages/dropped',
  clientsConnected: '$SYS/broker/clients/connected',
} as const;
type SeriesName = keyof typeof SYS_TOPICS;
const SERIES_BY_TOPIC = new Map<string, SeriesName>(Object.entries(SYS_TOPICS).map(([name, topic]) => [topic, name as SeriesName]));

/** Keep alive sent in CONNECT; a PINGREQ goes out every half of it, so a long run keeps the connection. */
const KEEPALIVE_SEC = 60;
/** After DISCONNECT, how long the broker has to close the connection before it is dropped. */
const CLOSE_GRACE_MS = 1_000;

export interface SysObserverOptions {
  endpoint: Endpoint;
  protocolVersion: ProtocolVersion;
  username: string | undefined;
  password: string | undefined;
  /** How long CONNACK and SUBACK may take. */
  replyTimeoutMs: number;
  /** The second of the run now (0 during its first second). */
  second(): number;
}

const Phase = { Idle: 0, Connecting: 1, Subscribing: 2, Reading: 3, Done: 4 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

export class SysObserver implements LinkHandler, FrameSink {
  private readonly series: Record<SeriesName, SysPoint[]> = { storedMessages: [], retainedMessages: [], dropped: [], clientsConnected: [] };
  private timers = this.newTimers();
  private readonly waitTimer = new Timer(() => this.onWaitExpired());
  private readonly pingTimer = new Timer(() => this.ping());
  private readonly clientId = `mqbench-sys-${randomBytes(4).toString('hex')}`;
  private phase: Phase = Phase.Idle;
  private link: Link | null = null;
  private reader: FrameReader | null = null;
  private hostIndex = 0;
  /** Why nothing may arrive: set when the connection fails or ends; reported only if no value arrived. */
  private problem: string | null = null;
  /** The reading ended because the connection failed or closed (not a refusal, not stop()): resume() may retry. */
  private connectionLost = false;
  private stopped = false;

  constructor(private readonly opts: SysObserverOptions) {}

  start(): void {
    if (this.phase !== Phase.Idle) return;
    this.guarded(() => this.connect());
  }

  /**
   * The broker was started again after a fault: read again, when the reading ended because the broker went away.
   * The values go on in the same series.
   */
  resume(): void {
    if (this.stopped || this.phase !== Phase.Done || !this.connectionLost) return;
    this.connectionLost = false;
    this.hostIndex = 0;
    this.timers = this.newTimers();
    this.guarded(() => this.connect());
  }

  private newTimers(): Timers {
    return new Timers((err) => this.giveUp(`an internal error while reading them (${err instanceof Error ? err.message : String(err)})`));
  }

  /** Stop reading and disconnect (without waiting for anything); what arrived so far. */
  stop(): BrokerSys {
    this.stopped = true;
    const link = this.link;
    if (link !== null && this.phase !== Phase.Done) {
      const connected = this.phase === Phase.Subscribing || this.phase === Phase.Reading;
      this.guarded(() => {
        if (connected) link.write(mqtt.generate({ cmd: 'disconnect' }, { protocolVersion: this.opts.protocolVersion }));
        link.end();
        // A broker that does not close its side is not waited for (and does not keep the process alive).
        setTimeout(() => link.destroy(), CLOSE_GRACE_MS).unref();
      });
    }
    this.finish();
    const any = Object.values(this.series).some((points) => points.length > 0);
    return {
      ...this.series,
      missing: any ? null : (this.problem ?? `no message arrived on ${Object.values(SYS_TOPICS).join(', ')} during the run`),
    };
  }

  // ---- the connection -----------------------------------------------------------------------------------------

  private connect(): void {
    this.phase = Phase.Connecting;
    this.reader = new FrameReader(this);
    this.timers.schedule(this.waitTimer, this.opts.replyTimeoutMs);
    this.link = openLink(this.opts.endpoint, this.hostIndex, this);
  }

  onLinkOpen(link: Link): void {
    if (link !== this.link || this.phase !== Phase.Connecting) return;
    this.guarded(() => this.sendConnect(link));
  }

  private sendConnect(link: Link): void {
    const { protocolVersion, username, password } = this.opts;
    const packet: Packet = {
      cmd: 'connect',
      protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion,
      clientId: this.clientId,
      clean: true,
      keepalive: KEEPALIVE_SEC,
      username,
      password: password !== undefined ? Buffer.from(password) : undefined,
    };
    link.write(mqtt.generate(packet, { protocolVersion }));
  }

  onLinkData(chunk: Buffer, link: Link): void {
    if (link === this.link) this.guarded(() => this.reader?.feed(chunk));
  }

  /** Socket events run outside the run's own code: whatever goes wrong here ends this reading, never the run. */
  private guarded(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.giveUp(`an internal error while reading them (${err instanceof Error ? err.message : String(err)})`);
    }
  }

  onLinkClose(error: string | null, link: Link): void {
    if (link !== this.link || this.phase === Phase.Done) return;
    if (this.phase === Phase.Connecting && error !== null && this.hostIndex + 1 < this.opts.endpoint.hosts.length) {
      // The next failover host, as the run's clients would.
      this.hostIndex++;
      this.guarded(() => this.connect());
      return;
    }
    const at = `at second ${this.opts.second()}`;
    if (this.phase === Phase.Connecting) this.problem ??= `the connection that reads them failed before CONNACK (${connectErrorKind(error)})`;
    else if (this.phase === Phase.Subscribing) this.problem ??= `the broker closed the connection that reads them before SUBACK`;
    else this.problem ??= `the broker closed the connection that reads them ${at}`;
    this.connectionLost = true;
    this.finish();
  }

  // ---- packets ------------------------------------------------------------------------------------------------

  acceptHeader(): boolean {
    return true;
  }

  onFrameError(_kind: 'malformed' | 'too-large', detail: string): void {
    this.giveUp(`the broker sent a packet that cannot be read (${detail})`);
  }

  onFrame(header: number, buf: Buffer, start: number, end: number): boolean {
    const type = header >> 4;
    // CONNACK, PUBLISH, SUBACK and DISCONNECT matter; PINGRESP and anything else are let by.
    if (type !== 2 && type !== 3 && type !== 9 && type !== 14) return true;
    const packet = decodeControl(header, buf.subarray(start, end), this.opts.protocolVersion);
    if (packet === undefined) {
      this.giveUp(`the broker sent a malformed packet (${lastDecodeError})`);
      return false;
    }
    switch (packet.cmd) {
      case 'connack':
        this.onConnack(packet.returnCode ?? packet.reasonCode ?? 0);
        break;
      case 'suback':
        // Return codes (3.1.1) or reason codes (5): a number each, as the broker sends them.
        this.onSuback((packet.granted as unknown[]).map((g) => (typeof g === 'number' ? g : 0x80)));
        break;
      case 'publish':
        this.onPublish(packet.topic, packet.payload);
        break;
      case 'disconnect':
        this.giveUp(`the broker ended the connection that reads them at second ${this.opts.second()} (DISCONNECT ${reasonName(packet.reasonCode ?? 0)})`);
        return false;
      default:
        break;
    }
    return this.phase !== Phase.Done;
  }

  private onConnack(code: number): void {
    if (this.phase !== Phase.Connecting) return;
    if (code !== 0) {
      this.giveUp(`the broker refused the connection that reads them (CONNACK ${connackName(code, this.opts.protocolVersion)})`);
      return;
    }
    this.phase = Phase.Subscribing;
    this.timers.schedule(this.waitTimer, this.opts.replyTimeoutMs);
    this.timers.schedule(this.pingTimer, (KEEPALIVE_SEC * 1000) / 2);
    const subscriptions = Object.values(SYS_TOPICS).map((topic) => ({ topic, qos: 0 as const }));
    this.link!.write(mqtt.generate({ cmd: 'subscribe', messageId: 1, subscriptions }, { protocolVersion: this.opts.protocolVersion }));
  }

  private onSuback(codes: number[]): void {
    if (this.phase !== Phase.Subscribing) return;
    this.timers.cancel(this.waitTimer);
    if (codes.length > 0 && codes.every((c) => c >= 0x80)) {
      this.giveUp(`the broker refused the subscriptions (SUBACK ${reasonName(codes[0])})`);
      return;
    }
    this.phase = Phase.Reading;
  }

  private onPublish(topic: string, payload: Buffer | string): void {
    const name = SERIES_BY_TOPIC.get(topic);
    if (name === undefined) return;
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    const value = Number(text.trim());
    if (text.trim() === '' || !Number.isFinite(value)) return;
    const points = this.series[name];
    const last = points[points.length - 1];
    // Only changes: a value repeated (a retained copy, a broker publishing every time) adds nothing.
    if (last !== undefined && last.value === value) return;
    points.push({ second: Math.max(0, this.opts.second()), value });
  }

  // ---- waits --------------------------------------------------------------------------------------------------

  private onWaitExpired(): void {
    const wait = formatWait(this.opts.replyTimeoutMs);
    if (this.phase === Phase.Connecting) this.giveUp(`no CONNACK within ${wait} (the scenario's replyTimeout)`);
    else if (this.phase === Phase.Subscribing) this.giveUp(`no SUBACK within ${wait} (the scenario's replyTimeout)`);
  }

  private ping(): void {
    if (this.phase !== Phase.Subscribing && this.phase !== Phase.Reading) return;
    this.link?.write(Buffer.from([0xc0, 0x00]));
    this.timers.schedule(this.pingTimer, (KEEPALIVE_SEC * 1000) / 2);
  }

  /** Nothing more will be read: say why, and close. */
  private giveUp(why: string): void {
    if (this.phase === Phase.Done) return;
    this.problem ??= why;
    this.link?.destroy();
    this.finish();
  }

  private finish(): void {
    this.phase = Phase.Done;
    this.reader?.kill();
    this.timers.close();
  }
}

function formatWait(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
