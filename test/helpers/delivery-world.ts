/**
 * The world a model-based delivery test runs in: a broker, a few clients talking to it over real sockets, and a
 * model of what each session is owed, checked against every packet the clients receive.
 *
 * Every step is synchronous with the broker (a SUBACK, PUBACK/PUBREC, PUBCOMP, PINGRESP or the will of a dropped
 * connection says the broker has done its part), so what the broker must have done after each step is a function
 * of the steps alone; the only freedom left to it is the order of messages that the spec does not order.
 *
 * What is checked, for every session (client id):
 * - a QoS 1/2 message the broker accepted while the session was subscribed is delivered to it, at the lower of the
 *   publish QoS and the highest QoS of its matching subscriptions [MQTT-3.3.5-1], live or, for a persistent session,
 *   after it comes back [MQTT-3.1.2-4];
 * - QoS 2 exactly once, QoS 1 once plus resends, QoS 0 at most once (§4.3);
 * - nothing that the session did not subscribe to;
 * - per publisher, topic and QoS, messages arrive in the order the broker accepted them [MQTT-4.6.0-6];
 * - what was in flight when a connection ended is resent on the session's next connection with DUP set and its
 *   original packet identifier, in the original order, and PUBREL for what was already PUBREC'd [MQTT-4.4.0-1];
 *   nothing is resent at any other time, and a first delivery never has DUP set [MQTT-3.3.1-1];
 * - the in-flight window is used: with messages queued, exactly min(window, owed) are in flight;
 * - session present in CONNACK [MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3];
 * - the will is published when the connection drops and not after a DISCONNECT [MQTT-3.1.2-8], [MQTT-3.14.4-3], nor
 *   when a take-over resumes a 5.0 session (the new connection comes before the will delay passes).
 */
import type { IPublishPacket, Packet, QoS } from 'mqtt-packet';
import type { BrokerKind, TestBroker } from './brokers.js';
import { RawClient, connackCode, describePacket, type ProtocolVersion } from './raw-client.js';
import { referenceMatches } from './topic-reference.js';

/** Where a broker may legitimately differ from the strict reading the bundled broker is held to. */
export interface BrokerProfile {
  /**
   * QoS 2 messages are routed when the publisher's PUBREL arrives (the spec's "method A"), not on PUBLISH: until
   * then the message is neither delivered nor retained, and a publisher whose session ends first loses it.
   */
  qos2RoutedOnPubrel: boolean;
  /**
   * A 3.1.1 connection taken over by one that resumes its session publishes no will (as for 5.0). The 3.1.1 text
   * says the will goes out whenever the server closes the connection without a DISCONNECT [MQTT-3.1.2-8].
   */
  v4WillKeptOnResumedTakeover: boolean;
  /**
   * Most QoS 1/2 messages the broker may have unacknowledged at once, given the configured window (max_inflight_messages,
   * and the Receive Maximum v5 clients ask for [MQTT-3.3.4-9]).
   */
  inflightCeiling(window: number): number;
  /**
   * What a session with several subscriptions matching a topic gets: one copy at the highest of their QoS
   * [MQTT-3.3.5-1]; one copy per subscription, each at that subscription's QoS (5.0 §3.3.4 allows it); or one copy
   * at the QoS of any one of them.
   */
  overlapping(version: ProtocolVersion): 'highest' | 'copy-per-subscription' | 'one-of-them';
  /** A SUBSCRIBE that replaces a subscription keeps the first one's no-local and retain-as-published options. */
  optionsKeptOnReplace: boolean;
}

export const STRICT_PROFILE: BrokerProfile = {
  qos2RoutedOnPubrel: false,
  v4WillKeptOnResumedTakeover: false,
  inflightCeiling: (window) => window,
  overlapping: () => 'highest',
  optionsKeptOnReplace: false,
};

export interface WorldOptions {
  broker: TestBroker;
  versions: readonly ProtocolVersion[];
  /** max_inflight_messages of the broker; v5 clients ask for the same Receive Maximum. */
  window: number;
  profile: BrokerProfile;
  /** Longest wait for something the broker owes, ms. */
  waitMs?: number;
}

export const TOPICS = ['m/a', 'm/b', 'm/a/x'] as const;
export const FILTERS = ['m/a', 'm/b', 'm/+', 'm/#', 'm/a/x', 'm/+/x', '+/a', '#'] as const;
/** v5 session expiry intervals the model uses: 0 ends the session with the connection. */
export const EXPIRIES = [0, 300] as const;

/** A subscription and its v5 options (a 3.1.1 session's are all off). */
export interface Subscription {
  qos: QoS;
  /** v5 no local: not sent messages this session published [MQTT-3.8.3-3]. */
  noLocal: boolean;
  /** v5 retain as published: live deliveries keep the publisher's retain flag [MQTT-3.3.1-12] [MQTT-3.3.1-13]. */
  retainAsPublished: boolean;
  /** v5 retain handling: 0 send retained messages, 1 only for a new subscription, 2 never [MQTT-3.3.1-9..11]. */
  retainHandling: 0 | 1 | 2;
  /** v5 subscription identifier, 0 for none. */
  subId: number;
}

