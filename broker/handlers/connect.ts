/**
 * CONNECT: protocol checks, client identifier, authentication, session take-over and resumption, the will, and
 * the CONNACK (§3.1, §3.2).
 */
import { randomUUID } from 'node:crypto';
import { RC, connackCodeForVersion } from '../../src/protocol/reason-codes.js';
import { topicNameProblem } from '../../src/protocol/topic.js';
import { CloseReason, ConnState, type Connection } from '../connection.js';
import { ConnectRefusal, decodeConnect, type ConnectPacket, type WillSpec } from '../decode.js';
import { pumpQueue, resendInflight } from '../deliver.js';
import { protocolTag } from '../log.js';
import { makeMessage } from '../message.js';
import { NEVER, Session, type Will } from '../session.js';
import { P, encodeProps, num, str } from '../wire.js';

export function handleConnect(conn: Connection, buf: Buffer, start: number, end: number): void {
  let pkt: ConnectPacket;
  try {
    pkt = decodeConnect(buf, start, end);
  } catch (err) {
    if (err instanceof ConnectRefusal) {
      refuse(conn, err.rc, err.protocolVersion, err.sendConnack, err.message, undefined, false);
      return;
    }
    throw err;
  }
  const broker = conn.broker;
  const opts = broker.options;
  const version = pkt.protocolVersion;
  const v5 = version === 5;
  conn.setProtocolVersion(version);
  // Known before any refusal, so a refusing CONNACK can respect it too.
  const mps = v5 ? num(pkt.props, P.MaximumPacketSize) : undefined;
  if (mps !== undefined) conn.maxPacketOut = mps;

  let clientId = pkt.clientId;
  let assigned: string | undefined;
  if (clientId === '') {
    // [MQTT-3.1.3-8] an empty id with a persistent session is refused (3.1 always requires an id).
    // Mosquitto 2.0 accepts it from v5 clients; refusing is the spec's intent (there is no session to resume).
    if (version === 3 || !pkt.clean) {
      refuse(conn, RC.ClientIdentifierNotValid, version, true, 'empty client identifier without clean session');
      return;
    }
    // [MQTT-3.1.3-6] an empty id gets a unique one, told to v5 clients [MQTT-3.2.2-16].
    clientId = `auto-${randomUUID().toUpperCase()}`;
    assigned = clientId;
  }
  if (pkt.will) {
    const problem = topicNameProblem(pkt.will.topic);
    if (problem) {
      refuse(conn, RC.TopicNameInvalid, version, v5, `will topic '${pkt.will.topic}' is not a valid topic name`);
      return;
    }
    if (pkt.will.retain && !opts.retainAvailable) {
      // [MQTT-3.2.2-?] a retained will when retain is not available.
      refuse(conn, RC.RetainNotSupported, version, v5, 'retained will while retain is not available');
      return;
    }
  }
  if (v5 && str(pkt.props, P.AuthenticationMethod) !== undefined) {
    // No extended authentication method is configured: refuse it cleanly [MQTT-4.12.0-1].
    refuse(conn, RC.BadAuthenticationMethod, version, true, 'authentication method not supported');
    return;
  }
  if (pkt.username === undefined && !opts.allowAnonymous) {
    refuse(conn, RC.NotAuthorized, version, true, 'anonymous clients are not allowed', clientId);
    return;
  }
  if (opts.authenticate) {
    const verdict = opts.authenticate({
      clientId,
      username: pkt.username,
      password: pkt.password,
      address: conn.address,
      protocolVersion: version,
    });
    const rc = verdict === true ? 0 : verdict === false ? RC.NotAuthorized : verdict;
    if (rc !== 0) {
      refuse(conn, rc, version, true, 'authentication refused', clientId);
      return;
    }
  }

  let keepalive = pkt.keepalive;
  let serverKeepAlive: number | undefined;
  // Mosquitto 2.0.11 caps only v5 clients, telling them with Server Keep Alive [MQTT-3.2.2-21].
  if (v5 && opts.maxKeepalive < 65535 && (keepalive > opts.maxKeepalive || keepalive === 0)) {
    keepalive = opts.maxKeepalive;
    serverKeepAlive = keepalive;
  }
  conn.keepaliveMs = keepalive * 1000;
  if (v5) {
    conn.receiveMaximum = num(pkt.props, P.ReceiveMaximum) ?? 65535;
    conn.aliasOutMax = num(pkt.props, P.TopicAliasMaximum) ?? 0;
    if (conn.aliasOutMax > 0) conn.aliasOut = new Map();
    conn.problemInfo = num(pkt.props, P.RequestProblemInformation) !== 0;
  }
  const maxInflight = opts.maxInflightMessages > 0 ? opts.maxInflightMessages : 65535;
  conn.inflightLimit = Math.min(maxInflight, conn.receiveMaximum);

  // [MQTT-3.1.4-2] the same client id already connected: the old connection is closed (v5: told why).
  const existing = broker.sessions.get(clientId);
  if (existing?.conn) {
    const old = existing.conn;
    if (broker.log.notice) broker.log.line(`Client ${clientId} already connected, closing old connection.`);
    if (old.protocolVersion === 5) old.sendDisconnect(RC.SessionTakenOver);
    old.close(CloseReason.TakenOver);
  }

  let session = broker.sessions.get(clientId);
  // [MQTT-3.1.2-6] clean session / [MQTT-3.1.2-4] clean start: any previous session is discarded.
  if (session && pkt.clean) {
    broker.endSession(session);
    session = undefined;
  }
  const present = session !== undefined;
  if (session) {
    // Resumed before the will delay ran out: that will is not sent [MQTT-3.1.2-8].
    session.clearTimers();
    session.will = null;
  } else {
    session = new Session(clientId);
    broker.sessions.set(clientId, session);
  }
  session.conn = conn;
  session.lastProgress = broker.clock;
  session.stalled = false;
  session.protocolVersion = version;
  session.expiryInterval = v5
    ? (num(pkt.props, P.SessionExpiryInterval) ?? 0)
    : pkt.clean
      ? 0
      : opts.persistentClientExpiration > 0
        ? opts.persistentClientExpiration
        : NEVER;
  session.will = pkt.will ? makeWill(pkt.will, session) : null;
  conn.session = session;
  conn.clientId = clientId;
  conn.state = ConnState.Connected;
  broker.clientConnected(conn);

  const log = broker.log;
  if (log.notice) {
    const user = pkt.username !== undefined ? `, u'${pkt.username}'` : '';
    log.line(
      `New client connected from ${conn.address} as ${clientId} (p${protocolTag(version)}, c${pkt.clean ? 1 : 0}, k${pkt.keepalive}${user}).`,
    );
  }
  if (log.debug) {
    if (pkt.will) {
      log.line(`Will message specified (${pkt.will.payload.length} bytes) (r${pkt.will.retain ? 1 : 0}, q${pkt.will.qos}).`);
      log.line(`\t${pkt.will.topic}`);
    } else {
      log.line('No will message specified.');
    }
  }

  if (v5) {
    const properties: Record<string, unknown> = {};
    if (opts.maxTopicAlias > 0) properties.topicAliasMaximum = opts.maxTopicAlias;
    if (assigned !== undefined) properties.assignedClientIdentifier = assigned;
    if (broker.receiveMaximum < 65535) properties.receiveMaximum = broker.receiveMaximum;
    if (serverKeepAlive !== undefined) properties.serverKeepAlive = serverKeepAlive;
    if (!opts.retainAvailable) properties.retainAvailable = false;
    if (opts.maxPacketSize > 0) properties.maximumPacketSize = opts.maxPacketSize;
    conn.writeBytes(broker.generate({ cmd: 'connack', sessionPresent: present, reasonCode: 0, properties }, 5));
  } else {
    // [MQTT-3.2.2-1] session present is 0 with a clean session; [MQTT-3.2.2-2] 1 when a session was resumed.
    conn.writeBytes(Buffer.from([0x20, 0x02, present ? 1 : 0, 0]));
  }
  if (log.debug) log.line(`Sending CONNACK to ${clientId} (${present ? 1 : 0}, 0)`);

  if (present) {
    const now = broker.now();
    resendInflight(broker, session, now);
    pumpQueue(broker, session, now);
  }
}

