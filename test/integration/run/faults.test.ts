/**
 * Broker faults over real sockets: the broker mqbench started is stopped (SIGTERM or SIGKILL) and started again during
 * a run, and the report counts per fault what the broker had acknowledged and then lost — cross-checked against an
 * independent subscriber (a persistent session of its own, over a plain socket) that was away over the same faults.
 * Mosquitto with persistence keeps what it saved on SIGTERM and loses what came after on kill -9; the bundled broker
 * (memory only) loses everything on a restart. A broker that never comes back ends the run, bounded, with the reason.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalBroker, LocalBrokerKind, LocalBrokerOptions } from '../../../src/launch/local-broker.js';
import type { RunResult } from '../../../src/run/result.js';
import { runScenario, type RunHooks } from '../../../src/run/run.js';
import { loadScenarioText } from '../../../src/scenario/index.js';
import { testBrokerKinds } from '../../helpers/brokers.js';
import { LedgerSubscriber } from '../../helpers/ledger-subscriber.js';

type Launch = typeof import('../../../src/launch/local-broker.js');
// The bundled broker runs as `mqbench broker`, from the build.
const built = pathToFileURL(resolve(import.meta.dirname, '../../../dist/src/launch/local-broker.js')).href;

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function start(kind: LocalBrokerKind, options: LocalBrokerOptions = {}): Promise<LocalBroker> {
  const { startLocalBroker } = (await import(built)) as Launch;
  const b = await startLocalBroker(kind, [], options);
  cleanup.push(() => b.stop());
  return b;
}

async function run(yaml: string, b: LocalBroker, hooks: RunHooks = {}): Promise<RunResult> {
  const loaded = loadScenarioText(yaml, 'faults.yaml', { env: {} });
  if ('problems' in loaded) throw new Error(loaded.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n'));
  const { result } = await runScenario(
    {
      scenario: loaded.scenario,
      endpoint: { transport: 'mqtt', hosts: [{ host: b.host, port: b.port }], path: '', tls: undefined },
      target: { kind: 'remote', url: `mqtt://${b.host}:${b.port}`, protocol: '3.1.1' },
      workers: 2,
      version: 'test',
      broker: b,
    },
    hooks,
  );
  return result;
}

/** Publisher groups: 30 messages at QoS 1 and 30 at QoS 2, on topics dur/<name>1/0 and dur/<name>2/0. */
function publishers(name: string, startTime: string): string {
  return [1, 2]
    .map((qos) =>
      [
        `  - name: ${name}${qos}`,
        `    startTime: ${startTime}`,
        '    steps:',
        '      - connect',
        `      - publish: { topic: "dur/${name}${qos}/{i}", qos: ${qos}, count: 30, rate: 300/s }`,
        '      - disconnect',
      ].join('\n'),
    )
    .join('\n');
}

/** Lost per topic as the report has it (streams without a problem lost nothing). */
function lostByTopic(r: RunResult, receiver: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of r.delivery.problems) if (p.receiver === receiver) out.set(p.topic, p.lost);
  return out;
}

const TOPICS = (names: string[]) => names.flatMap((n) => [`dur/${n}1/0`, `dur/${n}2/0`]);