export const PLAIN_SUBSCRIPTION_OPTIONS = { noLocal: false, retainAsPublished: false, retainHandling: 0, subId: 0 } as const;

interface Message {
  id: number;
  publisher: string;
  topic: string;
  qos: QoS;
  retain: boolean;
  /** Order in which the broker accepted (routed) it, for the order check. */
  routed: number;
}

type EntryState =
  /** Owed, not yet sent (beyond the window, or the session was away). */
  | 'queued'
  /** PUBLISH received, not acknowledged (or acknowledged on a connection that then closed: resend expected). */
  | 'sent'
  /** QoS 2: PUBREC sent; PUBREL expected on this connection. */
  | 'pubrec'
  /** QoS 2: PUBREL received; PUBCOMP not sent. */
  | 'rel'
  | 'done';

/** One delivery a session is owed. */
interface Entry {
  msg: Message;
  /** The QoS it is (to be) delivered at. */
  qos: QoS;
  /** Before delivery, when the broker may pick among overlapping subscriptions: the QoS it may pick from. */
  choices: QoS[] | null;
  /**
   * Expected retain flag: 1 for a retained message sent on subscribe [MQTT-3.3.1-8]; for a live delivery 0
   * [MQTT-3.3.1-9], or the publisher's with retain as published.
   */
  retain: boolean;
  /** Subscription identifiers it carries, ascending [MQTT-3.3.4-3]. */
  subIds: number[];
  live: boolean;
  state: EntryState;
  packetId: number;
  /** Order of the first send within the session, for the resend order. */
  sendOrder: number;
  /** A resend (DUP PUBLISH, or PUBREL) is due on the current connection. */
  resendDue: boolean;
}

interface Conn {
  serial: number;
  client: RawClient;
  /** Index into client.received of the next packet to check. */
  read: number;
  willPayload: string;
  /** Entries to be resent on this connection, in the order they must come. */
  resendOrder: Entry[];
}

interface SessionModel {
  clientId: string;
  version: ProtocolVersion;
  /** The broker holds a session for this client id. */
  exists: boolean;
  /** It outlives its connection. */
  persistent: boolean;
  expiry: number;
  subs: Map<string, Subscription>;
  entries: Entry[];
  /** Receiver side: packet id → the delivery in progress under it. */
  flows: Map<number, Entry>;
  /** Order check: publisher|topic|qos → last routing number seen. */
  lastRouted: Map<string, number>;
  sends: number;
  /** Publisher side: QoS 2 messages whose PUBREL this client has not sent yet, by packet id. */
  pendingRel: Map<number, Message>;
  nextPacketId: number;
  conn: Conn | null;
}

export class DeliveryWorld {
  readonly sessions: SessionModel[];
  readonly kind: BrokerKind;
  private readonly broker: TestBroker;
  private readonly window: number;
  private readonly profile: BrokerProfile;
  private readonly waitMs: number;
  private readonly messages = new Map<number, Message>();
  private readonly retained = new Map<string, Message>();
  private readonly allClients: RawClient[] = [];
  private watcher!: RawClient;
  private watcherRead = 0;
  private readonly willsExpected = new Set<string>();
  private readonly willsSeen = new Map<string, number>();
  private nextMessageId = 1;
  private routedCount = 0;
  private connSerial = 0;
  /** What happened, for failure reports. */
  readonly log: string[] = [];
  /** What the run exercised, to see that generated runs reach the interesting cases. */
  readonly stats = { steps: 0, delivered: 0, qos2: 0, retained: 0, resent: 0, pubrelResent: 0, resumed: 0, takeovers: 0, wills: 0 };

  constructor(opts: WorldOptions) {
    this.broker = opts.broker;
    this.kind = opts.broker.kind;
    this.window = opts.window;
    this.profile = opts.profile;
    this.waitMs = opts.waitMs ?? 2_000;
    this.sessions = opts.versions.map((version, i) => ({
      clientId: `c${i}`,
      version,
      exists: false,
      persistent: false,
      expiry: 0,
      subs: new Map(),
      entries: [],
      flows: new Map(),
      lastRouted: new Map(),
      sends: 0,
      pendingRel: new Map(),
      nextPacketId: 1,
      conn: null,
    }));
  }

  /** Connects the will watcher: a clean 3.1.1 client on `$will/#` (no model filter matches a `$` topic). */
  async start(): Promise<void> {
    this.watcher = await this.open(4);
    const connack = await this.watcher.connect({ clientId: 'watcher', clean: true });
    if (connackCode(connack) !== 0) throw new Error(`watcher refused: ${describePacket(connack)}`);
    const suback = await this.watcher.subscribe('$will/#', 1);
    if (suback.granted[0] !== 1) throw new Error(`watcher's SUBSCRIBE refused: ${describePacket(suback)}`);
  }

