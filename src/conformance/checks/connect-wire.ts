/**
 * Byte-level builders and shared check shapes for the CONNECT, data representation and packet format checks:
 * packets a well-behaved encoder refuses to produce (ill-formed strings, wrong flags, missing or surplus fields).
 */
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import { describePacket, encodeRawPacket, encodeVarInt, utf8Field, type RawClient } from '../client.js';
import { CheckFailed, expectThat, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';

/** CONNECT flag bits (§3.1.2.3 of both versions). */
export const FLAG = {
  reserved: 0x01,
  clean: 0x02,
  will: 0x04,
  willQos1: 0x08,
  willQos2: 0x10,
  willRetain: 0x20,
  password: 0x40,
  username: 0x80,
} as const;

/** v5 property identifiers used here. */
export const PROP = {
  authMethod: 0x15,
  userProperty: 0x26,
} as const;

/** The protocol level byte of a version. */
export function levelOf(v: MqttVersion): 4 | 5 {
  return v === '5.0' ? 5 : 4;
}

/** A surrogate (U+D800) encoded as if it were a character: never well-formed UTF-8. */
export const SURROGATE: readonly number[] = [0xed, 0xa0, 0x80];

/** A length-prefixed string field from text, or from raw bytes to send ill-formed UTF-8. */
export function str(text: string | readonly number[] | Buffer): Buffer {
  return utf8Field(typeof text === 'string' || Buffer.isBuffer(text) ? text : Buffer.from(text));
}

/** Text followed by raw bytes, as one string field (e.g. a topic under the check's prefix ending in bad UTF-8). */
export function strWith(text: string, raw: readonly number[]): Buffer {
  return utf8Field(Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from(raw)]));
}

/** A v5 property section: the length, then the properties. */
export function props(...encoded: Buffer[]): Buffer {
  const body = Buffer.concat(encoded);
  return Buffer.concat([encodeVarInt(body.length), body]);
}

export function userProperty(name: Buffer, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([PROP.userProperty]), name, value]);
}

export function stringProperty(id: number, value: string): Buffer {
  return Buffer.concat([Buffer.from([id]), utf8Field(value)]);
}

export interface RawConnect {
  /** Protocol level byte: 4 for 3.1.1, 5 for 5.0 (others to test refusals). */
  level: number;
  flags: number;
  protocolName?: string;
  keepalive?: number;
  /** v5 CONNECT properties as a whole section (length included); default: an empty section. */
  properties?: Buffer;
  /** The payload fields, each already length-prefixed (or deliberately not). */
  payload: Buffer[];
}

/** A CONNECT assembled field by field, payload included. */
export function rawConnect(c: RawConnect): Buffer {
  const keepalive = c.keepalive ?? 60;
  const parts: Buffer[] = [utf8Field(c.protocolName ?? 'MQTT'), Buffer.from([c.level, c.flags, keepalive >> 8, keepalive & 0xff])];
  if (c.level === 5) parts.push(c.properties ?? props());
  parts.push(...c.payload);
  return encodeRawPacket(0x10, Buffer.concat(parts));
}

/** A PUBLISH with its topic given as a raw field, so the topic can be ill-formed. */
export function rawPublish(level: 4 | 5, topic: Buffer, payload: string, opts: { qos?: 0 | 1 | 2; id?: number; properties?: Buffer } = {}): Buffer {
  const qos = opts.qos ?? 0;
  const parts: Buffer[] = [topic];
  if (qos > 0) parts.push(u16(opts.id ?? 1));
  if (level === 5) parts.push(opts.properties ?? props());
  parts.push(Buffer.from(payload));
  return encodeRawPacket(0x30 | (qos << 1), Buffer.concat(parts));
}

/** A SUBSCRIBE for one filter given as a raw field. */
export function rawSubscribe(level: 4 | 5, filter: Buffer, opts: { id?: number; qos?: number; firstByte?: number } = {}): Buffer {
  const parts: Buffer[] = [u16(opts.id ?? 1)];
  if (level === 5) parts.push(props());
  parts.push(filter, Buffer.from([opts.qos ?? 0]));
  return encodeRawPacket(opts.firstByte ?? 0x82, Buffer.concat(parts));
}

