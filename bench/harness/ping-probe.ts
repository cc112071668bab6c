/**
 * An external view of a broker's responsiveness, for any broker: one client sends PINGREQ every few milliseconds
 * and times each PINGRESP. A broker that stalls answers late; a broker that drops the probe is reconnected, and the
 * time without an answer counts as one long delay.
 */
import { MqttClient } from './mqtt-client.js';

const CONNECT_TIMEOUT_MS = 5_000;
const RECONNECT_PAUSE_MS = 100;

export class PingProbe {
  /** Pings answered. */
  answered = 0;
  /** Times the probe lost its connection (or could not open one). */
  reconnects = 0;
  private longest = 0;
  /** performance.now() since when the probe has been waiting for an answer (a ping's, or a lost connection's). */
  private waitingSince: number | undefined;
  private pingOutstanding = false;
  private client: MqttClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly name: string,
    private readonly intervalMs: number,
  ) {}

  /** Connected and pinging when it resolves; throws if the first connection fails. */
  static async start(host: string, port: number, name: string, intervalMs = 20): Promise<PingProbe> {
    const probe = new PingProbe(host, port, name, intervalMs);
    await probe.connect();
    probe.schedule();
    return probe;
  }

  /** The longest wait for an answer so far, counting one still outstanding, ms. */
  longestMs(): number {
    const pending = this.waitingSince === undefined ? 0 : performance.now() - this.waitingSince;
    return Math.max(this.longest, pending);
  }

  /** Starts a new window: longestMs() forgets what came before (an outstanding ping still counts). */
  reset(): void {
    this.longest = 0;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.client?.destroy();
  }

  private async connect(): Promise<void> {
    const [client, connack] = await MqttClient.open({
      host: this.host,
      port: this.port,
      connect: { cmd: 'connect', protocolVersion: 4, clientId: this.name, clean: true, keepalive: 60 },
      name: this.name,
      timeoutMs: CONNECT_TIMEOUT_MS,
      onPacket: (_c, p) => {
        if (p.cmd === 'pingresp') this.answer();
      },
    });
    if (connack.cmd !== 'connack' || (connack.returnCode ?? 0) !== 0) {
      client.destroy();
      throw new Error(`${this.name}: CONNACK ${JSON.stringify(connack)}`);
    }
    this.client = client;
  }

  private answer(): void {
    this.pingOutstanding = false;
    if (this.waitingSince === undefined) return;
    const waited = performance.now() - this.waitingSince;
    if (waited > this.longest) this.longest = waited;
    this.waitingSince = undefined;
    this.answered++;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.intervalMs);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.client === undefined || !this.client.open) {
      // The gap runs from the moment the connection was lost until a ping on a new one is answered.
      this.waitingSince ??= this.client?.closedAt ?? performance.now();
      this.reconnects++;
      try {
        await this.connect();
        this.pingOutstanding = false;
      } catch {
        await new Promise((r) => setTimeout(r, RECONNECT_PAUSE_MS));
        this.schedule();
        return;
      }
      if (this.stopped) {
        this.client?.destroy();
        return;
      }
    }
    // One ping at a time: while one is unanswered, its age is the delay.
    if (!this.pingOutstanding) {
      this.waitingSince ??= performance.now();
      this.pingOutstanding = true;
      this.client!.send({ cmd: 'pingreq' });
    }
    this.schedule();
  }
}
