/**
 * Bugs a broker could have, each made with the breaking proxy in front of the correct bundled broker: what the
 * conformance checks about that rule must catch. Each function returns the breakage; the tests say which checks it
 * must fail and which it must leave passing.
 */
import type { IConnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { reframe, type Breakage, type Frame, type ProxyLink } from './breaking-proxy.js';

const CONNECT = 1;
const CONNACK = 2;
const PUBLISH = 3;
const PUBACK = 4;
const PUBREC = 5;
const PUBREL = 6;
const PUBCOMP = 7;
const SUBSCRIBE = 8;
const PINGRESP = 13;
const DISCONNECT = 14;

/** The Keep Alive a CONNECT body asks for. */
function keepAliveOf(body: Buffer): number {
  const nameLength = body.readUInt16BE(0);
  return body.readUInt16BE(2 + nameLength + 2);
}

/** Decodes a frame the test relies on being well-formed. */
function decoded<P extends Packet>(frame: Frame): P {
  const p = frame.decode();
  if (p === undefined) throw new Error(`the breaking proxy could not decode a packet of type ${frame.type}`);
  return p as P;
}

/**
 * Enforces keep alive itself, closing a connection once its client has been silent for `limitMs(keepAlive)` (which
 * may be less than the 1.5 × the broker behind it uses). The will goes out as on any dropped connection.
 */
export function keepAliveEnforcedAt(limitMs: (keepAlive: number) => number): Breakage {
  return {
    onOpen(link) {
      const timer = setInterval(() => {
        const keepAlive = link.state.get('keepAlive') as number | undefined;
        if (!link.state.get('connacked') || keepAlive === undefined || keepAlive === 0) return;
        if (Date.now() - link.lastFromClient > limitMs(keepAlive)) link.close();
      }, 20);
      return () => clearInterval(timer);
    },
    fromClient(f, link) {
      if (f.type === CONNECT) link.state.set('keepAlive', keepAliveOf(f.body));
      return f.bytes;
    },
    fromBroker(f, link) {
      if (f.type === CONNACK) link.state.set('connacked', true);
      return f.bytes;
    },
  };
}

/** Retained messages (RETAIN 1 towards the client) lose their Subscription Identifiers. */
export function retainedWithoutSubscriptionIdentifiers(): Breakage {
  return {
    fromBroker(f, link) {
      if (f.type !== PUBLISH || (f.header & 1) === 0 || link.level !== 5) return f.bytes;
      const p = decoded<IPublishPacket>(f);
      if (p.properties?.subscriptionIdentifier === undefined) return f.bytes;
      const { subscriptionIdentifier: _, ...properties } = p.properties;
      return link.encode({ ...p, properties });
    },
  };
}

/**
 * A Topic Alias keeps the topic it was first set to: a PUBLISH setting it again to another topic is delivered on
 * its own topic, but the alias is not re-mapped.
 */
export function topicAliasNotRemapped(): Breakage {
  return {
    fromClient(f, link) {
      if (f.type !== PUBLISH || link.level !== 5) return f.bytes;
      const p = decoded<IPublishPacket>(f);
      const alias = p.properties?.topicAlias;
      if (alias === undefined || p.topic === '') return f.bytes;
      let aliases = link.state.get('aliases') as Map<number, string> | undefined;
      if (aliases === undefined) link.state.set('aliases', (aliases = new Map()));
      const known = aliases.get(alias);
      if (known === undefined) {
        aliases.set(alias, p.topic);
        return f.bytes;
      }
      if (known === p.topic) return f.bytes;
      const { topicAlias: _, ...properties } = p.properties!;
      return link.encode({ ...p, properties });
    },
  };
}

/** Message Expiry Intervals the broker forwards are counted in 32-bit milliseconds, so long ones wrap around. */
export function messageExpiryIn32BitMilliseconds(): Breakage {
  return {
    fromBroker(f, link) {
      if (f.type !== PUBLISH || link.level !== 5) return f.bytes;
      const p = decoded<IPublishPacket>(f);
      const left = p.properties?.messageExpiryInterval;
      if (left === undefined || left * 1000 < 2 ** 32) return f.bytes;
      return link.encode({ ...p, properties: { ...p.properties, messageExpiryInterval: Math.max(1, Math.floor(((left * 1000) % 2 ** 32) / 1000)) } });
    },
  };
}

/** Whether the CONNACK of this connection said Session Present 1 (a resumed session). */
function resumed(f: Frame, link: ProxyLink): void {
  if (f.type === CONNACK) link.state.set('resumed', (f.body[0] & 1) === 1);
}

/**
 * Messages to a client arrive out of order: each PUBLISH is held until the next one on the same topic and sent after
 * it (or sent alone after 30 ms). Other packets, messages on other topics, and messages with a Topic Alias (whose
 * meaning depends on what went before) are not held.
 */
export function publishesSwapped(): Breakage {
  type Held = { bytes: Buffer; timer: NodeJS.Timeout };
  const heldOf = (link: ProxyLink): Map<string, Held> => {
    let m = link.state.get('held') as Map<string, Held> | undefined;
    if (m === undefined) link.state.set('held', (m = new Map()));
    return m;
  };
  return {
    fromBroker(f, link) {
      if (f.type !== PUBLISH) return f.bytes;
      if (link.level === 5 && decoded<IPublishPacket>(f).properties?.topicAlias !== undefined) return f.bytes;
      const topic = f.body.subarray(2, 2 + f.body.readUInt16BE(0)).toString('latin1');
      const held = heldOf(link);
      const before = held.get(topic);
      if (before !== undefined) {
        clearTimeout(before.timer);
        held.delete(topic);
        return Buffer.concat([f.bytes, before.bytes]);
      }
      const timer = setTimeout(() => {
        held.delete(topic);
        link.toClient(f.bytes);
      }, 30);
      held.set(topic, { bytes: f.bytes, timer });
      return null;
    },
    onOpen(link) {
      return () => {
        for (const h of heldOf(link).values()) clearTimeout(h.timer);
      };
    },
  };
}

/**
 * A retained QoS 0 PUBLISH takes the broker 150 ms to store; it still handles each client's packets in order (the
 * packets after it on that connection wait), but other clients are served meanwhile.
 */
export function retainedQos0StoredLate(): Breakage {
  return {
    fromClient(f) {
      if (f.type === PUBLISH && (f.header & 0x07) === 0x01) return { bytes: f.bytes, holdMs: 150 };
      return f.bytes;
    },
  };
}

/** A retained QoS 0 PUBLISH is not retained: the broker forwards it as an ordinary message. */
export function retainIgnoredAtQos0(): Breakage {
  return {
    fromClient(f) {
      if (f.type === PUBLISH && (f.header & 0x07) === 0x01) return reframe(f.header & ~0x01, f.body);
      return f.bytes;
    },
  };
}

/** Messages forwarded to clients always have RETAIN 0. */
export function retainFlagCleared(): Breakage {
  return { fromBroker: (f) => (f.type === PUBLISH ? reframe(f.header & ~0x01, f.body) : f.bytes) };
}

/** A QoS 0 PUBLISH to a client carries a packet identifier (0x0001) after its topic name. */
export function qos0WithPacketId(): Breakage {
  return {
    fromBroker(f) {
      if (f.type !== PUBLISH || (f.header & 0x06) !== 0) return f.bytes;
      const topicEnd = 2 + f.body.readUInt16BE(0);
      return reframe(f.header, Buffer.concat([f.body.subarray(0, topicEnd), Buffer.from([0x00, 0x01]), f.body.subarray(topicEnd)]));
    },
  };
}

/** Messages resent to a resumed session go out with DUP 0. */
export function resentWithoutDup(): Breakage {
  return {
    fromBroker(f, link) {
      resumed(f, link);
      return f.type === PUBLISH && link.state.get('resumed') === true ? reframe(f.header & ~0x08, f.body) : f.bytes;
    },
  };
}

/** Messages queued for a session while its client was away are lost when it comes back. */
export function queuedLostOnResume(): Breakage {
  return {
    fromBroker(f, link) {
      if (f.type === CONNACK) link.state.set('connackAt', Date.now());
      resumed(f, link);
      const connackAt = link.state.get('connackAt') as number | undefined;
      const justResumed = link.state.get('resumed') === true && connackAt !== undefined && Date.now() - connackAt < 300;
      return f.type === PUBLISH && justResumed ? null : f.bytes;
    },
  };
}

/** The client's Receive Maximum is ignored (as if its CONNECT had none). */
export function receiveMaximumIgnored(): Breakage {
  return {
    fromClient(f, link) {
      if (f.type !== CONNECT || link.level !== 5) return f.bytes;
      const p = decoded<IConnectPacket>(f);
      if (p.properties?.receiveMaximum === undefined) return f.bytes;
      const { receiveMaximum: _, ...properties } = p.properties;
      return link.encode({ ...p, properties });
    },
  };
}

/** While a client has as many messages unacknowledged as its Receive Maximum allows, its PINGREQs go unanswered. */
export function pingIgnoredAtZeroQuota(): Breakage {
  const inFlight = (link: ProxyLink): Set<number> => {
    let s = link.state.get('inFlight') as Set<number> | undefined;
    if (s === undefined) link.state.set('inFlight', (s = new Set()));
    return s;
  };
  return {
    fromClient(f, link) {
      if (f.type === CONNECT && link.level === 5) link.state.set('receiveMaximum', decoded<IConnectPacket>(f).properties?.receiveMaximum ?? 65_535);
      if (f.type === PUBACK || f.type === PUBCOMP) inFlight(link).delete(f.body.readUInt16BE(0));
      return f.bytes;
    },
    fromBroker(f, link) {
      if (f.type === PUBLISH && (f.header & 0x06) !== 0) {
        const topicEnd = 2 + f.body.readUInt16BE(0);
        inFlight(link).add(f.body.readUInt16BE(topicEnd));
      }
      const max = link.state.get('receiveMaximum') as number | undefined;
      if (f.type === PINGRESP && max !== undefined && inFlight(link).size >= max) return null;
      return f.bytes;
    },
  };
}

/** The last payload byte of every PUBLISH of 60 bytes or more is altered on its way to the client. */
export function longPayloadsAltered(): Breakage {
  return {
    fromBroker(f) {
      if (f.type !== PUBLISH || f.body.length < 60) return f.bytes;
      const body = Buffer.from(f.body);
      body[body.length - 1] ^= 0xff;
      return reframe(f.header, body);
    },
  };
}

/** A SUBSCRIBE body with each filter's options byte replaced by `change(options, first)` (MQTT 5 layout). */
function withSubscribeOptions(body: Buffer, change: (options: number, first: number) => number): Buffer {
  const out = Buffer.from(body);
  let pos = 2;
  let propertyLength = 0;
  let mul = 1;
  let b: number;
  do {
    b = out[pos++];
    propertyLength += (b & 0x7f) * mul;
    mul *= 128;
  } while (b & 0x80);
  pos += propertyLength;
  let first: number | undefined;
  while (pos + 2 < out.length) {
    pos += 2 + out.readUInt16BE(pos);
    first ??= out[pos];
    out[pos] = change(out[pos], first);
    pos++;
  }
  return out;
}

/**
 * The broker forgets a QoS 2 packet identifier awaiting PUBREL when `forgotten` says so: the client's resend of that
 * PUBLISH (DUP 1) is taken as a new message (the proxy gives it an identifier of its own, and maps the
 * acknowledgements back).
 */
function qos2IdForgotten(forgotten: (link: ProxyLink, id: number) => boolean, observe?: (f: Frame, link: ProxyLink) => void): Breakage {
  const mapped = (link: ProxyLink): Map<number, number> => {
    let m = link.state.get('mapped') as Map<number, number> | undefined;
    if (m === undefined) link.state.set('mapped', (m = new Map()));
    return m;
  };
  const withId = (f: Frame, at: number, id: number): Buffer => {
    const body = Buffer.from(f.body);
    body.writeUInt16BE(id, at);
    return reframe(f.header, body);
  };
  return {
    fromClient(f, link) {
      observe?.(f, link);
      if (f.type === PUBLISH && (f.header & 0x0e) === 0x0c) {
        const at = 2 + f.body.readUInt16BE(0);
        const id = f.body.readUInt16BE(at);
        if (forgotten(link, id)) {
          const fresh = (id % 30_000) + 30_000;
          mapped(link).set(id, fresh);
          return withId(f, at, fresh);
        }
      }
      if (f.type === PUBREL) {
        const fresh = mapped(link).get(f.body.readUInt16BE(0));
        if (fresh !== undefined) return withId(f, 0, fresh);
      }
      return f.bytes;
    },
    fromBroker(f, link) {
      resumed(f, link);
      if (f.type === PUBREC || f.type === PUBCOMP) {
        const id = f.body.readUInt16BE(0);
        for (const [original, fresh] of mapped(link)) if (fresh === id) return withId(f, 0, original);
      }
      return f.bytes;
    },
  };
}

/** A resumed session has forgotten the QoS 2 packet identifiers awaiting PUBREL. */
export function qos2StateLostOnResume(): Breakage {
  return qos2IdForgotten((link) => link.state.get('resumed') === true);
}

/** The broker forgets an incoming QoS 2 packet identifier awaiting PUBREL once its message has expired. */
export function qos2StateLostOnExpiry(): Breakage {
  const deadlines = (link: ProxyLink): Map<number, number> => {
    let m = link.state.get('inboundDeadlines') as Map<number, number> | undefined;
    if (m === undefined) link.state.set('inboundDeadlines', (m = new Map()));
    return m;
  };
  return qos2IdForgotten(
    (link, id) => Date.now() > (deadlines(link).get(id) ?? Infinity),
    (f, link) => {
      if (f.type !== PUBLISH || (f.header & 0x0e) !== 0x04 || link.level !== 5) return;
      const p = decoded<IPublishPacket>(f);
      const expiry = p.properties?.messageExpiryInterval;
      if (expiry !== undefined) deadlines(link).set(p.messageId!, Date.now() + expiry * 1000);
    },
  );
}

/**
 * A packet identifier freed at one QoS is still taken as in use at the other: a PUBLISH with DUP 1 reusing an
 * identifier last used at another QoS is answered as a duplicate (PUBACK or PUBREC) and dropped.
 */
export function packetIdReuseAcrossQosTakenAsDuplicate(): Breakage {
  return {
    fromClient(f, link) {
      const qos = (f.header >> 1) & 3;
      if (f.type !== PUBLISH || qos === 0) return f.bytes;
      const id = f.body.readUInt16BE(2 + f.body.readUInt16BE(0));
      let last = link.state.get('lastQos') as Map<number, number> | undefined;
      if (last === undefined) link.state.set('lastQos', (last = new Map()));
      const before = last.get(id);
      last.set(id, qos);
      if ((f.header & 0x08) !== 0 && before !== undefined && before !== qos) {
        link.toClient(reframe((qos === 1 ? PUBACK : PUBREC) << 4, Buffer.from([id >> 8, id & 0xff])));
        return null;
      }
      return f.bytes;
    },
  };
}

/** No Local is not stored with a persistent session: subscriptions made with a Session Expiry Interval lose it. */
export function noLocalLostInStoredSessions(): Breakage {
  return {
    fromClient(f, link) {
      if (f.type === CONNECT && link.level === 5) link.state.set('persistent', (decoded<IConnectPacket>(f).properties?.sessionExpiryInterval ?? 0) > 0);
      if (f.type === SUBSCRIBE && link.level === 5 && link.state.get('persistent') === true) return reframe(f.header, withSubscribeOptions(f.body, (o) => o & ~0x04));
      return f.bytes;
    },
  };
}

/** Every filter of a SUBSCRIBE gets the Retain Handling of its first filter. */
export function retainHandlingOfFirstFilter(): Breakage {
  return {
    fromClient(f, link) {
      if (f.type !== SUBSCRIBE || link.level !== 5) return f.bytes;
      return reframe(f.header, withSubscribeOptions(f.body, (o, first) => (o & ~0x30) | (first & 0x30)));
    },
  };
}

/** A Session Expiry Interval on the client's DISCONNECT is ignored (the broker keeps the one from CONNECT). */
export function sessionExpiryOnDisconnectIgnored(): Breakage {
  return {
    fromClient(f, link) {
      if (f.type !== DISCONNECT || link.level !== 5 || f.body.length < 2) return f.bytes;
      return reframe(f.header, Buffer.from([f.body[0], 0x00]));
    },
  };
}

/**
 * A QoS 2 message sent to a client expires in flight: a PUBREC arriving after its Message Expiry Interval is
 * ignored, so no PUBREL follows.
 */
export function expiredInFlightDropped(): Breakage {
  const deadlines = (link: ProxyLink): Map<number, number> => {
    let m = link.state.get('deadlines') as Map<number, number> | undefined;
    if (m === undefined) link.state.set('deadlines', (m = new Map()));
    return m;
  };
  return {
    fromBroker(f, link) {
      if (f.type === PUBLISH && ((f.header >> 1) & 3) === 2 && link.level === 5) {
        const p = decoded<IPublishPacket>(f);
        const expiry = p.properties?.messageExpiryInterval;
        if (expiry !== undefined) deadlines(link).set(p.messageId!, Date.now() + expiry * 1000);
      }
      return f.bytes;
    },
    fromClient(f, link) {
      if (f.type !== PUBREC) return f.bytes;
      const deadline = deadlines(link).get(f.body.readUInt16BE(0));
      return deadline !== undefined && Date.now() > deadline ? null : f.bytes;
    },
  };
}

/** The broker's PUBREL carries the identifier after the one its PUBLISH had. */
export function pubrelWithWrongId(): Breakage {
  return {
    fromBroker(f) {
      if (f.type !== PUBREL) return f.bytes;
      const body = Buffer.from(f.body);
      body.writeUInt16BE((body.readUInt16BE(0) % 65_535) + 1, 0);
      return reframe(f.header, body);
    },
  };
}

/** Retain Handling is ignored: every subscription is treated as Retain Handling 0. */
export function retainHandlingIgnored(): Breakage {
  return {
    fromClient(f, link) {
      if (f.type !== SUBSCRIBE || link.level !== 5) return f.bytes;
      return reframe(f.header, withSubscribeOptions(f.body, (o) => o & ~0x30));
    },
  };
}
