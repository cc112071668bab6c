/**
 * The bundled broker's `GET /metrics`: what a scrape shows for clients, sessions, subscriptions, retained messages,
 * queued and in-flight messages, traffic and the process; the config file lines and `mqbench broker --metrics-port`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../broker/config.js';
import { brokerVersion, startBroker, type RunningBroker } from '../../../broker/index.js';
import { httpRequest, scrape, valueOf, type Exposition } from '../../helpers/prometheus.js';
import { TestResources, uniqueName } from '../../helpers/raw-client.js';

const root = resolve(__dirname, '../../..');
const bin = join(root, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-broker-metrics-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const res = new TestResources();
let broker: RunningBroker | undefined;
afterEach(async () => {
  await res.releaseAll();
  await broker?.close();
  broker = undefined;
});

async function start(): Promise<RunningBroker> {
  broker = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], metrics: { host: '127.0.0.1', port: 0 }, logSink: () => undefined });
  return broker;
}

const v = (e: Exposition, name: string) => valueOf(e, name, {});

/** Scrapes until `ok` holds (the broker counts as it serves; a scrape may come a moment early), at most 5 s. */
async function scrapeUntil(url: string, ok: (e: Exposition) => boolean): Promise<Exposition> {
  const until = Date.now() + 5_000;
  for (;;) {
    const e = await scrape(url);
    if (ok(e) || Date.now() > until) return e;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the bundled broker’s /metrics', () => {
  it('shows a connected client, its subscription, a retained message, queued and in-flight messages, and traffic', async () => {
    const b = await start();
    const url = b.metrics!.url;
    const before = await scrape(url);
    expect(v(before, 'mqbench_broker_clients_connected')).toBe(0);
    expect(v(before, 'mqbench_broker_sessions')).toBe(0);
    const retainedBefore = v(before, 'mqbench_broker_retained_messages')!;
    const retainedBytesBefore = v(before, 'mqbench_broker_retained_bytes')!;

    const pub = await res.connect(b, 4, { clientId: uniqueName('m-pub') });
    await pub.publish('metrics/kept', 'hello', { qos: 1, retain: true });
    // A persistent session, offline, with a subscription: QoS 1 messages queue for it.
    const away = await res.connect(b, 4, { clientId: uniqueName('m-away'), clean: false });
    await away.subscribe('queue/#', 1);
    await away.disconnect();
    // A connected subscriber that does not acknowledge: QoS 1 messages stay in flight.
    const slow = await res.connect(b, 4, { clientId: uniqueName('m-slow') });
    await slow.subscribe('flight/#', 1);
    for (let i = 0; i < 3; i++) await pub.publish('queue/x', 'abcd', { qos: 1 });
    for (let i = 0; i < 2; i++) await pub.publish('flight/x', 'xy', { qos: 1 });

    const e = await scrapeUntil(url, (x) => v(x, 'mqbench_broker_inflight_messages') === 2);
    expect(v(e, 'mqbench_broker_clients_connected')).toBe(2);
    expect(v(e, 'mqbench_broker_clients_maximum')).toBe(2);
    expect(v(e, 'mqbench_broker_sessions')).toBe(3);
    expect(v(e, 'mqbench_broker_subscriptions')).toBe(2);
    expect(v(e, 'mqbench_broker_retained_messages')).toBe(retainedBefore + 1);
    expect(v(e, 'mqbench_broker_retained_bytes')).toBe(retainedBytesBefore + 5);
    expect(v(e, 'mqbench_broker_queued_messages')).toBe(3);
    expect(v(e, 'mqbench_broker_queued_bytes')).toBe(12);
    expect(v(e, 'mqbench_broker_inflight_messages')).toBe(2);
    expect(v(e, 'mqbench_broker_parked_messages')).toBe(0);
    expect(v(e, 'mqbench_broker_publish_received_total')).toBe(6);
    expect(v(e, 'mqbench_broker_publish_received_bytes_total')).toBe(5 + 12 + 4);
    expect(v(e, 'mqbench_broker_publish_sent_total')).toBe(2);
    expect(v(e, 'mqbench_broker_connects_accepted_total')).toBe(3);
    expect(v(e, 'mqbench_broker_sockets_accepted_total')).toBe(3);
    expect(v(e, 'mqbench_broker_received_bytes_total')!).toBeGreaterThan(v(before, 'mqbench_broker_received_bytes_total')!);
    expect(v(e, 'mqbench_broker_packets_received_total')!).toBeGreaterThanOrEqual(3 + 2 + 6 + 1);
    expect(v(e, 'mqbench_broker_faults_total')).toBe(0);
    expect(v(e, 'mqbench_broker_publish_dropped_total')).toBe(0);
    expect(v(e, 'process_resident_memory_bytes')!).toBeGreaterThan(10_000_000);
    expect(v(e, 'process_cpu_seconds_total')!).toBeGreaterThan(0);
    expect(v(e, 'nodejs_heap_size_used_bytes')!).toBeGreaterThan(0);
    expect(e.families.get('mqbench_broker_info')!.samples).toEqual([{ name: 'mqbench_broker_info', labels: { version: brokerVersion() }, value: 1 }]);
    expect(e.families.get('mqbench_broker_uptime_seconds')!.type).toBe('gauge');

    await pub.disconnect();
    await slow.disconnect();
    const after = await scrapeUntil(url, (x) => v(x, 'mqbench_broker_clients_connected') === 0);
    expect(v(after, 'mqbench_broker_clients_connected')).toBe(0);
    expect(v(after, 'mqbench_broker_sessions')).toBe(1); // the persistent one
    expect(v(after, 'mqbench_broker_clients_maximum')).toBe(2);
  });

  it('stops serving when the broker closes, and a metrics port in use fails the start with the address named', async () => {
    const b = await start();
    const { url, port } = b.metrics!;
    expect((await httpRequest(url)).status).toBe(200);
    await b.close();
    broker = undefined;
    await expect(httpRequest(url, { timeoutMs: 2_000 })).rejects.toThrow(/ECONNREFUSED/);

    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(port, '127.0.0.1', done));
    try {
      await expect(
        startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], metrics: { host: '127.0.0.1', port }, logSink: () => undefined }),
      ).rejects.toThrow(`cannot serve metrics on 127.0.0.1:${port}: address already in use`);
    } finally {
      await new Promise((done) => blocker.close(done));
    }
  });

  it('reads metrics_port and metrics_host from the config file, and refuses a metrics_host alone', () => {
    expect(parseConfig('metrics_port 9234\n', 'a.conf').options.metrics).toEqual({ host: '127.0.0.1', port: 9234 });
    expect(parseConfig('metrics_host 0.0.0.0\nmetrics_port 0\n', 'a.conf').options.metrics).toEqual({ host: '0.0.0.0', port: 0 });
    expect(parseConfig('metrics_port 0\nmetrics_host ::1\n', 'a.conf').options.metrics).toEqual({ host: '::1', port: 0 });
    expect(parseConfig('metrics_host 0.0.0.0\n', 'a.conf').problems).toEqual([
      { file: 'a.conf', line: 1, message: 'metrics_host needs a metrics_port line as well (0 picks a free port)' },
    ]);
    expect(parseConfig('metrics_port 70000\n', 'a.conf').problems[0].message).toBe('metrics_port must be 0-65535, got "70000"');
  });
});

