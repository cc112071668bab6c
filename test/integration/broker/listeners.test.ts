/**
 * Listeners from one mosquitto.conf, for the bundled broker and Mosquitto alike: several `listener` blocks (MQTT,
 * MQTT over TLS, WebSocket, WebSocket over TLS, TLS with client certificates as user names), each its own
 * protocol and TLS settings and max_connections; messages cross between them; the "Opening ... listen socket"
 * lines; mosquitto_pub / mosquitto_sub over TLS; tls_version; per_listener_settings.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint, TlsMaterial } from '../../../src/engine/transport.js';
import { testBrokerKinds } from '../../helpers/brokers.js';
import { makeTestCerts, type TestCerts } from '../../helpers/certs.js';
import { ConfigDir, startConfiguredBroker, type ConfiguredBroker } from '../../helpers/config-brokers.js';
import { mosquittoTools } from '../../helpers/mosquitto-tools.js';
import { RawClient, TestResources, connackCode, uniqueName } from '../../helpers/raw-client.js';

const run = promisify(execFile);
const dir = new ConfigDir();
let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts(dir.path);
});
afterAll(() => dir.remove());

function tls(cert?: string, key?: string): TlsMaterial {
  return {
    ca: certs.ca,
    cert: cert === undefined ? undefined : readFileSync(cert),
    key: key === undefined ? undefined : readFileSync(key),
    pfx: undefined,
    passphrase: undefined,
    verify: true,
    serverName: 'localhost',
  };
}

function at(transport: Endpoint['transport'], port: number, material?: TlsMaterial, path = '/mqtt'): Endpoint {
  return { transport, hosts: [{ host: '127.0.0.1', port }], path, tls: material };
}

/**
 * Every kind of listener in one file (WebSocket ones on every address; Mosquitto 2.0.11 needs an MQTT listener
 * beside them to start at all).
 */
function allListeners(p: Record<string, number>): string {
  const tlsLines = [`cafile ${certs.caFile}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`];
  return [
    'log_dest stderr',
    'log_type error',
    'log_type notice',
    'log_type information',
    'allow_anonymous true',
    `listener ${p.mqtt} 127.0.0.1`,
    `listener ${p.mqtts} 127.0.0.1`,
    ...tlsLines,
    `listener ${p.ws}`,
    'protocol websockets',
    `listener ${p.wss}`,
    'protocol websockets',
    ...tlsLines,
    `listener ${p.mtls} 127.0.0.1`,
    ...tlsLines,
    'require_certificate true',
    'use_identity_as_username true',
    `listener ${p.limited} 127.0.0.1`,
    'max_connections 1',
    `listener ${p.tls13} 127.0.0.1`,
    ...tlsLines,
    'tls_version tlsv1.3',
  ].join('\n');
}

const PORTS = ['mqtt', 'mqtts', 'ws', 'wss', 'mtls', 'limited', 'tls13'];
/** No readiness probe on the limited listener: Mosquitto would count the probe wrongly (see config-brokers.ts). */
const START = { unprobed: ['limited'] };

describe.each(testBrokerKinds())('%s broker: listeners', (kind) => {
  const res = new TestResources();
  let b: ConfiguredBroker;
  beforeAll(async () => {
    b = await startConfiguredBroker(kind, dir, PORTS, allListeners, START);
  });
  afterAll(() => b?.stop());
  afterEach(() => res.releaseAll());

  it('logs an "Opening ... listen socket" line per listener, as Mosquitto', () => {
    const logs = b.logs();
    for (const name of ['mqtt', 'mqtts', 'mtls', 'tls13', 'limited']) expect(logs, JSON.stringify(b.ports)).toContain(`Opening ipv4 listen socket on port ${b.ports[name]}.`);
    for (const name of ['ws', 'wss']) expect(logs).toContain(`Opening websockets listen socket on port ${b.ports[name]}.`);
  });

  it('carries messages between MQTT, TLS, WebSocket and secure WebSocket listeners, any WebSocket path', async () => {
    const topic = uniqueName('cross');
    const sub = await res.connect(at('mqtt', b.ports.mqtt), 4, { clientId: uniqueName('sub') });
    await sub.subscribe(`${topic}/#`, 1);
    const wsSub = await res.connect(at('ws', b.ports.ws, undefined, '/'), 5, { clientId: uniqueName('wssub') });
    await wsSub.subscribe(`${topic}/#`, 1);
    const sources: [string, Endpoint][] = [
      ['mqtts', at('mqtts', b.ports.mqtts, tls())],
      ['ws', at('ws', b.ports.ws, undefined, '/mqtt')],
      ['wss', at('wss', b.ports.wss, tls(), '/any/path')],
      ['mtls', at('mqtts', b.ports.mtls, tls(certs.aliceCert, certs.aliceKey))],
    ];
    for (const [name, endpoint] of sources) {
      const pub = await res.connect(endpoint, 4, { clientId: uniqueName(name) });
      await pub.publish(`${topic}/${name}`, name, { qos: 1 });
    }
    const got = [];
    for (let i = 0; i < sources.length; i++) got.push((await sub.receive()).payload.toString());
    expect(got.sort()).toEqual(['mqtts', 'mtls', 'ws', 'wss']);
    const wsGot = [];
    for (let i = 0; i < sources.length; i++) wsGot.push((await wsSub.receive()).payload.toString());
    expect(wsGot.sort()).toEqual(['mqtts', 'mtls', 'ws', 'wss']);
  });

  it('use_identity_as_username: the certificate CN is the user name; no, foreign or CN-less certificates get nowhere', async () => {
    const id = uniqueName('alice');
    await res.connect(at('mqtts', b.ports.mtls, tls(certs.aliceCert, certs.aliceKey)), 4, { clientId: id, username: 'ignored', password: Buffer.from('x') });
    await expect.poll(() => b.logs(), { timeout: 3000 }).toMatch(new RegExp(`as ${id} \\(p2, c1, k\\d+, u'alice'\\)\\.`));
    // require_certificate: without a certificate, or with one from another CA, the handshake fails.
    await expect(RawClient.open(at('mqtts', b.ports.mtls, tls()), 4).then((c) => c.connect({ clientId: uniqueName('nocert') }))).rejects.toThrow();
    await expect(
      RawClient.open(at('mqtts', b.ports.mtls, tls(certs.strangerCert, certs.strangerKey)), 4).then((c) => c.connect({ clientId: uniqueName('stranger') })),
    ).rejects.toThrow();
    // A trusted certificate without a common name gives no user name: refused as a bad user name or password.
    for (const version of [4, 5] as const) {
      const c = await res.open(at('mqtts', b.ports.mtls, tls(certs.noCnCert, certs.noCnKey)), version);
      expect(connackCode(await c.connect({ clientId: uniqueName('nocn') }))).toBe(version === 5 ? 0x86 : 4);
    }
  });

  it('tls_version tlsv1.3 refuses a TLS 1.2 client and accepts a TLS 1.3 one', async () => {
    const handshake = (maxVersion: 'TLSv1.2' | 'TLSv1.3') =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port: b.ports.tls13, ca: certs.ca, servername: 'localhost', maxVersion }, () => {
          const v = s.getProtocol() ?? '';
          s.destroy();
          resolve(v);
        });
        s.on('error', () => resolve('refused'));
      });
    expect(await handshake('TLSv1.2')).toBe('refused');
    expect(await handshake('TLSv1.3')).toBe('TLSv1.3');
  });

  it('max_connections holds per listener: the limited one refuses, the others still accept', async () => {
    await res.connect(at('mqtt', b.ports.limited), 4, { clientId: uniqueName('lim') });
    const over = await res.open(at('mqtt', b.ports.limited), 4);
    over.send(over.connectPacket({ clientId: uniqueName('lim-over') }));
    await over.closed();
    expect(over.received).toEqual([]);
    await res.connect(at('mqtt', b.ports.mqtt), 4, { clientId: uniqueName('other') });
  });
});