  async stop(): Promise<void> {
    for (const c of this.allClients) c.destroy();
    await this.broker.stop();
  }

  connected(i: number): boolean {
    return this.sessions[i].conn !== null;
  }

  pendingReleases(i: number): number {
    return this.sessions[i].pendingRel.size;
  }

  // ---- steps ------------------------------------------------------------------------------------------------

  /** CONNECT; when the client id is connected already, this is a take-over by a second connection. */
  async connect(i: number, clean: boolean, expiry: number): Promise<void> {
    const s = this.sessions[i];
    const v5 = s.version === 5;
    const old = s.conn;
    if (old) await this.settle(s);
    this.note(`${s.clientId} CONNECT clean=${clean ? 1 : 0}${v5 ? ` expiry=${expiry}` : ''}${old ? ' (take-over)' : ''}`);

    // A session is resumed when one exists and survives its old connection (if any) being taken over.
    const present = !clean && s.exists && (!old || s.persistent);

    const serial = ++this.connSerial;
    const willPayload = `will:${s.clientId}:${serial}`;
    const client = await this.open(s.version);
    const connack = await client.connect(
      {
        clientId: s.clientId,
        clean,
        keepalive: 60,
        will: { topic: `$will/${s.clientId}`, payload: Buffer.from(willPayload), qos: 1, retain: false },
        ...(v5 ? { properties: { receiveMaximum: this.window, ...(expiry > 0 ? { sessionExpiryInterval: expiry } : {}) } } : {}),
      },
      this.waitMs,
    );
    if (connackCode(connack) !== 0) this.fail(`${s.clientId}: CONNECT refused: ${describePacket(connack)}`);
    if (connack.sessionPresent !== present) {
      const got = connack.sessionPresent ? 1 : 0;
      this.fail(`${s.clientId}: CONNACK session present ${got}, expected ${present ? 1 : 0} [MQTT-3.2.2-2] [MQTT-3.2.2-3]`);
    }
    if (old) {
      // [MQTT-3.1.4-2] the broker closes the old connection (v5: after DISCONNECT 0x8E). What reached it before it
      // closed is checked against the session as it was.
      await old.client.closed(this.waitMs).catch(() => this.fail(`${s.clientId}: the taken-over connection was not closed`));
      this.absorb(s, old);
      const oldEnds = !s.persistent || clean;
      // [MQTT-3.1.2-8] 3.1.1: the will goes out whenever the server closes the connection; 5.0: unless a new
      // connection resumes the session before the will delay (here 0) has passed, i.e. only when the session ends.
      if (oldEnds || (s.version === 4 && !this.profile.v4WillKeptOnResumedTakeover)) this.willsExpected.add(old.willPayload);
      this.connectionGone(s);
    }
    if (clean) this.endSession(s);

    s.exists = true;
    s.persistent = v5 ? expiry > 0 : !clean;
    s.expiry = expiry;
    const conn: Conn = { serial, client, read: 0, willPayload, resendOrder: [] };
    s.conn = conn;
    if (old) this.stats.takeovers++;
    if (present) {
      this.stats.resumed++;
      // [MQTT-4.4.0-1] the broker resends what was in flight: PUBLISH (DUP, same id) or PUBREL, in the original order.
      const inflight = s.entries.filter((e) => e.state === 'sent' || e.state === 'pubrec' || e.state === 'rel');
      inflight.sort((a, b) => a.sendOrder - b.sendOrder);
      for (const e of inflight) {
        e.resendDue = true;
        if (e.state === 'rel') e.state = 'pubrec';
      }
      conn.resendOrder = inflight.filter((e) => e.state === 'sent');
      // And so does the client: PUBREL for each PUBREC it had.
      for (const [packetId, msg] of [...s.pendingRel]) await this.release(s, packetId, msg);
    } else {
      s.flows.clear();
      s.pendingRel.clear();
    }
    await this.settleAll();
  }

