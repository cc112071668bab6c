/**
 * One simulated MQTT client, as a state machine over one link at a time: it runs its group's steps (program.ts),
 * connects and reconnects with back-off, and hands each packet to the part that owns it (outbound.ts for its QoS
 * flows as a publisher, inbound.ts as a receiver, subscriptions.ts), bounding every wait for the broker by the
 * scenario's reply timeout.
 *
 *   Idle ──connect step──▶ Connecting ──CONNACK 0──▶ Connected ──disconnect step──▶ Closing ──closed──▶ Idle
 *              ▲               │ refused, timeout, error       │ lost, timeout, protocol error
 *              └── Backoff ◀───┴───────────(attempts or reconnects left)───────────┘ (else: gives up)
 */
import type { Packet } from 'mqtt-packet';
import { FrameReader, type FrameSink } from '../protocol/frame-reader.js';
import { RC, connackName } from '../protocol/reason-codes.js';
import { noteTraffic } from '../metrics/rates.js';
import { Counter, Gauge } from '../metrics/series.js';
import type { ConnectStep, DisconnectStep, ProtocolVersion, PublishStep } from '../scenario/schema.js';
import { BatchWriter } from '../util/batch-writer.js';
import { Timer } from '../util/timers.js';
import { connectPacket, connectErrorKind } from './connect-packet.js';
import { decodeControl, lastDecodeError, writeGenerated, writePingreq, type PublishTemplate } from './codec.js';
import type { Engine, GroupRuntime } from './engine.js';
import { takenThrough, type PublishedStream } from './group-metrics.js';
import { Receiver } from './inbound.js';
import { OutboundFlows } from './outbound.js';
import { StepProgram } from './program.js';
import { Publisher } from './publisher.js';
import { Subscriptions } from './subscriptions.js';
import { openLink, type Link, type LinkHandler } from './transport.js';

/** Most QoS 1/2 messages in flight: two of the 65,535 packet ids stay free for a SUBSCRIBE and an UNSUBSCRIBE. */
const MAX_WINDOW = 65_533;

const State = {
  Idle: 0,
  /** Socket opening or CONNECT sent, waiting for CONNACK. */
  Connecting: 1,
  Connected: 2,
  /** DISCONNECT sent (or the socket being closed), waiting for it to close. */
  Closing: 3,
  /** Between a failed or lost connection and the next attempt. */
  Backoff: 4,
} as const;
type State = (typeof State)[keyof typeof State];

/** What the connection timer does when it fires. */
const ConnAction = { None: 0, ConnectTimeout: 1, Retry: 2 } as const;
type ConnAction = (typeof ConnAction)[keyof typeof ConnAction];

/** What the step in progress waits for; a reconnection resumes it rather than moving on. */
type Awaiting = 'connect' | 'subscribe' | 'unsubscribe' | 'publish' | 'acks' | 'wait' | 'disconnect' | null;

/**
 * Per-second figures for results.jtl, summed between the engine's ticks. Each kind's `first…Us` is the start of its
 * earliest sample in the second (run clock, µs; -1: none), the row's timestamp as JMeter reads it.
 */
export interface ClientSamples {
  /** QoS 1/2 publishes acknowledged, and the sum of their PUBACK / PUBCOMP latencies. */
  acked: number;
  ackFirstUs: number;
  ackLatencyUs: number;
  /** QoS 1/2 publishes the broker refused (reason code ≥ 0x80). */
  refused: number;
  /** Bytes of QoS 1/2 publishes sent. */
  ackedBytes: number;
  /** QoS 0 publishes sent, and their bytes. */
  sent0: number;
  sent0Bytes: number;
  sent0FirstUs: number;
  /** Messages received, the sum of their end-to-end latencies, and their bytes. */
  rxCount: number;
  rxFirstUs: number;
  rxLatencyUs: number;
  rxBytes: number;
}

export function emptySamples(): ClientSamples {
  return { acked: 0, ackFirstUs: -1, ackLatencyUs: 0, refused: 0, ackedBytes: 0, sent0: 0, sent0Bytes: 0, sent0FirstUs: -1, rxCount: 0, rxFirstUs: -1, rxLatencyUs: 0, rxBytes: 0 };
}

