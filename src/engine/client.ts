/**
 * One simulated MQTT client: a small object over one link that runs its group's steps (connect, subscribe,
 * publish, unsubscribe, wait, disconnect, repeat), answers the QoS flows as a receiver, keeps the connection alive,
 * reconnects with back-off, and records what it measures into its group's metrics.
 */
import type { Packet } from 'mqtt-packet';
import { FrameReader, type FrameSink } from '../protocol/frame-reader.js';
import { RC, connackName, reasonName } from '../protocol/reason-codes.js';
import { Counter, Gauge } from '../metrics/series.js';
import { bindTemplate, renderBound } from '../scenario/templates.js';
import type {
  ConnectStep,
  DisconnectStep,
  ProtocolVersion,
  PublishStep,
  Step,
  SubscribeStep,
  Subscription as SubscriptionOptions,
  UnsubscribeStep,
} from '../scenario/schema.js';
import { SESSION_NEVER_EXPIRES } from '../scenario/schema.js';
import { BatchWriter } from '../util/batch-writer.js';
import { PUBACK, PUBCOMP, PUBREC, PUBREL, decodeControl, lastDecodeError, writeAck, writeGenerated, writePingreq, type PublishTemplate } from './codec.js';
import { slotOfPublisher, type Engine, type GroupRuntime } from './engine.js';
import type { PublishedStream } from './group-metrics.js';
import { header, readHeader } from './payload.js';
import { Publisher } from './publisher.js';
import { openLink, type Link, type LinkHandler } from './transport.js';

/** Reads are batched only when their messages had already waited this long (µs): the broker is overloaded. */
const BATCH_LAG_US = 20_000;
/** A read smaller than this under overload is followed by a short pause (bytes). */
const BATCH_SMALL_READ = 16 * 1024;
const BATCH_PAUSE_MS = 1;

const State = {
  Idle: 0,
  /** Socket opening or CONNECT sent, waiting for CONNACK. */
  Connecting: 1,
  Connected: 2,
  /** DISCONNECT sent (or abrupt close), waiting for the socket to close. */
  Closing: 3,
  /** Between a lost connection and the next attempt. */
  Backoff: 4,
} as const;
type State = (typeof State)[keyof typeof State];

interface Frame {
  steps: Step[];
  pc: number;
  /** Repetitions left including the current one (Infinity: until the run ends). */
  times: number;
  endUs: number;
}

interface ActiveSub {
  filter: string;
  step: SubscribeStep;
  options: SubscriptionOptions;
  requested: number;
  granted: number;
  coverageIndex: number;
}

interface Inflight {
  stream: PublishedStream;
  template: PublishTemplate;
  seq: number;
  sentUs: number;
  /** QoS 2: PUBREC received, PUBREL sent. */
  released: boolean;
}

export class SimClient implements LinkHandler, FrameSink {
  readonly protocolVersion: ProtocolVersion;
  /** Position in the run's flow gate (see flow-gate.ts). */
  slot = 0;
  /** Messages sent by all this client's publish steps. */
  totalSent = 0;
  private state: State = State.Idle;
  private link: Link | null = null;
  private writer: BatchWriter | null = null;
  private reader: FrameReader | null = null;
  private readonly frames: Frame[] = [];
  finished = false;
  /** Gave up: connect failed for good, or the connection was lost with no reconnects left. */
  failed = false;

  // Connecting.
  private connectStep: ConnectStep | null = null;
  private attemptsLeft = 0;
  private reconnectsLeft = 0;
  private backoffMs = 0;
  private hostIndex = 0;
  private connectStartUs = 0;
  /** Connect timeout or reconnect back-off. */
  private connTimer: NodeJS.Timeout | null = null;
  /** A `wait` step's timer. */
  private stepTimer: NodeJS.Timeout | null = null;
  /** What the step in progress is waiting for; a reconnect resumes it rather than moving on. */
  private awaiting: 'connect' | 'subscribe' | 'unsubscribe' | 'publish' | 'acks' | 'wait' | 'disconnect' | null = null;
  /** A connection lost after CONNACK is being re-established (not the step's own connect). */
  private reconnecting = false;
  private serverDisconnect = -1;
  private keepaliveMs = 0;
  lastTxMs = 0;
  /** Outgoing QoS 1/2 messages the broker may hold unacknowledged. */
  private window = 20;

