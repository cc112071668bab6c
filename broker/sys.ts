/**
 * $SYS/broker/... topics as Mosquitto publishes them: retained, every sys_interval seconds, each topic only when its
 * value changed. Load figures are Mosquitto's exponentially damped per-minute rates over 1, 5 and 15 minutes.
 */
import type { Core } from './core/core.js';
import { makeMessage, type Msg } from './core/message.js';
import type { RetainStore } from './core/retain.js';
import type { Session } from './core/session.js';
import type { BrokerStats } from './core/stats.js';
import { Timer } from '../src/util/timers.js';

type Counter = () => number;

const LOADS: [string, (s: BrokerStats) => number][] = [
  ['messages/received', (s) => s.msgsReceived],
  ['messages/sent', (s) => s.msgsSent],
  ['publish/dropped', (s) => s.pubDropped],
  ['publish/received', (s) => s.pubReceived],
  ['publish/sent', (s) => s.pubSent],
  ['bytes/received', (s) => s.bytesReceived],
  ['bytes/sent', (s) => s.bytesSent],
  ['sockets', (s) => s.socketsAccepted],
  ['connections', (s) => s.connectsAccepted],
];
const WINDOWS: [string, number][] = [
  ['1min', 60],
  ['5min', 300],
  ['15min', 900],
];

export class SysTree {
  /** On the core's timers: a sys_interval of years is honoured, not turned into a busy loop. */
  private readonly timer: Timer;
  private readonly last = new Map<string, string>();
  private lastUpdate = 0;
  private readonly previous = new Map<string, number>();
  private readonly load = new Map<string, number>();
  private readonly counters: [string, Counter][];
  /** The message store as counted for the update in progress (three topics read it; it is counted once). */
  private stored: MessageStore | null = null;

  constructor(private readonly core: Core) {
    const b = core;
    const s = b.stats;
    this.timer = new Timer(() => this.update(), null);
    this.counters = [
      ['clients/total', () => b.sessions.size],
      ['clients/inactive', () => b.sessions.size - s.clientsConnected],
      ['clients/disconnected', () => b.sessions.size - s.clientsConnected],
      ['clients/active', () => s.clientsConnected],
      ['clients/connected', () => s.clientsConnected],
      ['clients/maximum', () => s.clientsMaximum],
      ['clients/expired', () => s.clientsExpired],
      ['messages/stored', () => this.store().count],
      ['messages/received', () => s.msgsReceived],
      ['messages/sent', () => s.msgsSent],
      ['store/messages/count', () => this.store().count],
      ['store/messages/bytes', () => this.store().bytes],
      ['subscriptions/count', () => b.router.count],
      ['shared_subscriptions/count', () => b.router.sharedSubscriptionCount],
      ['retained messages/count', () => b.retained.count],
      ['heap/current', () => process.memoryUsage().heapUsed],
      ['publish/messages/dropped', () => s.pubDropped],
      ['publish/messages/received', () => s.pubReceived],
      ['publish/messages/sent', () => s.pubSent],
      ['publish/bytes/received', () => s.pubBytesReceived],
      ['publish/bytes/sent', () => s.pubBytesSent],
      ['bytes/received', () => s.bytesReceived],
      ['bytes/sent', () => s.bytesSent],
    ];
  }

  start(): void {
    if (this.core.options.sysInterval <= 0) return;
    this.publish('version', `${this.core.options.version}`);
    this.update();
  }

  stop(): void {
    this.core.timers.cancel(this.timer);
  }

  private update(): void {
    const b = this.core;
    b.timers.schedule(this.timer, b.options.sysInterval * 1000);
    b.tick();
    const nowS = Math.floor(Date.now() / 1000);
    this.publish('uptime', `${nowS - Math.floor(b.startedAt / 1000)} seconds`);
    this.stored = null;
    for (const [topic, read] of this.counters) this.publish(topic, String(read()));
    this.stored = null;
    const initial = this.lastUpdate === 0;
    const elapsed = initial ? 0 : nowS - this.lastUpdate;
    if (initial || elapsed > 0) {
      for (const [name, read] of LOADS) {
        const current = read(b.stats);
        const rate = initial ? 0 : ((current - (this.previous.get(name) ?? 0)) * 60) / elapsed;
        this.previous.set(name, current);
        for (const [label, seconds] of WINDOWS) {
          const key = `${name}/${label}`;
          const old = this.load.get(key) ?? 0;
          const exponent = Math.exp(-elapsed / seconds);
          const value = initial ? 0 : rate + exponent * (old - rate);
          this.load.set(key, value);
          this.publish(`load/${key}`, value.toFixed(2));
        }
      }
      this.lastUpdate = nowS;
    }
  }

  private store(): MessageStore {
    return (this.stored ??= messageStore(this.core.retained, this.core.sessions.values(), this.core.now()));
  }

  /** Publish a retained $SYS value when it changed since the last time. */
  private publish(topic: string, value: string): void {
    const full = `$SYS/broker/${topic}`;
    if (this.last.get(full) === value) return;
    this.last.set(full, value);
    const msg = makeMessage(full, Buffer.from(value), 0, true, null, 0, null);
    this.core.publish(msg, this.core.now());
  }
}

/** Mosquitto's message store, counted: messages and their payload bytes. */
export interface MessageStore {
  count: number;
  bytes: number;
}

/**
 * What `$SYS/broker/store/messages/count` (and `messages/stored`, `store/messages/bytes`) report, as Mosquitto
 * defines it: the retained messages and the messages held for sessions (in flight, queued, parked), each message once
 * however many sessions hold it and whether or not it is also retained (Mosquitto keeps one reference-counted copy).
 * Counted when $SYS is published, by walking the sessions: nothing is added to the delivery path.
 *
 * Queued messages are counted per session from the session's own tally (`queued`, `queuedBytes`): a session offers
 * no read-only view of its queue, so a message queued for several sessions counts once for each, where Mosquitto
 * counts it once. In-flight and parked messages are seen one by one and counted once.
 */
export function messageStore(retained: RetainStore, sessions: Iterable<Session>, now: number): MessageStore {
  const seen = new Set<Msg>();
  let count = retained.count;
  let bytes = retained.byteCount;
  const hold = (m: Msg): void => {
    if (seen.has(m)) return;
    seen.add(m);
    if (isRetained(retained, m, now)) return;
    count++;
    bytes += m.pLen;
  };
  for (const session of sessions) {
    if (session.inflight.size > 0) for (const out of session.inflight.values()) hold(out.msg);
    const parked = session.parked;
    if (parked !== null) for (let i = parked.head; i < parked.list.length; i++) hold(parked.list[i].msg);
    count += session.queued;
    bytes += session.queuedBytes;
  }
  return { count, bytes };
}

/** Is `m` the message retained for its topic now (already counted with the retained ones)? */
function isRetained(retained: RetainStore, m: Msg, now: number): boolean {
  // Never retained, or retained and replaced since: only the rare held message that was retained looks it up.
  if (m.retainedAt === 0) return false;
  const current = retained.match(m.topic, now);
  return current.length === 1 && current[0] === m;
}
