/**
 * Where a run's clients connect: the bundled broker, started in this process on a free loopback port (or as a process
 * of its own when the scenario's faults stop and start it, or it keeps its data on disk); a Mosquitto or Aedes started
 * as a process of its own for the run (as `mqbench compare` does); or the remote broker the scenario names.
 */
import { connect } from 'node:net';
import mqtt from 'mqtt-packet';
import { startBroker, type RunningBroker } from '../../broker/index.js';
import { startLocalBroker, type LocalBroker } from '../launch/local-broker.js';
import type { Endpoint } from '../engine/transport.js';
import type { RunResult } from '../run/result.js';
import { readTls } from '../run/run.js';
import { protocolName, type Scenario } from '../scenario/schema.js';

export interface OpenTarget {
  endpoint: Endpoint;
  target: RunResult['target'];
  /** The bundled broker, when the run started one in this process. */
  broker: RunningBroker | undefined;
  /** The broker process the run started (bundled as a process, Mosquitto, Aedes): what faults stop and start. */
  process: LocalBroker | undefined;
  /** What the broker is, for the run's first line: "the bundled broker", "mosquitto 2.0.11", the URL. */
  label: string;
  close(): Promise<void>;
}

/**
 * `sys_interval` of the brokers mqbench starts for a run that reads `$SYS` (the bundled broker, Mosquitto): once a
 * second, so that even a short run has the broker's figures for every second. Aedes publishes no `$SYS/broker/...`.
 */
export const SYS_INTERVAL_SEC = 1;

export async function openTarget(scenario: Scenario): Promise<OpenTarget> {
  const b = scenario.broker;
  const protocol = protocolName(b.protocolVersion);
  const sys = scenario.sysTopics ? [`sys_interval ${SYS_INTERVAL_SEC}`] : [];
  const persistence = b.persistence !== undefined ? { persistence: b.persistence } : {};
  if (b.target.kind === 'bundled' && (scenario.faults.length > 0 || b.persistence !== undefined)) {
    // A broker to kill -9 and start again, or one with files of its own, runs as a process of its own.
    const local = await startLocalBroker('bundled', sys, persistence);
    return {
      endpoint: { transport: 'mqtt', hosts: [{ host: local.host, port: local.port }], path: '', tls: undefined },
      target: { kind: 'bundled', url: `mqtt://${local.host}:${local.port}`, protocol },
      broker: undefined,
      process: local,
      label: `the bundled broker (a process of its own${b.persistence !== undefined ? ', persistence on' : ''})`,
      close: () => local.stop(),
    };
  }
  if (b.target.kind === 'bundled') {
    const broker = await startBroker({
      listeners: [{ host: '127.0.0.1', port: 0 }],
      logTypes: new Set(['error']),
      ...(scenario.sysTopics ? { sysInterval: SYS_INTERVAL_SEC } : {}),
    });
    await warmBroker(broker.host, broker.port);
    return {
      endpoint: { transport: 'mqtt', hosts: [{ host: broker.host, port: broker.port }], path: '', tls: undefined, sources: b.sourceAddresses },
      target: { kind: 'bundled', url: `mqtt://${broker.host}:${broker.port}`, protocol },
      broker,
      process: undefined,
      label: 'the bundled broker',
      close: () => broker.close(),
    };
  }
  if (b.target.kind === 'local') {
    const local = await startLocalBroker(b.target.broker, sys, persistence);
    return {
      endpoint: { transport: 'mqtt', hosts: [{ host: local.host, port: local.port }], path: '', tls: undefined, sources: b.sourceAddresses },
      target: { kind: 'remote', url: `mqtt://${local.host}:${local.port}`, protocol },
      broker: undefined,
      process: local,
      label: `${local.label}${b.persistence !== undefined ? ' (persistence on)' : ''}`,
      close: () => local.stop(),
    };
  }
  const t = b.target;
  return {
    endpoint: { transport: t.transport, hosts: t.hosts, path: t.path, tls: readTls(b.tls), sources: b.sourceAddresses },
    target: { kind: 'remote', url: t.url, protocol },
    broker: undefined,
    process: undefined,
    label: t.url,
    close: async () => undefined,
  };
}

/**
 * A freshly started bundled broker compiles its code paths on first use; run them once (connect, subscribe,
 * QoS 0/1/2 round trips, unsubscribe, disconnect) so the run's first clients do not time that.
 */
async function warmBroker(host: string, port: number): Promise<void> {
  const socket = connect({ host, port, noDelay: true });
  const parser = mqtt.parser({ protocolVersion: 4 });
  const rounds = 300;
  let received = 0;
  const done = new Promise<void>((resolve) => {
    parser.on('packet', (p: mqtt.Packet) => {
      if (p.cmd === 'publish') {
        if (p.qos === 1) socket.write(mqtt.generate({ cmd: 'puback', messageId: p.messageId! }));
        if (p.qos === 2) socket.write(mqtt.generate({ cmd: 'pubrec', messageId: p.messageId! }));
        if (++received === rounds) resolve();
      } else if (p.cmd === 'pubrec') {
        socket.write(mqtt.generate({ cmd: 'pubrel', messageId: p.messageId! }));
      } else if (p.cmd === 'pubrel') {
        socket.write(mqtt.generate({ cmd: 'pubcomp', messageId: p.messageId! }));
      }
    });
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('error', () => resolve());
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const topic = `mqbench-warm-up/${process.pid}`;
  socket.write(mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 10 }));
  socket.write(mqtt.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 2 }] }));
  for (let i = 0; i < rounds; i++) {
    const qos = (i % 3) as 0 | 1 | 2;
    socket.write(mqtt.generate({ cmd: 'publish', topic, payload: Buffer.alloc(64), qos, messageId: qos > 0 ? (i % 60000) + 2 : undefined, dup: false, retain: false }));
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 2_000))]);
  socket.write(mqtt.generate({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: [topic] }));
  socket.end(mqtt.generate({ cmd: 'disconnect' }));
}
