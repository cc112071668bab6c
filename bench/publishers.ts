/**
 * Publishers of the load generator. QoS 0 keeps the socket full of one pre-encoded batch; QoS 1/2 keep a window of
 * unacknowledged packet ids filled with slices of a pre-encoded run of packets.
 */
import type { DeliveryGate } from './delivery-gate.js';
import { LoadClient } from './load-client.js';
import { ACK_FIRST_BYTE, PacketType, encodePublishRun, type Qos } from './mqtt-wire.js';

const STREAM_BATCH_BYTES = 64 * 1024;
/** Writes per turn of the event loop, so readers on the same process still get their turn. */
const STREAM_WRITES_PER_TURN = 32;

export interface Publisher extends LoadClient {
  /** PUBLISH packets handed to the socket. */
  readonly sent: number;
  /** Sent packets whose QoS flow has not completed (always 0 for QoS 0). */
  readonly outstanding: number;
  start(): void;
  stop(): void;
}

export class StreamPublisher extends LoadClient implements Publisher {
  sent = 0;
  readonly outstanding = 0;
  private running = false;
  private readonly batch: Buffer;
  private readonly batchCount: number;
  private readonly pump = (): void => this.writeBatches();

  constructor(
    clientId: string,
    topic: string,
    payload: Buffer,
    private readonly gate: DeliveryGate,
  ) {
    super(clientId);
    const one = encodePublishRun(topic, payload, 0, 1);
    this.batchCount = gate.largestBatch(Math.max(1, Math.floor(STREAM_BATCH_BYTES / one.packetSize)));
    this.batch = encodePublishRun(topic, payload, 0, this.batchCount).bytes;
  }

  onPacket(first: number, buf: Buffer, body: number, length: number): void {
    this.onControl(first, buf, body, length);
  }

  start(): void {
    this.running = true;
    this.socket!.on('drain', this.pump);
    this.writeBatches();
  }

  stop(): void {
    this.running = false;
  }

  private writeBatches(): void {
    const socket = this.socket!;
    for (let n = 0; n < STREAM_WRITES_PER_TURN; n++) {
      if (!this.running || socket.destroyed) return;
      if (!this.gate.allows(this.batchCount)) {
        this.gate.wait(this.pump);
        return;
      }
      this.gate.sent(this.batchCount);
      this.sent += this.batchCount;
      // false: the kernel buffer is full and the rest waits in Node; carry on at 'drain'.
      if (!socket.write(this.batch)) return;
    }
    setImmediate(this.pump);
  }
}

const ID_STATE_FREE = 0;
const ID_STATE_SENT = 1;
const ID_STATE_RELEASED = 2;

export class WindowedPublisher extends LoadClient implements Publisher {
  sent = 0;
  outstanding = 0;
  private running = false;
  private readonly run: Buffer;
  private readonly packetSize: number;
  /** Packet ids cycle through a run longer than the window, so in-order acks free ids well ahead of reuse. */
  private readonly ids: number;
  private readonly state: Uint8Array;
  private next = 1;
  /** The window is topped up once this many ids are free, so each write carries a batch rather than one packet. */
  private readonly refillAt: number;
  private readonly resume = (): void => this.refill();

  constructor(
    clientId: string,
    topic: string,
    payload: Buffer,
    private readonly qos: Exclude<Qos, 0>,
    private readonly window: number,
    private readonly gate: DeliveryGate,
  ) {
    super(clientId);
    this.ids = Math.min(65535, Math.max(1024, window * 8));
    const run = encodePublishRun(topic, payload, qos, this.ids);
    this.run = run.bytes;
    this.packetSize = run.packetSize;
    this.state = new Uint8Array(this.ids + 1);
    this.refillAt = Math.max(1, Math.floor(window / 4));
  }

  onPacket(first: number, buf: Buffer, body: number, length: number): void {
    const type = first >> 4;
    if (type < PacketType.puback || type > PacketType.pubcomp || length < 2) {
      this.onControl(first, buf, body, length);
      return;
    }
    const high = buf[body];
    const low = buf[body + 1];
    const id = (high << 8) | low;
    const state = id <= this.ids ? this.state[id] : ID_STATE_FREE;
    if (type === PacketType.puback && this.qos === 1 && state === ID_STATE_SENT) {
      this.complete(id);
    } else if (type === PacketType.pubrec && this.qos === 2 && state !== ID_STATE_FREE) {
      // A repeated PUBREC gets its PUBREL again.
      this.state[id] = ID_STATE_RELEASED;
      this.queueAck(ACK_FIRST_BYTE.pubrel, high, low);
    } else if (type === PacketType.pubcomp && state === ID_STATE_RELEASED) {
      this.complete(id);
    } else {
      this.unexpected++;
    }
  }

  start(): void {
    this.running = true;
    this.refill();
  }

  stop(): void {
    this.running = false;
  }

  protected override wantsTurnEnd(): boolean {
    return this.running && this.window - this.outstanding >= this.refillAt;
  }

  protected override onTurnEnd(): void {
    if (this.window - this.outstanding >= this.refillAt) this.refill();
  }

  private complete(id: number): void {
    this.state[id] = ID_STATE_FREE;
    this.outstanding--;
  }

  /** Sends new packets up to the window, as at most two slices of the pre-encoded run (two when the ids wrap). */
  private refill(): void {
    const socket = this.socket!;
    if (!this.running || socket.destroyed) return;
    const state = this.state;
    let from = this.next;
    let count = 0;
    const gate = this.gate;
    while (this.outstanding < this.window) {
      const id = this.next;
      // An id still in flight (acks out of order) is not reused; wait for its ack.
      if (state[id] !== ID_STATE_FREE) break;
      if (!gate.allows(1)) {
        gate.wait(this.resume);
        break;
      }
      gate.sent(1);
      state[id] = ID_STATE_SENT;
      this.outstanding++;
      count++;
      if (id === this.ids) {
        this.writeSlice(from, count);
        this.next = 1;
        from = 1;
        count = 0;
      } else {
        this.next = id + 1;
      }
    }
    if (count > 0) this.writeSlice(from, count);
  }

  private writeSlice(fromId: number, count: number): void {
    const start = (fromId - 1) * this.packetSize;
    this.socket!.write(this.run.subarray(start, start + count * this.packetSize));
    this.sent += count;
  }
}
