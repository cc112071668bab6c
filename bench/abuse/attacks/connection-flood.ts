/**
 * A connection flood: thousands of clients open their connections and send CONNECT all at once; reports how long
 * their CONNACKs took and how many never came.
 */
import { MqttClient, connackCode } from '../../harness/mqtt-client.js';
import type { Attack, AttackOutcome, AttackTarget } from '../attack.js';
import { CONNECT_TIMEOUT_MS, percentile, sleep } from './tools.js';

const CLIENTS = 3_000;
const HOLD_MS = 1_000;

async function connectionFlood(target: AttackTarget): Promise<AttackOutcome> {
  const clients: MqttClient[] = [];
  const times: number[] = [];
  let refused = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  try {
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const started = performance.now();
        try {
          const [client, connack] = await MqttClient.open({
            host: target.host,
            port: target.port,
            connect: { cmd: 'connect', protocolVersion: 4, clientId: `abuse-flood-${i}`, clean: true, keepalive: 60 },
            name: `abuse-flood-${i}`,
            timeoutMs: CONNECT_TIMEOUT_MS,
          });
          clients.push(client);
          if (connackCode(connack) === 0) times.push(performance.now() - started);
          else refused++;
        } catch (err) {
          failed++;
          firstFailure ??= (err as Error).message;
        }
      }),
    );
    const inFlightBytes = clients.reduce((sum, c) => sum + c.bytesWritten, 0);
    await sleep(HOLD_MS);
    return {
      inFlightBytes,
      facts: [
        { label: 'connected', value: times.length, unit: 'count' },
        { label: 'CONNACK p50', value: percentile(times, 50), unit: 'ms' },
        { label: 'CONNACK max', value: percentile(times, 100), unit: 'ms' },
        { label: 'refused or failed', value: refused + failed, unit: 'count' },
      ],
      notes: firstFailure ? [`first failure: ${firstFailure}`] : [],
    };
  } finally {
    for (const c of clients) c.destroy();
  }
}

export const CONNECTION_FLOOD: Attack = {
  name: 'connection-flood',
  title: `${CLIENTS.toLocaleString('en-US')} clients connect at once`,
  run: connectionFlood,
};