  // Operations in progress.
  private nextPacketId = 1;
  private readonly inflight = new Map<number, Inflight>();
  private readonly inboundQos2 = new Set<number>();
  private pendingSubscribe: { packetId: number; startUs: number; subs: ActiveSub[] } | null = null;
  private pendingUnsubscribe: { packetId: number; startUs: number; filters: string[] } | null = null;
  private readonly subs: ActiveSub[] = [];
  private publisher: Publisher | null = null;
  private drainWanted = false;
  private seq = 0;
  private readonly streams = new Map<string, PublishedStream>();
  /** A slow consumer's pace: the earliest time the next message may be taken, µs. */
  private consumeNextUs = 0;
  private consumeIntervalUs = 0;
  private consumeTimer: NodeJS.Timeout | null = null;

  // Per-second JMeter-style samples of publishing and receiving.
  pubCount = 0;
  pubLatencyUs = 0;
  pubBytes = 0;
  pubErrors = 0;
  rxCount = 0;
  rxLatencyUs = 0;
  rxBytes = 0;

  constructor(
    readonly engine: Engine,
    readonly group: GroupRuntime,
    readonly index: number,
    readonly clientId: string,
    readonly publisherId: number,
  ) {
    this.protocolVersion = group.config.protocolVersion;
  }

  // ---- the step program ---------------------------------------------------------------------------------------

  start(): void {
    this.frames.push({ steps: this.group.config.steps, pc: 0, times: 1, endUs: Infinity });
    this.advance();
  }

  /** Run steps until one has to wait. */
  private advance(): void {
    const engine = this.engine;
    while (!this.finished) {
      if (engine.stopping) return;
      const frame = this.frames[this.frames.length - 1];
      if (frame === undefined) {
        this.finish();
        return;
      }
      if (frame.pc >= frame.steps.length || engine.clock.nowUs() >= frame.endUs) {
        frame.times--;
        if (frame.pc >= frame.steps.length && frame.times > 0 && engine.clock.nowUs() < frame.endUs) {
          frame.pc = 0;
          continue;
        }
        this.frames.pop();
        continue;
      }
      const step = frame.steps[frame.pc++];
      switch (step.kind) {
        case 'connect':
          this.beginConnect(step);
          return;
        case 'subscribe':
          if (this.subscribe(step)) return;
          continue;
        case 'publish':
          if (this.beginPublish(step)) return;
          continue;
        case 'unsubscribe':
          if (this.unsubscribe(step)) return;
          continue;
        case 'wait':
          this.awaiting = 'wait';
          this.stepTimer = setTimeout(() => {
            this.stepTimer = null;
            this.awaiting = null;
            this.advance();
          }, step.durationMs);
          return;
        case 'disconnect':
          if (this.disconnect(step)) return;
          continue;
        case 'repeat': {
          const now = engine.clock.nowUs();
          this.frames.push({
            steps: step.steps,
            pc: 0,
            times: step.times ?? Infinity,
            endUs: step.durationMs !== undefined ? now + step.durationMs * 1000 : Infinity,
          });
          continue;
        }
      }
    }
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
    if (this.stepTimer) clearTimeout(this.stepTimer);
    this.stepTimer = null;
    this.frames.length = 0;
    this.publisher = null;
    this.finish();
  }

  private connLater(ms: number, fn: () => void): void {
    if (this.connTimer) clearTimeout(this.connTimer);
    this.connTimer = setTimeout(() => {
      this.connTimer = null;
      fn();
    }, ms);
  }

  private clearConnTimer(): void {
    if (this.connTimer) clearTimeout(this.connTimer);
    this.connTimer = null;
  }

  // ---- connecting ---------------------------------------------------------------------------------------------

  private beginConnect(step: ConnectStep): void {
    if (this.state === State.Connected) {
      // Already connected (a repeat around connect): nothing to do.
      this.advance();
      return;
    }
    this.awaiting = 'connect';
    this.connectStep = step;
    this.attemptsLeft = step.attempts;
    this.reconnectsLeft = step.reconnectAttempts;
    this.backoffMs = step.backoffMs;
    this.reconnecting = false;
    this.consumeIntervalUs = step.consumeRatePerSec ? 1e6 / step.consumeRatePerSec : 0;
    this.openConnection();
  }