  async subscribe(i: number, filter: string, sub: Subscription): Promise<void> {
    const s = this.live(i);
    // Subscription options exist from 5.0 on.
    if (s.version !== 5) sub = { qos: sub.qos, ...PLAIN_SUBSCRIPTION_OPTIONS };
    const options = s.version === 5 ? ` nl=${+sub.noLocal} rap=${+sub.retainAsPublished} rh=${sub.retainHandling} id=${sub.subId}` : '';
    this.note(`${s.clientId} SUBSCRIBE ${filter} q${sub.qos}${options}`);
    const request = { topic: filter, qos: sub.qos, nl: sub.noLocal, rap: sub.retainAsPublished, rh: sub.retainHandling };
    const suback = await this.request(s, () =>
      s.conn!.client.subscribe([request], 0, sub.subId !== 0 ? { subscriptionIdentifier: sub.subId } : undefined),
    );
    if (suback.granted[0] !== sub.qos) this.fail(`${s.clientId}: SUBACK granted ${suback.granted[0]}, expected ${sub.qos}`);
    const existed = s.subs.get(filter);
    if (existed && this.profile.optionsKeptOnReplace) {
      sub = { ...sub, noLocal: existed.noLocal, retainAsPublished: existed.retainAsPublished };
    }
    // [MQTT-3.8.4-3] a subscription to the same filter replaces the old one.
    s.subs.set(filter, sub);
    // [MQTT-3.3.1-6] [MQTT-3.8.4-3] retained messages matching the filter are sent, with the retain flag, unless
    // retain handling says not to [MQTT-3.3.1-10] [MQTT-3.3.1-11].
    if (sub.retainHandling === 2 || (sub.retainHandling === 1 && existed !== undefined)) return this.settleAll();
    const ids = sub.subId !== 0 ? [sub.subId] : [];
    for (const [topic, msg] of this.retained) {
      if (referenceMatches(filter, topic)) this.owe(s, msg, [Math.min(msg.qos, sub.qos) as QoS], true, ids, false);
    }
    await this.settleAll();
  }

  async unsubscribe(i: number, filter: string): Promise<void> {
    const s = this.live(i);
    this.note(`${s.clientId} UNSUBSCRIBE ${filter}`);
    await this.request(s, () => s.conn!.client.unsubscribe(filter));
    // Messages already owed may still come [MQTT-3.10.4-3]: they stay in the model.
    s.subs.delete(filter);
    await this.settleAll();
  }

  /** `count` messages to `topic`, one after the other; QoS 2 ones keep their PUBREL back when `holdRelease`. */
  async publish(i: number, topic: string, qos: QoS, retain: boolean, count: number, holdRelease: boolean): Promise<void> {
    const s = this.live(i);
    for (let k = 0; k < count; k++) {
      const msg: Message = { id: this.nextMessageId++, publisher: s.clientId, topic, qos, retain, routed: 0 };
      this.messages.set(msg.id, msg);
      this.note(`${s.clientId} PUBLISH #${msg.id} ${topic} q${qos} r${retain ? 1 : 0}${holdRelease && qos === 2 ? ' (PUBREL held)' : ''}`);
      const client = s.conn!.client;
      const packetId = qos > 0 ? s.nextPacketId++ : undefined;
      const payload = Buffer.from(`msg:${msg.id}`);
      client.send({ cmd: 'publish', topic, payload, qos, retain, dup: false, ...(packetId ? { messageId: packetId } : {}) });
      if (qos < 2 || !this.profile.qos2RoutedOnPubrel) this.route(msg);
      if (qos === 0) {
        await this.ping(s);
      } else if (qos === 1) {
        const ack = await this.request(s, () => client.next('puback', this.waitMs));
        this.checkAck(s, ack, packetId!);
      } else {
        const ack = await this.request(s, () => client.next('pubrec', this.waitMs));
        this.checkAck(s, ack, packetId!);
        if (holdRelease) s.pendingRel.set(packetId!, msg);
        else await this.release(s, packetId!, msg);
      }
    }
    await this.settleAll();
  }

  /** The client sends the PUBREL it held back for each of its QoS 2 messages. */
  async releaseAll(i: number): Promise<void> {
    const s = this.live(i);
    for (const [packetId, msg] of [...s.pendingRel]) await this.release(s, packetId, msg);
    await this.settleAll();
  }

