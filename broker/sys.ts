/**
 * $SYS/broker/... topics as Mosquitto publishes them: retained, every sys_interval seconds, each topic only when its
 * value changed. Load figures are Mosquitto's exponentially damped per-minute rates over 1, 5 and 15 minutes.
 */
import type { Core } from './core/core.js';
import { makeMessage } from './core/message.js';
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
      ['messages/stored', () => b.retained.count],
      ['messages/received', () => s.msgsReceived],
      ['messages/sent', () => s.msgsSent],
      ['store/messages/count', () => b.retained.count],
      ['store/messages/bytes', () => b.retained.byteCount],
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
    for (const [topic, read] of this.counters) this.publish(topic, String(read()));
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

  /** Publish a retained $SYS value when it changed since the last time. */
  private publish(topic: string, value: string): void {
    const full = `$SYS/broker/${topic}`;
    if (this.last.get(full) === value) return;
    this.last.set(full, value);
    const msg = makeMessage(full, Buffer.from(value), 0, true, null, 0, null);
    this.core.publish(msg, this.core.now());
  }
}
