/**
 * What the PUBLISH checks share: subscribers, sessions that outlive a connection, PUBLISH packets built byte by byte,
 * and ways to gather what a client received.
 */
import type { IConnackPacket, IPublishPacket, ISubscription, QoS, UserProperties } from 'mqtt-packet';
import { encodeRawPacket, encodeVarInt, sleep, utf8Field, describePacket, type ConnectOptions, type RawClient } from '../client.js';
import { CheckFailed, expectThat, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';

/** How long a check waits to be satisfied that something does not happen. */
export const QUIET_MS = 400;

/** Session Expiry Interval for sessions a check resumes: long enough to outlive the check, cleared afterwards. */
const SESSION_EXPIRY_S = 300;

/** One check per version; `pick(v311, v5)` chooses what differs between the two (mostly statement ids). */
export function forBothVersions(make: (version: MqttVersion, pick: <T>(v311: T, v5: T) => T) => Check): Check[] {
  return (['3.1.1', '5.0'] as const).map((v) => make(v, (a, b) => (v === '3.1.1' ? a : b)));
}

/** Subscribes `client` and returns the granted QoS of each filter; a refused subscription fails the check. */
export async function subscribeOrFail(
  client: RawClient,
  subscriptions: string | ISubscription | ISubscription[],
  qos: QoS = 0,
  properties?: { subscriptionIdentifier?: number; userProperties?: UserProperties },
): Promise<number[]> {
  const suback = await client.subscribe(subscriptions, qos, properties);
  const granted = suback.granted.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos));
  if (granted.some((g) => g >= 0x80)) {
    throw new CheckFailed(`the broker refused a subscription the check needs: ${describePacket(suback)}`);
  }
  return granted;
}

/** A new connection subscribed to `filter` at `qos`. */
export async function subscriber(ctx: CheckContext, filter: string | ISubscription | ISubscription[], qos: QoS = 0, opts: ConnectOptions = {}): Promise<RawClient> {
  const client = await ctx.connect(opts);
  await subscribeOrFail(client, filter, qos);
  return client;
}

/**
 * CONNECT options for a session that outlives its connection: 3.1.1 CleanSession 0; 5.0 a Session Expiry Interval
 * with Clean Start 1 the first time (`resume` false) and 0 when resuming. The session is ended when the check ends.
 */
export function sessionOptions(ctx: CheckContext, clientId: string, resume: boolean, more: ConnectOptions = {}): ConnectOptions {
  ctx.endSession(clientId);
  if (ctx.level === 4) return { ...more, clientId, clean: false };
  return { ...more, clientId, clean: !resume, properties: { sessionExpiryInterval: SESSION_EXPIRY_S, ...more.properties } };
}

/** Connects to the session `clientId` already has; fails the check when the broker did not keep it. */
export async function resumeSession(ctx: CheckContext, clientId: string, more: ConnectOptions = {}): Promise<RawClient> {
  const client = await ctx.connect(sessionOptions(ctx, clientId, true, more));
  const connack = client.received.find((p): p is IConnackPacket => p.cmd === 'connack');
  if (!connack?.sessionPresent) {
    throw new CheckFailed('the broker did not keep the session across the reconnect (CONNACK session present 0), so nothing it owed could be resent');
  }
  return client;
}

/**
 * Resolves once the broker has handled everything `client` sent before: its PINGRESP comes after them. A QoS 0
 * PUBLISH has no acknowledgement of its own, so this is how a check knows a retained one is in place (or a plain one
 * routed) before another client subscribes, instead of racing it.
 */
export async function settled(client: RawClient, ctx: CheckContext): Promise<void> {
  client.send({ cmd: 'pingreq' });
  await client.next('pingresp', ctx.timeoutMs);
}

/** Waits `ms`, then takes every PUBLISH the client has received and not yet taken, in arrival order. */
export async function drainPublishes(client: RawClient, ms: number): Promise<IPublishPacket[]> {
  await sleep(ms);
  const out: IPublishPacket[] = [];
  while (client.pending().some((p) => p.cmd === 'publish')) out.push(await client.next('publish', 1));
  return out;
}

/**
 * Takes the `count` PUBLISH packets a check expects (waiting up to `timeoutMs` for them), then any more arriving within
 * QUIET_MS. Returns what arrived, fewer or more, for the caller's expectation to name.
 */
export async function collectPublishes(client: RawClient, count: number, timeoutMs: number): Promise<IPublishPacket[]> {
  const out: IPublishPacket[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (out.length < count) out.push(await client.next('publish', Math.max(1, deadline - Date.now())));
  } catch {
    // Fewer arrived (or the connection closed): the caller compares what did.
  }
  return out.concat(await drainPublishes(client, QUIET_MS));
}