function makeWill(spec: WillSpec, session: Session): Will {
  const props = spec.props;
  const forwarded = props ? encodeProps(props, [P.WillDelayInterval, P.MessageExpiryInterval]) : null;
  const msg = makeMessage(spec.topic, spec.payload, spec.qos, spec.retain, forwarded && forwarded.length > 0 ? forwarded : null, 0, session);
  return {
    msg,
    delay: num(props, P.WillDelayInterval) ?? 0,
    expiry: num(props, P.MessageExpiryInterval) ?? 0,
  };
}

/** Refuse a CONNECT: CONNACK with the reason (when one is due) and close. */
function refuse(
  conn: Connection,
  rc: number,
  version: number,
  sendConnack: boolean,
  why: string,
  clientId?: string,
  limitKnown = true,
): void {
  const broker = conn.broker;
  const log = broker.log;
  if (log.notice) {
    if (rc === RC.NotAuthorized || rc === RC.BadUserNameOrPassword) {
      log.line(`Client ${clientId ?? '<unknown>'} disconnected, not authorised.`);
    } else {
      log.line(`Client <unknown> disconnected: ${why} (from ${conn.address}).`);
    }
  }
  if (sendConnack) {
    conn.protocolVersion = version;
    const code = connackCodeForVersion(rc, version);
    if (version === 5) {
      // [MQTT-3.2.2-19] the reason string is left out when it would make the CONNACK larger than the client accepts
      // (and when the CONNECT could not be read far enough to know that limit: limitKnown false).
      const bare = broker.generate({ cmd: 'connack', sessionPresent: false, reasonCode: code }, 5);
      const full = limitKnown ? broker.generate({ cmd: 'connack', sessionPresent: false, reasonCode: code, properties: { reasonString: why } }, 5) : bare;
      conn.writeBytes(full.length <= conn.maxPacketOut ? full : bare);
    } else {
      conn.writeBytes(Buffer.from([0x20, 0x02, 0x00, code]));
    }
    if (log.debug) log.line(`Sending CONNACK to ${clientId ?? '<unknown>'} (0, ${code})`);
  }
  conn.close(CloseReason.Refused);
}
