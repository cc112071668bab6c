/**
 * A run ends, with the right errors, whatever the broker does: every wait for the broker is bounded by the
 * scenario's replyTimeout, a protocol violation is counted as one, and the run's own end (its duration plus the
 * drain) holds even when the broker answers nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadScenarioText } from '../../../src/scenario/index.js';
import { runScenario } from '../../../src/run/run.js';
import type { RunResult } from '../../../src/run/result.js';
import { startMisbehavingBroker, type Misbehaviour } from '../../helpers/misbehaving-broker.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

async function runAgainst(how: Misbehaviour, yaml: string): Promise<{ result: RunResult; ms: number }> {
  const b = await startMisbehavingBroker(how);
  stops.push(() => b.stop());
  const loaded = loadScenarioText(yaml, 'test.yaml');
  if ('problems' in loaded) throw new Error(loaded.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n'));
  const started = Date.now();
  const { result } = await runScenario({
    scenario: loaded.scenario,
    endpoint: { transport: 'mqtt', hosts: [{ host: '127.0.0.1', port: b.port }], path: '', tls: undefined },
    target: { kind: 'remote', url: `mqtt://127.0.0.1:${b.port}`, protocol: '3.1.1' },
    workers: 1,
    version: 'test',
  });
  return { result, ms: Date.now() - started };
}

const SUBSCRIBER = `
name: waits
replyTimeout: 1s
drain: 200ms
groups:
  - name: sub
    steps:
      - connect
      - subscribe: { topic: "t/#", qos: 1 }
      - wait: 300ms
`;

const PUBLISHER = `
name: waits
replyTimeout: 1s
drain: 200ms
groups:
  - name: pub
    steps:
      - connect
      - publish: { topic: t, qos: 1, count: 3 }
`;

const IDLE = `
name: waits
replyTimeout: 1s
drain: 200ms
groups:
  - name: idle
    steps:
      - connect: { keepalive: 1s }
      - wait: 5s
`;

describe('runs against a broker that misbehaves', () => {
  it.each([
    ['never sends SUBACK', 'no-suback', SUBSCRIBER, 'timeout-suback'],
    ['never sends PUBACK', 'no-puback', PUBLISHER, 'timeout-publish-ack'],
    ['starts a 100 MB packet and never finishes it', 'unfinished-packet', IDLE, 'timeout-packet'],
    ['goes silent after CONNACK (no PINGRESP, as a link dropped without FIN)', 'silent', IDLE, 'timeout-pingresp'],
  ] as const)('ends when the broker %s', async (_what, how, yaml, kind) => {
    const { result, ms } = await runAgainst(how, yaml);
    expect(result.totals.errors[kind], JSON.stringify(result.totals.errors)).toBeGreaterThan(0);
    // The reply timeout (1 s, checked once a second), the drain, and the workers' start and stop.
    expect(ms).toBeLessThan(8_000);
  }, 20_000);

  it.each([
    ['a DISCONNECT to an MQTT 3.1.1 client', 'disconnect-311', IDLE],
    ['a SUBACK with 200,000 return codes for one filter', 'suback-200k', SUBSCRIBER],
  ] as const)('counts %s as a protocol error', async (_what, how, yaml) => {
    const { result } = await runAgainst(how, yaml);
    expect(result.totals.errors['protocol-error'], JSON.stringify(result.totals.errors)).toBe(1);
  }, 20_000);

  it('ends at its duration plus the drain even when the broker answers nothing', async () => {
    const { result, ms } = await runAgainst(
      'silent',
      `
name: bounded
duration: 1s
drain: 500ms
replyTimeout: 60s
groups:
  - name: pub
    steps:
      - connect
      - publish: { topic: t, qos: 1, rate: 100/s }
`,
    );
    expect(result.stoppedBy).toBe('duration');
    expect(ms).toBeLessThan(6_000);
  }, 20_000);
});