export class SimClient implements LinkHandler, FrameSink {
  readonly protocolVersion: ProtocolVersion;
  /** Position in the run's flow gate (see flow-gate.ts). */
  slot = 0;
  /** Messages sent by all this client's publish steps. */
  totalSent = 0;
  finished = false;
  /** Gave up: connect failed for good, or the connection was lost with no reconnects left. */
  failed = false;
  link: Link | null = null;
  writer: BatchWriter | null = null;
  /** Time the current read arrived, µs (one clock read per read, not per message). */
  rxNowUs = 0;
  lastTxMs = 0;
  readonly samples: ClientSamples = emptySamples();

  private state: State = State.Idle;
  private reader: FrameReader | null = null;
  private readonly program: StepProgram;
  private readonly outbound = new OutboundFlows(this);
  private readonly receiver = new Receiver(this);
  private readonly subscriptions = new Subscriptions(this);
  private awaiting: Awaiting = null;

  // Connecting.
  private connectStep: ConnectStep | null = null;
  private attemptsLeft = 0;
  private reconnectsLeft = 0;
  private backoffMs = 0;
  private hostIndex = 0;
  private connectStartUs = 0;
  /** A connection lost after CONNACK is being re-established (not the step's own connect). */
  private reconnecting = false;
  /** Reason code of a DISCONNECT the broker sent before closing (-1: none). */
  private serverDisconnect = -1;
  private keepaliveMs = 0;
  /** When the unanswered PINGREQ was sent, µs (-1: none). */
  private pingSentUs = -1;
  /** Since when a packet from the broker has been arriving without completing, µs (-1: none). */
  private partialSinceUs = -1;
  /** When the DISCONNECT step began waiting for the socket to close, µs. */
  private closingSinceUs = 0;
  /** Connect timeout or reconnect back-off (on the engine's timers: any length), and what it then does. */
  private connTimer: Timer<SimClient> | null = null;
  private connAction: ConnAction = ConnAction.None;
  /** A `wait` step's timer (on the engine's timers: any length). */
  private stepTimer: Timer<SimClient> | null = null;

  // Publishing.
  private publisher: Publisher | null = null;
  private drainWanted = false;
  private seq = 0;
  /** What this client publishes, per topic; made on its first publish. */
  private streams: Map<string, PublishedStream> | null = null;
  /** A broker fault was marked while a link was open: its streams' frontiers are set when that link ends. */
  private faultPending = false;

  constructor(
    readonly engine: Engine,
    readonly group: GroupRuntime,
    readonly index: number,
    readonly clientId: string,
    readonly publisherId: number,
  ) {
    this.protocolVersion = group.config.protocolVersion;
    this.program = new StepProgram(group.config.steps);
  }

  get connected(): boolean {
    return this.state === State.Connected;
  }

  vars(): { clientId: string; group: string; index: number } {
    return { clientId: this.clientId, group: this.group.name, index: this.index };
  }

  // ---- the step program ---------------------------------------------------------------------------------------

  start(): void {
    this.advance();
  }

  /** Run steps until one has to wait. */
  private advance(): void {
    const engine = this.engine;
    while (!this.finished) {
      if (engine.stopping) return;
      const now = engine.clock.nowUs();
      const step = this.program.next(now);
      if (step === null) {
        this.finish();
        return;
      }
      switch (step.kind) {
        case 'connect':
          if (this.state === State.Connected) continue; // a repeat around connect: already connected
          this.beginConnect(step);
          return;
        case 'subscribe':
          if (!this.requireConnected('subscribe', step.at.line)) continue;
          this.awaiting = 'subscribe';
          this.subscriptions.subscribe(step, now);
          return;
        case 'unsubscribe':
          if (!this.requireConnected('unsubscribe', step.at.line)) continue;
          this.awaiting = 'unsubscribe';
          this.subscriptions.unsubscribe(step, now);
          return;
        case 'publish':
          if (!this.requireConnected('publish', step.at.line)) continue;
          this.beginPublish(step, now);
          return;
        case 'wait':
          this.awaiting = 'wait';
          this.stepTimer ??= new Timer<SimClient>(waitStepDone, this);
          engine.timers.schedule(this.stepTimer, step.durationMs);
          return;
        case 'disconnect':
          if (this.state !== State.Connected) continue;
          this.disconnect(step, now);
          return;
      }
    }
  }

  /** The step waiting for `what` is done: go on with the next. */
  /** A `wait` step's time is up. */
  waitDone(): void {
    this.stepDone('wait');
  }

