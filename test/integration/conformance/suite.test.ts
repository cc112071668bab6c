/**
 * The whole conformance suite against real brokers: the bundled broker passes every check; Mosquitto fails only
 * checks documented as its known deviations. The other direction, brokers broken on purpose, is in
 * broken-brokers.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CHECKS } from '../../../src/conformance/checks/index.js';
import type { Check } from '../../../src/conformance/check.js';
import { MOSQUITTO_DEVIATIONS } from '../../../src/conformance/deviations/index.js';
import { runChecks, type BrokerRun, type CheckOutcome } from '../../../src/conformance/runner.js';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { startWebSocketFront } from '../../helpers/transport-fixtures.js';
import { RawClient } from '../../../src/conformance/client.js';

const line = (o: CheckOutcome) => `${o.id}: ${o.status} ${o.message ?? ''}`.slice(0, 400);
const tcpChecks = ALL_CHECKS.filter((c) => !c.id.includes('/6/'));
const wsChecks = ALL_CHECKS.filter((c) => c.id.includes('/6/'));

function suite(checks: readonly Check[], endpoint: Parameters<typeof runChecks>[1]['endpoint'], label: string): Promise<BrokerRun> {
  return runChecks(checks, { endpoint, label, versions: ['3.1.1', '5.0'], timeoutMs: 2_000, allowFail: new Set() });
}

describe.each(testBrokerKinds())('the conformance suite against %s', (kind) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker(kind, ['sys_interval 1']);
  });
  afterAll(() => broker.stop());

  it('runs every check; nothing errors, and every failure is a documented deviation', async () => {
    const run = await suite(tcpChecks, { host: broker.host, port: broker.port }, kind);
    expect(run.reachable).toBe(true);
    expect(run.checks).toHaveLength(tcpChecks.length);
    expect(run.checks.filter((o) => o.status === 'error').map(line)).toEqual([]);
    const documented = new Set(kind === 'mosquitto' ? MOSQUITTO_DEVIATIONS.map((d) => d.check) : []);
    expect(run.checks.filter((o) => o.status === 'fail' && !documented.has(o.id)).map(line)).toEqual([]);
    // Most of the suite runs: a skip needs a capability the broker declared it lacks.
    const passed = run.checks.filter((o) => o.status === 'pass').length;
    expect(passed).toBeGreaterThan(tcpChecks.length * 0.85);
    for (const o of run.checks.filter((c) => c.status === 'skip')) expect(o.message ?? '', o.id).not.toBe('');

    // The suite cleans up after itself: no retained message and no session is left behind.
    const c = await RawClient.open({ host: broker.host, port: broker.port }, 4);
    try {
      await c.connect({ clientId: `after-suite-${kind}`, clean: true });
      await c.subscribe('mqbench-conformance/#', 0);
      await c.expectNothing(1_000, 'publish');
      await c.subscribe('$SYS/broker/clients/total', 0);
      // $SYS values are published when they change, every second here: the last one seen in 2.5 s is current.
      let total = Number.NaN;
      const until = Date.now() + 2_500;
      while (Date.now() < until) {
        const p = await c.next('publish', until - Date.now()).catch(() => undefined);
        if (p === undefined) break;
        total = Number(p.payload.toString());
      }
      expect(total, 'sessions on the broker besides this client').toBe(1);
    } finally {
      c.destroy();
    }
  }, 600_000);
});

describe('the WebSocket checks', () => {
  it('pass against the bundled broker behind an MQTT-over-WebSocket front', async () => {
    const broker = await startTestBroker('bundled');
    const front = await startWebSocketFront(broker, '/mqtt');
    try {
      const run = await suite(wsChecks, { transport: 'ws', hosts: [{ host: '127.0.0.1', port: front.port }], path: '/mqtt', tls: undefined }, 'ws');
      expect(run.checks.length).toBe(wsChecks.length);
      expect(run.checks.filter((o) => o.status !== 'pass').map(line)).toEqual([]);
    } finally {
      await front.close();
      await broker.stop();
    }
  }, 120_000);
});
