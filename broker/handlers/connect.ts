/**
 * CONNECT: protocol checks, client identifier, the will (checked like a PUBLISH from this client), authentication,
 * limits, the session (through the core), and the CONNACK (§3.1, §3.2).
 */
import { randomUUID } from 'node:crypto';
import { CONNACK_V3, RC, connackCodeForVersion } from '../../src/protocol/reason-codes.js';
import { tooManyLevels, topicNameProblem } from '../../src/protocol/topic.js';
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { pumpQueue, resendInflight } from '../core/deliver.js';
import { sendControl } from '../core/encode.js';
import { makeMessage } from '../core/message.js';
import { CloseReason, ConnState } from '../core/outlet.js';
import { NEVER, type Will } from '../core/session.js';
import { ConnectRefusal, decodeConnect, type ConnectPacket, type WillSpec } from '../decode.js';
import { protocolTag } from '../log.js';
import { P, WireError, checkFixedHeaderFlags, encodeProps, num, str } from '../wire.js';
import { dangerousName } from '../auth/acl.js';
import { authenticate, type AuthOutcome } from './connect-auth.js';
import { publishDenied } from './publish.js';

/** The smallest v5 CONNACK: fixed header, flags, reason code, empty properties. */
const MIN_CONNACK_V5 = 5;

export function handleConnect(core: Core, client: Client, header: number, buf: Buffer, start: number, end: number): void {
  let pkt: ConnectPacket;
  try {
    pkt = decodeConnect(buf, start, end);
  } catch (err) {
    if (err instanceof ConnectRefusal) {
      refuse(core, client, err.rc, err.protocolVersion, err.sendConnack, err.message, undefined, false);
      return;
    }
    throw err;
  }
  const opts = core.options;
  const version = pkt.protocolVersion;
  const v5 = version === 5;
  // [MQTT-2.2.2-2] from 3.1.1 on, CONNECT's fixed header flags are 0000 (MQTT 3.1 did not reserve them).
  if (version >= 4) checkFixedHeaderFlags(1, header);
  client.setProtocolVersion(version);
  // Known before any refusal, so a refusing CONNACK can respect it too.
  const mps = v5 ? num(pkt.props, P.MaximumPacketSize) : undefined;
  if (mps !== undefined) client.maxPacketOut = mps;

  const security = client.security.settings;
  let clientId = pkt.clientId;
  let assigned: string | undefined;
  if (clientId === '') {
    // [MQTT-3.1.3-8] an empty id with a persistent session is refused (3.1 always requires an id).
    // Mosquitto 2.0 accepts it from v5 clients; refusing is the spec's intent (there is no session to resume).
    if (version === 3 || !pkt.clean) {
      refuse(core, client, RC.ClientIdentifierNotValid, version, true, 'empty client identifier without clean session');
      return;
    }
    if (!security.allowZeroLengthClientid) {
      // allow_zero_length_clientid false: CONNACK 2 for 3.1.1; v5 gets Mosquitto 2.0's 0x80 Unspecified error.
      const rc = version === 5 ? RC.UnspecifiedError : RC.ClientIdentifierNotValid;
      refuse(core, client, rc, version, true, 'empty client identifier (allow_zero_length_clientid is false)');
      return;
    }
    // [MQTT-3.1.3-6] an empty id gets a unique one, told to v5 clients [MQTT-3.2.2-16].
    clientId = `${security.autoIdPrefix}${randomUUID().toUpperCase()}`;
    assigned = clientId;
  }
  const prefixes = opts.clientidPrefixes;
  if (prefixes !== undefined && !clientId.startsWith(prefixes)) {
    // clientid_prefixes: other client ids are not authorised (CONNACK 5 / 0x87), as Mosquitto.
    refuse(core, client, RC.NotAuthorized, version, true, `client id does not start with "${prefixes}"`);
    return;
  }
  if (pkt.will) {
    const topic = pkt.will.topic;
    if (topicNameProblem(topic) !== undefined || tooManyLevels(topic, opts.topicHierarchyLimit)) {
      refuse(core, client, RC.TopicNameInvalid, version, v5, `will topic '${topic}' is not a valid topic name`);
      return;
    }
    if (pkt.will.retain && !opts.retainAvailable) {
      // [MQTT-3.2.2-13] a retained will when retain is not available.
      refuse(core, client, RC.RetainNotSupported, version, v5, 'retained will while retain is not available');
      return;
    }
    if (opts.messageSizeLimit > 0 && pkt.will.payload.length > opts.messageSizeLimit) {
      // As Mosquitto: CONNACK 5 (3.1.1) / 0x95 (5.0) for a will larger than message_size_limit.
      if (core.log.notice) core.log.line(`Client ${clientId} connected with too large Will payload`);
      refuse(core, client, RC.PacketTooLarge, version, true, 'will payload is larger than message_size_limit', clientId);
      return;
    }
  }
  if (v5 && str(pkt.props, P.AuthenticationMethod) !== undefined) {
    // No extended authentication method is configured: refuse it cleanly [MQTT-4.12.0-1].
    refuse(core, client, RC.BadAuthenticationMethod, version, true, 'authentication method not supported');
    return;
  }
  const credentials = { clientId, username: pkt.username, password: pkt.password, protocolVersion: version };
  const outcome = authenticate(core, client, credentials, (later) => {
    // A password check finished on the thread pool: the CONNECT goes on, inside the guard.
    try {
      accept(core, client, pkt, clientId, assigned, later);
    } catch (err) {
      if (err instanceof WireError) client.fail(err.rc, err.message);
      else core.fault(client, err, 'finishing a CONNECT');
    }
    client.resumeInput();
  });
  if (outcome === undefined) {
    // Nothing more is read from this client until its password is checked.
    client.pauseInput();
    return;
  }
  accept(core, client, pkt, clientId, assigned, outcome);
}