  private stepDone(what: Awaiting): void {
    if (this.awaiting !== what) return;
    this.awaiting = null;
    this.advance();
  }

  private requireConnected(what: string, line: number): boolean {
    if (this.state === State.Connected) return true;
    this.engine.noteError('not-connected', this, `${what} at line ${line} while not connected`);
    return false;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.engine.clientFinished(this);
  }

  /** Abandon the remaining steps (connection gone for good). */
  private giveUp(): void {
    this.failed = true;
    this.awaiting = null;
    if (this.stepTimer) this.engine.timers.cancel(this.stepTimer);
    this.program.clear();
    this.publisher = null;
    this.finish();
  }

  // ---- connecting ---------------------------------------------------------------------------------------------

  private beginConnect(step: ConnectStep): void {
    this.awaiting = 'connect';
    this.connectStep = step;
    this.attemptsLeft = step.attempts;
    this.reconnectsLeft = step.reconnectAttempts;
    this.backoffMs = step.backoffMs;
    this.reconnecting = false;
    this.receiver.consumeIntervalUs = step.consumeRatePerSec ? 1e6 / step.consumeRatePerSec : 0;
    this.openConnection();
  }

  private openConnection(): void {
    const engine = this.engine;
    this.state = State.Connecting;
    this.serverDisconnect = -1;
    this.pingSentUs = -1;
    this.partialSinceUs = -1;
    this.connectStartUs = engine.clock.nowUs();
    this.attemptsLeft--;
    this.reader = new FrameReader(this);
    const link = openLink(engine.endpoint, this.hostIndex, this, engine.sourceFor(this.group, this.index));
    this.link = link;
    this.writer = new BatchWriter(link, engine.flushQueue);
    this.connLater(this.connectStep!.timeoutMs, ConnAction.ConnectTimeout);
  }

  onLinkOpen(link: Link): void {
    if (link !== this.link || this.state !== State.Connecting) return;
    this.send(connectPacket(this, this.connectStep!, this.reconnecting));
  }

  private onConnack(pkt: Packet & { cmd: 'connack' }): void {
    if (this.state !== State.Connecting) return this.protocolProblem('CONNACK while not connecting');
    const engine = this.engine;
    const code = this.protocolVersion === 5 ? (pkt.reasonCode ?? 0) : (pkt.returnCode ?? 0);
    if (code !== 0) {
      this.connectFailed(`connack-0x${code.toString(16).padStart(2, '0')}`, `CONNACK refused: ${connackName(code, this.protocolVersion)}`);
      return;
    }
    this.clearConnTimer();
    const now = this.rxNowUs;
    const m = this.group.metrics;
    const latency = now - this.connectStartUs;
    m.connect.record(latency);
    m.series.add(Counter.connectsOk);
    noteTraffic(m.connected, now);
    m.series.adjustGauge(Gauge.connectionsOpen, 1);
    engine.jtlSample(this.connectStartUs, latency, 'connect', this, true, '', 0);
    this.state = State.Connected;
    const step = this.connectStep!;
    this.backoffMs = step.backoffMs;
    const props = pkt.properties;
    this.keepaliveMs = (props?.serverKeepAlive ?? step.keepaliveSec) * 1000;
    this.outbound.window = Math.min(props?.receiveMaximum ?? 65535, engine.maxInflight, MAX_WINDOW);
    this.lastTxMs = engine.nowMs;
    engine.clientConnected(this);
    if (!this.reconnecting) {
      // A connect step after a disconnect step, to a session the broker no longer has (it restarted without it, or
      // it expired): what the client holds for that session goes, as after a reconnection.
      if (pkt.sessionPresent !== true && this.subscriptions.inForce) this.resumeSession(false, now);
      this.stepDone('connect');
      return;
    }
    this.reconnecting = false;
    this.resumeAfterReconnect(pkt.sessionPresent === true, now);
  }

