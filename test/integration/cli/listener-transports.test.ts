/**
 * The bundled broker's listeners as mqbench itself reaches them: `mqbench broker -c` with TLS, client-certificate,
 * WebSocket and secure WebSocket listeners; `mqbench conformance` runs chapter 6 (MQTT over WebSocket) over ws://
 * and wss://, and `mqbench run` carries a scenario over mqtts:// with a client certificate and over wss://, every
 * message delivered.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCerts, type TestCerts } from '../../helpers/certs.js';
import { ConfigDir, startConfiguredBroker, type ConfiguredBroker } from '../../helpers/config-brokers.js';

const bin = join(resolve(import.meta.dirname, '../../..'), 'bin/mqbench.js');
const dir = new ConfigDir();
let certs: TestCerts;
let b: ConfiguredBroker;

beforeAll(async () => {
  certs = makeTestCerts(dir.path);
  const acl = dir.file('transports.acl', ['topic readwrite #', 'user alice', 'topic readwrite #'].join('\n') + '\n');
  const tls = [`cafile ${certs.caFile}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`];
  b = await startConfiguredBroker(
    'bundled',
    dir,
    ['mqtt', 'mtls', 'ws', 'wss'],
    (p) =>
      [
        'allow_anonymous true',
        `acl_file ${acl}`,
        `listener ${p.mqtt} 127.0.0.1`,
        `listener ${p.mtls} 127.0.0.1`,
        ...tls,
        'require_certificate true',
        'use_identity_as_username true',
        `listener ${p.ws} 127.0.0.1`,
        'protocol websockets',
        `listener ${p.wss} 127.0.0.1`,
        'protocol websockets',
        ...tls,
      ].join('\n'),
    { process: true },
  );
});
afterAll(async () => {
  await b?.stop();
  dir.remove();
});

function mqbench(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('mqbench against the bundled broker\'s listeners', () => {
  it('conformance: MQTT over WebSocket (chapter 6) holds over ws:// and wss://', () => {
    for (const url of [`ws://localhost:${b.ports.ws}/mqtt`, `wss://localhost:${b.ports.wss}/mqtt`]) {
      const out = join(dir.path, `conf-${url.slice(0, 3)}`);
      const r = mqbench(['conformance', '--broker', url, '--ca', certs.caFile, '--grep', '/6/', '--out', out]);
      expect(r.code, r.out).toBe(0);
      const report = JSON.parse(readFileSync(join(out, 'conformance.json'), 'utf8')) as { runs: { checks: { id: string; status: string }[] }[] };
      const checks = report.runs[0].checks;
      expect(checks.length).toBeGreaterThan(0);
      expect(checks.filter((c) => c.status !== 'pass')).toEqual([]);
    }
  });

  it('run: a scenario over mqtts:// with a client certificate and over wss:// loses nothing', async () => {
    for (const [name, url, client] of [
      ['mtls', `mqtts://localhost:${b.ports.mtls}`, true],
      ['wss', `wss://localhost:${b.ports.wss}/mqtt`, false],
    ] as const) {
      const scenario = dir.file(
        `${name}.yaml`,
        [
          `name: over-${name}`,
          'broker:',
          `  url: ${url}`,
          '  tls:',
          `    ca: ${certs.caFile}`,
          ...(client ? [`    cert: ${certs.aliceCert}`, `    key: ${certs.aliceKey}`] : []),
          'thresholds:',
          '  - lost == 0',
          '  - errors == 0',
          'groups:',
          '  - name: subs',
          '    steps:',
          '      - connect',
          `      - subscribe: { topic: "t/${name}/#", qos: 1 }`,
          '  - name: pubs',
          '    clients: 2',
          '    startTime: 300ms',
          '    steps:',
          '      - connect',
          `      - publish: { topic: "t/${name}/{client}", qos: 1, rate: 100/s, count: 50, payload: { size: 32 } }`,
          '      - disconnect',
          '',
        ].join('\n'),
      );
      const r = mqbench(['run', scenario, '--out', join(dir.path, `run-${name}`)]);
      expect(r.code, r.out).toBe(0);
    }
    // The client certificate's name was the user name (the broker's log is read once this process runs again).
    await expect.poll(() => b.logs(), { timeout: 3000 }).toMatch(/u'alice'\)\./);
  });
});
