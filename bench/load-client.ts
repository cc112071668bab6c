/**
 * One raw MQTT connection of the load generator: connect and subscribe handshakes, batched acknowledgements, and
 * notice of a broker that closes it. Publishers and subscribers extend it with their hot-path packet handling.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { PacketWalker, type PacketHandler } from './packet-walker.js';
import { DISCONNECT, PacketType, encodeConnect, encodeSubscribe, type Qos } from './mqtt-wire.js';

const HANDSHAKE_TIMEOUT_MS = 10_000;
const ACK_BUFFER_BYTES = 16 * 1024;

interface PendingReply {
  type: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export abstract class LoadClient implements PacketHandler {
  /** Packets this client did not expect (e.g. an ack for a packet id it has not sent); a broker bug if not 0. */
  unexpected = 0;
  protected socket: Socket | undefined;
  private readonly walker = new PacketWalker(this);
  /** Made on the first acknowledgement: an idle client (there may be 100,000 of them) never needs one. */
  private acks: Buffer | undefined;
  private ackLength = 0;
  private pending: PendingReply | undefined;
  private closing = false;
  private lostReason: string | undefined;
  private closed: Promise<void> | undefined;
  private turnEndScheduled = false;
  private readonly turnEnd = (): void => this.runTurnEnd();

  /** Clean session (the default), or a session that outlives the connection. */
  clean = true;

  constructor(readonly clientId: string) {}

  abstract onPacket(first: number, buf: Buffer, body: number, length: number): void;

  /** Why the broker closed this connection before it was asked to, if it did. */
  get lost(): string | undefined {
    return this.lostReason;
  }

  /**
   * Opens the socket and waits for a successful CONNACK. `readBuffer` is shared by every client of the process: a read
   * is walked synchronously before the next one can land in it. `localAddress` binds the socket to that source
   * address (each one has its own ~28k ephemeral ports towards the broker).
   */
  connect(host: string, port: number, readBuffer: Buffer, localAddress?: string): Promise<void> {
    const socket = netConnect({
      host,
      port,
      ...(localAddress === undefined ? {} : { localAddress }),
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (n: number, buf: Buffer): boolean => {
          this.walker.feed(buf, 0, n);
          this.afterWalk();
          this.scheduleTurnEnd();
          return true;
        },
      },
    });
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (err) => this.noteLost(`socket error: ${err.message}`));
    socket.on('close', () => this.noteLost('closed by the broker'));
    const reply = this.expect(PacketType.connack, 'CONNACK');
    socket.write(encodeConnect(this.clientId, 0, this.clean));
    return reply;
  }

  subscribe(filter: string, qos: Qos): Promise<void> {
    const reply = this.expect(PacketType.suback, 'SUBACK');
    this.socket!.write(encodeSubscribe(1, filter, qos));
    return reply;
  }

  /** Sends DISCONNECT and waits for the socket to close. */
  async disconnect(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.closing = true;
    if (!socket.destroyed) socket.end(DISCONNECT);
    const timer = setTimeout(() => socket.destroy(), 2_000);
    await this.closed;
    clearTimeout(timer);
  }

  /** Closes the socket at once with a reset: no DISCONNECT, and no TIME_WAIT left holding the port. */
  reset(): void {
    this.closing = true;
    const socket = this.socket;
    if (socket && !socket.destroyed) socket.resetAndDestroy();
  }

  /** Runs after each read has been walked. */
  protected afterWalk(): void {}

  /** Whether the end of this event-loop turn has work to do beyond writing acknowledgements. */
  protected wantsTurnEnd(): boolean {
    return false;
  }

  /** Runs once per event-loop turn that had reads, after the acknowledgements of all of them were written. */
  protected onTurnEnd(): void {}

  /**
   * Brokers often send one packet per TCP segment; answering each read on its own would cost the generator a write
   * per message. Every read of one poll phase is answered together from a check-phase callback instead.
   */
  private scheduleTurnEnd(): void {
    if (this.turnEndScheduled || (this.ackLength === 0 && !this.wantsTurnEnd())) return;
    this.turnEndScheduled = true;
    setImmediate(this.turnEnd);
  }

  private runTurnEnd(): void {
    this.turnEndScheduled = false;
    this.flushAcks();
    this.onTurnEnd();
  }

  /** Queues a two-byte-body acknowledgement, written with the others of this turn as one buffer. */
  protected queueAck(firstByte: number, idHigh: number, idLow: number): void {
    if (this.acks !== undefined && this.ackLength + 4 > this.acks.length) this.flushAcks();
    const acks = (this.acks ??= Buffer.allocUnsafe(ACK_BUFFER_BYTES));
    const at = this.ackLength;
    acks[at] = firstByte;
    acks[at + 1] = 2;
    acks[at + 2] = idHigh;
    acks[at + 3] = idLow;
    this.ackLength = at + 4;
  }

  /** CONNACK, SUBACK and PINGRESP; anything else reaching here is unexpected. */
  protected onControl(first: number, buf: Buffer, body: number, length: number): void {
    const type = first >> 4;
    if (type === PacketType.connack) {
      const code = length >= 2 ? buf[body + 1] : -1;
      this.settle(type, code === 0 ? undefined : `CONNACK refused the connection (return code ${code})`);
    } else if (type === PacketType.suback) {
      const code = length >= 3 ? buf[body + 2] : -1;
      this.settle(type, code >= 0 && code <= 2 ? undefined : `SUBACK refused the subscription (return code ${code})`);
    } else if (type !== PacketType.pingresp) {
      this.unexpected++;
    }
  }

  private flushAcks(): void {
    if (this.ackLength === 0 || this.acks === undefined) return;
    // The scratch buffer is reused, so the socket gets its own copy of the bytes.
    this.socket!.write(Buffer.from(this.acks.subarray(0, this.ackLength)));
    this.ackLength = 0;
  }

  private expect(type: number, name: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new Error(`${this.clientId}: no ${name} within ${HANDSHAKE_TIMEOUT_MS / 1000} s`)),
        HANDSHAKE_TIMEOUT_MS,
      );
      this.pending = { type, resolve, reject, timer };
    });
  }

  private settle(type: number, problem: string | undefined): void {
    const pending = this.pending;
    if (!pending || pending.type !== type) {
      this.unexpected++;
      return;
    }
    if (problem) {
      this.fail(new Error(`${this.clientId}: ${problem}`));
      return;
    }
    clearTimeout(pending.timer);
    this.pending = undefined;
    pending.resolve();
  }

  private fail(err: Error): void {
    const pending = this.pending;
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending = undefined;
    pending.reject(err);
  }

  private noteLost(reason: string): void {
    if (this.closing) return;
    this.lostReason ??= reason;
    this.fail(new Error(`${this.clientId}: ${reason}`));
  }
}
