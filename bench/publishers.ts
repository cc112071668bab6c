/**
 * Publishers of the load generator. Every PUBLISH carries the publisher's index and its own sequence number in the
 * payload (mqtt-wire.ts), patched into pre-encoded packets just before they are written. QoS 0 keeps the socket full
 * of pre-encoded batches; QoS 1/2 keep a window of unacknowledged packet ids filled with slices of a pre-encoded run
 * of packets.
 */
import type { DeliveryGate } from './delivery-gate.js';
import { LoadClient } from './load-client.js';
import { ACK_FIRST_BYTE, PacketType, encodePublishRun, makePayload, writeSeq, type Qos } from './mqtt-wire.js';
import { IdState, PacketIds } from './packet-ids.js';

const STREAM_BATCH_BYTES = 64 * 1024;
/**
 * Batch buffers per QoS 0 publisher. A buffer is patched again only once the socket has written it out (its write
 * callback), so a batch still waiting in Node's write queue never changes under it.
 */
const STREAM_BUFFERS = 8;
/** Writes per turn of the event loop, so readers on the same process still get their turn. */
const STREAM_WRITES_PER_TURN = 32;
/** A QoS 1/2 publisher's pre-encoded packets: at least this many bytes' worth, beyond its window. */
const WINDOW_RUN_BYTES = 4 * 1024 * 1024;

export interface Publisher extends LoadClient {
  /** This publisher's index in the run, carried in every payload. */
  readonly index: number;
  /** PUBLISH packets handed to the socket; also the next sequence number. */
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
  private readonly batches: Buffer[] = [];
  private readonly busy = new Uint8Array(STREAM_BUFFERS);
  private readonly written: (() => void)[] = [];
  private cursor = 0;
  private waitingForBuffer = false;
  private readonly batchCount: number;
  private readonly packetSize: number;
  private readonly payloadAt: number;
  private readonly pump = (): void => this.writeBatches();

  constructor(
    clientId: string,
    readonly index: number,
    topic: string,
    payloadBytes: number,
    private readonly gate: DeliveryGate,
  ) {
    super(clientId);
    const payload = makePayload(payloadBytes, index);
    const one = encodePublishRun(topic, payload, 0, 1);
    this.batchCount = gate.largestBatch(Math.max(1, Math.floor(STREAM_BATCH_BYTES / one.packetSize)));
    this.packetSize = one.packetSize;
    this.payloadAt = one.payloadAt;
    for (let i = 0; i < STREAM_BUFFERS; i++) {
      this.batches.push(encodePublishRun(topic, payload, 0, this.batchCount).bytes);
      this.written.push(() => this.onWritten(i));
    }
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

  /**
   * Each way out of this loop has exactly one thing that resumes it: 'drain' after a refused write, the gate, a
   * buffer's write callback, or the next turn.
   */
  private writeBatches(): void {
    const socket = this.socket!;
    for (let n = 0; n < STREAM_WRITES_PER_TURN; n++) {
      if (!this.running || socket.destroyed) return;
      const slot = this.cursor;
      if (this.busy[slot] !== 0) {
        this.waitingForBuffer = true;
        return;
      }
      if (!this.gate.allows(this.batchCount)) {
        this.gate.wait(this.pump);
        return;
      }
      const batch = this.batches[slot];
      const count = this.batchCount;
      const size = this.packetSize;
      let seq = this.sent;
      for (let i = 0, at = this.payloadAt; i < count; i++, at += size) writeSeq(batch, at, seq++);
      this.gate.sent(count);
      this.sent = seq;
      this.busy[slot] = 1;
      this.cursor = slot + 1 === STREAM_BUFFERS ? 0 : slot + 1;
      // false: the kernel buffer is full and the rest waits in Node; carry on at 'drain'.
      if (!socket.write(batch, this.written[slot])) return;
    }
    setImmediate(this.pump);
  }

  private onWritten(slot: number): void {
    this.busy[slot] = 0;
    if (this.waitingForBuffer && slot === this.cursor) {
      this.waitingForBuffer = false;
      this.writeBatches();
    }
  }
}

export class WindowedPublisher extends LoadClient implements Publisher {
  sent = 0;
  private running = false;
  private readonly ids = new PacketIds();
  /**
   * Pre-encoded packets, used in turn whatever their packet ids. A slot is patched again only after more than a
   * window of later packets went out; at most a window of them is unacknowledged, so the broker has acknowledged
   * (hence read) one sent after it, and the slot's bytes have left the process.
   */
  private readonly run: Buffer;
  private readonly slots: number;
  private readonly packetSize: number;
  private readonly idAt: number;
  private readonly payloadAt: number;
  private cursor = 0;
  /** The window is topped up once this many ids are free, so each write carries a batch rather than one packet. */
  private readonly refillAt: number;
  private readonly resume = (): void => this.refill();

  constructor(
    clientId: string,
    readonly index: number,
    topic: string,
    payloadBytes: number,
    private readonly qos: Exclude<Qos, 0>,
    private readonly window: number,
    private readonly gate: DeliveryGate,
  ) {
    super(clientId);
    const payload = makePayload(payloadBytes, index);
    const one = encodePublishRun(topic, payload, qos, 1);
    const byBytes = Math.floor(WINDOW_RUN_BYTES / one.packetSize);
    this.slots = Math.max(window + 2, Math.min(window * 8, byBytes));
    const run = encodePublishRun(topic, payload, qos, this.slots);
    this.run = run.bytes;
    this.packetSize = run.packetSize;
    this.idAt = run.idAt;
    this.payloadAt = run.payloadAt;
    this.refillAt = Math.max(1, Math.floor(window / 4));
  }

  get outstanding(): number {
    return this.ids.inFlight;
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
    const state = this.ids.stateOf(id);
    if (type === PacketType.puback && this.qos === 1 && state === IdState.sent) {
      this.ids.release(id);
    } else if (type === PacketType.pubrec && this.qos === 2 && state !== IdState.free) {
      // A repeated PUBREC gets its PUBREL again.
      this.ids.markReleased(id);
      this.queueAck(ACK_FIRST_BYTE.pubrel, high, low);
    } else if (type === PacketType.pubcomp && state === IdState.released) {
      this.ids.release(id);
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
    return this.running && this.window - this.ids.inFlight >= this.refillAt;
  }

  protected override onTurnEnd(): void {
    if (this.window - this.ids.inFlight >= this.refillAt) this.refill();
  }

  /** Sends new packets up to the window, as slices of the pre-encoded run (two when the run wraps). */
  private refill(): void {
    const socket = this.socket!;
    if (!this.running || socket.destroyed) return;
    const run = this.run;
    const ids = this.ids;
    const gate = this.gate;
    const size = this.packetSize;
    let from = this.cursor;
    let slot = from;
    while (ids.inFlight < this.window) {
      if (!gate.allows(1)) {
        gate.wait(this.resume);
        break;
      }
      gate.sent(1);
      const id = ids.take();
      const at = slot * size;
      run[at + this.idAt] = id >>> 8;
      run[at + this.idAt + 1] = id & 0xff;
      writeSeq(run, at + this.payloadAt, this.sent++);
      slot++;
      if (slot === this.slots) {
        this.writeSlice(from, slot);
        from = 0;
        slot = 0;
      }
    }
    if (slot > from) this.writeSlice(from, slot);
    this.cursor = slot;
  }

  private writeSlice(fromSlot: number, toSlot: number): void {
    this.socket!.write(this.run.subarray(fromSlot * this.packetSize, toSlot * this.packetSize));
  }
}
