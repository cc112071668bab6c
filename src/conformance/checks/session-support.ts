/**
 * What the CONNACK, session, DISCONNECT, AUTH and flow-control checks share: reason code tables, packet sizes, and
 * the moves that provoke a refusal, a stored session or a DISCONNECT from the broker.
 */
import type { IConnackPacket, IConnectPacket, Packet } from 'mqtt-packet';
import { varintSize } from '../../protocol/varint.js';
import { reasonName } from '../../protocol/reason-codes.js';
import { encodeRawConnect, encodeRawPacket, encodeVarInt, type RawClient } from '../client.js';
import { CheckFailed, type CheckContext } from '../check.js';

/** CONNACK reason codes of MQTT 5.0 (§3.2.2.2, Table 3-1). */
export const CONNACK_REASON_CODES: ReadonlySet<number> = new Set([
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c,
  0x9d, 0x9f,
]);

/**
 * DISCONNECT reason codes a server may send (§3.14.2.1, Table 3-10): 0x04 is in the table but marked as sent by
 * the client alone, since it asks the server to publish the will.
 */
export const SERVER_DISCONNECT_REASON_CODES: ReadonlySet<number> = new Set([
  0x00, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a,
  0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
]);

/** AUTH reason codes (§3.15.2.1, Table 3-13). */
export const AUTH_REASON_CODES: ReadonlySet<number> = new Set([0x00, 0x18, 0x19]);

/** An Authentication Method no broker implements: the name is this suite's own. */
export const UNKNOWN_AUTH_METHOD = 'mqbench-no-such-method';

/** Bytes a received packet took on the wire: fixed header byte, remaining length, body. */
export function wireSize(packet: Packet): number {
  const length = packet.length ?? 0;
  return 1 + varintSize(length) + length;
}

/** The CONNACK the broker sent for the CONNECT just written, or undefined when it closed without one. */
export async function answerToConnect(client: RawClient, timeoutMs: number): Promise<IConnackPacket | undefined> {
  try {
    return await client.next('connack', timeoutMs);
  } catch (err) {
    if (client.parseErrors.length > 0) {
      throw new CheckFailed(`the broker's answer to CONNECT could not be decoded: ${client.parseErrors.map((e) => `${e.message} (${e.bytes.toString('hex')})`).join('; ')}`);
    }
    if (client.closedByBroker) return undefined;
    throw new CheckFailed(`the broker neither answered the CONNECT nor closed the connection: ${(err as Error).message}`);
  }
}

/** Opens a connection, sends `connect` (a packet or raw bytes) and returns the broker's answer. */
export async function tryConnect(
  ctx: CheckContext,
  connect: Partial<IConnectPacket> | Buffer,
): Promise<{ client: RawClient; connack: IConnackPacket | undefined }> {
  const client = await ctx.open();
  if (Buffer.isBuffer(connect)) client.sendRaw(connect);
  else client.send(client.connectPacket({ clientId: ctx.clientId('try'), ...connect }));
  return { client, connack: await answerToConnect(client, ctx.timeoutMs) };
}

/** Every DISCONNECT the broker sent on this connection. */
export function disconnectsOf(client: RawClient): Array<Extract<Packet, { cmd: 'disconnect' }>> {
  return client.received.filter((p): p is Extract<Packet, { cmd: 'disconnect' }> => p.cmd === 'disconnect');
}

/**
 * Fails unless the broker closed the connection within the wait, and unless any DISCONNECT it sent first carries
 * one of `allowed` (the broker may also close without one).
 */
export async function expectClosedWith(client: RawClient, ctx: CheckContext, allowed: readonly number[], what: string): Promise<void> {
  try {
    await client.closed(ctx.timeoutMs);
  } catch (err) {
    throw new CheckFailed(`${what}: ${(err as Error).message}`);
  }
  for (const d of disconnectsOf(client)) {
    const rc = d.reasonCode ?? 0;
    if (!allowed.includes(rc)) {
      throw new CheckFailed(`${what}: the broker sent DISCONNECT ${reasonName(rc)}; expected ${allowed.map(reasonName).join(' or ')}, or no DISCONNECT`);
    }
  }
}