describe('broker faults', () => {
  it.each(testBrokerKinds().filter((k) => k === 'mosquitto'))(
    '%s with persistence: a restart keeps what it saved, kill -9 loses what it acknowledged since, counted per fault',
    async () => {
      // autosave 1h: Mosquitto saves when it shuts down (SIGTERM) and at no other time of this run.
      const b = await start('mosquitto', { persistence: { autosaveSec: 3600 } });
      const ledger = new LedgerSubscriber(b.port, 'ledger');
      cleanup.push(() => ledger.close());
      await ledger.connect();
      await ledger.subscribe('dur/#');
      await ledger.disconnect();
      const yaml = [
        'name: faults-mosquitto',
        'broker: { url: mosquitto, persistence: true, autosave: 1h }',
        'drain: 1500ms',
        'thresholds:',
        '  - faults.lost.acknowledged == 0',
        'faults:',
        '  - { at: 1500ms, action: restart-broker }',
        '  - { at: 3000ms, action: kill-broker }',
        'groups:',
        '  - name: sub',
        '    clientId: durable',
        '    steps:',
        '      - connect: { clean: false }',
        '      - subscribe: { topic: "dur/#", qos: 2 }',
        '      - disconnect',
        '      - wait: 3500ms',
        '      - connect: { clean: false, attempts: 20, backoff: 100ms }',
        // a: before the restart (saved on SIGTERM); b: between the restart and kill -9 (never saved); c: after.
        publishers('a', '300ms'),
        publishers('b', '1900ms'),
        publishers('c', '3400ms'),
        // k: publishing across kill -9, connected when it comes, reconnecting after it.
        ...[1, 2].map((qos) =>
          [
            `  - name: k${qos}`,
            '    startTime: 2300ms',
            '    steps:',
            '      - connect: { reconnects: unlimited, backoff: 50ms, maxBackoff: 100ms }',
            `      - publish: { topic: "dur/k${qos}/{i}", qos: ${qos}, count: 100, rate: 100/s }`,
            '      - disconnect',
          ].join('\n'),
        ),
      ].join('\n');
      const r = await run(yaml, b);
      expect(r.stoppedBy).toBe('completed');
      expect(r.faults.map((f) => [f.action, f.brokerExit, f.error])).toEqual([
        ['restart-broker', 'exited with code 0', null],
        ['kill-broker', 'killed by SIGKILL', null],
      ]);
      for (const f of r.faults) {
        expect(f.backAtMs).toBeGreaterThan(f.firedAtMs!);
        expect(f.pidAfter).not.toBe(f.pidBefore);
      }
      const [restart, kill] = r.faults;
      expect(restart.delivery.qos1).toEqual({ acknowledged: 30, lostAcknowledged: 0, duplicated: 0 });
      expect(restart.delivery.qos2).toEqual({ acknowledged: 30, lostAcknowledged: 0, duplicated: 0 });
      // Everything acknowledged between the save and kill -9 is gone: b whole, and what k had before the kill.
      for (const level of [kill.delivery.qos1, kill.delivery.qos2]) {
        expect(level.acknowledged).toBeGreaterThan(30);
        expect(level.lostAcknowledged).toBe(level.acknowledged);
        expect(level.duplicated).toBe(0);
      }
      // Nothing acknowledged after the kill was lost: the faults account for every acknowledged loss.
      const acrossFaults = r.faults.reduce((n, f) => n + f.delivery.qos1.lostAcknowledged + f.delivery.qos2.lostAcknowledged, 0);
      expect(r.delivery.total.lostAcknowledged).toBe(acrossFaults);
      expect(r.delivery.total).toMatchObject({ sent: 380, duplicated: 0 });
      expect(r.thresholds[0]).toMatchObject({ passed: false, actual: acrossFaults });
      expect(r.passed).toBe(false);

      // The ledger was away over the same faults: what it gets now is what the broker kept.
      expect(await ledger.connect()).toBe(true);
      await ledger.waitFor(380 - r.delivery.total.lost, 5_000);
      const lost = lostByTopic(r, 'durable');
      const sent = (topic: string) => (topic.startsWith('dur/k') ? 100 : 30);
      for (const topic of TOPICS(['a', 'b', 'c', 'k'])) {
        expect({ topic, lost: lost.get(topic) ?? 0 }).toEqual({ topic, lost: sent(topic) - ledger.count(topic) });
      }
      expect(TOPICS(['a', 'c']).map((t) => ledger.count(t))).toEqual([30, 30, 30, 30]);
      expect(TOPICS(['b']).map((t) => ledger.count(t))).toEqual([0, 0]);
      expect([...ledger.repeats.values()]).toEqual([]);
    },
  );

  it('the bundled broker, restarted without persistence, loses every queued message, counted; what follows arrives', async () => {
    const b = await start('bundled');
    const ledger = new LedgerSubscriber(b.port, 'ledger');
    cleanup.push(() => ledger.close());
    await ledger.connect();
    await ledger.subscribe('dur/#');
    await ledger.disconnect();
    const yaml = [
      'name: faults-bundled',
      'broker: bundled',
      'drain: 1s',
      'faults:',
      '  - { at: 1200ms, action: restart-broker }',
      'groups:',
      '  - name: sub',
      '    clientId: durable',
      '    steps:',
      '      - connect: { clean: false }',
      '      - subscribe: { topic: "dur/#", qos: 2 }',
      '      - disconnect',
      '      - wait: 1800ms',
      '      - connect: { clean: false, attempts: 50, backoff: 100ms, maxBackoff: 200ms }',
      publishers('a', '300ms'),
      publishers('c', '3200ms'),
    ].join('\n');
    let ledgerBack: Promise<void> | undefined;
    const r = await run(yaml, b, {
      // The ledger comes back with the broker: its session is gone, so it subscribes again, in time for c.
      onFault: (phase) => {
        if (phase === 'up') ledgerBack = ledger.connect().then(() => ledger.subscribe('dur/#'));
      },
    });
    await ledgerBack;
    expect(ledger.hadSession).toBe(false);
    expect(r.stoppedBy).toBe('completed');
    const [f] = r.faults;
    expect(f).toMatchObject({ action: 'restart-broker', signal: 'SIGTERM', brokerExit: 'exited with code 0', error: null });
    expect(f.delivery.qos1).toEqual({ acknowledged: 30, lostAcknowledged: 30, duplicated: 0 });
    expect(f.delivery.qos2).toEqual({ acknowledged: 30, lostAcknowledged: 30, duplicated: 0 });
    expect(r.delivery.total).toMatchObject({ sent: 120, lost: 60, lostAcknowledged: 60, duplicated: 0 });
    await ledger.waitFor(60, 5_000);
    const lost = lostByTopic(r, 'durable');
    for (const topic of TOPICS(['a', 'c'])) {
      expect({ topic, lost: lost.get(topic) ?? 0 }).toEqual({ topic, lost: 30 - ledger.count(topic) });
    }
    expect(TOPICS(['a', 'c']).map((t) => ledger.count(t))).toEqual([0, 0, 30, 30]);
    // The subscriber found its session gone and subscribed again: c arrived.
    expect(r.totals.counters.subscribesOk).toBe(2);
  });

  it('a broker that does not come back ends the run within the time allowed, with the reason', async () => {
    const b = await start('bundled');
    let squatter: Server | undefined;
    const sockets: Socket[] = [];
    cleanup.push(() => new Promise<void>((done) => (squatter ? squatter.close(() => done()) : done())));
    const yaml = [
      'name: faults-lost',
      'broker: bundled',
      'duration: 30s',
      'replyTimeout: 2s',
      'faults:',
      '  - { at: 800ms, action: kill-broker }',
      'groups:',
      '  - name: pub',
      '    steps:',
      '      - connect: { reconnects: unlimited, backoff: 100ms, maxBackoff: 200ms }',
      '      - publish: { topic: t/1, qos: 1, rate: 50/s, duration: 25s }',
    ].join('\n');
    const started = Date.now();
    const r = await run(yaml, b, {
      // While the broker is down, another process takes its port.
      onFault: (phase) => {
        if (phase !== 'down') return;
        squatter = createServer((s) => {
          sockets.push(s);
          s.destroy();
        });
        squatter.listen(b.port, b.host);
      },
    });
    const took = Date.now() - started;
    expect(r.stoppedBy).toBe('broker-lost');
    expect(r.passed).toBe(false);
    const [f] = r.faults;
    expect(f.backAtMs).toBeNull();
    expect(f.error).toMatch(/^the broker did not come back within 2 s after fault 1 \(kill-broker\): the bundled broker failed to start on 127\.0\.0\.1:\d+/);
    expect(f.error).toMatch(/EADDRINUSE|in use/);
    // The fault at 0.8 s, 2 s of tries, 1 s of drain, and the stop: far from the 30 s the run was to last.
    expect(took).toBeLessThan(10_000);
    expect(b.exitStatus()).toBeDefined();
  });
});
