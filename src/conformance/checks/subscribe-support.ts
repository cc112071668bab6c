/**
 * What the subscription checks share: hand-built SUBSCRIBE, UNSUBSCRIBE and PUBLISH bytes (for the malformed cases
 * mqtt-packet will not encode), "the broker refused this" in every form the spec allows, and gathering deliveries.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { encodeRawPacket, sleep, utf8Field, type ConnectOptions, type PacketOf, type RawClient } from '../client.js';
import { CheckFailed, expectThat, type CheckContext } from '../check.js';

/** How long a check waits to be sure something does not arrive. */
export const QUIET_MS = 400;

/** SUBACK reason codes of MQTT 5.0 (§3.9.3). */
const SUBACK_CODES_V5: readonly number[] = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2];
/** SUBACK return codes of MQTT 3.1.1 (§3.9.3). */
export const SUBACK_CODES_V3: readonly number[] = [0x00, 0x01, 0x02, 0x80];
/** UNSUBACK reason codes of MQTT 5.0 (§3.11.3). */
export const UNSUBACK_CODES_V5: readonly number[] = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];

export function subackCodes(ctx: CheckContext): readonly number[] {
  return ctx.level === 5 ? SUBACK_CODES_V5 : SUBACK_CODES_V3;
}

export function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')}`;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** A filter or topic as raw string bytes: text as UTF-8, or bytes exactly as given (to send invalid UTF-8). */
export type WireString = string | Buffer;

/** SUBSCRIBE with (filter, options byte) pairs; `firstByte` lets a check corrupt the fixed-header flags. */
export function encodeSubscribe(level: 4 | 5, messageId: number, entries: ReadonlyArray<readonly [WireString, number]>, firstByte = 0x82): Buffer {
  const parts: Buffer[] = [u16(messageId)];
  if (level === 5) parts.push(Buffer.from([0]));
  for (const [filter, options] of entries) parts.push(utf8Field(filter), Buffer.from([options]));
  return encodeRawPacket(firstByte, Buffer.concat(parts));
}

export function encodeUnsubscribe(level: 4 | 5, messageId: number, filters: readonly WireString[], firstByte = 0xa2): Buffer {
  const parts: Buffer[] = [u16(messageId)];
  if (level === 5) parts.push(Buffer.from([0]));
  for (const filter of filters) parts.push(utf8Field(filter));
  return encodeRawPacket(firstByte, Buffer.concat(parts));
}

/** PUBLISH with a topic name mqtt-packet would refuse to encode (empty, U+0000, wildcards). */
function encodePublish(level: 4 | 5, topic: WireString, qos: 0 | 1, messageId: number, payload: string): Buffer {
  const parts: Buffer[] = [utf8Field(topic)];
  if (qos > 0) parts.push(u16(messageId));
  if (level === 5) parts.push(Buffer.from([0]));
  parts.push(Buffer.from(payload));
  return encodeRawPacket(0x30 | (qos << 1), Buffer.concat(parts));
}

/** v5 subscription options byte. */
export function options(qos: number, o: { noLocal?: boolean; retainAsPublished?: boolean; retainHandling?: number } = {}): number {
  return qos | (o.noLocal ? 0x04 : 0) | (o.retainAsPublished ? 0x08 : 0) | ((o.retainHandling ?? 0) << 4);
}

/** The DISCONNECT reason the broker sent before closing, if it sent one. */
function disconnectReason(client: RawClient): number | undefined {
  const d = client.received.find((p) => p.cmd === 'disconnect');
  return d && d.cmd === 'disconnect' ? (d.reasonCode ?? 0) : undefined;
}

/** What is wrong with how the broker closed `client`: a DISCONNECT whose reason is not an error code. */
function closeProblem(client: RawClient, what: string): string | undefined {
  const rc = disconnectReason(client);
  return rc === undefined || rc >= 0x80 ? undefined : `${what}: the broker closed with DISCONNECT ${hex(rc)}, which is not an error code`;
}

type Reply<T> = { closed: true } | { closed: false; packet: T };

/** The next `cmd` packet, or `closed` when the broker closes the connection instead. */
async function replyOrClose<C extends 'suback' | 'unsuback' | 'puback'>(
  ctx: CheckContext,
  client: RawClient,
  cmd: C,
): Promise<Reply<PacketOf<C>>> {
  try {
    return { closed: false, packet: await client.next(cmd, ctx.timeoutMs) };
  } catch (err) {
    if (client.closedByBroker) return { closed: true };
    throw new CheckFailed((err as Error).message);
  }
}

/**
 * Subscribing to `filter` on a fresh connection is refused: the broker closes the connection (after an error
 * DISCONNECT, or none), or answers with a SUBACK whose only code is a failure (3.1.1: 0x80; 5.0: a SUBACK failure code).
 * Returns what went wrong, or undefined.
 */
async function filterRefusalProblem(ctx: CheckContext, filter: WireString, opts: number): Promise<string | undefined> {
  const c = await ctx.connect();
  const what = `SUBSCRIBE to ${JSON.stringify(filter.toString())}`;
  c.sendRaw(encodeSubscribe(ctx.level, 7, [[filter, opts]]));
  const reply = await replyOrClose(ctx, c, 'suback');
  if (reply.closed) return closeProblem(c, what);
  const granted = reply.packet.granted as number[];
  if (granted.length !== 1) return `${what}: SUBACK has ${granted.length} codes for 1 filter`;
  const failures = subackCodes(ctx).filter((x) => x >= 0x80);
  return failures.includes(granted[0])
    ? undefined
    : `${what}: expected the broker to refuse it (close, or SUBACK ${failures.map(hex).join('/')}), but SUBACK answered ${hex(granted[0])}`;
}

