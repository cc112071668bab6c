/**
 * What a simulated client sends to connect (CONNECT with its will and v5 properties), and the names of the ways a
 * connection attempt fails.
 */
import type { Packet } from 'mqtt-packet';
import { bindTemplate, renderBound } from '../scenario/templates.js';
import { SESSION_NEVER_EXPIRES, type ConnectStep } from '../scenario/schema.js';
import type { SimClient } from './client.js';

export function connectPacket(c: SimClient, step: ConnectStep, reconnecting: boolean): Packet {
  const g = c.group.config;
  const v5 = c.protocolVersion === 5;
  const packet: Packet = {
    cmd: 'connect',
    protocolId: c.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: c.protocolVersion,
    clientId: c.clientId,
    // A reconnection resumes a persistent session rather than starting clean.
    clean: reconnecting && !step.clean ? false : step.clean,
    keepalive: step.keepaliveSec,
    username: g.username,
    password: g.password !== undefined ? Buffer.from(g.password) : undefined,
  };
  if (v5) {
    packet.properties =
      step.sessionExpirySec > 0 ? { sessionExpiryInterval: step.sessionExpirySec === SESSION_NEVER_EXPIRES ? 0xffffffff : step.sessionExpirySec } : {};
  }
  if (step.will) {
    const w = step.will;
    packet.will = {
      topic: renderBound(bindTemplate(w.topic, c.vars(), Math.random), 0, Math.random),
      payload: c.engine.willPayload(w.payload),
      qos: w.qos,
      retain: w.retain,
      properties: v5 && w.delaySec > 0 ? { willDelayInterval: w.delaySec } : undefined,
    };
  }
  return packet;
}

/** The error kind of a connection attempt that failed with `error` (an errno-like code, or null: closed). */
export function connectErrorKind(error: string | null): string {
  switch (error) {
    case 'ECONNREFUSED':
      return 'connect-refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns-error';
    case 'ETIMEDOUT':
      return 'connect-timeout';
    case 'EMFILE':
    case 'ENFILE':
      return 'out-of-file-descriptors';
    case 'EADDRNOTAVAIL':
      return 'out-of-local-ports';
    case null:
      return 'closed-before-connack';
    default:
      return error.startsWith('ERR_TLS') || error.includes('CERT') || error.includes('SSL') ? 'tls-error' : 'socket-error';
  }
}
