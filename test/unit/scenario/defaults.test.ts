import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, SESSION_NEVER_EXPIRES, TIMESTAMP_HEADER_BYTES, type ConnectStep, type PublishStep, type SubscribeStep } from '../../../src/scenario/schema.js';
import { FILE, load, yaml } from './load-helpers.js';

describe('defaults', () => {
  const text = yaml(
    'groups:',
    '  - name: g',
    '    steps:',
    '      - connect',
    '      - subscribe: a/#',
    '      - publish: { topic: a/b, count: 1 }',
    '      - unsubscribe',
    '      - wait: 1s',
    '      - disconnect',
  );
  const s = load(text);

  it('fills every top-level setting', () => {
    expect(s).toMatchObject({
      name: 'test',
      description: '',
      broker: { target: { kind: 'bundled' }, protocolVersion: 4, username: undefined, password: undefined, tls: undefined },
      durationMs: undefined,
      drainMs: 1_000,
      sysTopics: true,
      workers: 'auto',
      out: undefined,
      thresholds: [],
      source: { file: FILE, text },
    });
  });

  it('fills every group setting', () => {
    const g = s.groups[0];
    expect(g).toMatchObject({
      name: 'g',
      clients: 1,
      clientId: { source: '{group}-{i}' },
      randomSuffix: 0,
      allowDuplicateClientIds: false,
      protocolVersion: 4,
      username: undefined,
      password: undefined,
      startTimeMs: 0,
      arrival: { kind: 'all-at-once' },
    });
    expect(g.steps.map((x) => x.kind)).toEqual(['connect', 'subscribe', 'publish', 'unsubscribe', 'wait', 'disconnect']);
  });

  it('fills every step setting', () => {
    const [connect, subscribe, publish, unsubscribe, wait, disconnect] = s.groups[0].steps;
    expect(connect).toEqual<ConnectStep>({
      kind: 'connect',
      at: { line: 4, col: 9 },
      keepaliveSec: 60,
      clean: true,
      sessionExpirySec: 0,
      timeoutMs: 10_000,
      attempts: 1,
      reconnectAttempts: 0,
      backoffMs: 1_000,
      maxBackoffMs: 30_000,
      will: undefined,
      consumeRatePerSec: undefined,
    });
    expect(subscribe).toMatchObject<Partial<SubscribeStep>>({
      subscriptionId: undefined,
      sampleEvery: { kind: 'time', everyMs: 1_000 },
    });
    expect((subscribe as SubscribeStep).subscriptions).toEqual([
      { filter: expect.objectContaining({ source: 'a/#' }), qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
    ]);
    expect(publish).toMatchObject<Partial<PublishStep>>({
      qos: 0,
      retain: false,
      payload: { kind: 'empty' },
      timestamp: true,
      rate: undefined,
      clientIntervalUs: 0,
      count: 1,
      durationMs: undefined,
    });
    // A bare unsubscribe takes back what was subscribed before it.
    expect(unsubscribe).toMatchObject({ kind: 'unsubscribe', filters: [expect.objectContaining({ source: 'a/#' })] });
    expect(wait).toEqual({ kind: 'wait', at: { line: 8, col: 9 }, durationMs: 1_000 });
    expect(disconnect).toEqual({ kind: 'disconnect', at: { line: 9, col: 9 }, abrupt: false, reasonCode: 0 });
  });

  it('publishes the constants the engine relies on', () => {
    expect(TIMESTAMP_HEADER_BYTES).toBe(24);
    expect(SESSION_NEVER_EXPIRES).toBe(0xffffffff);
    expect(DEFAULTS.protocolVersion).toBe(4);
  });

  it('names an unnamed scenario after its file', () => {
    expect(load(yaml('groups: [{ name: g, steps: [connect] }]')).name).toBe('test');
    expect(load(yaml('name: mine', 'groups: [{ name: g, steps: [connect] }]')).name).toBe('mine');
  });
});

describe('every key set', () => {
  it('reads a scenario that sets everything', () => {
    const s = load(
      yaml(
        'name: full',
        'description: all keys',
        'broker:',
        '  url: mqtt://user:secret@primary.example:1884',
        '  hosts: [backup.example, "backup2.example:1999", "mqtt://[::1]:1885"]',
        '  protocol: 5',
        'duration: 1m',
        'drain: 2s',
        'workers: 4',
        'out: reports/full',
        'thresholds: ["e2e.p99 < 20ms", "group(pub).errors == 0"]',
        'groups:',
        '  - name: pub',
        '    clients: 10',
        '    clientId: "p-{rand:1000}"',
        '    randomSuffix: 4',
        '    protocol: 3.1.1',
        '    username: other',
        '    password: pw',
        '    startTime: 2s',
        '    connectRate: 5/s',
        '    steps:',
        '      - connect:',
        '          keepalive: 30s',
        '          clean: false',
        '          timeout: 3s',
        '          attempts: 3',
        '          reconnects: unlimited',
        '          backoff: 200ms',
        '          maxBackoff: 5s',
        '          consumeRate: 100/s',
        '          will: { topic: "status/{client}", payload: gone, qos: 1, retain: true }',
        '      - repeat:',
        '          times: 3',
        '          steps:',
        '            - publish:',
        '                topic: "data/{i}/{seq}"',
        '                qos: 2',
        '                retain: true',
        '                payload: { hex: "de ad BE EF" }',
        '                timestamp: false',
        '                totalRate: 100/s',
        '                duration: 5s',
        '                count: 50',
        '            - wait: { duration: 500ms }',
        '      - disconnect: { abrupt: true }',
        '  - name: sub',
        '    rampUp: 1s',
        '    clients: 4',
        '    steps:',
        '      - connect: { sessionExpiry: never, clean: false }',
        '      - subscribe:',
        '          qos: 1',
        '          noLocal: true',
        '          subscriptionId: 7',
        '          sampleEvery: 100 messages',
        '          topics:',
        '            - data/#',
        '            - { topic: status/+, qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 2 }',
        '      - unsubscribe: { topics: [data/#] }',
        '      - disconnect: { reasonCode: 4 }',
      ),
    );
    expect(s).toMatchObject({ name: 'full', description: 'all keys', durationMs: 60_000, drainMs: 2_000, workers: 4, out: 'reports/full' });
    expect(s.thresholds.map((t) => t.text)).toEqual(['e2e.p99 < 20ms', 'group(pub).errors == 0']);
    expect(s.thresholds[0].threshold).toMatchObject({ kind: 'latency', metric: 'e2e', stat: 'p99', value: 20_000 });
    expect(s.broker).toEqual({
      target: {
        kind: 'remote',
        transport: 'mqtt',
        hosts: [
          { host: 'primary.example', port: 1884 },
          { host: 'backup.example', port: 1883 },
          { host: 'backup2.example', port: 1999 },
          { host: '::1', port: 1885 },
        ],
        path: '',
        url: 'mqtt://primary.example:1884',
      },
      protocolVersion: 5,
      username: 'user',
      password: 'secret',
      tls: undefined,
      sourceAddresses: [],
    });
    const [pub, sub] = s.groups;
    expect(pub).toMatchObject({
      clients: 10,
      randomSuffix: 4,
      protocolVersion: 4,
      username: 'other',
      password: 'pw',
      startTimeMs: 2_000,
      arrival: { kind: 'rate', perSec: 5 },
    });
    expect(pub.steps[0]).toMatchObject({
      keepaliveSec: 30,
      clean: false,
      timeoutMs: 3_000,
      attempts: 3,
      reconnectAttempts: Infinity,
      backoffMs: 200,
      maxBackoffMs: 5_000,
      consumeRatePerSec: 100,
      will: { topic: { source: 'status/{client}' }, payload: { kind: 'text', text: 'gone' }, qos: 1, retain: true, delaySec: 0 },
    });
    expect(pub.steps[1]).toMatchObject({ kind: 'repeat', times: 3, durationMs: undefined });
    const repeat = pub.steps[1];
    if (repeat.kind !== 'repeat') throw new Error('expected repeat');
    expect(repeat.steps[0]).toMatchObject({
      qos: 2,
      retain: true,
      payload: { kind: 'hex', hex: 'deadbeef' },
      timestamp: false,
      rate: { perSec: 100, per: 'group' },
      clientIntervalUs: 100_000,
      count: 50,
      durationMs: 5_000,
    });
    expect(repeat.steps[1]).toMatchObject({ kind: 'wait', durationMs: 500 });
    expect(pub.steps[2]).toMatchObject({ kind: 'disconnect', abrupt: true });
    expect(sub.arrival).toEqual({ kind: 'ramp-up', durationMs: 1_000 });
    expect(sub.username).toBe('user');
    expect(sub.protocolVersion).toBe(5);
    expect(sub.steps[0]).toMatchObject({ sessionExpirySec: SESSION_NEVER_EXPIRES, clean: false });
    const subscribe = sub.steps[1] as SubscribeStep;
    expect(subscribe.subscriptionId).toBe(7);
    expect(subscribe.sampleEvery).toEqual({ kind: 'messages', every: 100 });
    expect(subscribe.subscriptions.map(({ filter, ...o }) => ({ filter: filter.source, ...o }))).toEqual([
      { filter: 'data/#', qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 0 },
      { filter: 'status/+', qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 2 },
    ]);
    expect(sub.steps[2]).toMatchObject({ kind: 'unsubscribe', filters: [{ source: 'data/#' }] });
    expect(sub.steps[3]).toMatchObject({ kind: 'disconnect', reasonCode: 4 });
  });

  it('reads TLS settings, with files relative to the scenario', (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'mqbench-tls-'));
    ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    for (const f of ['ca.pem', 'client.pem', 'client.key', 'client.p12']) writeFileSync(join(dir, f), 'x');
    const base = ['groups: [{ name: g, steps: [connect] }]'];
    const s = load(yaml('broker:', '  url: mqtts://secure.example', '  tls: { ca: ca.pem, cert: client.pem, key: client.key, verify: false, serverName: broker }', ...base), { baseDir: dir });
    expect(s.broker.target).toMatchObject({ transport: 'mqtts', hosts: [{ host: 'secure.example', port: 8883 }] });
    expect(s.broker.tls).toEqual({
      ca: join(dir, 'ca.pem'),
      cert: join(dir, 'client.pem'),
      key: join(dir, 'client.key'),
      pfx: undefined,
      passphrase: undefined,
      verify: false,
      serverName: 'broker',
    });
    const p12 = load(yaml('broker:', '  url: wss://secure.example/ws', '  tls: { pfx: client.p12, passphrase: "${P12_PASS}" }', ...base), { baseDir: dir, env: { P12_PASS: 'open' } });
    expect(p12.broker.target).toMatchObject({ transport: 'wss', path: '/ws', hosts: [{ port: 443 }] });
    expect(p12.broker.tls).toMatchObject({ pfx: join(dir, 'client.p12'), passphrase: 'open', verify: true });
    // A TLS URL without a tls section verifies the server against the system's CAs.
    const plain = load(yaml('broker: mqtts://secure.example', ...base));
    expect(plain.broker.tls).toEqual({ ca: undefined, cert: undefined, key: undefined, pfx: undefined, passphrase: undefined, verify: true, serverName: undefined });
  });

  it('reads every payload form; a file is found relative to the scenario and its size taken', (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'mqbench-payload-'));
    ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'reading.json'), '{"t":21.5}');
    const s = load(
      yaml(
        'groups:',
        '  - name: g',
        '    steps:',
        '      - connect',
        '      - publish: { topic: t, count: 1, payload: plain text }',
        '      - publish: { topic: t, count: 1, payload: { text: "x" } }',
        '      - publish: { topic: t, count: 1, payload: { hex: "0x0A0b" } }',
        '      - publish: { topic: t, count: 1, payload: { size: 1KiB } }',
        '      - publish: { topic: t, count: 1, payload: { file: reading.json } }',
        '      - publish: { topic: t, count: 1, payload: 42 }',
      ),
      { baseDir: dir },
    );
    expect(s.groups[0].steps.slice(1).map((p) => (p as PublishStep).payload)).toEqual([
      { kind: 'text', text: 'plain text' },
      { kind: 'text', text: 'x' },
      { kind: 'hex', hex: '0a0b' },
      { kind: 'random', sizeBytes: 1024 },
      { kind: 'file', path: join(dir, 'reading.json'), sizeBytes: 10 },
      { kind: 'text', text: '42' },
    ]);
  });

  it('follows YAML anchors and merge keys, so groups can share settings', () => {
    const s = load(
      yaml(
        'groups:',
        '  - &base',
        '    name: a',
        '    clients: 3',
        '    steps:',
        '      - connect: &conn { keepalive: 15s, clean: false }',
        '  - <<: *base',
        '    name: b',
        '    steps:',
        '      - connect: *conn',
        '      - wait: 1s',
      ),
    );
    expect(s.groups.map((g) => [g.name, g.clients, g.steps.length])).toEqual([
      ['a', 3, 1],
      ['b', 3, 2],
    ]);
    expect(s.groups[1].steps[0]).toMatchObject({ keepaliveSec: 15, clean: false });
  });

  it('reads WebSocket URLs with their default path and ports', () => {
    const base = 'groups: [{ name: g, steps: [connect] }]';
    expect(load(yaml('broker: ws://h', base)).broker.target).toMatchObject({ transport: 'ws', path: '/mqtt', hosts: [{ host: 'h', port: 80 }], url: 'ws://h/mqtt' });
    expect(load(yaml('broker: ws://h:9001/', base)).broker.target).toMatchObject({ path: '/', hosts: [{ port: 9001 }] });
    expect(load(yaml('broker: { url: bundled, protocol: 3.1 }', base)).broker).toMatchObject({ target: { kind: 'bundled' }, protocolVersion: 3 });
  });
});