/** Each of `filters`, on a fresh connection of its own, is refused (see filterRefusalProblem); names every one that is not. */
export async function expectFiltersRefused(ctx: CheckContext, filters: readonly WireString[], opts = 0): Promise<void> {
  const problems: string[] = [];
  for (const f of filters) {
    const problem = await filterRefusalProblem(ctx, f, opts);
    if (problem !== undefined) problems.push(problem);
  }
  expectThat(problems.length === 0, problems.join('; '));
}

/**
 * Publishing QoS 1 to an invalid topic name on a fresh connection is refused: the connection closes, or (5.0 only) a
 * PUBACK of 0x80 or more answers it. `watcher` (subscribed where the message would land) must not receive it.
 */
export async function expectTopicNameRefused(ctx: CheckContext, topic: WireString, watcher?: RawClient): Promise<void> {
  const c = await ctx.connect();
  const what = `PUBLISH to ${JSON.stringify(topic.toString())}`;
  c.sendRaw(encodePublish(ctx.level, topic, 1, 9, 'must-not-arrive'));
  const reply = await replyOrClose(ctx, c, 'puback');
  if (reply.closed) {
    const problem = closeProblem(c, what);
    expectThat(problem === undefined, problem ?? '');
  } else {
    const rc = reply.packet.reasonCode ?? 0;
    expectThat(
      ctx.level === 5 && rc >= 0x80,
      `${what}: expected the broker to close the connection${ctx.level === 5 ? ' or answer PUBACK 0x80 or more' : ''}, but it answered PUBACK ${hex(rc)}`,
    );
  }
  if (watcher) {
    const got = (await gather(watcher, QUIET_MS)).filter((p) => p.payload.toString() === 'must-not-arrive');
    expectThat(got.length === 0, `${what}: the refused message was delivered to a subscriber as ${JSON.stringify(got[0]?.topic)}`);
  }
}

/**
 * Every PUBLISH arriving on `client` within `ms` (or until `until` holds for what arrived), acknowledged per its QoS
 * so that QoS 1 and 2 flows keep moving.
 */
export async function gather(client: RawClient, ms: number, until?: (got: IPublishPacket[]) => boolean): Promise<IPublishPacket[]> {
  const [got] = await gatherAll([client], ms, until && ((all) => until(all[0])));
  return got;
}

/** `gather` on several clients at once, one list each; `until` sees all the lists. */
export async function gatherAll(
  clients: readonly RawClient[],
  ms: number,
  until?: (got: IPublishPacket[][]) => boolean,
): Promise<IPublishPacket[][]> {
  const got: IPublishPacket[][] = clients.map(() => []);
  const deadline = Date.now() + ms;
  await Promise.all(
    clients.map(async (client, i) => {
      while (!(until?.(got) ?? false)) {
        const left = deadline - Date.now();
        if (left <= 0) return;
        let p: IPublishPacket;
        try {
          // Short waits, so a client stops soon after `until` is met through another client's deliveries.
          p = await client.next('publish', Math.min(left, 50));
        } catch {
          if (client.closedByBroker) return;
          continue;
        }
        got[i].push(p);
        await client.acknowledge(p);
      }
    }),
  );
  return got;
}

/** Payloads of `publishes` as text. */
export function texts(publishes: readonly IPublishPacket[]): string[] {
  return publishes.map((p) => p.payload.toString());
}

/** Waits until one of `clients` has a PUBLISH queued and takes it (without acknowledging). */
export async function firstDelivery(clients: readonly RawClient[], timeoutMs: number): Promise<{ index: number; publish: IPublishPacket }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (let i = 0; i < clients.length; i++) {
      if (clients[i].pending().some((p) => p.cmd === 'publish')) return { index: i, publish: await clients[i].next('publish', 1) };
    }
    if (Date.now() > deadline) throw new CheckFailed(`no subscriber received the message within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** The part of the check's topic prefix unique to this check and run (the level after "mqbench-conformance"). */
export function runTag(ctx: CheckContext): string {
  return ctx.topic('x').split('/')[1];
}

/** The QoS a publisher may use: `wanted`, capped at what the broker declared. */
export function usableQoS(ctx: CheckContext, wanted: 0 | 1 | 2): 0 | 1 | 2 {
  return Math.min(wanted, ctx.capabilities.maximumQoS) as 0 | 1 | 2;
}

/** Subscription identifiers carried by a delivered PUBLISH (v5), as a list. */
export function subscriptionIds(p: IPublishPacket): number[] {
  const id = p.properties?.subscriptionIdentifier;
  return id === undefined ? [] : Array.isArray(id) ? id : [id];
}

/**
 * CONNECT options for a session that outlives its connection: 3.1.1 CleanSession 0; 5.0 a Session Expiry Interval
 * of a minute, with Clean Start only on the first connection (`resume` false).
 */
export function persistentSession(ctx: CheckContext, clientId: string, resume: boolean): ConnectOptions {
  return ctx.level === 5
    ? { clientId, clean: !resume, properties: { sessionExpiryInterval: 60 } }
    : { clientId, clean: false };
}