describe('mqbench broker --metrics-port', () => {
  it('serves the metrics of a config file’s metrics_port, says where, and stops serving on SIGINT (exit 0)', async () => {
    const conf = join(work, 'm.conf');
    writeFileSync(conf, 'listener 0 127.0.0.1\nallow_anonymous true\nmetrics_port 0\n');
    const child = spawn(process.execPath, [bin, 'broker', '-c', conf], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      const until = Date.now() + 10_000;
      let url: string | undefined;
      while ((url = /Metrics on (http:\S+)/.exec(err)?.[1]) === undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(url, err).toBeDefined();
      const e = await scrape(url!);
      expect(v(e, 'mqbench_broker_clients_connected')).toBe(0);
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      expect(code).toBe(0);
      await expect(httpRequest(url!, { timeoutMs: 2_000 })).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('fails to start, saying why, when the metrics port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = spawnSync(process.execPath, [bin, 'broker', '--port', '0', '--metrics-port', String(port)], { cwd: root, encoding: 'utf8', timeout: 15_000 });
      expect(r.status).toBe(3);
      expect(r.stderr).toContain(`cannot serve metrics on 127.0.0.1:${port}: address already in use`);
      const bad = spawnSync(process.execPath, [bin, 'broker', '--port', '0', '--metrics-host', '0.0.0.0'], { cwd: root, encoding: 'utf8', timeout: 15_000 });
      expect([bad.status, bad.stderr.trim()]).toEqual([2, 'mqbench: --metrics-host needs --metrics-port (or metrics_port in the config file)']);
    } finally {
      await new Promise((done) => blocker.close(done));
    }
  });
});
