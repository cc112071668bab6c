/**
 * `runScenario` against real brokers: exact message counts, QoS promises, and loss/duplicates injected by a proxy
 * that the report must count exactly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadScenarioText } from '../../../src/scenario/index.js';
import { BrokerUnreachableError, runScenario } from '../../../src/run/run.js';
import type { RunResult } from '../../../src/run/result.js';
import { freePort } from '../../../src/launch/mosquitto.js';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { startManglingProxy, type ManglingProxy } from '../../helpers/mangling-proxy.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

async function run(yaml: string, port: number, workers = 2): Promise<RunResult> {
  const loaded = loadScenarioText(yaml, 'test.yaml');
  if ('problems' in loaded) throw new Error(loaded.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n'));
  const { result } = await runScenario({
    scenario: loaded.scenario,
    endpoint: { transport: 'mqtt', hosts: [{ host: '127.0.0.1', port }], path: '', tls: undefined },
    target: { kind: 'remote', url: `mqtt://127.0.0.1:${port}`, protocol: '3.1.1' },
    workers,
    version: 'test',
  });
  return result;
}

async function broker(kind: 'bundled' | 'mosquitto'): Promise<TestBroker> {
  const b = await startTestBroker(kind);
  stops.push(() => b.stop());
  return b;
}

describe.each(testBrokerKinds())('runs against %s', (kind) => {
  it('10 publishers x 100 QoS 1 messages: the subscriber receives exactly 1,000, none lost or duplicated', async () => {
    const b = await broker(kind);
    const result = await run(
      `
name: exact-qos1
groups:
  - name: sub
    steps:
      - connect
      - subscribe: { topic: "exact/#", qos: 1 }
  - name: pub
    clients: 10
    startTime: 300ms
    steps:
      - connect
      - publish: { topic: "exact/{client}", qos: 1, count: 100, rate: 500/s }
      - disconnect
`,
      b.port,
    );
    expect(result.totals.counters.messagesSent).toBe(1000);
    expect(result.totals.counters.acksReceived).toBe(1000);
    expect(result.totals.counters.messagesReceived).toBe(1000);
    expect(result.delivery.total).toMatchObject({ streams: 10, sent: 1000, acknowledged: 1000, received: 1000, lost: 0, duplicated: 0 });
    expect(result.delivery.verdicts).toEqual([expect.objectContaining({ qos: 1, held: true })]);
    expect(result.latency.publish?.count).toBe(1000);
    expect(result.latency.e2e?.count).toBe(1000);
    expect(result.totals.errorsTotal).toBe(0);
    expect(result.stoppedBy).toBe('completed');
  });

  it('QoS 2 to two subscribers: exactly once each', async () => {
    const b = await broker(kind);
    const result = await run(
      `
name: exact-qos2
groups:
  - name: sub
    clients: 2
    steps:
      - connect
      - subscribe: { topic: "eo/+", qos: 2 }
  - name: pub
    clients: 3
    startTime: 300ms
    steps:
      - connect
      - publish: { topic: "eo/{i}", qos: 2, count: 50 }
      - disconnect
`,
      b.port,
    );
    expect(result.delivery.summary.qos2).toMatchObject({ streams: 6, sent: 300, received: 300, lost: 0, duplicated: 0 });
    expect(result.delivery.verdicts).toEqual([expect.objectContaining({ qos: 2, held: true })]);
  });

  it('counts exactly what a proxy drops and repeats', async () => {
    const b = await broker(kind);
    const proxy: ManglingProxy = await startManglingProxy(b, (_pub, seq) =>
      seq % 10 === 3 ? 'drop' : seq % 10 === 7 ? 'repeat' : 'pass',
    );
    stops.push(() => proxy.close());
    const result = await run(
      `
name: mangled
groups:
  - name: sub
    steps:
      - connect
      - subscribe: { topic: "mangle/#", qos: 0 }
  - name: pub
    clients: 4
    startTime: 300ms
    steps:
      - connect
      - publish: { topic: "mangle/{client}", qos: 0, count: 250, rate: 1000/s }
      - disconnect
`,
      proxy.port,
    );
    expect(proxy.dropped).toBe(100);
    expect(proxy.repeated).toBe(100);
    expect(result.delivery.total).toMatchObject({ streams: 4, sent: 1000, received: 1000, lost: 100, duplicated: 100 });
    expect(result.delivery.problemStreams).toBe(4);
    expect(result.delivery.problems[0]).toMatchObject({ sent: 250, lost: 25, duplicated: 25 });
  });
});

describe('an unreachable broker', () => {
  it('fails before starting any client, naming the address', async () => {
    const port = await freePort();
    await expect(run('name: x\ngroups:\n  - name: g\n    steps: [connect]\n', port)).rejects.toThrow(BrokerUnreachableError);
    await expect(run('name: x\ngroups:\n  - name: g\n    steps: [connect]\n', port)).rejects.toThrow(
      new RegExp(`cannot reach the broker at mqtt://127.0.0.1:${port} .*connection refused`),
    );
  });
});
