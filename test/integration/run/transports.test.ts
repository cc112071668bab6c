/**
 * Clients over TLS (server verification, client certificates, PKCS#12) and WebSocket (plain and TLS), against the
 * bundled broker behind a TLS terminator or a WebSocket bridge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenarioText } from '../../../src/scenario/index.js';
import { readTls, runScenario } from '../../../src/run/run.js';
import type { RunResult } from '../../../src/run/result.js';
import { startBroker, type RunningBroker } from '../../../broker/index.js';
import { makeCertificates, startTlsFront, startWebSocketFront, type Certificates, type Front } from '../../helpers/transport-fixtures.js';

let broker: RunningBroker;
let certs: Certificates;
const fronts: Front[] = [];

beforeAll(async () => {
  broker = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], logTypes: new Set(['error']) });
  certs = makeCertificates();
});

afterAll(async () => {
  for (const f of fronts) await f.close();
  await broker.close();
  certs.remove();
});

async function front(f: Promise<Front>): Promise<Front> {
  const x = await f;
  fronts.push(x);
  return x;
}

/** One subscriber, one publisher, 50 QoS 1 messages, against `brokerYaml`. */
async function exchange(brokerYaml: string): Promise<RunResult> {
  // sysTopics: false — the $SYS reader's connection is not one of the scenario's (the fronts count connections).
  const yaml = `
name: transport
sysTopics: false
broker:
${brokerYaml}
groups:
  - name: sub
    steps:
      - connect: { timeout: 3s }
      - subscribe: { topic: "tr/#", qos: 1 }
  - name: pub
    startTime: 300ms
    steps:
      - connect: { timeout: 3s }
      - publish: { topic: tr/x, qos: 1, count: 50 }
      - disconnect
`;
  const loaded = loadScenarioText(yaml, 'transport.yaml');
  if ('problems' in loaded) throw new Error(loaded.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n'));
  const s = loaded.scenario;
  if (s.broker.target.kind !== 'remote') throw new Error('expected a remote target');
  const { result } = await runScenario({
    scenario: s,
    endpoint: { transport: s.broker.target.transport, hosts: s.broker.target.hosts, path: s.broker.target.path, tls: readTls(s.broker.tls) },
    target: { kind: 'remote', url: s.broker.target.url, protocol: '3.1.1' },
    workers: 1,
    version: 'test',
  });
  return result;
}

function expectAllDelivered(r: RunResult): void {
  expect(r.totals.errors).toEqual({});
  expect(r.delivery.total).toMatchObject({ sent: 50, acknowledged: 50, received: 50, lost: 0, duplicated: 0 });
}

describe('TLS (mqtts://)', () => {
  it('verifies the server against the given CA and delivers everything', async () => {
    const f = await front(startTlsFront(broker, certs));
    expectAllDelivered(await exchange(`  url: mqtts://localhost:${f.port}\n  tls: { ca: ${certs.ca} }`));
  });

  it('refuses a server it cannot verify, unless verify is false', async () => {
    const f = await front(startTlsFront(broker, certs));
    const refused = await exchange(`  url: mqtts://localhost:${f.port}`);
    expect(refused.totals.counters.connectsOk).toBe(0);
    expect(refused.totals.counters.connectsFailed).toBe(2);
    expect(Object.keys(refused.totals.errors)).toEqual(['tls-error']);
    expectAllDelivered(await exchange(`  url: mqtts://localhost:${f.port}\n  tls: { verify: false }`));
  });

  it('presents a client certificate from PEM files or from a PKCS#12 bundle with its passphrase', async () => {
    const f = await front(startTlsFront(broker, certs, true));
    expectAllDelivered(await exchange(`  url: mqtts://localhost:${f.port}\n  tls: { ca: ${certs.ca}, cert: ${certs.clientCert}, key: ${certs.clientKey} }`));
    expectAllDelivered(
      await exchange(`  url: mqtts://localhost:${f.port}\n  tls: { ca: ${certs.ca}, pfx: ${certs.clientPfx}, passphrase: ${certs.pfxPassphrase} }`),
    );
    const without = await exchange(`  url: mqtts://localhost:${f.port}\n  tls: { ca: ${certs.ca} }`);
    expect(without.totals.counters.connectsOk).toBe(0);
  });
});

describe('WebSocket (ws://, wss://)', () => {
  it('carries MQTT over ws:// on the URL path', async () => {
    const f = await front(startWebSocketFront(broker, '/mqtt'));
    expectAllDelivered(await exchange(`  url: ws://127.0.0.1:${f.port}/mqtt`));
    expect(f.accepted).toBe(2);
  });

  it('carries MQTT over wss:// verified against the CA', async () => {
    const f = await front(startWebSocketFront(broker, '/ws', certs));
    expectAllDelivered(await exchange(`  url: wss://localhost:${f.port}/ws\n  tls: { ca: ${certs.ca} }`));
  });
});
