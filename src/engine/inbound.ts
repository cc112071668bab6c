/**
 * A simulated client as a receiver: PUBLISH from the broker read in place, its latency and sequence recorded,
 * answered per its QoS (exactly once for QoS 2), and the reading paced for a slow consumer or batched when the
 * broker is overloaded.
 *
 * A retained copy that a SUBSCRIBE brought is not a delivery of a live message: its age (how long ago it was
 * published) is recorded apart, and it stays out of the end-to-end latency, the live p99, the interval statistics,
 * delivery accounting and the flow gate. The broker marks such a copy with the retain flag and clears the flag on
 * live forwards [MQTT-3.3.1-8], [MQTT-3.3.1-9], except on a subscription with retain as published (MQTT 5). So a
 * PUBLISH with the flag is a retained copy when it was published before this client's matching subscription came
 * into force (a live message cannot be: it was sent after); without a send time in the payload, or before the
 * SUBACK was read, the flag decides, unless a retain-as-published subscription may have kept it on a live message.
 */
import { noteTraffic } from '../metrics/rates.js';
import { Counter } from '../metrics/series.js';
import { topicMatches } from '../protocol/topic.js';
import { bindTemplate, renderBound } from '../scenario/templates.js';
import type { Step } from '../scenario/schema.js';
import { PUBACK, PUBCOMP, PUBREC, writeAck } from './codec.js';
import type { SimClient } from './client.js';
import type { Coverage } from './group-metrics.js';
import { slotOfPublisher } from './engine.js';
import { header, readHeader } from './payload.js';

/** Reads are batched only when their messages had already waited this long (µs): the broker is overloaded. */
const BATCH_LAG_US = 20_000;
/** A read smaller than this under overload is followed by a short pause (bytes). */
const BATCH_SMALL_READ = 16 * 1024;
const BATCH_PAUSE_MS = 1;

export class Receiver {
  /** Incoming QoS 2 packet ids received and not yet released by PUBREL; made on the first QoS 2 delivery. */
  private inboundQos2: Set<number> | null = null;
  /** A slow consumer's pace: the earliest time the next message may be taken, µs (0: not paced). */
  private consumeNextUs = 0;
  consumeIntervalUs = 0;
  private consumeTimer: NodeJS.Timeout | null = null;
  /** Longest wait in the broker of what the current read brought, µs. */
  private readLagUs = 0;
  /** A QoS 1 or 2 delivery was acknowledged during the read being handled. */
  private ackedInRead = false;
  private batchPaused = false;
  /** Filters this client subscribes with retain as published (MQTT 5); null: none; undefined: not looked up yet. */
  private rapFilters: string[] | null | undefined = undefined;
  /** This client's subscription records, gathered from the group's as they appear (`coverageSeen` read so far). */
  private ownCoverage: Coverage[] | null = null;
  private coverageSeen = 0;

  constructor(private readonly client: SimClient) {}

  /** Called before a read is handed to the frame reader. */
  beginRead(): void {
    this.readLagUs = 0;
    this.ackedInRead = false;
  }

  /**
   * After a read: an overloaded broker sends small segments as fast as they are read, and every read costs a
   * wake-up and an ACK on both sides, so the harness competes with the broker for CPU. When what arrived had already
   * waited long in the broker, wait a moment before the next read so that more arrives at once. This adds at most
   * BATCH_PAUSE_MS to latencies above BATCH_LAG_US, and nothing to a broker that keeps up. Never after QoS 1 or 2
   * deliveries: the broker sends more only as our acknowledgements arrive, so a pause would only slow it down.
   */
  endRead(bytes: number): void {
    const link = this.client.link;
    if (
      this.readLagUs > BATCH_LAG_US &&
      !this.ackedInRead &&
      bytes < BATCH_SMALL_READ &&
      link !== null &&
      !this.batchPaused &&
      this.consumeTimer === null
    ) {
      this.batchPaused = true;
      link.pause();
      setTimeout(endBatchPause, BATCH_PAUSE_MS, this);
    }
  }

  /** The pause after a small late read is over. */
  resumeAfterBatchPause(): void {
    this.batchPaused = false;
    const link = this.client.link;
    if (link !== null && this.consumeTimer === null) link.resume();
  }