  /**
   * Acknowledges some of what the client has received and not acknowledged: bit k of `mask` picks the k-th oldest
   * (-1 picks all). Held back, not reordered: PUBACKs and PUBRECs go out for the oldest PUBLISHes of their QoS, as
   * many as were picked [MQTT-4.6.0-2], [MQTT-4.6.0-3]; PUBCOMPs (after PUBREL) for exactly those picked.
   */
  async acknowledge(i: number, mask: number): Promise<void> {
    const s = this.live(i);
    await this.settle(s);
    const open = s.entries
      .filter((e) => (e.state === 'sent' || e.state === 'rel') && e.qos > 0)
      .sort((a, b) => a.sendOrder - b.sendOrder);
    const chosen = open.filter((_, k) => mask === -1 || (k < 30 && (mask >> k) & 1));
    const oldest = (qos: QoS): Entry[] => {
      const n = chosen.filter((e) => e.state === 'sent' && e.qos === qos).length;
      return open.filter((e) => e.state === 'sent' && e.qos === qos).slice(0, n);
    };
    const picked = [...oldest(1), ...oldest(2), ...chosen.filter((e) => e.state === 'rel')].sort((a, b) => a.sendOrder - b.sendOrder);
    if (picked.length === 0) return;
    const ackName = (e: Entry): string => (e.state === 'rel' ? 'PUBCOMP' : e.qos === 1 ? 'PUBACK' : 'PUBREC');
    this.note(`${s.clientId} acknowledges ${picked.map((e) => `#${e.msg.id}(m${e.packetId} ${ackName(e)})`).join(' ')}`);
    const client = s.conn!.client;
    for (const e of picked) {
      if (e.state === 'rel') {
        client.send({ cmd: 'pubcomp', messageId: e.packetId });
        this.finish(s, e);
      } else if (e.qos === 1) {
        client.send({ cmd: 'puback', messageId: e.packetId });
        this.finish(s, e);
      } else {
        client.send({ cmd: 'pubrec', messageId: e.packetId });
        e.state = 'pubrec';
      }
    }
    await this.ping(s);
    await this.settleAll();
  }

  /**
   * DISCONNECT: the will is discarded [MQTT-3.14.4-3]; a session that does not persist ends. A v5 client may give a
   * new Session Expiry Interval [MQTT-3.14.2-2]: one that connected with 0 may only repeat 0, so it is then ignored.
   */
  async disconnect(i: number, expiry: number | null): Promise<void> {
    const s = this.live(i);
    await this.settle(s);
    const newExpiry = s.version === 5 && expiry !== null && (s.expiry > 0 || expiry === 0) ? expiry : null;
    this.note(`${s.clientId} DISCONNECT${newExpiry !== null ? ` expiry=${newExpiry}` : ''}`);
    const conn = s.conn!;
    if (newExpiry === null) {
      await conn.client.disconnect();
    } else {
      conn.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: newExpiry } });
      await conn.client.end();
      s.expiry = newExpiry;
      s.persistent = newExpiry > 0;
    }
    this.absorb(s, conn);
    this.connectionGone(s);
    await this.settleAll();
  }

  /**
   * Drops the socket without DISCONNECT, with a FIN or a TCP reset: the will goes out [MQTT-3.1.2-8]; waiting for it
   * tells the broker noticed.
   */
  async drop(i: number, reset: boolean): Promise<void> {
    const s = this.live(i);
    await this.settle(s);
    this.note(`${s.clientId} drops its connection${reset ? ' (reset)' : ''}`);
    const conn = s.conn!;
    if (reset) conn.client.reset();
    else conn.client.destroy();
    this.willsExpected.add(conn.willPayload);
    await this.waitForWill(conn.willPayload);
    this.absorb(s, conn);
    this.connectionGone(s);
    await this.settleAll();
  }

  /**
   * The end of a run: every persistent session comes back, and every client acknowledges everything until nothing
   * is owed; then nothing more may arrive, and the wills must be exactly those expected.
   */
  async drain(): Promise<void> {
    this.note('-- drain --');
    for (let i = 0; i < this.sessions.length; i++) {
      const s = this.sessions[i];
      if (!s.conn && s.exists && s.persistent) await this.connect(i, false, s.expiry);
    }
    for (let i = 0; i < this.sessions.length; i++) {
      const s = this.sessions[i];
      if (!s.conn) continue;
      if (s.pendingRel.size > 0) await this.releaseAll(i);
      for (let round = 0; round < 500 && this.owed(s).length > 0; round++) await this.acknowledge(i, -1);
      const left = this.owed(s);
      if (left.length > 0) this.fail(`${s.clientId}: still owed after draining: ${left.map(describeEntry).join(', ')}`);
    }
    await sleep(150);
    for (const s of this.sessions) if (s.conn) this.absorb(s, s.conn);
    for (const payload of this.willsExpected) await this.waitForWill(payload);
    this.absorbWills();
    for (const [payload] of this.willsSeen) {
      if (!this.willsExpected.has(payload)) this.fail(`unexpected will published: ${payload}`);
    }
  }

  // ---- the model ----------------------------------------------------------------------------------------------

  /** The broker accepted `msg`: every session subscribed to its topic is owed it [MQTT-3.3.5-1]. */
  private route(msg: Message): void {
    msg.routed = ++this.routedCount;
    if (msg.retain) this.retained.set(msg.topic, msg);
    for (const s of this.sessions) {
      if (!s.exists) continue;
      // [MQTT-3.8.3-3] a no-local subscription does not take what its own session published.
      const matching = [...s.subs]
        .filter(([filter, sub]) => referenceMatches(filter, msg.topic) && !(sub.noLocal && msg.publisher === s.clientId))
        .map(([, sub]) => sub);
      if (matching.length === 0) continue;
      const qosOf = (sub: Subscription): QoS => Math.min(sub.qos, msg.qos) as QoS;
      const retainOf = (subs: Subscription[]): boolean => msg.retain && subs.some((sub) => sub.retainAsPublished);
      const idsOf = (subs: Subscription[]): number[] => subs.map((sub) => sub.subId).filter((id) => id !== 0).sort((a, b) => a - b);
      const rule = this.profile.overlapping(s.version);
      if (rule === 'copy-per-subscription') {
        for (const sub of matching) this.owe(s, msg, [qosOf(sub)], retainOf([sub]), idsOf([sub]), true);
      } else if (rule === 'one-of-them') {
        this.owe(s, msg, [...new Set(matching.map(qosOf))], retainOf(matching), idsOf(matching), true);
      } else {
        // One copy at the highest QoS, with every matching subscription's identifier [MQTT-3.3.4-3].
        this.owe(s, msg, [Math.max(...matching.map(qosOf)) as QoS], retainOf(matching), idsOf(matching), true);
      }
    }
  }

  /** `s` is owed `msg` once, at one of `qos` (one QoS but for a broker free to pick among overlapping subscriptions). */
  private owe(s: SessionModel, msg: Message, qos: QoS[], retain: boolean, subIds: number[], live: boolean): void {
    // QoS 0 is not kept for a session that is away.
    if (Math.max(...qos) === 0 && !s.conn) return;
    const choices = qos.length > 1 ? qos : null;
    s.entries.push({ msg, qos: qos[0], choices, retain, subIds, live, state: 'queued', packetId: 0, sendOrder: 0, resendDue: false });
  }

  /** Deliveries the broker must make: QoS 1/2, or already under way at QoS 1/2. */
  private owed(s: SessionModel): Entry[] {
    return s.entries.filter((e) => e.state !== 'done' && required(e));
  }

  private finish(s: SessionModel, e: Entry): void {
    e.state = 'done';
    s.flows.delete(e.packetId);
  }

  private endSession(s: SessionModel): void {
    s.exists = false;
    s.subs.clear();
    s.entries = [];
    s.lastRouted.clear();
  }

  private connectionGone(s: SessionModel): void {
    s.conn = null;
    if (!s.persistent) this.endSession(s);
    // QoS 0 messages not yet sent are not kept for a session that is away.
    s.entries = s.entries.filter((e) => e.state !== 'done' && mayBeQueued(e));
  }

  // ---- checking what arrives ----------------------------------------------------------------------------------

  /** Checks every packet `conn` received since the last call. */
  private absorb(s: SessionModel, conn: Conn): void {
    const received = conn.client.received;
    while (conn.read < received.length) {
      const p = received[conn.read++];
      if (p.cmd === 'publish') this.onPublish(s, conn, p);
      else if (p.cmd === 'pubrel') this.onPubrel(s, conn, p.messageId!);
    }
  }

  private onPublish(s: SessionModel, conn: Conn, p: IPublishPacket): void {
    const what = `${s.clientId} (connection ${conn.serial}) received ${describePacket(p)} "${p.payload.toString()}"`;
    const id = /^msg:(\d+)$/.exec(p.payload.toString());
    const msg = id ? this.messages.get(Number(id[1])) : undefined;
    if (!msg) return this.fail(`${what}: not a message of this run`);
    if (p.topic !== msg.topic) return this.fail(`${what}: published to ${msg.topic}`);
    const retain = p.retain ?? false;
    const ids = subscriptionIds(p);
    if (p.qos === 0) {
      const e = s.entries.find((x) => x.msg === msg && x.state === 'queued' && x.retain === retain && allows(x, 0) && sameIds(x, ids));
      if (!e) return this.fail(`${what}: ${this.whyUnexpected(s, msg, 0, retain, ids)}`);
      e.qos = 0;
      e.choices = null;
      e.state = 'done';
      this.checkOrder(s, e, what);
      return;
    }
    const packetId = p.messageId!;
    if (p.dup) {
      // A resend: only on a new connection, of something in flight under the same packet id [MQTT-4.4.0-1].
      const e = s.flows.get(packetId);
      if (!e || e.msg !== msg) {
        return this.fail(`${what}: DUP, but m${packetId} was not in flight with this message${e ? ` (it carries #${e.msg.id})` : ''}`);
      }
      if (e.state !== 'sent') return this.fail(`${what}: resent as PUBLISH after the client's PUBREC (PUBREL expected) [MQTT-4.3.3-6]`);
      if (!e.resendDue) return this.fail(`${what}: resent on the same connection it was sent on [MQTT-4.4.0-1]`);
      if (p.qos !== e.qos || retain !== e.retain || !sameIds(e, ids)) {
        return this.fail(`${what}: resent as ${describeDelivery(p.qos, retain, ids)}, first sent as ${describeDelivery(e.qos, e.retain, e.subIds)}`);
      }
      const expected = conn.resendOrder[0];
      if (expected !== e) return this.fail(`${what}: resent out of the original order; expected #${expected?.msg.id} first [MQTT-4.6.0-1]`);
      conn.resendOrder.shift();
      this.stats.resent++;
      e.resendDue = false;
      return;
    }
    if (s.flows.has(packetId)) {
      return this.fail(`${what}: packet id m${packetId} is still in use by #${s.flows.get(packetId)!.msg.id} [MQTT-2.3.1-4] [MQTT-2.2.1-4]`);
    }
    const e = s.entries.find((x) => x.msg === msg && x.state === 'queued' && x.retain === retain && allows(x, p.qos) && sameIds(x, ids));
    if (!e) return this.fail(`${what}: ${this.whyUnexpected(s, msg, p.qos, retain, ids)}`);
    e.qos = p.qos;
    e.choices = null;
    e.state = 'sent';
    e.packetId = packetId;
    e.sendOrder = ++s.sends;
    s.flows.set(packetId, e);
    this.stats.delivered++;
    if (e.qos === 2) this.stats.qos2++;
    if (e.retain) this.stats.retained++;
    this.checkOrder(s, e, what);
    const inflight = this.inflight(s).length;
    const ceiling = this.profile.inflightCeiling(this.window);
    if (inflight > ceiling) this.fail(`${what}: ${inflight} messages in flight, above the window of ${ceiling} [MQTT-3.3.4-9]`);
  }

  private onPubrel(s: SessionModel, conn: Conn, packetId: number): void {
    const e = s.flows.get(packetId);
    const what = `${s.clientId} (connection ${conn.serial}) received PUBREL m${packetId}`;
    if (!e || e.state !== 'pubrec') return this.fail(`${what}: no PUBREC of this client waits for it${e ? ` (#${e.msg.id} is ${e.state})` : ''}`);
    if (e.resendDue) this.stats.pubrelResent++;
    e.state = 'rel';
    e.resendDue = false;
  }

  /** A message that arrived matches no owed delivery: say why, as precisely as the model can. */
  private whyUnexpected(s: SessionModel, msg: Message, qos: QoS, retain: boolean, ids: number[]): string {
    const all = s.entries.filter((x) => x.msg === msg);
    if (all.length === 0) {
      const subs = [...s.subs.keys()].join(', ') || 'none';
      const when = `when #${msg.id} was published${retain ? ' or retained' : ''}`;
      return `not owed to this session: not subscribed to ${msg.topic} ${when} (subscriptions now: ${subs})`;
    }
    const open = all.filter((x) => x.state === 'queued');
    if (open.length === 0) return `delivered again (owed ${all.length} time(s), already ${all.map((x) => x.state).join('/')}) — a duplicate`;
    const owed = open.map((x) => describeDelivery((x.choices ?? [x.qos]).join('|'), x.retain, x.subIds)).join(' or ');
    return `owed as ${owed}, not as ${describeDelivery(qos, retain, ids)}`;
  }

  /** [MQTT-4.6.0-6] per publisher, topic and QoS, live messages arrive in the order the broker accepted them. */
  private checkOrder(s: SessionModel, e: Entry, what: string): void {
    if (!e.live) return;
    const key = `${e.msg.publisher}|${e.msg.topic}|${e.qos}`;
    const last = s.lastRouted.get(key) ?? 0;
    if (e.msg.routed < last) {
      this.fail(`${what}: out of order: a later message from ${e.msg.publisher} to ${e.msg.topic} at q${e.qos} came first [MQTT-4.6.0-6]`);
    }
    s.lastRouted.set(key, e.msg.routed);
  }

  private inflight(s: SessionModel): Entry[] {
    return s.entries.filter((e) => e.state === 'sent' || e.state === 'pubrec' || e.state === 'rel');
  }

  /** What must have arrived on the live connection by now is there (the broker has no excuse left to hold it). */
  private settled(s: SessionModel): string | undefined {
    const resends = s.entries.filter((e) => e.resendDue);
    if (resends.length > 0) return `resends still due: ${resends.map(describeEntry).join(', ')}`;
    const awaitingRel = s.entries.filter((e) => e.state === 'pubrec');
    if (awaitingRel.length > 0) return `PUBREL still due for ${awaitingRel.map(describeEntry).join(', ')}`;
    const inflight = this.inflight(s).length;
    const queued = s.entries.filter((e) => e.state === 'queued' && required(e));
    const want = Math.min(this.window, inflight + queued.length);
    if (inflight < want) {
      return `${inflight} in flight with ${queued.length} more owed (window ${this.window}); not yet sent: ${queued.map(describeEntry).join(', ')}`;
    }
    return undefined;
  }

  private async settle(s: SessionModel): Promise<void> {
    const conn = s.conn;
    if (!conn) return;
    // Whatever the broker wrote to this connection before it answered the PINGREQ has arrived by the PINGRESP:
    // nothing it already sent is still on the way when the next step acts on this connection.
    await this.ping(s);
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      this.absorb(s, conn);
      const missing = this.settled(s);
      if (missing === undefined) return;
      if (Date.now() > deadline) this.fail(`${s.clientId}: after ${this.waitMs} ms, ${missing}`);
      if (conn.client.closedByBroker) this.fail(`${s.clientId}: the broker closed the connection; ${missing}`);
      await sleep(2);
    }
  }

  private async settleAll(): Promise<void> {
    for (const s of this.sessions) await this.settle(s);
    this.absorbWills();
  }

  // ---- wire helpers -------------------------------------------------------------------------------------------

  private async open(version: ProtocolVersion): Promise<RawClient> {
    const c = await RawClient.open(this.broker, version);
    this.allClients.push(c);
    return c;
  }

  private live(i: number): SessionModel {
    const s = this.sessions[i];
    if (!s.conn) throw new Error(`${s.clientId} is not connected (a command ran without its precondition)`);
    return s;
  }

  /** Awaits a reply, failing with the model's context when it does not come. */
  private async request<T>(s: SessionModel, ask: () => Promise<T>): Promise<T> {
    try {
      return await ask();
    } catch (err) {
      return this.fail(`${s.clientId}: ${(err as Error).message}`);
    }
  }

  /** PINGREQ → PINGRESP: everything sent before it has been handled by the broker. */
  private async ping(s: SessionModel): Promise<void> {
    const client = s.conn!.client;
    client.send({ cmd: 'pingreq' });
    await this.request(s, () => client.next('pingresp', this.waitMs));
  }

  private async release(s: SessionModel, packetId: number, msg: Message): Promise<void> {
    const client = s.conn!.client;
    client.send({ cmd: 'pubrel', messageId: packetId });
    if (this.profile.qos2RoutedOnPubrel) this.route(msg);
    const comp = await this.request(s, () => client.next('pubcomp', this.waitMs));
    if (comp.messageId !== packetId || (comp.reasonCode ?? 0) !== 0) this.fail(`${s.clientId}: ${describePacket(comp)} for PUBREL m${packetId}`);
    s.pendingRel.delete(packetId);
  }

  private checkAck(s: SessionModel, ack: Packet, packetId: number): void {
    const rc = 'reasonCode' in ack ? (ack.reasonCode ?? 0) : 0;
    // 0x10 "no matching subscribers" is still a success.
    if (ack.messageId !== packetId || rc >= 0x80) this.fail(`${s.clientId}: ${describePacket(ack)} for PUBLISH m${packetId}`);
  }

  private absorbWills(): void {
    const received = this.watcher.received;
    while (this.watcherRead < received.length) {
      const p = received[this.watcherRead++];
      if (p.cmd !== 'publish') continue;
      const payload = p.payload.toString();
      this.willsSeen.set(payload, (this.willsSeen.get(payload) ?? 0) + 1);
      this.stats.wills++;
      if (p.qos === 1) this.watcher.send({ cmd: 'puback', messageId: p.messageId! });
      if (!this.willsExpected.has(payload)) this.fail(`unexpected will published: ${payload}`);
    }
  }

  private async waitForWill(payload: string): Promise<void> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      this.absorbWills();
      if (this.willsSeen.has(payload)) return;
      if (Date.now() > deadline) this.fail(`the will ${payload} was not published within ${this.waitMs} ms [MQTT-3.1.2-8]`);
      await sleep(2);
    }
  }

  private note(line: string): void {
    this.stats.steps++;
    this.log.push(line);
  }

  fail(why: string): never {
    const tail = this.log.slice(-40).join('\n  ');
    throw new Error(`${this.kind} broker: ${why}\nlast steps:\n  ${tail}`);
  }
}

