/** A subscriber that counts the PUBLISH packets it receives and acknowledges QoS 1/2 ones in batches. */
import type { DeliveryGate } from './delivery-gate.js';
import { HEAD_BYTES, MalformedPacketError } from './packet-walker.js';
import { LoadClient } from './load-client.js';
import { ACK_FIRST_BYTE, PacketType } from './mqtt-wire.js';

export class Subscriber extends LoadClient {
  received = 0;
  /** PUBLISH packets flagged DUP: redeliveries, which also count in `received`. */
  duplicates = 0;
  private reported = 0;

  constructor(
    clientId: string,
    private readonly gate: DeliveryGate,
  ) {
    super(clientId);
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
      if ((first & 0x08) !== 0) this.duplicates++;
      const qos = (first >> 1) & 3;
      if (qos === 0) return;
      const idAt = body + 2 + ((buf[body] << 8) | buf[body + 1]);
      if (idAt + 2 > body + Math.min(length, HEAD_BYTES)) {
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