/** The rest of a CONNECT once it is known whether the client may connect: limits, the session, the CONNACK. */
function accept(core: Core, client: Client, pkt: ConnectPacket, clientId: string, assigned: string | undefined, outcome: AuthOutcome): void {
  const opts = core.options;
  const version = pkt.protocolVersion;
  const v5 = version === 5;
  if (!outcome.ok) {
    // As Mosquitto, the client id is not named: it was not accepted.
    refuse(core, client, outcome.rc, version, true, outcome.why);
    return;
  }
  const username = outcome.username;
  if (v5 && client.maxPacketOut < MIN_CONNACK_V5) {
    // Not even a CONNACK fits the client's Maximum Packet Size [MQTT-3.1.2-24]: close without one.
    refuse(core, client, RC.ImplementationSpecificError, version, false, 'maximum packet size too small for a CONNACK', clientId);
    return;
  }

  let keepalive = pkt.keepalive;
  let serverKeepAlive: number | undefined;
  // Mosquitto 2.0.11 caps only v5 clients, telling them with Server Keep Alive [MQTT-3.2.2-21].
  if (v5 && opts.maxKeepalive < 65535 && (keepalive > opts.maxKeepalive || keepalive === 0)) {
    keepalive = opts.maxKeepalive;
    serverKeepAlive = keepalive;
  }
  client.keepaliveMs = keepalive * 1000;
  // v5 Receive Maximum the client declared: outgoing QoS 1/2 in flight [MQTT-3.3.4-7].
  let receiveMaximum = 65535;
  if (v5) {
    receiveMaximum = num(pkt.props, P.ReceiveMaximum) ?? 65535;
    const aliasMax = num(pkt.props, P.TopicAliasMaximum) ?? 0;
    if (aliasMax > 0) client.aliasOut = { max: aliasMax, topics: new Map(), bytes: 0 };
    client.problemInfo = num(pkt.props, P.RequestProblemInformation) !== 0;
  }
  const maxInflight = opts.maxInflightMessages > 0 ? opts.maxInflightMessages : 65535;
  client.inflightLimit = Math.min(maxInflight, receiveMaximum);

  const expiryInterval = v5
    ? (num(pkt.props, P.SessionExpiryInterval) ?? 0)
    : pkt.clean
      ? 0
      : opts.persistentClientExpiration > 0
        ? opts.persistentClientExpiration
        : NEVER;
  const will = pkt.will && !willDenied(core, clientId, pkt.will) ? makeWill(pkt.will) : null;
  client.clientId = clientId;
  client.username = username;
  const present = core.openSession(client, { clientId, clean: pkt.clean, expiryInterval, will, protocolVersion: version });
  const session = client.session!;
  session.identify(client.security, username);
  if (will !== null) will.msg.origin = session;
  client.state = ConnState.Connected;

  const log = core.log;
  if (log.notice && log.connections) {
    const user = username !== undefined ? `, u'${username}'` : '';
    log.line(
      `New client connected from ${client.address} as ${clientId} (p${protocolTag(version)}, c${pkt.clean ? 1 : 0}, k${pkt.keepalive}${user}).`,
    );
  }
  if (session.acl !== null && session.acl.dangerous && log.notice) {
    // Mosquitto logs this on each check; once per connection says the same.
    log.line(`ACL denying access to client with dangerous ${dangerousName(username) ? `username "${username}"` : `client id "${clientId}"`}`);
  }
  if (log.debug && log.connections) {
    if (pkt.will) {
      log.line(`Will message specified (${pkt.will.payload.length} bytes) (r${pkt.will.retain ? 1 : 0}, q${pkt.will.qos}).`);
      log.line(`\t${pkt.will.topic}`);
    } else {
      log.line('No will message specified.');
    }
  }

  // MQTT 3.1 has no session present flag: its CONNACK byte is reserved (0).
  const sessionPresent = present && version !== 3;
  if (v5) {
    const properties: Record<string, unknown> = {};
    if (opts.maxTopicAlias > 0) properties.topicAliasMaximum = opts.maxTopicAlias;
    if (assigned !== undefined) properties.assignedClientIdentifier = assigned;
    if (core.receiveMaximum < 65535) properties.receiveMaximum = core.receiveMaximum;
    if (serverKeepAlive !== undefined) properties.serverKeepAlive = serverKeepAlive;
    if (!opts.retainAvailable) properties.retainAvailable = false;
    if (opts.maxPacketSize > 0) properties.maximumPacketSize = opts.maxPacketSize;
    sendControl(client, { cmd: 'connack', sessionPresent, reasonCode: 0, properties });
  } else {
    // [MQTT-3.2.2-1] session present is 0 with a clean session; [MQTT-3.2.2-2] 1 when a session was resumed.
    client.awaitDurable();
    client.writeBytes(Buffer.from([0x20, 0x02, sessionPresent ? 1 : 0, 0]));
  }
  if (log.debug) log.line(`Sending CONNACK to ${clientId} (${sessionPresent ? 1 : 0}, 0)`);

  if (present) {
    const now = core.now();
    resendInflight(core, client.session!, now);
    pumpQueue(core, client.session!, now);
  }
}