/** An UNSUBSCRIBE for one filter given as a raw field. */
export function rawUnsubscribe(level: 4 | 5, filter: Buffer, opts: { id?: number; firstByte?: number } = {}): Buffer {
  const parts: Buffer[] = [u16(opts.id ?? 1)];
  if (level === 5) parts.push(props());
  parts.push(filter);
  return encodeRawPacket(opts.firstByte ?? 0xa2, Buffer.concat(parts));
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function codeOf(p: IConnackPacket): number {
  return p.reasonCode ?? p.returnCode ?? 0;
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(2, '0');
}

/** v5 CONNACK codes a broker may use when it refuses a malformed CONNECT or one breaking a protocol rule (§4.13). */
export const MALFORMED_CONNACK = [0x80, 0x81, 0x82] as const;
/** v5 DISCONNECT codes a broker may use when it closes on a malformed packet or protocol error (§4.13). */
export const MALFORMED_DISCONNECT = [0x80, 0x81, 0x82] as const;

export interface RefusedConnectRow {
  id: string;
  version: MqttVersion;
  statements: string[];
  title: string;
  /** The offending CONNECT. */
  bytes(ctx: CheckContext): Buffer;
  /**
   * The same CONNECT without its defect. The broker must accept it first, so a refusal of `bytes` shows the broker
   * reacted to the defect and not to something else about the packet.
   */
  valid?(ctx: CheckContext): Buffer;
  /**
   * CONNACK codes the broker may send before closing; 'none': it must close without any CONNACK.
   * Default: 'none' for 3.1.1 (§3.1.4: close without CONNACK), the malformed-packet codes for 5.0.
   */
  connack?: 'none' | readonly number[];
}

/** Sends `bytes` on a new connection and waits for the broker to accept it with CONNACK 0; then leaves. */
async function expectAccepted(ctx: CheckContext, bytes: Buffer, what: string): Promise<IConnackPacket> {
  const c = await ctx.open();
  c.sendRaw(bytes);
  const connack = await c.next('connack', ctx.timeoutMs);
  const code = codeOf(connack);
  expectThat(code === 0, `the broker refused ${what} with CONNACK ${hex(code)}; it must accept it`);
  await c.disconnect();
  return connack;
}

/** Checks that the broker has closed `c` and sent no CONNACK but those `allowed` ('none': no CONNACK at all). */
export async function expectRefusedAndClosed(c: RawClient, ctx: CheckContext, allowed: 'none' | readonly number[]): Promise<void> {
  await c.closed(ctx.timeoutMs);
  for (const p of c.received) {
    if (p.cmd !== 'connack') continue;
    const code = codeOf(p);
    if (allowed === 'none') {
      throw new CheckFailed(`the broker sent ${describePacket(p)} before closing; it must close without a CONNACK`);
    }
    if (!allowed.includes(code)) {
      throw new CheckFailed(`the broker answered CONNACK ${hex(code)} before closing; allowed: ${allowed.map(hex).join(', ')} (or none)`);
    }
  }
}

/** The broker must close the connection after a defective CONNECT, with no CONNACK or only an allowed refusal. */
export function refusesConnect(rows: RefusedConnectRow[]): Check[] {
  return rows.map((row) => ({
    id: row.id,
    version: row.version,
    statements: row.statements,
    title: row.title,
    async run(ctx) {
      if (row.valid) await expectAccepted(ctx, row.valid(ctx), 'the same CONNECT without the defect');
      const c = await ctx.open();
      c.sendRaw(row.bytes(ctx));
      await expectRefusedAndClosed(c, ctx, row.connack ?? (row.version === '3.1.1' ? 'none' : MALFORMED_CONNACK));
    },
  }));
}

/** A subscriber on `topic` at QoS `qos`, connected with its own client id. */
export async function subscriber(ctx: CheckContext, topic: string, qos: 0 | 1 | 2 = 0, name = 'sub'): Promise<RawClient> {
  const s = await ctx.connect({ clientId: ctx.clientId(name) });
  const suback = await s.subscribe(topic, qos);
  expectThat((suback.granted[0] as number) < 0x80, `the broker refused the subscription to ${topic}: ${describePacket(suback)}`);
  return s;
}

/** Fails unless no PUBLISH arrives on `c` within `ms`, naming what the check was waiting not to see. */
export async function expectNoPublish(c: RawClient, ms: number, what: string): Promise<void> {
  try {
    await c.expectNothing(ms, 'publish');
  } catch (err) {
    throw new CheckFailed(`${what}: ${(err as Error).message}`);
  }
}

/** The next PUBLISH on `c`, failing with `what` when none arrives in time. */
export async function expectPublish(c: RawClient, ctx: CheckContext, what: string, timeoutMs = ctx.timeoutMs): Promise<IPublishPacket> {
  try {
    return await c.next('publish', timeoutMs);
  } catch (err) {
    throw new CheckFailed(`${what}: ${(err as Error).message}`);
  }
}

