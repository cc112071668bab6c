/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP from a client: the acknowledgement flows of QoS 1 and 2 (§4.3).
 */
import { RC } from '../../src/protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import { decodeAck } from '../decode.js';
import { pumpQueue } from '../deliver.js';
import { writeAck, PUBCOMP, PUBREL } from '../encode.js';

/** QoS 1 outgoing: PUBACK ends the flow and frees a place in the in-flight window. */
export function handlePuback(conn: Connection, buf: Buffer, start: number, end: number): void {
  const { packetId, rc } = decodeAck(buf, start, end, conn.protocolVersion === 5, 'PUBACK');
  const broker = conn.broker;
  if (broker.log.debug) broker.log.line(`Received PUBACK from ${conn.logId} (Mid: ${packetId}, RC:${rc})`);
  const session = conn.session!;
  session.lastProgress = broker.clock;
  session.stalled = false;
  const out = session.inflight.get(packetId);
  if (out === undefined || out.qos !== 1) return;
  session.inflight.delete(packetId);
  if (session.queued > 0) pumpQueue(broker, session, broker.now());
}

/** QoS 2 outgoing, step 2: PUBREC → PUBREL (or, with a v5 error code, the flow ends here). */
export function handlePubrec(conn: Connection, buf: Buffer, start: number, end: number): void {
  const v5 = conn.protocolVersion === 5;
  const { packetId, rc } = decodeAck(buf, start, end, v5, 'PUBREC');
  const broker = conn.broker;
  const log = broker.log;
  if (log.debug) log.line(`Received PUBREC from ${conn.logId} (Mid: ${packetId})`);
  const session = conn.session!;
  session.lastProgress = broker.clock;
  session.stalled = false;
  const out = session.inflight.get(packetId);
  if (out !== undefined && out.qos === 2 && rc >= 0x80) {
    // [MQTT-4.3.3-?] a failed PUBREC ends the flow without PUBREL.
    session.inflight.delete(packetId);
    if (session.queued > 0) pumpQueue(broker, session, broker.now());
    return;
  }
  const known = out !== undefined && out.qos === 2;
  if (known) out.state = 1;
  // [MQTT-4.3.3-?] PUBREL carries the packet id of the PUBREC; v5 says when that id is unknown.
  const relRc = known || !v5 ? 0 : RC.PacketIdentifierNotFound;
  writeAck(conn, PUBREL, packetId, relRc);
  if (log.debug) log.line(`Sending PUBREL to ${conn.logId} (m${packetId})`);
}

/** QoS 2 incoming, step 3: PUBREL releases the packet id → PUBCOMP. */
export function handlePubrel(conn: Connection, buf: Buffer, start: number, end: number): void {
  const v5 = conn.protocolVersion === 5;
  const { packetId } = decodeAck(buf, start, end, v5, 'PUBREL');
  const log = conn.broker.log;
  if (log.debug) log.line(`Received PUBREL from ${conn.logId} (Mid: ${packetId})`);
  const known = conn.session!.inboundQos2.delete(packetId);
  writeAck(conn, PUBCOMP, packetId, known || !v5 ? 0 : RC.PacketIdentifierNotFound);
  if (log.debug) log.line(`Sending PUBCOMP to ${conn.logId} (m${packetId})`);
}

/** QoS 2 outgoing, step 4: PUBCOMP ends the flow. */
export function handlePubcomp(conn: Connection, buf: Buffer, start: number, end: number): void {
  const { packetId, rc } = decodeAck(buf, start, end, conn.protocolVersion === 5, 'PUBCOMP');
  const broker = conn.broker;
  if (broker.log.debug) broker.log.line(`Received PUBCOMP from ${conn.logId} (Mid: ${packetId}, RC:${rc})`);
  const session = conn.session!;
  session.lastProgress = broker.clock;
  session.stalled = false;
  const out = session.inflight.get(packetId);
  if (out === undefined || out.qos !== 2 || out.state !== 1) return;
  session.inflight.delete(packetId);
  if (session.queued > 0) pumpQueue(broker, session, broker.now());
}