/** A will goes where a PUBLISH from this client may go: not to $SYS. Accepted, never published, as Mosquitto. */
function willDenied(core: Core, clientId: string, spec: WillSpec): boolean {
  if (!publishDenied(spec.topic)) return false;
  if (core.log.debug) core.log.line(`Denied will of client ${clientId} on '${spec.topic}': it will not be published.`);
  return true;
}

function makeWill(spec: WillSpec): Will {
  const props = spec.props;
  const forwarded = props ? encodeProps(props, [P.WillDelayInterval, P.MessageExpiryInterval]) : null;
  const msg = makeMessage(spec.topic, spec.payload, spec.qos, spec.retain, forwarded && forwarded.length > 0 ? forwarded : null, 0, null);
  return {
    msg,
    delay: num(props, P.WillDelayInterval) ?? 0,
    expiry: num(props, P.MessageExpiryInterval) ?? 0,
  };
}

/** Refuse a CONNECT: CONNACK with the reason (when one is due and fits) and close. */
function refuse(
  core: Core,
  client: Client,
  rc: number,
  version: number,
  sendConnack: boolean,
  why: string,
  clientId?: string,
  limitKnown = true,
): void {
  const log = core.log;
  if (log.notice) {
    if (rc === RC.NotAuthorized || rc === RC.BadUserNameOrPassword) {
      log.line(`Client ${clientId ?? '<unknown>'} disconnected, not authorised.`);
    } else {
      log.line(`Client <unknown> disconnected: ${why} (from ${client.address}).`);
    }
  }
  if (sendConnack) {
    client.protocolVersion = version;
    // Mosquitto answers a 3.1.1 will over message_size_limit with 5 (not authorised).
    const code = rc === RC.PacketTooLarge && version !== 5 ? CONNACK_V3.NotAuthorized : connackCodeForVersion(rc, version);
    if (version === 5) {
      // [MQTT-3.2.2-19] the reason string is left out when it would make the CONNACK larger than the client accepts
      // (and when the CONNECT could not be read far enough to know that limit: limitKnown false).
      const properties = limitKnown ? { reasonString: why } : undefined;
      sendControl(client, { cmd: 'connack', sessionPresent: false, reasonCode: code, properties }, 5);
    } else {
      client.writeBytes(Buffer.from([0x20, 0x02, 0x00, code]));
    }
    // Mosquitto names a client not accepted by its address.
    if (log.debug) log.line(`Sending CONNACK to ${clientId ?? client.address.replace(/:\d+$/, '')} (0, ${code})`);
  }
  client.close(CloseReason.Refused);
}