describe.each(testBrokerKinds())('%s broker: mosquitto_pub and mosquitto_sub over TLS', (kind) => {
  const tools = [...mosquittoTools('mosquitto_pub'), ...mosquittoTools('mosquitto_sub')];
  let b: ConfiguredBroker;
  beforeAll(async () => {
    b = await startConfiguredBroker(kind, dir, PORTS, allListeners, START);
  });
  afterAll(() => b?.stop());

  it.each(tools.length === 2 ? [tools] : [])('a message from mosquitto_pub (client certificate) reaches mosquitto_sub (server-verified TLS)', async (pub, sub) => {
    const topic = uniqueName('tools');
    const received = run(sub, ['-h', '127.0.0.1', '-p', String(b.ports.mqtts), '--cafile', certs.caFile, '-t', topic, '-C', '1', '-W', '10', '-i', uniqueName('msub')]);
    // Give the subscriber time to subscribe, then publish until it has the message (it exits after one).
    let done = false;
    void received.finally(() => (done = true));
    for (let i = 0; i < 40 && !done; i++) {
      await run(pub, ['-h', '127.0.0.1', '-p', String(b.ports.mtls), '--cafile', certs.caFile, '--cert', certs.aliceCert, '--key', certs.aliceKey, '-t', topic, '-m', 'over-tls', '-q', '1']);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect((await received).stdout.trim(), b.logs()).toBe('over-tls');
  });
});

describe.each(testBrokerKinds())('%s broker: per_listener_settings', (kind) => {
  const res = new TestResources();
  afterEach(() => res.releaseAll());

  it('gives each listener its own allow_anonymous and password file', async () => {
    const pw = dir.file(`${kind}-per-listener.pw`, 'bob:$7$101$1z7EFFdNilBfKthJ$sEefCokcTNfPFtOgQiJEBsjWz+IF/Cpy0zKBNB+iUFlyQ0nJVtvADXUmRhO/uSBhaIaxZtsd4e/5Ds79i57+bg==\n');
    const b = res.add(
      await startConfiguredBroker(kind, dir, ['open', 'closed'], (p) =>
        ['per_listener_settings true', `listener ${p.open} 127.0.0.1`, 'allow_anonymous true', `listener ${p.closed} 127.0.0.1`, `password_file ${pw}`].join('\n'),
      ),
    );
    const code = async (port: number, username?: string, password?: string) => {
      const c = await res.open({ host: '127.0.0.1', port }, 4);
      return connackCode(await c.connect({ clientId: uniqueName('pl'), username, password: password === undefined ? undefined : Buffer.from(password) }));
    };
    expect(await code(b.ports.open)).toBe(0);
    // The second listener: no allow_anonymous line, so anonymous clients are refused (Mosquitto 2.0's default).
    expect(await code(b.ports.closed)).toBe(5);
    expect(await code(b.ports.closed, 'bob', 'pw2')).toBe(0);
    expect(await code(b.ports.closed, 'bob', 'nope')).toBe(5);
    // The first listener has no password file: a user name is let in like anyone else.
    expect(await code(b.ports.open, 'bob', 'nope')).toBe(0);
  });
});
