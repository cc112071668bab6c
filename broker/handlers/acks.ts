/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP from a client: the acknowledgement flows of QoS 1 and 2 (§4.3). An
 * acknowledgement of the wrong kind for a message in flight (PUBREC for QoS 1, PUBACK for QoS 2, PUBCOMP before
 * PUBREL) is a protocol error, as Mosquitto treats it; one for a packet id not in flight is ignored (it may answer
 * a message resent before the client saw the first answer).
 */
import { RC } from '../../src/protocol/reason-codes.js';
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { pumpQueue } from '../core/deliver.js';
import { writeAck, PUBCOMP, PUBREL } from '../core/encode.js';
import { noteProgress } from '../core/flow.js';
import { decodeAck } from '../decode.js';
import { protocolError } from '../wire.js';

/** QoS 1 outgoing: PUBACK ends the flow and frees a place in the in-flight window. */
export function handlePuback(core: Core, conn: Client, buf: Buffer, start: number, end: number): void {
  const { packetId, rc } = decodeAck(buf, start, end, conn.protocolVersion === 5, 'PUBACK');
  if (core.log.debug) core.log.line(`Received PUBACK from ${conn.logId} (Mid: ${packetId}, RC:${rc})`);
  const session = conn.session!;
  noteProgress(session, core.clock);
  const out = session.inflight.get(packetId);
  if (out === undefined) return;
  if (out.qos !== 1) throw protocolError(`PUBACK for packet ${packetId}, a QoS 2 message`);
  session.deleteInflight(packetId);
  pumpQueue(core, session, core.now());
}

/** QoS 2 outgoing, step 2: PUBREC → PUBREL; a PUBREC with a failure code (≥ 0x80) ends the flow [MQTT-4.3.3-?]. */
export function handlePubrec(core: Core, conn: Client, buf: Buffer, start: number, end: number): void {
  const v5 = conn.protocolVersion === 5;
  const { packetId, rc } = decodeAck(buf, start, end, v5, 'PUBREC');
  const log = core.log;
  if (log.debug) log.line(`Received PUBREC from ${conn.logId} (Mid: ${packetId})`);
  const session = conn.session!;
  noteProgress(session, core.clock);
  const out = session.inflight.get(packetId);
  if (out !== undefined && out.qos !== 2) throw protocolError(`PUBREC for packet ${packetId}, a QoS 1 message`);
  if (rc >= 0x80) {
    // The client refused the message: no PUBREL follows (§4.3.3), and its packet id is free again.
    if (out !== undefined) {
      session.deleteInflight(packetId);
      pumpQueue(core, session, core.now());
    }
    return;
  }
  if (out !== undefined) session.released(out);
  // [MQTT-4.3.3-4] PUBREL carries the packet id of the PUBREC; v5 says when that id is unknown.
  const relRc = out !== undefined || !v5 ? 0 : RC.PacketIdentifierNotFound;
  writeAck(conn, PUBREL, packetId, relRc);
  if (log.debug) log.line(`Sending PUBREL to ${conn.logId} (m${packetId})`);
}

/** QoS 2 incoming, step 3: PUBREL releases the packet id → PUBCOMP. */
export function handlePubrel(core: Core, conn: Client, buf: Buffer, start: number, end: number): void {
  const v5 = conn.protocolVersion === 5;
  const { packetId } = decodeAck(buf, start, end, v5, 'PUBREL');
  const log = core.log;
  if (log.debug) log.line(`Received PUBREL from ${conn.logId} (Mid: ${packetId})`);
  const known = conn.session!.deleteInbound(packetId);
  writeAck(conn, PUBCOMP, packetId, known || !v5 ? 0 : RC.PacketIdentifierNotFound);
  if (log.debug) log.line(`Sending PUBCOMP to ${conn.logId} (m${packetId})`);
}

/** QoS 2 outgoing, step 4: PUBCOMP ends the flow. */
export function handlePubcomp(core: Core, conn: Client, buf: Buffer, start: number, end: number): void {
  const { packetId, rc } = decodeAck(buf, start, end, conn.protocolVersion === 5, 'PUBCOMP');
  if (core.log.debug) core.log.line(`Received PUBCOMP from ${conn.logId} (Mid: ${packetId}, RC:${rc})`);
  const session = conn.session!;
  noteProgress(session, core.clock);
  const out = session.inflight.get(packetId);
  if (out === undefined) return;
  if (out.qos !== 2) throw protocolError(`PUBCOMP for packet ${packetId}, a QoS 1 message`);
  if (out.state !== 1) throw protocolError(`PUBCOMP for packet ${packetId} before PUBREL`);
  session.deleteInflight(packetId);
  pumpQueue(core, session, core.now());
}