/** The subscription identifiers a PUBLISH carries, ascending. */
function subscriptionIds(p: IPublishPacket): number[] {
  const id = p.properties?.subscriptionIdentifier;
  if (id === undefined) return [];
  return (Array.isArray(id) ? [...id] : [id]).sort((a, b) => a - b);
}

function sameIds(e: Entry, ids: number[]): boolean {
  return e.subIds.length === ids.length && e.subIds.every((id, k) => id === ids[k]);
}

function describeDelivery(qos: number | string, retain: boolean, ids: number[]): string {
  return `q${qos} r${retain ? 1 : 0}${ids.length > 0 ? ` ids=${ids.join(',')}` : ''}`;
}

/** May the broker deliver `e` at `qos`? */
function allows(e: Entry, qos: QoS): boolean {
  return e.choices ? e.choices.includes(qos) : e.qos === qos;
}

/** Must the broker deliver `e` (QoS 1/2 whatever it picks, or already sent at QoS 1/2)? */
function required(e: Entry): boolean {
  return e.choices ? Math.min(...e.choices) > 0 : e.qos > 0;
}

/** Might the broker keep `e` for a session that is away (at QoS 1/2)? */
function mayBeQueued(e: Entry): boolean {
  return e.choices ? Math.max(...e.choices) > 0 : e.qos > 0;
}

function describeEntry(e: Entry): string {
  const qos = (e.choices ?? [e.qos]).join('|');
  return `#${e.msg.id}(${e.msg.topic} q${qos}${e.retain ? ' retained' : ''} ${e.state}${e.packetId ? ` m${e.packetId}` : ''})`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
