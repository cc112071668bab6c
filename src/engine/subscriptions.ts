/**
 * A simulated client's subscriptions: SUBSCRIBE and UNSUBSCRIBE with their answers, the subscriptions in force and
 * the time each covered (what delivery accounting expects a subscriber to have received), and their renewal when a
 * reconnection finds the session gone.
 */
import type { Packet } from 'mqtt-packet';
import { Counter } from '../metrics/series.js';
import { bindTemplate, renderBound } from '../scenario/templates.js';
import type { SubscribeStep, Subscription as SubscriptionOptions, UnsubscribeStep } from '../scenario/schema.js';
import type { SimClient } from './client.js';

interface ActiveSub {
  filter: string;
  step: SubscribeStep;
  options: SubscriptionOptions;
  requested: number;
  granted: number;
  /** Index of its coverage record in the group's metrics; -1 while not in force. */
  coverageIndex: number;
}

const NONE: ActiveSub[] = [];
Object.freeze(NONE);

interface Pending {
  packetId: number;
  startUs: number;
}

export class Subscriptions {
  /** In force. Replaced rather than pushed to while empty, so one subscription costs one slot, not a grown array's 17. */
  private subs: ActiveSub[] = NONE;
  private pendingSubscribe: (Pending & { subs: ActiveSub[]; renewal: boolean }) | null = null;
  private pendingUnsubscribe: (Pending & { filters: string[] }) | null = null;

  constructor(private readonly client: SimClient) {}

  /** Is `id` the packet id of a SUBSCRIBE or UNSUBSCRIBE awaiting its answer? */
  reserves(id: number): boolean {
    return id === this.pendingSubscribe?.packetId || id === this.pendingUnsubscribe?.packetId;
  }

  /** When the request awaiting its answer was sent, µs, and what it is; undefined when none is. */
  awaited(): { startUs: number; what: 'suback' | 'unsuback' } | undefined {
    if (this.pendingSubscribe !== null) return { startUs: this.pendingSubscribe.startUs, what: 'suback' };
    if (this.pendingUnsubscribe !== null) return { startUs: this.pendingUnsubscribe.startUs, what: 'unsuback' };
    return undefined;
  }

  subscribe(step: SubscribeStep, nowUs: number): void {
    const c = this.client;
    const subs: ActiveSub[] = step.subscriptions.map((s) => ({
      filter: renderBound(bindTemplate(s.filter, c.vars(), Math.random), 0, Math.random),
      step,
      options: s,
      requested: s.qos,
      granted: -1,
      coverageIndex: -1,
    }));
    c.group.metrics.sampleEvery ??= step.sampleEvery;
    this.sendSubscribe(step, subs, nowUs, false);
  }

  private sendSubscribe(step: SubscribeStep, subs: ActiveSub[], nowUs: number, renewal: boolean): void {
    const c = this.client;
    const packetId = c.allocatePacketId();
    const subscriptions = subs.map((s) => ({
      topic: s.filter,
      qos: s.requested as 0 | 1 | 2,
      nl: s.options.noLocal,
      rap: s.options.retainAsPublished,
      rh: s.options.retainHandling,
    }));
    const packet: Packet = { cmd: 'subscribe', messageId: packetId, subscriptions };
    if (c.protocolVersion === 5 && step.subscriptionId !== undefined) packet.properties = { subscriptionIdentifier: step.subscriptionId };
    this.pendingSubscribe = { packetId, startUs: nowUs, subs, renewal };
    c.send(packet);
  }

