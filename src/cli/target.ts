/**
 * Where a run's clients connect: the bundled broker, started in this process on a free loopback port, or the
 * remote broker the scenario names.
 */
import { startBroker, type RunningBroker } from '../../broker/index.js';
import type { Endpoint } from '../engine/transport.js';
import type { RunResult } from '../run/result.js';
import { readTls } from '../run/run.js';
import { protocolName, type Scenario } from '../scenario/schema.js';

export interface OpenTarget {
  endpoint: Endpoint;
  target: RunResult['target'];
  /** The bundled broker, when the run started one. */
  broker: RunningBroker | undefined;
  close(): Promise<void>;
}

export async function openTarget(scenario: Scenario): Promise<OpenTarget> {
  const b = scenario.broker;
  const protocol = protocolName(b.protocolVersion);
  if (b.target.kind === 'bundled') {
    const broker = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], logTypes: new Set(['error']) });
    return {
      endpoint: { transport: 'mqtt', hosts: [{ host: broker.host, port: broker.port }], path: '', tls: undefined },
      target: { kind: 'bundled', url: `mqtt://${broker.host}:${broker.port}`, protocol },
      broker,
      close: () => broker.close(),
    };
  }
  const t = b.target;
  return {
    endpoint: { transport: t.transport, hosts: t.hosts, path: t.path, tls: readTls(b.tls) },
    target: { kind: 'remote', url: t.url, protocol },
    broker: undefined,
    close: async () => undefined,
  };
}
