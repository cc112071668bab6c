/** What the attacks share: clients that must connect, and sending under a PINGREQ-confirmed window. */
import type { IConnectPacket, Packet } from 'mqtt-packet';
import { MqttClient, connackCode } from '../../harness/mqtt-client.js';
import type { AttackTarget } from '../attack.js';

export const CONNECT_TIMEOUT_MS = 10_000;
export const ACK_TIMEOUT_MS = 10_000;

/** A connected client, or an error saying why the broker would not have it. */
export async function connected(
  target: AttackTarget,
  connect: Omit<IConnectPacket, 'cmd'> & { clientId: string },
  onPacket?: (client: MqttClient, p: Packet) => void,
): Promise<MqttClient> {
  const [client, connack] = await MqttClient.open({
    host: target.host,
    port: target.port,
    connect: { cmd: 'connect', protocolVersion: 4, clean: true, keepalive: 60, ...connect },
    name: connect.clientId,
    timeoutMs: CONNECT_TIMEOUT_MS,
    onPacket,
  });
  const code = connackCode(connack);
  if (code !== 0) {
    client.destroy();
    throw new Error(`${connect.clientId}: CONNACK code ${code}`);
  }
  return client;
}

export interface ConfirmedSend {
  /** Packets written. */
  sent: number;
  bytes: number;
  /** The most bytes written and not yet confirmed by a PINGRESP at any time. */
  maxUnconfirmed: number;
  /** Set when the broker stopped confirming (it held the sender back, or went away). */
  stalled: string | undefined;
}

/**
 * Writes `count` packets from `next(i)` in batches of about `batchBytes`, each followed by a PINGREQ; its PINGRESP
 * says the broker has read everything before it. At most two batches are unconfirmed at once, so the broker never has
 * more than about 2 × batchBytes of this sender's bytes to read. Stops early at `deadline` (performance.now()).
 */
export async function sendConfirmed(
  client: MqttClient,
  count: number,
  next: (i: number) => Buffer,
  batchBytes: number,
  deadline: number,
): Promise<ConfirmedSend> {
  const pingreq = Buffer.from([0xc0, 0x00]);
  const result: ConfirmedSend = { sent: 0, bytes: 0, maxUnconfirmed: 0, stalled: undefined };
  const pending: Array<{ bytes: number; confirmed: Promise<unknown> }> = [];
  let unconfirmed = 0;
  const awaitOldest = async (): Promise<boolean> => {
    const oldest = pending.shift()!;
    try {
      await oldest.confirmed;
    } catch (err) {
      result.stalled = (err as Error).message;
      return false;
    }
    unconfirmed -= oldest.bytes;
    return true;
  };
  while (result.sent < count && performance.now() < deadline && client.open) {
    if (pending.length >= 2 && !(await awaitOldest())) return result;
    let batch = 0;
    while (batch < batchBytes && result.sent < count) {
      const bytes = next(result.sent);
      client.write(bytes);
      batch += bytes.length;
      result.sent++;
    }
    const confirmed = client.next((p) => p.cmd === 'pingresp', ACK_TIMEOUT_MS, 'PINGRESP');
    // A rejection before it is awaited is reported when it is awaited.
    confirmed.catch(() => {});
    client.write(pingreq);
    pending.push({ bytes: batch, confirmed });
    result.bytes += batch;
    unconfirmed += batch;
    if (unconfirmed > result.maxUnconfirmed) result.maxUnconfirmed = unconfirmed;
  }
  while (pending.length > 0) if (!(await awaitOldest())) return result;
  return result;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A percentile of `values` (0–100), nearest rank; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
