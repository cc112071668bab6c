/**
 * One execution of a `publish` step by one client: paced (fixed rate, scheduled without drift from the step's
 * start) or unpaced (as fast as the socket, the in-flight window and the flow gate allow).
 *
 * Coordinated omission: when a paced publisher has been held back (in-flight window full, socket full, connection
 * being re-established), the messages it owes are stamped with their intended send times, so the wait the broker
 * caused counts in their latency rather than vanishing. When it is on schedule, a message is stamped when it is
 * actually sent: the difference is only the timer's own lateness (about a millisecond in Node), which says nothing
 * about the broker and would otherwise hide a fast broker's sub-millisecond latency.
 */
import { bindTemplate, renderBound, type BoundTemplate } from '../scenario/templates.js';
import type { PublishStep } from '../scenario/schema.js';
import { PublishTemplate } from './codec.js';
import type { SimClient } from './client.js';
import type { PublishedStream } from './group-metrics.js';

/** Output waiting in the socket beyond which a publisher waits for it to drain. */
const BACKLOG_LIMIT = 4 * 1024 * 1024;
/** Messages one unpaced publisher sends before letting other work run (large: fewer, fuller writes). */
const BURST = 8192;
/** How soon a publisher held back by the flow gate looks again. */
const GATE_RECHECK_US = 1_000;

export class Publisher {
  readonly qos: number;
  private readonly topic: BoundTemplate;
  /** Template of the fixed topic (per-message topics build one per new topic). */
  private template: PublishTemplate | null = null;
  private stream: PublishedStream | null = null;
  private readonly templates = new Map<string, { template: PublishTemplate; stream: PublishedStream }>();
  /** Intended time of message 0, µs. */
  private readonly startUs: number;
  private readonly intervalUs: number;
  private readonly endUs: number;
  private readonly limit: number;
  /** Messages sent by this step. */
  sent = 0;
  done = false;
  /** Waiting for the socket to drain or the window to open. */
  waiting = false;
  /** Held back by the flow gate (see flow-gate.ts). */
  private held = false;
  /** Held back by the broker (window, socket, reconnect): stamp owed messages with their intended times. */
  private catchingUp = false;
  /** The scheduler's heap position (managed by the engine). */
  heapIndex = -1;
  dueUs = 0;

  constructor(
    readonly client: SimClient,
    readonly step: PublishStep,
    nowUs: number,
  ) {
    this.qos = step.qos;
    const c = client;
    this.topic = bindTemplate(step.topic, { clientId: c.clientId, group: c.group.name, index: c.index }, Math.random);
    this.startUs = nowUs;
    this.intervalUs = step.clientIntervalUs;
    this.endUs = step.durationMs !== undefined ? nowUs + step.durationMs * 1000 : Infinity;
    this.limit = step.count ?? Infinity;
    if (this.topic.fixed) this.bind(this.topic.text);
  }

  get paced(): boolean {
    return this.intervalUs > 0;
  }

  private bind(topic: string): { template: PublishTemplate; stream: PublishedStream } {
    let entry = this.templates.get(topic);
    if (entry === undefined) {
      const c = this.client;
      const template = new PublishTemplate(
        topic,
        this.qos,
        this.step.retain,
        c.engine.payloadFor(this.step),
        this.step.timestamp,
        c.publisherId,
        c.protocolVersion === 5,
      );
      entry = { template, stream: c.streamFor(topic, this.qos) };
      this.templates.set(topic, entry);
      if (this.topic.fixed) {
        this.template = template;
        this.stream = entry.stream;
      }
    }
    return entry;
  }

  /**
   * Send what is due at `nowUs`. Returns the time (µs) of the next message when paced and waiting for it, 0 when
   * it should continue soon (a burst ended), or -1 when it waits for an event (ack, drain, reconnect) or is done.
   */
  pump(nowUs: number): number {
    const c = this.client;
    this.waiting = false;
    let burst = 0;
    for (;;) {
      if (this.sent >= this.limit || nowUs >= this.endUs) {
        this.done = true;
        c.publisherFinished(this);
        return -1;
      }
      if (!c.canSend()) {
        this.catchingUp = true;
        return -1;
      }
      if (this.qos > 0 && c.inflightFull()) {
        this.waiting = true;
        this.catchingUp = true;
        return -1;
      }
      if (c.backlog() > BACKLOG_LIMIT) {
        this.waiting = true;
        this.catchingUp = true;
        c.waitForDrain();
        return -1;
      }
      let sentUs: number;
      if (this.intervalUs > 0) {
        const intended = this.startUs + this.sent * this.intervalUs;
        if (intended > nowUs) {
          this.catchingUp = false;
          return intended;
        }
        // Past the step's end: the remaining intended messages are not sent.
        if (intended >= this.endUs) {
          this.done = true;
          c.publisherFinished(this);
          return -1;
        }
        sentUs = this.catchingUp ? intended : nowUs;
      } else {
        if (burst === BURST) return 0;
        // Held back until subscribers catch up; check again shortly (they may be in other threads).
        if (!c.engine.flow.open(c.slot, c.totalSent, this.startUs, nowUs, this.held)) {
          this.held = true;
          c.engine.gated(this);
          return nowUs + GATE_RECHECK_US;
        }
        this.held = false;
        sentUs = nowUs;
      }
      burst++;
      this.sendOne(sentUs);
    }
  }

  private sendOne(sentUs: number): void {
    let template = this.template;
    let stream = this.stream;
    if (template === null) {
      const entry = this.bind(renderBound(this.topic, this.client.nextSeq(), Math.random));
      template = entry.template;
      stream = entry.stream;
    } else {
      this.client.nextSeq();
    }
    this.sent++;
    this.client.sendPublish(template, stream!, sentUs);
  }
}