  private openConnection(): void {
    const engine = this.engine;
    this.state = State.Connecting;
    this.serverDisconnect = -1;
    this.connectStartUs = engine.clock.nowUs();
    this.attemptsLeft--;
    this.reader = new FrameReader(this);
    this.link = openLink(engine.endpoint, this.hostIndex, this);
    this.writer = new BatchWriter(this.link, engine.flushQueue, engine.bytes);
    if (typeof (this.link as { on?: unknown }).on === 'function') {
      (this.link as unknown as NodeJS.EventEmitter).on('drain', () => this.onDrain());
    }
    const timeout = this.connectStep!.timeoutMs;
    this.connLater(timeout, () => this.connectFailed('connect-timeout', `no CONNACK within ${timeout} ms`));
  }

  onLinkOpen(): void {
    if (this.state !== State.Connecting) return;
    const step = this.connectStep!;
    const g = this.group.config;
    const v5 = this.protocolVersion === 5;
    const packet: Packet = {
      cmd: 'connect',
      protocolId: this.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.protocolVersion,
      clientId: this.clientId,
      clean: this.reconnecting && !step.clean ? false : step.clean,
      keepalive: step.keepaliveSec,
      username: g.username,
      password: g.password !== undefined ? Buffer.from(g.password) : undefined,
    };
    if (v5) {
      packet.properties = step.sessionExpirySec > 0 ? { sessionExpiryInterval: step.sessionExpirySec === SESSION_NEVER_EXPIRES ? 0xffffffff : step.sessionExpirySec } : {};
    }
    if (step.will) {
      const w = step.will;
      packet.will = {
        topic: renderBound(bindTemplate(w.topic, this.vars(), Math.random), 0, Math.random),
        payload: this.engine.willPayload(w.payload),
        qos: w.qos,
        retain: w.retain,
        properties: v5 && w.delaySec > 0 ? { willDelayInterval: w.delaySec } : undefined,
      };
    }
    this.send(packet);
  }

  private vars(): { clientId: string; group: string; index: number } {
    return { clientId: this.clientId, group: this.group.name, index: this.index };
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
    const now = engine.clock.nowUs();
    const m = this.group.metrics;
    const latency = now - this.connectStartUs;
    m.connect.record(latency);
    m.series.add(Counter.connectsOk);
    m.series.adjustGauge(Gauge.connectionsOpen, 1);
    engine.jtlSample(now, latency, 'connect', this, true, '', 0);
    this.state = State.Connected;
    this.backoffMs = this.connectStep!.backoffMs;
    const step = this.connectStep!;
    const props = pkt.properties;
    this.keepaliveMs = (props?.serverKeepAlive ?? step.keepaliveSec) * 1000;
    this.window = Math.min(props?.receiveMaximum ?? 65535, engine.maxInflight);
    this.lastTxMs = engine.nowMs;
    engine.clientConnected(this);
    const resumed = pkt.sessionPresent === true;
    if (this.reconnecting) {
      this.reconnecting = false;
      this.resumeAfterReconnect(resumed, now);
      return;
    }
    this.awaiting = null;
    this.advance();
  }

  private connectFailed(kind: string, detail: string): void {
    const engine = this.engine;
    const m = this.group.metrics;
    this.clearConnTimer();
    this.closeLink(true);
    m.series.error(kind);
    engine.noteError(kind, this, detail);
    if (!this.reconnecting) {
      m.series.add(Counter.connectsFailed);
      engine.jtlSample(engine.clock.nowUs(), engine.clock.nowUs() - this.connectStartUs, 'connect', this, false, detail, 0);
    }
    if (engine.stopping) return;
    const retry = this.reconnecting ? this.reconnectsLeft-- > 0 : this.attemptsLeft > 0;
    if (retry) {
      this.hostIndex++;
      this.scheduleRetry();
      return;
    }
    this.giveUp();
  }