  /** A PUBLISH; returns false to stop reading (a slow consumer's pause, or a protocol problem). */
  onPublish(h: number, buf: Buffer, start: number, end: number): boolean {
    const c = this.client;
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
    if (c.protocolVersion === 5) {
      let len = 0;
      let mult = 1;
      for (let k = 0; k < 4 && p < end; k++) {
        const b = buf[p++];
        len += (b & 0x7f) * mult;
        if ((b & 0x80) === 0) break;
        mult *= 128;
      }
      p += len;
    }
    if (p > end || qos === 3 || (qos > 0 && packetId === 0)) {
      c.protocolProblem('malformed PUBLISH from the broker');
      return false;
    }
    const writer = c.writer!;
    if (qos === 2) {
      // A repeat of a QoS 2 message awaiting PUBREL is the same delivery, not a second one [MQTT-4.3.3-2].
      const pending = (this.inboundQos2 ??= new Set());
      if (pending.has(packetId)) {
        writeAck(writer, PUBREC, packetId);
        return true;
      }
      pending.add(packetId);
    }
    const g = c.group.metrics;
    g.series.add(Counter.messagesReceived);
    const samples = c.samples;
    samples.rxBytes += end - start;
    const timed = readHeader(buf, p, end);
    const retainFlag = (h & 1) !== 0;
    const topic = (timed || retainFlag) && tLen > 0 ? buf.toString('utf8', tOff, tOff + tLen) : '';
    if (retainFlag && this.isRetainedCopy(topic, timed ? header.sentUs : -1)) {
      g.series.add(Counter.retainedReceived);
      noteTraffic(g.retainedReceived, c.rxNowUs);
      if (timed) {
        const age = c.rxNowUs - header.sentUs;
        if (age > this.readLagUs) this.readLagUs = age;
        g.retained.record(age);
      }
    } else {
      // A live delivery: its time extends the received span (metrics/rates.ts), timestamped ones are measured.
      noteTraffic(g.received, c.rxNowUs);
      if (timed) {
        const latency = c.rxNowUs - header.sentUs;
        if (latency > this.readLagUs) this.readLagUs = latency;
        // The same samples for the final histogram, the interval statistics, the live p99 and results.jtl.
        g.e2e.record(latency);
        g.recordInterval(latency);
        c.engine.live.record(latency);
        if (samples.rxFirstUs < 0 || header.sentUs < samples.rxFirstUs) samples.rxFirstUs = header.sentUs;
        samples.rxCount++;
        samples.rxLatencyUs += latency;
        const engine = c.engine;
        const tracker = engine.tracker(c);
        const before = tracker.publishers;
        tracker.receive(header.publisherId, topic, header.seq, qos as 0 | 1 | 2);
        const slot = slotOfPublisher(engine.flow, engine.groups.length, header.publisherId);
        engine.flow.received(slot, tracker.publishers !== before);
        if (g.e2eBySource !== undefined) g.recordBySource(g.e2eBySource, engine.publisherShard(slot), latency);
      }
    }
    if (qos === 1) writeAck(writer, PUBACK, packetId);
    else if (qos === 2) writeAck(writer, PUBREC, packetId);
    if (qos > 0) this.ackedInRead = true;
    if (this.consumeIntervalUs > 0) return this.pace();
    return true;
  }

  /** A PUBLISH with the retain flag (sent at `sentUs`, -1 when untimed): a stored copy rather than a live message? */
  private isRetainedCopy(topic: string, sentUs: number): boolean {
    const since = sentUs >= 0 ? this.subscribedSince(topic) : -1;
    if (since >= 0) return sentUs < since;
    const c = this.client;
    if (c.protocolVersion !== 5) return true;
    if (this.rapFilters === undefined) this.rapFilters = retainAsPublishedFilters(c.group.config.steps, c.vars());
    const filters = this.rapFilters;
    if (filters === null) return true;
    for (let i = 0; i < filters.length; i++) if (topicMatches(filters[i], topic)) return false;
    return true;
  }

  /** When the latest of this client's subscriptions in force that match `topic` took effect, µs; -1 when none. */
  private subscribedSince(topic: string): number {
    const c = this.client;
    const all = c.group.metrics.coverage;
    for (; this.coverageSeen < all.length; this.coverageSeen++) {
      const cov = all[this.coverageSeen];
      if (cov.clientId === c.clientId) (this.ownCoverage ??= []).push(cov);
    }
    const own = this.ownCoverage;
    if (own === null) return -1;
    const now = c.rxNowUs;
    let since = -1;
    for (const cov of own) {
      if (cov.fromUs > now || cov.toUs < now || cov.fromUs <= since) continue;
      const filter = cov.filter.startsWith('$share/') ? cov.filter.split('/').slice(2).join('/') : cov.filter;
      if (topicMatches(filter, topic)) since = cov.fromUs;
    }
    return since;
  }

  onPubrel(packetId: number): void {
    this.inboundQos2?.delete(packetId);
    writeAck(this.client.writer!, PUBCOMP, packetId);
  }

  /** The broker forgot the session: no PUBREL will come for what was received. */
  forget(): void {
    this.inboundQos2?.clear();
  }

  /** A slow consumer: after each message, stop reading until the next one is due. */
  private pace(): boolean {
    const c = this.client;
    const now = c.rxNowUs;
    this.consumeNextUs = Math.max(this.consumeNextUs, now) + this.consumeIntervalUs;
    if (this.consumeNextUs - now <= this.consumeIntervalUs) return true;
    const link = c.link!;
    link.pause();
    this.consumeTimer = setTimeout(
      () => {
        this.consumeTimer = null;
        if (c.link !== link) return;
        c.rxNowUs = c.engine.clock.nowUs();
        link.resume();
        c.resumeReading();
      },
      Math.max(1, (this.consumeNextUs - now - this.consumeIntervalUs) / 1000),
    );
    return false;
  }

  /** The connection is gone, or the run is over: no more pacing. */
  stop(): void {
    if (this.consumeTimer) clearTimeout(this.consumeTimer);
    this.consumeTimer = null;
  }
}

/**
 * The filters a client subscribes with retain as published, from its group's steps; null when it has none. A filter
 * with a random part cannot be known here and stands for every topic ("#"), so such deliveries count as live.
 */
function retainAsPublishedFilters(steps: readonly Step[], vars: { clientId: string; group: string; index: number }): string[] | null {
  const out: string[] = [];
  const walk = (list: readonly Step[]): void => {
    for (const step of list) {
      if (step.kind === 'repeat') walk(step.steps);
      if (step.kind !== 'subscribe') continue;
      for (const s of step.subscriptions) {
        if (!s.retainAsPublished) continue;
        if (s.filter.parts.some((part) => part.kind === 'rand')) {
          out.push('#');
          continue;
        }
        const filter = renderBound(bindTemplate(s.filter, vars, Math.random), 0, Math.random);
        // A shared subscription's messages match the filter after "$share/<name>/".
        out.push(filter.startsWith('$share/') ? filter.split('/').slice(2).join('/') : filter);
      }
    }
  };
  walk(steps);
  return out.length > 0 ? out : null;
}

function endBatchPause(receiver: Receiver): void {
  receiver.resumeAfterBatchPause();
}
