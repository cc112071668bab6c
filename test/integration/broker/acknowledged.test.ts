/**
 * A QoS 1/2 message the broker has acknowledged reaches every live session subscribed at QoS ≥ 1, unless that
 * session's queue limit was reached (then the drop is counted). Here with clients that are well behaved but busy in
 * both directions at once, where holding a publisher back must not stop reading its acknowledgements.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { uniqueName } from '../../helpers/raw-client.js';
import { WindowClient } from '../../helpers/window-client.js';

let broker: TestBroker | undefined;
const clients: WindowClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.end();
  await broker?.stop();
  broker = undefined;
});

async function client(port: number, clientId: string, version: 4 | 5 = 4): Promise<WindowClient> {
  const c = await WindowClient.connect(port, { clientId, protocolVersion: version });
  clients.push(c);
  return c;
}

/** [window, QoS] cases. Mosquitto drops QoS 2 messages from a 3.1.1 publisher beyond 20 awaiting release. */
const CASES = {
  bundled: [
    [30, 1],
    [100, 1],
    [30, 2],
  ],
  mosquitto: [
    [30, 1],
    [100, 1],
  ],
} as const;

describe.each(testBrokerKinds())('%s broker: acknowledged messages between clients that publish to each other', (kind) => {
  it.each(CASES[kind])('two MQTT 3.1.1 clients, %i unacknowledged each at QoS %i, 5,000 messages each way: nothing lost', async (window, qos) => {
    // Mosquitto's defaults: 20 in flight, 1,000 queued per client.
    broker = await startTestBroker(kind, ['max_inflight_messages 20', 'max_queued_messages 1000']);
    const tag = uniqueName('crossed');
    const a = await client(broker.port, `${tag}-a`);
    const b = await client(broker.port, `${tag}-b`);
    await a.subscribe(`${tag}/to-a`, qos);
    await b.subscribe(`${tag}/to-b`, qos);
    const n = 5_000;
    await Promise.all([a.publishAll(`${tag}/to-b`, n, window, qos, 60_000), b.publishAll(`${tag}/to-a`, n, window, qos, 60_000)]);
    // Every PUBLISH was acknowledged: every message must arrive.
    await Promise.all([
      a.until(() => a.count(`${tag}/to-a`) >= n, 10_000).catch(() => undefined),
      b.until(() => b.count(`${tag}/to-b`) >= n, 10_000).catch(() => undefined),
    ]);
    expect(a.accounting(`${tag}/to-a`, n).missing, 'lost on the way to a').toBe(0);
    expect(b.accounting(`${tag}/to-b`, n).missing, 'lost on the way to b').toBe(0);
    if (qos === 2) {
      expect(a.accounting(`${tag}/to-a`, n).duplicates).toBe(0);
      expect(b.accounting(`${tag}/to-b`, n).duplicates).toBe(0);
    }
  }, 90_000);
});
