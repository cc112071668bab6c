/**
 * A subscriber that records, per publisher, which sequence numbers it received (sequence-ledger.ts), and acknowledges
 * QoS 1/2 deliveries in batches.
 */
import type { DeliveryGate } from './delivery-gate.js';
import { HEAD_BYTES, MalformedPacketError } from './packet-walker.js';
import { LoadClient } from './load-client.js';
import { ACK_FIRST_BYTE, PacketType, SEQ_HEADER_BYTES, readPublisherIndex, readSeq } from './mqtt-wire.js';
import { SequenceLedger } from './sequence-ledger.js';

export class Subscriber extends LoadClient {
  /** PUBLISH packets received, duplicates included. */
  received = 0;
  /** One ledger per publisher of the run, by publisher index. */
  readonly ledgers: SequenceLedger[] = [];
  private reported = 0;

  constructor(
    clientId: string,
    private readonly gate: DeliveryGate,
    publishers: number,
    windowBits: number,
  ) {
    super(clientId);
    for (let i = 0; i < publishers; i++) this.ledgers.push(new SequenceLedger(windowBits));
  }

  /** Different messages received, over all publishers. */
  get distinct(): number {
    let n = 0;
    for (const l of this.ledgers) n += l.distinct;
    return n;
  }

  protected override afterWalk(): void {
    const fresh = this.received - this.reported;
    if (fresh === 0) return;
    this.reported = this.received;
    this.gate.delivered(fresh);
  }

  onPacket(first: number, buf: Buffer, body: number, length: number): void {
    const type = first >> 4;
    if (type === PacketType.publish) {
      this.received++;
      const qos = (first >> 1) & 3;
      const payloadAt = body + 2 + ((buf[body] << 8) | buf[body + 1]) + (qos === 0 ? 0 : 2);
      if (payloadAt + SEQ_HEADER_BYTES > body + length) {
        // Too short to be one of the run's messages.
        this.unexpected++;
      } else if (payloadAt + SEQ_HEADER_BYTES > body + HEAD_BYTES) {
        throw new MalformedPacketError(`PUBLISH topic longer than ${HEAD_BYTES - SEQ_HEADER_BYTES - 4} bytes`);
      } else {
        const ledger = this.ledgers[readPublisherIndex(buf, payloadAt)];
        if (ledger === undefined) this.unexpected++;
        else ledger.record(readSeq(buf, payloadAt));
      }
      if (qos === 0) return;
      const idAt = payloadAt - 2;
      if (payloadAt > body + Math.min(length, HEAD_BYTES)) {
        throw new MalformedPacketError(`PUBLISH topic longer than ${HEAD_BYTES - 4} bytes or packet truncated`);
      }
      this.queueAck(qos === 1 ? ACK_FIRST_BYTE.puback : ACK_FIRST_BYTE.pubrec, buf[idAt], buf[idAt + 1]);
    } else if (type === PacketType.pubrel) {
      this.queueAck(ACK_FIRST_BYTE.pubcomp, buf[body], buf[body + 1]);
    } else {
      this.onControl(first, buf, body, length);
    }
  }
}
