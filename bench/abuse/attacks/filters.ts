/**
 * Two clients holding 100,000 subscription filters each disconnect, and a third connects at once: a broker that
 * removes 200,000 filters in one go keeps everyone waiting meanwhile. Reports the third client's CONNECT → CONNACK.
 */
import { generate } from 'mqtt-packet';
import { MqttClient, connackCode } from '../../harness/mqtt-client.js';
import type { Attack, AttackOutcome, AttackTarget } from '../attack.js';
import { ACK_TIMEOUT_MS, CONNECT_TIMEOUT_MS, connected } from './tools.js';

const HOLDERS = 2;
const FILTERS_EACH = 100_000;
const FILTERS_PER_SUBSCRIBE = 100;
/** SUBSCRIBE packets sent before waiting for their SUBACKs. */
const SUBSCRIBE_WINDOW = 16;
const CONNACK_GOAL_MS = 100;

/** Device-style filters, as a fleet's dashboards subscribe them. */
function filter(holder: number, i: number): string {
  return `site/${holder}/device/${i}/+/state`;
}

async function subscribeAll(client: MqttClient, holder: number): Promise<void> {
  const suback = (): Promise<unknown> => client.next((p) => p.cmd === 'suback', ACK_TIMEOUT_MS, 'SUBACK');
  const waiting: Promise<unknown>[] = [];
  for (let first = 0, id = 1; first < FILTERS_EACH; first += FILTERS_PER_SUBSCRIBE, id++) {
    if (waiting.length >= SUBSCRIBE_WINDOW) await waiting.shift();
    const subscriptions = [];
    for (let i = first; i < Math.min(FILTERS_EACH, first + FILTERS_PER_SUBSCRIBE); i++) subscriptions.push({ topic: filter(holder, i), qos: 1 as const });
    waiting.push(suback());
    client.write(generate({ cmd: 'subscribe', messageId: id, subscriptions }));
  }
  await Promise.all(waiting);
}

async function filters(target: AttackTarget): Promise<AttackOutcome> {
  const holders: MqttClient[] = [];
  let next: MqttClient | undefined;
  try {
    for (let h = 0; h < HOLDERS; h++) holders.push(await connected(target, { clientId: `abuse-filters-${h}` }));
    await Promise.all(holders.map((c, h) => subscribeAll(c, h)));
    const inFlightBytes = holders.reduce((sum, c) => sum + c.bytesWritten, 0);
    for (const c of holders) c.write(Buffer.from([0xe0, 0x00]));
    const sent = performance.now();
    const [client, connack] = await MqttClient.open({
      host: target.host,
      port: target.port,
      connect: { cmd: 'connect', protocolVersion: 4, clientId: 'abuse-filters-next', clean: true, keepalive: 60 },
      name: 'abuse-filters-next',
      timeoutMs: CONNECT_TIMEOUT_MS,
    }).catch(() => [undefined, undefined] as const);
    const connackMs = client === undefined || connackCode(connack!) !== 0 ? null : performance.now() - sent;
    next = client;
    return {
      inFlightBytes,
      facts: [
        { label: 'filters', value: HOLDERS * FILTERS_EACH, unit: 'count' },
        { label: 'next CONNACK', value: connackMs, unit: 'ms', atMost: CONNACK_GOAL_MS, missing: `none within ${CONNECT_TIMEOUT_MS / 1000} s` },
      ],
      notes: [],
      rssGoalWaived:
        `${(HOLDERS * FILTERS_EACH).toLocaleString('en-US')} subscriptions are state a broker keeps, at hundreds of bytes ` +
        'each in any broker (trie nodes, per-session records), far beyond twice their bytes on the wire',
    };
  } finally {
    for (const c of holders) c.destroy();
    next?.destroy();
  }
}

export const FILTERS: Attack = {
  name: 'filters',
  title: `${HOLDERS} clients holding ${FILTERS_EACH.toLocaleString('en-US')} filters each disconnect; the next client's CONNECT → CONNACK`,
  run: filters,
};