  /** The answer to a SUBSCRIBE; returns true when it was the one the step awaited. */
  onSuback(pkt: Packet & { cmd: 'suback' }): boolean {
    const c = this.client;
    const pending = this.pendingSubscribe;
    if (pending === null || pkt.messageId !== pending.packetId) {
      c.protocolProblem('SUBACK for no SUBSCRIBE');
      return false;
    }
    const granted = pkt.granted as number[];
    // [MQTT-3.9.3-1] one return code per topic filter, in order.
    if (granted.length !== pending.subs.length) {
      c.protocolProblem(`SUBACK with ${granted.length} return codes for ${pending.subs.length} topic filters`);
      return false;
    }
    this.pendingSubscribe = null;
    const engine = c.engine;
    const now = c.rxNowUs;
    const g = c.group.metrics;
    const latency = now - pending.startUs;
    g.subscribe.record(latency);
    let failed = 0;
    pending.subs.forEach((s, i) => {
      const code = granted[i];
      if (code >= 0x80) {
        failed++;
        return;
      }
      s.granted = code;
      s.coverageIndex = g.coverage.length;
      g.coverage.push({ clientId: c.clientId, filter: s.filter, qos: code, fromUs: now, toUs: Infinity });
    });
    this.keep(failed === 0 ? pending.subs : pending.subs.filter((s) => s.granted >= 0));
    if (failed > 0) {
      g.series.add(Counter.subscribesFailed);
      g.series.error('suback-failure');
      engine.noteError('suback-failure', c, `${failed} of ${pending.subs.length} subscriptions refused`);
    } else {
      g.series.add(Counter.subscribesOk);
    }
    engine.jtlSample(pending.startUs, latency, 'subscribe', c, failed === 0, failed > 0 ? 'SUBACK failure' : '', 0);
    return !pending.renewal;
  }

  /** Add `granted` to the subscriptions in force (each once). */
  private keep(granted: ActiveSub[]): void {
    if (this.subs.length === 0) {
      this.subs = granted;
      return;
    }
    if (this.subs === granted) return;
    for (const s of granted) if (!this.subs.includes(s)) this.subs.push(s);
  }

  unsubscribe(step: UnsubscribeStep, nowUs: number): void {
    const c = this.client;
    const filters = step.filters.map((t) => renderBound(bindTemplate(t, c.vars(), Math.random), 0, Math.random));
    this.sendUnsubscribe(filters, nowUs);
  }

  private sendUnsubscribe(filters: string[], nowUs: number): void {
    const c = this.client;
    const packetId = c.allocatePacketId();
    this.pendingUnsubscribe = { packetId, startUs: nowUs, filters };
    c.send({ cmd: 'unsubscribe', messageId: packetId, unsubscriptions: filters });
  }

  /** The answer to an UNSUBSCRIBE; returns true when it was the one awaited. */
  onUnsuback(pkt: Packet & { cmd: 'unsuback' }): boolean {
    const c = this.client;
    const pending = this.pendingUnsubscribe;
    if (pending === null || pkt.messageId !== pending.packetId) {
      c.protocolProblem('UNSUBACK for no UNSUBSCRIBE');
      return false;
    }
    this.pendingUnsubscribe = null;
    const now = c.rxNowUs;
    const g = c.group.metrics;
    for (const f of pending.filters) {
      const i = this.subs.findIndex((s) => s.filter === f);
      if (i < 0) continue;
      const s = this.subs[i];
      if (s.coverageIndex >= 0) g.coverage[s.coverageIndex].toUs = now;
      this.subs = this.subs.filter((_, j) => j !== i);
    }
    c.engine.jtlSample(pending.startUs, now - pending.startUs, 'unsubscribe', c, true, '', 0);
    return true;
  }

  /** Subscriptions this client holds in force (kept through a disconnection by a persistent session). */
  get inForce(): boolean {
    return this.subs.some((s) => s.coverageIndex >= 0);
  }

  /**
   * After a reconnection. The session was lost: subscriptions in force are renewed, and a SUBSCRIBE awaiting its
   * answer is sent again. Kept: an UNSUBSCRIBE awaiting its answer is sent again (the broker may not have had it).
   */
  resume(sessionPresent: boolean, nowUs: number): void {
    if (!sessionPresent) {
      const renew = this.subs.filter((s) => s.coverageIndex >= 0);
      const pending = this.pendingSubscribe;
      if (pending !== null && !pending.renewal) this.sendSubscribe(pending.subs[0].step, pending.subs, nowUs, false);
      else if (renew.length > 0) this.sendSubscribe(renew[0].step, renew, nowUs, true);
    }
    const unsub = this.pendingUnsubscribe;
    if (unsub !== null) this.sendUnsubscribe(unsub.filters, nowUs);
  }

  /**
   * The connection ended: subscriptions stop covering new messages unless the session outlives it (`persistent`).
   */
  endCoverage(persistent: boolean, nowUs: number): void {
    if (persistent) return;
    const g = this.client.group.metrics;
    for (const s of this.subs) {
      if (s.coverageIndex >= 0 && g.coverage[s.coverageIndex].toUs === Infinity) g.coverage[s.coverageIndex].toUs = nowUs;
      s.coverageIndex = -1;
    }
    this.subs = NONE;
  }
}
