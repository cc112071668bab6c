/**
 * Bugs a broker could have, each made with the breaking proxy in front of the correct bundled broker: what the
 * conformance checks about that rule must catch. Each function returns the breakage; the tests say which checks it
 * must fail and which it must leave passing.
 */
import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { Breakage, Frame } from './breaking-proxy.js';

const CONNECT = 1;
const CONNACK = 2;
const PUBLISH = 3;

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