  private connectFailed(kind: string, detail: string): void {
    const engine = this.engine;
    const m = this.group.metrics;
    this.clearConnTimer();
    this.dropLink();
    this.state = State.Idle;
    m.series.error(kind);
    engine.noteError(kind, this, detail);
    if (!this.reconnecting) {
      m.series.add(Counter.connectsFailed);
      engine.jtlSample(this.connectStartUs, engine.clock.nowUs() - this.connectStartUs, 'connect', this, false, detail, 0);
    }
    if (engine.stopping) return;
    const retry = this.reconnecting ? this.reconnectsLeft-- > 0 : this.attemptsLeft > 0;
    if (!retry) {
      this.giveUp();
      return;
    }
    this.hostIndex++;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.state = State.Backoff;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.connectStep!.maxBackoffMs);
    this.connLater(wait, ConnAction.Retry);
  }

  /** Resend what was in flight if the session was kept; if not, drop it and renew the subscriptions. */
  private resumeSession(sessionPresent: boolean, nowUs: number): void {
    if (sessionPresent) {
      this.outbound.resend(this.writer!);
    } else {
      // The broker forgot the session: what was in flight will not be acknowledged; subscriptions must be renewed.
      this.outbound.forget();
      this.receiver.forget();
    }
    this.subscriptions.resume(sessionPresent, nowUs);
  }

  /** After a reconnection: the session resumed or renewed, and the step in progress goes on. */
  private resumeAfterReconnect(sessionPresent: boolean, nowUs: number): void {
    this.resumeSession(sessionPresent, nowUs);
    // The step that was in progress when the connection went continues.
    switch (this.awaiting) {
      case 'connect':
        this.stepDone('connect');
        break;
      case 'publish':
        if (this.publisher !== null) this.engine.wake(this.publisher);
        break;
      case 'acks':
        if (this.outbound.size === 0) this.stepDone('acks');
        break;
      default:
        break;
    }
  }

  private connLater(ms: number, action: ConnAction): void {
    this.connAction = action;
    this.engine.timers.schedule((this.connTimer ??= new Timer<SimClient>(connTimerDue, this)), ms);
  }

  /** No timer kept once connected: an idle client holds none. */
  private clearConnTimer(): void {
    if (this.connTimer !== null) {
      this.engine.timers.cancel(this.connTimer);
      this.connTimer = null;
    }
    this.connAction = ConnAction.None;
  }

  /** The connect timeout or reconnect back-off is over. */
  connTimerDue(): void {
    const action = this.connAction;
    this.connAction = ConnAction.None;
    if (action === ConnAction.ConnectTimeout) {
      const timeout = this.connectStep!.timeoutMs;
      this.connectFailed('connect-timeout', `no CONNACK within ${timeout} ms`);
    } else if (action === ConnAction.Retry) {
      if (this.engine.stopping) return;
      if (this.reconnecting) this.attemptsLeft = 1;
      this.openConnection();
    }
  }

  // ---- link events ----------------------------------------------------------------------------------------------

  onLinkData(chunk: Buffer, link: Link): void {
    if (link !== this.link) return;
    const engine = this.engine;
    engine.nowMs = Date.now() - engine.epochWallMs;
    this.rxNowUs = engine.clock.nowUs();
    this.group.metrics.series.add(Counter.bytesReceived, chunk.length);
    this.receiver.beginRead();
    this.reader?.feed(chunk);
    const reader = this.reader;
    if (reader !== null) {
      // A packet still arriving: when did it start? (partial packets are bounded by the reply timeout)
      if (reader.partialBytes === 0) this.partialSinceUs = -1;
      else if (this.partialSinceUs < 0) this.partialSinceUs = this.rxNowUs;
    }
    engine.deliveriesReceived();
    this.receiver.endRead(chunk.length);
  }

  /** Go on reading after a slow consumer's pause. */
  resumeReading(): void {
    this.reader?.resume();
  }

  onLinkClose(error: string | null, link: Link): void {
    // A link this client already let go of (it closed it, and handled what followed).
    if (link !== this.link) return;
    const was = this.state;
    this.dropLink();
    this.state = State.Idle;
    if (was === State.Connecting) {
      this.connectFailed(connectErrorKind(error), error ? `connection failed: ${error}` : 'connection closed before CONNACK');
      return;
    }
    if (was === State.Closing) {
      // Our own DISCONNECT (or close): the step goes on.
      this.group.metrics.series.add(Counter.disconnects);
      this.stepDone('disconnect');
      return;
    }
    if (was !== State.Connected || this.engine.stopping) return;
    // Lost without asking: say why, then reconnect if allowed.
    const kind = this.lossKind(error);
    this.connectionLost(kind, error ? `connection lost: ${error}` : 'connection closed by the broker');
  }

  private lossKind(error: string | null): string {
    if (this.serverDisconnect === RC.SessionTakenOver) return 'takeover';
    if (this.serverDisconnect >= 0) return `server-disconnect-0x${this.serverDisconnect.toString(16).padStart(2, '0')}`;
    if (this.engine.likelyTakeover(this)) return 'takeover';
    return error ? 'socket-error' : 'closed-by-broker';
  }

  /** The connection is gone (already let go of): count why, then reconnect if the connect step allows it. */
  private connectionLost(kind: string, detail: string): void {
    this.group.metrics.series.error(kind);
    this.engine.noteError(kind, this, detail);
    this.engine.jtlSample(this.engine.clock.nowUs(), 0, 'connection', this, false, `${kind}: ${detail}`, 0);
    if (this.engine.stopping) return;
    if (this.reconnectsLeft > 0 && this.connectStep !== null) {
      this.reconnectsLeft--;
      this.reconnecting = true;
      this.attemptsLeft = 1;
      this.scheduleRetry();
      return;
    }
    this.giveUp();
  }

  /**
   * A broker fault happened (the broker process has exited; it is not started again before every worker has marked
   * this): what each stream had acknowledged before it. A link still open may yet bring acknowledgements the broker
   * sent before it stopped, so with a link the frontiers are taken when it ends.
   */
  markFault(): void {
    const streams = this.streams;
    if (streams === null) return;
    const open = this.link !== null;
    for (const s of streams.values()) (s.faultFrontiers ??= []).push(open ? -1 : takenThrough(s));
    if (open) this.faultPending = true;
  }

  /**
   * Let go of the current link: no more of its events are handled here. A connected client's connection stops
   * counting, and subscriptions stop covering what is published unless the session outlives the connection.
   */
  private dropLink(): void {
    const link = this.link;
    if (link === null) return;
    this.link = null;
    this.writer = null;
    if (this.faultPending) this.settleFaultMarks();
    this.reader?.kill();
    this.reader = null;
    this.receiver.stop();
    if (this.state === State.Connected || this.state === State.Closing) {
      this.group.metrics.series.adjustGauge(Gauge.connectionsOpen, -1);
      this.engine.clientDisconnected(this);
    }
    const step = this.connectStep;
    const persistent = step !== null && (this.protocolVersion === 5 ? step.sessionExpirySec > 0 : !step.clean);
    this.subscriptions.endCoverage(persistent, this.engine.clock.nowUs());
    if (!link.destroyed) link.destroy();
  }

  /** The link that was open at a fault has ended: its acknowledgements all came from before the fault. */
  private settleFaultMarks(): void {
    this.faultPending = false;
    for (const s of this.streams!.values()) {
      const marks = s.faultFrontiers!;
      for (let i = 0; i < marks.length; i++) if (marks[i] < 0) marks[i] = takenThrough(s);
    }
  }

  // ---- reading ------------------------------------------------------------------------------------------------

  acceptHeader(): boolean {
    return true;
  }

  onFrameError(kind: 'malformed' | 'too-large', detail: string): void {
    this.protocolProblem(`${kind} packet from the broker: ${detail}`);
  }

  onFrame(h: number, buf: Buffer, start: number, end: number): boolean {
    const type = h >> 4;
    if (type === 3) return this.receiver.onPublish(h, buf, start, end) && this.link !== null;
    if (type >= 4 && type <= 7) {
      if (end - start < 2) {
        this.protocolProblem('acknowledgement shorter than 2 bytes');
        return false;
      }
      const packetId = (buf[start] << 8) | buf[start + 1];
      const rc = end - start > 2 ? buf[start + 2] : 0;
      if (type === 4) this.outbound.onPuback(packetId, rc);
      else if (type === 5) this.outbound.onPubrec(packetId, rc, this.writer!);
      else if (type === 6) this.receiver.onPubrel(packetId);
      else this.outbound.onPubcomp(packetId, rc);
      return this.link !== null;
    }
    if (type === 13) {
      this.pingSentUs = -1;
      return true;
    }
    const pkt = decodeControl(h, Buffer.from(buf.subarray(start, end)), this.protocolVersion);
    if (pkt === undefined) {
      this.protocolProblem(`malformed packet from the broker: ${lastDecodeError}`);
      return false;
    }
    switch (pkt.cmd) {
      case 'connack':
        this.onConnack(pkt);
        break;
      case 'suback':
        if (this.subscriptions.onSuback(pkt)) this.stepDone('subscribe');
        break;
      case 'unsuback':
        if (this.subscriptions.onUnsuback(pkt)) this.stepDone('unsubscribe');
        break;
      case 'disconnect':
        // A server sends DISCONNECT only in MQTT 5 [MQTT-3.14.0-1]; to a 3.1.1 client it is a protocol error.
        if (this.protocolVersion !== 5) {
          this.protocolProblem('DISCONNECT from the broker to an MQTT 3.1.1 client');
          return false;
        }
        this.serverDisconnect = pkt.reasonCode ?? 0;
        break;
      case 'auth':
        this.protocolProblem('unexpected AUTH from the broker');
        return false;
      default:
        this.protocolProblem(`unexpected ${pkt.cmd} from the broker`);
        return false;
    }
    return this.link !== null;
  }

  /** The broker broke the protocol: count it, close, and give up (a broken peer is not reconnected to). */
  protocolProblem(detail: string): void {
    this.group.metrics.series.error('protocol-error');
    this.engine.noteError('protocol-error', this, detail);
    this.engine.jtlSample(this.engine.clock.nowUs(), 0, 'connection', this, false, `protocol-error: ${detail}`, 0);
    this.clearConnTimer();
    this.dropLink();
    this.state = State.Idle;
    this.giveUp();
  }

  // ---- waits the broker must answer -----------------------------------------------------------------------------

  /**
   * Called about once a second: a PINGREQ when the keep alive is due, and every wait for the broker bounded by
   * `replyTimeoutUs` — SUBACK, UNSUBACK, PUBACK/PUBREC/PUBCOMP, PINGRESP, a packet that started arriving and never
   * finished, and the close after our DISCONNECT. A wait that runs out counts a `timeout-<what>` error and ends the
   * connection as a loss (reconnecting when the connect step allows it).
   */
  tick(nowMs: number, nowUs: number, replyTimeoutUs: number): void {
    if (this.state === State.Closing) {
      if (nowUs - this.closingSinceUs > replyTimeoutUs && this.link !== null) {
        // The broker does not close after our DISCONNECT: close from here.
        this.engine.noteError('timeout-close', this, `the connection was not closed within ${replyTimeoutUs / 1000} ms of DISCONNECT`);
        this.group.metrics.series.error('timeout-close');
        this.dropLink();
        this.state = State.Idle;
        this.group.metrics.series.add(Counter.disconnects);
        this.stepDone('disconnect');
      }
      return;
    }
    if (this.state !== State.Connected) return;
    const late = nowUs - replyTimeoutUs;
    let what: string | undefined;
    const sub = this.subscriptions.awaited();
    if (sub !== undefined && sub.startUs < late) what = sub.what;
    const oldest = this.outbound.oldestSentUs();
    if (what === undefined && oldest >= 0 && oldest < late) what = 'publish-ack';
    if (what === undefined && this.pingSentUs >= 0 && this.pingSentUs < late) what = 'pingresp';
    if (what === undefined && this.partialSinceUs >= 0 && this.partialSinceUs < late) what = 'packet';
    if (what !== undefined) {
      const kind = `timeout-${what}`;
      this.dropLink();
      this.state = State.Idle;
      this.connectionLost(kind, `no ${what === 'packet' ? 'end to a packet that started arriving' : what.toUpperCase()} within ${replyTimeoutUs / 1000} ms`);
      return;
    }
    if (this.keepaliveMs > 0 && nowMs - this.lastTxMs >= this.keepaliveMs) {
      writePingreq(this.writer!);
      this.lastTxMs = nowMs;
      if (this.pingSentUs < 0) this.pingSentUs = nowUs;
    }
  }

  // ---- sending ------------------------------------------------------------------------------------------------

  send(packet: Packet): void {
    writeGenerated(this.writer!, packet, this.protocolVersion);
    this.lastTxMs = this.engine.nowMs;
  }

  allocatePacketId(): number {
    return this.outbound.allocatePacketId(this.subscriptions);
  }

  canSend(): boolean {
    return this.state === State.Connected && this.writer !== null;
  }

  inflightFull(): boolean {
    return this.outbound.full;
  }

  backlog(): number {
    return this.writer === null ? 0 : this.writer.backlog;
  }

  waitForDrain(): void {
    this.drainWanted = true;
  }

  onLinkDrain(): void {
    if (!this.drainWanted) return;
    this.drainWanted = false;
    if (this.publisher !== null) this.engine.wake(this.publisher);
  }

  nextSeq(): number {
    return this.seq++;
  }

  streamFor(topic: string, qos: number): PublishedStream {
    const streams = (this.streams ??= new Map());
    let s = streams.get(topic);
    if (s === undefined) {
      const faults = this.engine.faultsMarked;
      s = {
        publisherId: this.publisherId,
        clientId: this.clientId,
        topic,
        qos,
        sent: 0,
        acknowledged: 0,
        ackedThrough: 0,
        recThrough: 0,
        unacknowledged: null,
        // Nothing of a stream that begins after a fault was acknowledged before it.
        faultFrontiers: faults > 0 ? new Array<number>(faults).fill(0) : null,
        firstUs: -1,
        lastUs: -1,
      };
      streams.set(topic, s);
      this.group.metrics.published.push(s);
    }
    s.qos = qos;
    return s;
  }

  sendPublish(template: PublishTemplate, stream: PublishedStream, sentUs: number): void {
    const seq = stream.sent++;
    if (stream.firstUs < 0) stream.firstUs = sentUs;
    stream.lastUs = sentUs;
    const qos = this.publisher!.qos;
    let packetId = 0;
    if (qos > 0) {
      packetId = this.allocatePacketId();
      this.outbound.add(packetId, stream, template, seq, qos, sentUs);
    }
    this.totalSent++;
    const size = template.encode(this.writer!, packetId, seq, sentUs, false);
    const g = this.group.metrics;
    g.series.add(Counter.messagesSent);
    g.series.add(Counter.bytesSent, size);
    if (qos === 0) {
      if (this.samples.sent0 === 0) this.samples.sent0FirstUs = sentUs;
      this.samples.sent0++;
      this.samples.sent0Bytes += size;
    } else {
      this.samples.ackedBytes += size;
    }
    this.lastTxMs = this.engine.nowMs;
  }

  private beginPublish(step: PublishStep, nowUs: number): void {
    const pub = new Publisher(this, step, nowUs);
    this.publisher = pub;
    this.awaiting = 'publish';
    this.engine.wake(pub);
  }

  publisherFinished(pub: Publisher): void {
    if (this.publisher !== pub) return;
    this.publisher = null;
    // The step ends when what it sent is acknowledged, so a disconnect right after does not cut flows short.
    if (this.outbound.size > 0) {
      this.awaiting = 'acks';
      return;
    }
    this.stepDone('publish');
  }

  /** An outgoing flow ended (acknowledged or refused): a waiting publisher may go on, or the step may end. */
  flowCompleted(): void {
    const pub = this.publisher;
    if (pub !== null && pub.waiting) this.engine.wake(pub);
    else if (this.awaiting === 'acks' && this.outbound.size === 0) this.stepDone('acks');
  }

  // ---- disconnecting --------------------------------------------------------------------------------------------

  private disconnect(step: DisconnectStep, nowUs: number): void {
    this.awaiting = 'disconnect';
    if (step.abrupt) {
      // Vanish: the broker sees the connection drop (and publishes the will). The step ends here.
      this.engine.jtlSample(nowUs, 0, 'disconnect', this, true, 'abrupt', 0);
      this.dropLink();
      this.state = State.Idle;
      this.group.metrics.series.add(Counter.disconnects);
      this.stepDone('disconnect');
      return;
    }
    const packet: Packet = this.protocolVersion === 5 ? { cmd: 'disconnect', reasonCode: step.reasonCode } : { cmd: 'disconnect' };
    this.send(packet);
    this.engine.jtlSample(nowUs, 0, 'disconnect', this, true, '', 0);
    this.state = State.Closing;
    this.closingSinceUs = nowUs;
    this.writer?.writeOut();
    this.link!.end();
  }

  /** End of the run: say goodbye (or just close) and drop every timer. */
  shutdown(): void {
    this.clearConnTimer();
    if (this.stepTimer) this.engine.timers.cancel(this.stepTimer);
    this.receiver.stop();
    this.publisher = null;
    if (this.state === State.Connected && this.writer !== null) {
      this.state = State.Closing;
      this.send({ cmd: 'disconnect' });
      this.writer.writeOut();
      this.link!.end();
    } else {
      this.dropLink();
      this.state = State.Idle;
    }
  }
}

function connTimerDue(c: SimClient): void {
  c.connTimerDue();
}

function waitStepDone(c: SimClient): void {
  c.waitDone();
}