  private scheduleRetry(): void {
    this.state = State.Backoff;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.connectStep!.maxBackoffMs);
    this.connLater(wait, () => {
      if (this.engine.stopping) return;
      if (this.reconnecting) this.attemptsLeft = 1;
      this.openConnection();
    });
  }

  /** After a reconnection: subscribe again if the session was lost, resend what was in flight if it was kept. */
  private resumeAfterReconnect(sessionPresent: boolean, nowUs: number): void {
    if (sessionPresent) {
      for (const [packetId, f] of this.inflight) {
        if (f.released) writeAck(this.writer!, PUBREL, packetId);
        else f.template.encode(this.writer!, packetId, f.seq, f.sentUs, true);
      }
    } else {
      // The broker forgot the session: what was in flight will not be acknowledged; subscriptions must be renewed.
      this.group.metrics.series.adjustGauge(Gauge.inflight, -this.inflight.size);
      this.inflight.clear();
      this.inboundQos2.clear();
      const renew = this.subs.filter((s) => s.coverageIndex >= 0);
      if (renew.length > 0) this.sendSubscribe(renew[0].step, renew, nowUs, true);
    }
    // The step that was in progress when the connection went continues.
    switch (this.awaiting) {
      case 'connect':
        this.awaiting = null;
        this.advance();
        break;
      case 'publish':
        if (this.publisher !== null) this.engine.wake(this.publisher);
        break;
      case 'acks':
        if (this.inflight.size === 0) {
          this.awaiting = null;
          this.advance();
        }
        break;
      case 'subscribe': {
        // The SUBSCRIBE may not have reached the broker: send it again.
        const pending = this.pendingSubscribe;
        if (pending !== null && !sessionPresent) this.sendSubscribe(pending.subs[0].step, pending.subs, nowUs, false);
        break;
      }
      case 'unsubscribe': {
        const pending = this.pendingUnsubscribe;
        if (pending !== null) {
          this.pendingUnsubscribe = null;
          this.sendUnsubscribe(pending.filters, nowUs);
        }
        break;
      }
      default:
        break;
    }
  }

  // ---- link events ----------------------------------------------------------------------------------------------

  onLinkData(chunk: Buffer): void {
    const engine = this.engine;
    engine.nowMs = Date.now() - engine.epochWallMs;
    this.rxNowUs = engine.clock.nowUs();
    this.group.metrics.series.add(Counter.bytesReceived, chunk.length);
    this.readLagUs = 0;
    this.ackedInRead = false;
    this.reader?.feed(chunk);
    engine.deliveriesReceived();
    // An overloaded broker sends small segments as fast as they are read, and every read costs a wake-up and an
    // ACK on both sides: the harness then competes with the broker for CPU. When what arrived had already waited
    // long in the broker, wait a moment before the next read so more arrives at once. This adds at most
    // BATCH_PAUSE_MS to latencies above BATCH_LAG_US, and nothing to a broker that keeps up. Never after QoS 1 or 2
    // deliveries: the broker sends more only as our acknowledgements arrive, so a pause would only slow it down.
    if (
      this.readLagUs > BATCH_LAG_US &&
      !this.ackedInRead &&
      chunk.length < BATCH_SMALL_READ &&
      this.link !== null &&
      !this.batchPaused &&
      this.consumeTimer === null
    ) {
      this.batchPaused = true;
      this.link.pause();
      setTimeout(this.endBatchPause, BATCH_PAUSE_MS);
    }
  }

  private readLagUs = 0;
  /** A QoS 1 or 2 delivery was acknowledged during the read being handled. */
  private ackedInRead = false;
  private batchPaused = false;
  private readonly endBatchPause = (): void => {
    this.batchPaused = false;
    if (this.link !== null && this.consumeTimer === null) this.link.resume();
  };

  /** Time the current read arrived, µs (one clock read per read, not per message). */
  private rxNowUs = 0;

  onLinkClose(error: string | null): void {
    const engine = this.engine;
    const was = this.state;
    this.reader?.kill();
    this.link = null;
    this.writer = null;
    if (was === State.Connected) {
      this.group.metrics.series.adjustGauge(Gauge.connectionsOpen, -1);
      engine.clientDisconnected(this);
    }
    if (this.consumeTimer) clearTimeout(this.consumeTimer);
    this.consumeTimer = null;
    this.state = State.Idle;
    this.endCoverage(false);
    if (was === State.Connecting) {
      this.connectFailed(connectErrorKind(error), error ? `connection failed: ${error}` : 'connection closed before CONNACK');
      return;
    }
    if (was === State.Closing) {
      this.group.metrics.series.add(Counter.disconnects);
      if (this.awaiting === 'disconnect') {
        this.awaiting = null;
        this.advance();
      }
      return;
    }
    if (was !== State.Connected || engine.stopping) return;
    // Lost without asking: say why, then reconnect if allowed.
    const kind = this.lossKind(error);
    this.group.metrics.series.error(kind);
    engine.noteError(kind, this, error ? `connection lost: ${error}` : 'connection closed by the broker');
    if (this.reconnectsLeft > 0 && this.connectStep !== null) {
      this.reconnectsLeft--;
      this.reconnecting = true;
      this.attemptsLeft = 1;
      this.scheduleRetry();
      return;
    }
    this.giveUp();
  }

  private lossKind(error: string | null): string {
    if (this.serverDisconnect === RC.SessionTakenOver) return 'takeover';
    if (this.serverDisconnect >= 0) return `server-disconnect-0x${this.serverDisconnect.toString(16).padStart(2, '0')}`;
    if (this.engine.likelyTakeover(this)) return 'takeover';
    return error ? 'socket-error' : 'closed-by-broker';
  }

  private closeLink(abrupt: boolean): void {
    const link = this.link;
    if (link === null) return;
    if (abrupt) {
      this.reader?.kill();
      this.link = null;
      this.writer = null;
      link.destroy();
    } else {
      this.writer?.writeOut();
      link.end();
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
    if (type === 3) return this.onPublish(h, buf, start, end);
    if (type >= 4 && type <= 7) {
      if (end - start < 2) {
        this.protocolProblem('acknowledgement shorter than 2 bytes');
        return false;
      }
      const packetId = (buf[start] << 8) | buf[start + 1];
      const rc = end - start > 2 ? buf[start + 2] : 0;
      if (type === 4) this.onPuback(packetId, rc);
      else if (type === 5) this.onPubrec(packetId, rc);
      else if (type === 6) this.onPubrel(packetId);
      else this.onPubcomp(packetId, rc);
      return this.link !== null;
    }
    if (type === 13) return true; // PINGRESP
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
        this.onSuback(pkt);
        break;
      case 'unsuback':
        this.onUnsuback(pkt);
        break;
      case 'disconnect':
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

  private protocolProblem(detail: string): void {
    const m = this.group.metrics;
    m.series.error('protocol-error');
    this.engine.noteError('protocol-error', this, detail);
    this.closeLink(true);
    // closeLink(true) does not emit onLinkClose for us; treat it as a loss.
    if (this.state === State.Connected) {
      m.series.adjustGauge(Gauge.connectionsOpen, -1);
      this.engine.clientDisconnected(this);
    }
    this.state = State.Idle;
    this.giveUp();
  }

  private onPublish(h: number, buf: Buffer, start: number, end: number): boolean {
    const qos = (h >> 1) & 3;
    let p = start + 2;
    const tLen = (buf[start] << 8) | buf[start + 1];
    const tOff = p;
    p += tLen;
    let packetId = 0;
    if (qos > 0) {
      packetId = (buf[p] << 8) | buf[p + 1];
      p += 2;
    }
    if (this.protocolVersion === 5) {
      let len = 0;
      let mult = 1;
      for (;;) {
        const b = buf[p++];
        len += (b & 0x7f) * mult;
        if ((b & 0x80) === 0) break;
        mult *= 128;
      }
      p += len;
    }
    if (p > end || qos === 3) {
      this.protocolProblem('malformed PUBLISH from the broker');
      return false;
    }
    const g = this.group.metrics;
    if (qos === 2) {
      // A repeat of a QoS 2 message awaiting PUBREL is the same delivery, not a second one [MQTT-4.3.3-?].
      if (this.inboundQos2.has(packetId)) {
        writeAck(this.writer!, PUBREC, packetId);
        return true;
      }
      this.inboundQos2.add(packetId);
    }
    g.series.add(Counter.messagesReceived);
    this.rxCount++;
    this.rxBytes += end - start;
    if (readHeader(buf, p, end)) {
      const latency = this.rxNowUs - header.sentUs;
      if (latency > this.readLagUs) this.readLagUs = latency;
      g.e2e.record(latency);
      g.recordInterval(latency);
      this.engine.live.record(latency);
      this.rxLatencyUs += latency;
      const topic = tLen > 0 ? buf.toString('utf8', tOff, tOff + tLen) : '';
      const engine = this.engine;
      const tracker = engine.tracker(this);
      const before = tracker.publishers;
      tracker.receive(header.publisherId, topic, header.seq, qos as 0 | 1 | 2);
      engine.flow.received(slotOfPublisher(engine.flow, engine.groups.length, header.publisherId), tracker.publishers !== before);
    }
    if (qos === 1) writeAck(this.writer!, PUBACK, packetId);
    else if (qos === 2) writeAck(this.writer!, PUBREC, packetId);
    if (qos > 0) this.ackedInRead = true;
    if (this.consumeIntervalUs > 0) return this.pace();
    return true;
  }

  /** A slow consumer: after each message, stop reading until the next one is due. */
  private pace(): boolean {
    const now = this.rxNowUs;
    this.consumeNextUs = Math.max(this.consumeNextUs, now) + this.consumeIntervalUs;
    if (this.consumeNextUs - now <= this.consumeIntervalUs) return true;
    const link = this.link!;
    link.pause();
    this.consumeTimer = setTimeout(() => {
      this.consumeTimer = null;
      if (this.link !== link) return;
      this.rxNowUs = this.engine.clock.nowUs();
      link.resume();
      this.reader?.resume();
    }, Math.max(1, (this.consumeNextUs - now - this.consumeIntervalUs) / 1000));
    return false;
  }

  private onPuback(packetId: number, rc: number): void {
    const f = this.inflight.get(packetId);
    if (f === undefined) return;
    this.completeFlight(packetId, f, rc);
  }

  private onPubrec(packetId: number, rc: number): void {
    const f = this.inflight.get(packetId);
    if (f === undefined) {
      writeAck(this.writer!, PUBREL, packetId);
      return;
    }
    if (rc >= 0x80) {
      this.completeFlight(packetId, f, rc);
      return;
    }
    f.released = true;
    writeAck(this.writer!, PUBREL, packetId);
  }

  private onPubrel(packetId: number): void {
    this.inboundQos2.delete(packetId);
    writeAck(this.writer!, PUBCOMP, packetId);
  }

  private onPubcomp(packetId: number, rc: number): void {
    const f = this.inflight.get(packetId);
    if (f === undefined || !f.released) return;
    this.completeFlight(packetId, f, rc);
  }

  private completeFlight(packetId: number, f: Inflight, rc: number): void {
    this.inflight.delete(packetId);
    const g = this.group.metrics;
    g.series.adjustGauge(Gauge.inflight, -1);
    if (rc >= 0x80) {
      g.series.add(Counter.publishesFailed);
      const kind = `publish-refused-0x${rc.toString(16)}`;
      g.series.error(kind);
      this.pubErrors++;
      this.engine.noteError(kind, this, `publish refused: ${reasonName(rc)}`);
    } else {
      f.stream.acknowledged++;
      g.series.add(Counter.acksReceived);
      const latency = this.rxNowUs - f.sentUs;
      g.publish.record(latency);
      this.pubLatencyUs += latency;
    }
    const pub = this.publisher;
    if (pub !== null && pub.waiting) this.engine.wake(pub);
    else if (this.awaiting === 'acks' && this.inflight.size === 0) {
      this.awaiting = null;
      this.advance();
    }
  }

  // ---- sending ------------------------------------------------------------------------------------------------

  private send(packet: Packet): void {
    writeGenerated(this.writer!, packet, this.protocolVersion);
    this.lastTxMs = this.engine.nowMs;
  }

  /** A PINGREQ when nothing has been sent for a keepalive period (called by the engine's sweep). */
  keepAlive(nowMs: number): void {
    if (this.state !== State.Connected || this.keepaliveMs === 0) return;
    if (nowMs - this.lastTxMs >= this.keepaliveMs) {
      writePingreq(this.writer!);
      this.lastTxMs = nowMs;
    }
  }

  private allocatePacketId(): number {
    let id = this.nextPacketId;
    while (this.inflight.has(id) || id === this.pendingSubscribe?.packetId || id === this.pendingUnsubscribe?.packetId) {
      id = id === 65535 ? 1 : id + 1;
    }
    this.nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }

  canSend(): boolean {
    return this.state === State.Connected && this.writer !== null;
  }

  inflightFull(): boolean {
    return this.inflight.size >= this.window;
  }

  backlog(): number {
    return this.writer === null ? 0 : this.writer.backlog;
  }

  waitForDrain(): void {
    this.drainWanted = true;
  }

  private onDrain(): void {
    if (!this.drainWanted) return;
    this.drainWanted = false;
    if (this.publisher !== null) this.engine.wake(this.publisher);
  }

  nextSeq(): number {
    return this.seq++;
  }

  streamFor(topic: string, qos: number): PublishedStream {
    let s = this.streams.get(topic);
    if (s === undefined) {
      s = { publisherId: this.publisherId, clientId: this.clientId, topic, qos, sent: 0, acknowledged: 0, firstUs: -1, lastUs: -1 };
      this.streams.set(topic, s);
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
      this.inflight.set(packetId, { stream, template, seq, sentUs, released: false });
      this.group.metrics.series.adjustGauge(Gauge.inflight, 1);
    }
    this.totalSent++;
    const size = template.encode(this.writer!, packetId, seq, sentUs, false);
    const g = this.group.metrics;
    g.series.add(Counter.messagesSent);
    g.series.add(Counter.bytesSent, size);
    this.pubCount++;
    this.pubBytes += size;
    this.lastTxMs = this.engine.nowMs;
  }

  private beginPublish(step: PublishStep): boolean {
    if (this.state !== State.Connected) {
      this.engine.noteError('not-connected', this, `publish at line ${step.at.line} while not connected`);
      return false;
    }
    const pub = new Publisher(this, step, this.engine.clock.nowUs());
    this.publisher = pub;
    this.awaiting = 'publish';
    this.engine.wake(pub);
    return true;
  }

  publisherFinished(pub: Publisher): void {
    if (this.publisher !== pub) return;
    this.publisher = null;
    // The step ends when what it sent is acknowledged, so a disconnect right after does not cut flows short.
    if (this.inflight.size > 0) {
      this.awaiting = 'acks';
      return;
    }
    this.awaiting = null;
    this.advance();
  }

  // ---- subscribing ----------------------------------------------------------------------------------------------

  private subscribe(step: SubscribeStep): boolean {
    if (this.state !== State.Connected) {
      this.engine.noteError('not-connected', this, `subscribe at line ${step.at.line} while not connected`);
      return false;
    }
    const subs: ActiveSub[] = step.subscriptions.map((s) => ({
      filter: renderBound(bindTemplate(s.filter, this.vars(), Math.random), 0, Math.random),
      step,
      options: s,
      requested: s.qos,
      granted: -1,
      coverageIndex: -1,
    }));
    this.awaiting = 'subscribe';
    this.sendSubscribe(step, subs, this.engine.clock.nowUs(), false);
    return true;
  }

  private sendSubscribe(step: SubscribeStep, subs: ActiveSub[], nowUs: number, renewal: boolean): void {
    const packetId = this.allocatePacketId();
    const subscriptions = subs.map((s) => ({
      topic: s.filter,
      qos: s.requested as 0 | 1 | 2,
      nl: s.options.noLocal,
      rap: s.options.retainAsPublished,
      rh: s.options.retainHandling,
    }));
    const packet: Packet = { cmd: 'subscribe', messageId: packetId, subscriptions };
    if (this.protocolVersion === 5 && step.subscriptionId !== undefined) packet.properties = { subscriptionIdentifier: step.subscriptionId };
    this.pendingSubscribe = { packetId, startUs: nowUs, subs };
    if (!renewal) this.group.metrics.sampleEvery ??= step.sampleEvery;
    this.send(packet);
  }

  private onSuback(pkt: Packet & { cmd: 'suback' }): void {
    const pending = this.pendingSubscribe;
    if (pending === null || pkt.messageId !== pending.packetId) return this.protocolProblem('SUBACK for no SUBSCRIBE');
    this.pendingSubscribe = null;
    const engine = this.engine;
    const now = this.rxNowUs;
    const g = this.group.metrics;
    const latency = now - pending.startUs;
    g.subscribe.record(latency);
    let failed = 0;
    pending.subs.forEach((s, i) => {
      const code = (pkt.granted as number[])[i] ?? 0x80;
      if (code >= 0x80) {
        failed++;
        return;
      }
      s.granted = code;
      s.coverageIndex = g.coverage.length;
      g.coverage.push({ clientId: this.clientId, filter: s.filter, qos: code, fromUs: now, toUs: Infinity });
      if (!this.subs.includes(s)) this.subs.push(s);
    });
    if (failed > 0) {
      g.series.add(Counter.subscribesFailed);
      g.series.error('suback-failure');
      engine.noteError('suback-failure', this, `${failed} of ${pending.subs.length} subscriptions refused`);
    } else {
      g.series.add(Counter.subscribesOk);
    }
    engine.jtlSample(now, latency, 'subscribe', this, failed === 0, failed > 0 ? 'SUBACK failure' : '', 0);
    if (this.awaiting === 'subscribe') {
      this.awaiting = null;
      this.advance();
    }
  }

  private unsubscribe(step: UnsubscribeStep): boolean {
    if (this.state !== State.Connected) {
      this.engine.noteError('not-connected', this, `unsubscribe at line ${step.at.line} while not connected`);
      return false;
    }
    const filters = step.filters.map((t) => renderBound(bindTemplate(t, this.vars(), Math.random), 0, Math.random));
    this.awaiting = 'unsubscribe';
    this.sendUnsubscribe(filters, this.engine.clock.nowUs());
    return true;
  }

  private sendUnsubscribe(filters: string[], nowUs: number): void {
    const packetId = this.allocatePacketId();
    this.pendingUnsubscribe = { packetId, startUs: nowUs, filters };
    this.send({ cmd: 'unsubscribe', messageId: packetId, unsubscriptions: filters });
  }

  private onUnsuback(pkt: Packet & { cmd: 'unsuback' }): void {
    const pending = this.pendingUnsubscribe;
    if (pending === null || pkt.messageId !== pending.packetId) return this.protocolProblem('UNSUBACK for no UNSUBSCRIBE');
    this.pendingUnsubscribe = null;
    const now = this.rxNowUs;
    const g = this.group.metrics;
    for (const f of pending.filters) {
      const i = this.subs.findIndex((s) => s.filter === f);
      if (i < 0) continue;
      const s = this.subs[i];
      if (s.coverageIndex >= 0) g.coverage[s.coverageIndex].toUs = now;
      this.subs.splice(i, 1);
    }
    this.engine.jtlSample(now, now - pending.startUs, 'unsubscribe', this, true, '', 0);
    if (this.awaiting === 'unsubscribe') {
      this.awaiting = null;
      this.advance();
    }
  }

  /**
   * The connection ended: subscriptions stop covering new messages unless the session outlives it
   * (`kept`: a persistent session).
   */
  private endCoverage(kept: boolean): void {
    const step = this.connectStep;
    const persistent = step !== null && (this.protocolVersion === 5 ? step.sessionExpirySec > 0 : !step.clean);
    if (kept || persistent) return;
    const now = this.engine.clock.nowUs();
    const g = this.group.metrics;
    for (const s of this.subs) {
      if (s.coverageIndex >= 0 && g.coverage[s.coverageIndex].toUs === Infinity) g.coverage[s.coverageIndex].toUs = now;
      s.coverageIndex = -1;
    }
    this.subs.length = 0;
  }

  // ---- disconnecting --------------------------------------------------------------------------------------------

  private disconnect(step: DisconnectStep): boolean {
    if (this.state !== State.Connected) return false;
    this.state = State.Closing;
    this.awaiting = 'disconnect';
    const now = this.engine.clock.nowUs();
    if (step.abrupt) {
      const link = this.link!;
      this.engine.jtlSample(now, 0, 'disconnect', this, true, 'abrupt', 0);
      // destroy() still emits 'close', which ends the step through onLinkClose.
      link.destroy();
      return true;
    }
    const packet: Packet =
      this.protocolVersion === 5 ? { cmd: 'disconnect', reasonCode: step.reasonCode } : { cmd: 'disconnect' };
    this.send(packet);
    this.engine.jtlSample(now, 0, 'disconnect', this, true, '', 0);
    this.closeLink(false);
    return true;
  }

  /** End of the run: say goodbye (or just close) and drop every timer. */
  shutdown(): void {
    this.clearConnTimer();
    if (this.stepTimer) clearTimeout(this.stepTimer);
    this.stepTimer = null;
    if (this.consumeTimer) clearTimeout(this.consumeTimer);
    this.consumeTimer = null;
    this.publisher = null;
    if (this.state === State.Connected && this.writer !== null) {
      this.state = State.Closing;
      this.send({ cmd: 'disconnect' });
      this.closeLink(false);
    } else if (this.link !== null) {
      this.closeLink(true);
    }
  }

  get connected(): boolean {
    return this.state === State.Connected;
  }
}

function connectErrorKind(error: string | null): string {
  switch (error) {
    case 'ECONNREFUSED':
      return 'connect-refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns-error';
    case 'ETIMEDOUT':
      return 'connect-timeout';
    case null:
      return 'closed-before-connack';
    default:
      return error.startsWith('ERR_TLS') || error.includes('CERT') || error.includes('SSL') ? 'tls-error' : 'socket-error';
  }
}