/**
 * Creates a session the broker must keep after the connection ends: a subscription to `topic` at QoS 1, with
 * CleanSession 0 (3.1.1) or Clean Start 0 and a Session Expiry Interval of five minutes (5.0). Ended after the check.
 */
export async function storeSession(ctx: CheckContext, clientId: string, topic: string): Promise<void> {
  const c = await ctx.connect({ clientId, clean: false, ...persistent(ctx) });
  ctx.endSession(clientId);
  const suback = await c.subscribe(topic, 1);
  if ((suback.granted[0] as number) >= 0x80) throw new CheckFailed(`the broker refused the subscription to ${topic}: SUBACK ${suback.granted[0]}`);
  await c.disconnect();
}

/** CONNECT properties that make a v5 session outlive its connection (none at 3.1.1, where CleanSession 0 does). */
export function persistent(ctx: CheckContext, seconds = 300): Partial<IConnectPacket> {
  return ctx.level === 5 ? { properties: { sessionExpiryInterval: seconds } } : {};
}

/** A v5 CONNECT with Receive Maximum 0, a Protocol Error (§3.1.2.11.3) mqtt-packet will not encode. */
export function connectWithZeroReceiveMaximum(clientId: string, flags = 0x02): Buffer {
  return encodeRawConnect({ level: 5, flags, clientId, properties: Buffer.from([0x21, 0x00, 0x00]) });
}

/** A v5 CONNECT naming an Authentication Method (and optional data), built by hand so the method is exactly as given. */
export function connectWithAuthMethod(clientId: string, method: string, data?: Buffer, flags = 0x02, extra?: Buffer): Buffer {
  const properties = authProperties(method, data);
  return encodeRawConnect({ level: 5, flags, clientId, properties: extra ? Buffer.concat([properties, extra]) : properties });
}

/** A v5 property: Maximum Packet Size (0x27). */
export function maximumPacketSizeProperty(size: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x27;
  b.writeUInt32BE(size, 1);
  return b;
}

/** An AUTH packet with `reasonCode` and already encoded properties, under `firstByte` (0xf0 unless corrupted). */
export function encodeAuth(reasonCode: number, properties: Buffer = Buffer.alloc(0), firstByte = 0xf0): Buffer {
  const body = Buffer.concat([Buffer.from([reasonCode]), encodeVarInt(properties.length), properties]);
  return Buffer.concat([Buffer.from([firstByte]), encodeVarInt(body.length), body]);
}

/** Authentication Method (0x15) and, when given, Authentication Data (0x16) properties. */
export function authProperties(method: string, data?: Buffer): Buffer {
  const parts = [Buffer.from([0x15]), utf8(method)];
  if (data) parts.push(Buffer.from([0x16]), binary(data));
  return Buffer.concat(parts);
}

function utf8(text: string): Buffer {
  return binary(Buffer.from(text, 'utf8'));
}

function binary(data: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(data.length);
  return Buffer.concat([len, data]);
}

/** Fails naming every packet the broker sent that is not allowed. */
export function expectOnly(client: RawClient, allowed: readonly Packet['cmd'][], what: string): void {
  const wrong = client.received.filter((p) => !allowed.includes(p.cmd));
  if (wrong.length > 0) throw new CheckFailed(`${what}: the broker sent ${wrong.map((p) => p.cmd.toUpperCase()).join(', ')}`);
}

/** A v5 QoS 0 PUBLISH with hand-made (possibly invalid) properties. */
export function rawPublishV5(topic: string, properties: Buffer, payload = 'x'): Buffer {
  return encodeRawPacket(0x30, Buffer.concat([utf8(topic), encodeVarInt(properties.length), properties, Buffer.from(payload)]));
}
