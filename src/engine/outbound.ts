/**
 * A simulated client's outgoing QoS 1/2 flows: packet ids, the messages in flight with their send times, PUBACK /
 * PUBREC → PUBREL → PUBCOMP, resending after a reconnection, and how long the oldest has waited for its answer.
 */
import { addUnacknowledged } from '../metrics/acknowledged.js';
import { reasonName } from '../protocol/reason-codes.js';
import { Counter, Gauge } from '../metrics/series.js';
import type { BatchWriter } from '../util/batch-writer.js';
import { PUBREL, writeAck, type PublishTemplate } from './codec.js';
import type { SimClient } from './client.js';
import type { PublishedStream } from './group-metrics.js';

interface Inflight {
  stream: PublishedStream;
  template: PublishTemplate;
  seq: number;
  qos: number;
  sentUs: number;
  /** QoS 2: PUBREC received, PUBREL sent. */
  released: boolean;
}

const NO_FLOWS: Map<number, Inflight> = new Map();

export class OutboundFlows {
  /**
   * In send order (a Map keeps insertion order): the first is the oldest. Until this client first publishes at QoS
   * 1 or 2 it is the shared empty map, never written: idle clients hold no map of their own.
   */
  private inflight: Map<number, Inflight> = NO_FLOWS;
  private nextPacketId = 1;
  /** Outgoing QoS 1/2 messages the broker may hold unacknowledged. */
  window = 20;

  constructor(private readonly client: SimClient) {}

  get size(): number {
    return this.inflight.size;
  }

  get full(): boolean {
    return this.inflight.size >= this.window;
  }

  /** A packet id in use by no flow here and not `reserved` (a SUBSCRIBE or UNSUBSCRIBE awaiting its answer). */
  allocatePacketId(reserved: { reserves(id: number): boolean }): number {
    let id = this.nextPacketId;
    // The window (at most MAX_WINDOW) leaves ids free, so this ends; the bound makes sure of it.
    for (let tries = 0; this.inflight.has(id) || reserved.reserves(id); tries++) {
      if (tries === 65535) throw new Error('no free packet id');
      id = id === 65535 ? 1 : id + 1;
    }
    this.nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }

  add(packetId: number, stream: PublishedStream, template: PublishTemplate, seq: number, qos: number, sentUs: number): void {
    if (this.inflight === NO_FLOWS) this.inflight = new Map();
    this.inflight.set(packetId, { stream, template, seq, qos, sentUs, released: false });
    this.client.group.metrics.series.adjustGauge(Gauge.inflight, 1);
  }

  /** Send time of the oldest message still awaiting its acknowledgement, µs; -1 when none. */
  oldestSentUs(): number {
    for (const f of this.inflight.values()) return f.sentUs;
    return -1;
  }

  onPuback(packetId: number, rc: number): void {
    const f = this.inflight.get(packetId);
    if (f === undefined) return;
    if (f.qos !== 1) return this.client.protocolProblem(`PUBACK for packet ${packetId}, a QoS 2 message`);
    this.complete(packetId, f, rc);
  }

  onPubrec(packetId: number, rc: number, writer: BatchWriter): void {
    const f = this.inflight.get(packetId);
    if (f === undefined) {
      // A PUBREC repeated after a reconnection: the flow goes on.
      if (rc < 0x80) writeAck(writer, PUBREL, packetId);
      return;
    }
    if (f.qos !== 2) return this.client.protocolProblem(`PUBREC for packet ${packetId}, a QoS 1 message`);
    if (rc >= 0x80) {
      // Refused: no PUBREL follows (§4.3.3).
      this.complete(packetId, f, rc);
      return;
    }
    f.released = true;
    if (f.seq >= f.stream.recThrough) f.stream.recThrough = f.seq + 1;
    writeAck(writer, PUBREL, packetId);
  }

  onPubcomp(packetId: number, rc: number): void {
    const f = this.inflight.get(packetId);
    if (f === undefined) return;
    if (f.qos !== 2) return this.client.protocolProblem(`PUBCOMP for packet ${packetId}, a QoS 1 message`);
    if (!f.released) return this.client.protocolProblem(`PUBCOMP for packet ${packetId} before PUBREC`);
    this.complete(packetId, f, rc);
  }

  private complete(packetId: number, f: Inflight, rc: number): void {
    this.inflight.delete(packetId);
    const c = this.client;
    const g = c.group.metrics;
    g.series.adjustGauge(Gauge.inflight, -1);
    if (rc >= 0x80) {
      addUnacknowledged((f.stream.unacknowledged ??= []), f.seq);
      g.series.add(Counter.publishesFailed);
      const kind = `publish-refused-0x${rc.toString(16)}`;
      g.series.error(kind);
      if (c.samples.ackFirstUs < 0 || f.sentUs < c.samples.ackFirstUs) c.samples.ackFirstUs = f.sentUs;
      c.samples.refused++;
      c.engine.noteError(kind, c, `publish refused: ${reasonName(rc)}`);
    } else {
      f.stream.acknowledged++;
      if (f.seq >= f.stream.ackedThrough) f.stream.ackedThrough = f.seq + 1;
      g.series.add(Counter.acksReceived);
      const latency = c.rxNowUs - f.sentUs;
      g.publish.record(latency);
      if (c.samples.ackFirstUs < 0 || f.sentUs < c.samples.ackFirstUs) c.samples.ackFirstUs = f.sentUs;
      c.samples.acked++;
      c.samples.ackLatencyUs += latency;
    }
    c.flowCompleted();
  }

  /** The session was resumed: resend what was in flight, PUBLISH with DUP and its packet id, or PUBREL [MQTT-4.4.0-1]. */
  resend(writer: BatchWriter): void {
    for (const [packetId, f] of this.inflight) {
      if (f.released) writeAck(writer, PUBREL, packetId);
      else f.template.encode(writer, packetId, f.seq, f.sentUs, true);
    }
  }

  /** The broker forgot the session: what was in flight will never be acknowledged. */
  forget(): void {
    for (const f of this.inflight.values()) addUnacknowledged((f.stream.unacknowledged ??= []), f.seq);
    this.client.group.metrics.series.adjustGauge(Gauge.inflight, -this.inflight.size);
    this.inflight.clear();
  }
}