/** Receives `count` PUBLISH packets, acknowledging each as its QoS requires. */
export async function receiveAll(client: RawClient, count: number, timeoutMs: number): Promise<IPublishPacket[]> {
  const out: IPublishPacket[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) out.push(await client.receive(Math.max(1, deadline - Date.now())));
  return out;
}

/** Payloads as text. */
export function texts(packets: readonly IPublishPacket[]): string[] {
  return packets.map((p) => p.payload.toString());
}

/** One line per PUBLISH for failure messages. */
export function describePublishes(packets: readonly IPublishPacket[]): string {
  return packets.length === 0 ? '(none)' : packets.map(describePacket).join(', ');
}

export function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')}`;
}

/** The reason code of an acknowledgement or DISCONNECT (absent means success). */
export function reasonOf(packet: { reasonCode?: number }): number {
  return packet.reasonCode ?? 0;
}

export interface RawPublish {
  topic: string | Buffer;
  /** 3 is not a QoS: it sets both QoS bits, for the malformed case. */
  qos?: 0 | 1 | 2 | 3;
  dup?: boolean;
  retain?: boolean;
  messageId?: number;
  /** MQTT 5 properties, already encoded without their length (see `prop`); ignored at level 4. */
  properties?: Buffer;
  payload?: string | Buffer;
}

/** A PUBLISH built byte by byte, for what mqtt-packet refuses to encode (bad UTF-8, QoS 3, forbidden properties). */
export function encodeRawPublish(level: 4 | 5, p: RawPublish): Buffer {
  const qos = p.qos ?? 0;
  const first = 0x30 | (p.dup ? 0x08 : 0) | (qos << 1) | (p.retain ? 0x01 : 0);
  const parts: Buffer[] = [utf8Field(p.topic)];
  if (qos > 0) parts.push(Buffer.from([(p.messageId ?? 1) >> 8, (p.messageId ?? 1) & 0xff]));
  if (level === 5) {
    const props = p.properties ?? Buffer.alloc(0);
    parts.push(encodeVarInt(props.length), props);
  }
  parts.push(Buffer.from(p.payload ?? ''));
  return encodeRawPacket(first, Buffer.concat(parts));
}

/** MQTT 5 property encoders (identifier byte, then the value). */
export const prop = {
  byte: (id: number, value: number): Buffer => Buffer.from([id, value]),
  twoBytes: (id: number, value: number): Buffer => Buffer.from([id, value >> 8, value & 0xff]),
  varInt: (id: number, value: number): Buffer => Buffer.concat([Buffer.from([id]), encodeVarInt(value)]),
  string: (id: number, value: string | Buffer): Buffer => Buffer.concat([Buffer.from([id]), utf8Field(value)]),
};

/** MQTT 5 property identifiers used by the checks. */
export const PROP = {
  payloadFormatIndicator: 0x01,
  messageExpiryInterval: 0x02,
  contentType: 0x03,
  responseTopic: 0x08,
  correlationData: 0x09,
  subscriptionIdentifier: 0x0b,
  topicAlias: 0x23,
} as const;

/** The size in bytes of a received packet, from the remaining length mqtt-packet reports. */
export function wireSize(packet: { length?: number }): number | undefined {
  const len = packet.length;
  if (len === undefined) return undefined;
  return 1 + encodeVarInt(len).length + len;
}

/** Fails unless the connection closed, and any DISCONNECT sent before carried one of `reasons`. */
export async function expectClosed(client: RawClient, ctx: CheckContext, reasons: readonly number[], what: string): Promise<void> {
  try {
    await client.closed(ctx.timeoutMs);
  } catch {
    throw new CheckFailed(`${what}: the broker kept the connection open for ${ctx.timeoutMs} ms (received: ${client.received.map(describePacket).join(', ') || '(none)'})`);
  }
  const d = client.received.find((p) => p.cmd === 'disconnect');
  if (d && d.cmd === 'disconnect' && !reasons.includes(reasonOf(d))) {
    throw new CheckFailed(`${what}: the broker sent DISCONNECT ${hex(reasonOf(d))}; expected ${reasons.map(hex).join(', ')} or none`);
  }
}

/**
 * MQTT 5: the broker must refuse the QoS 1 PUBLISH `client` just sent, either with a PUBACK of 0x80 or more or by
 * closing the connection (any DISCONNECT carrying one of `reasons`).
 */
export async function expectRefused(client: RawClient, ctx: CheckContext, reasons: readonly number[], what: string): Promise<void> {
  const ack = await Promise.race([
    client.next('puback', ctx.timeoutMs).catch(() => undefined),
    client.closed(ctx.timeoutMs).then(
      () => undefined,
      () => undefined,
    ),
  ]);
  if (ack === undefined) {
    await expectClosed(client, ctx, reasons, what);
    return;
  }
  expectThat(reasonOf(ack) >= 0x80, `${what}: the broker accepted it with PUBACK ${hex(reasonOf(ack))}; it must refuse it (PUBACK 0x80 or more, or close)`);
}
