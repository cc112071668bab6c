/**
 * A listener's TLS settings as Node's TLS options: capath read as a directory of PEM certificates, the lowest TLS
 * version, TLS 1.2 ciphers beside the default TLS 1.3 suites, and files that cannot be used refused at start-up
 * with the file and the reason.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tlsServerOptions } from '../../../broker/listeners/tls.js';
import { makeTestCerts } from '../../helpers/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'mqbench-tls-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const certs = makeTestCerts(dir);
const base = { certfile: certs.serverCert, keyfile: certs.serverKey, requireCertificate: false, useIdentityAsUsername: false };

describe('TLS options of a listener', () => {
  it('reads every PEM certificate of capath, asks for client certificates only when required', () => {
    const capath = join(dir, 'capath');
    mkdirSync(capath);
    copyFileSync(certs.caFile, join(capath, 'a1b2c3d4.0'));
    writeFileSync(join(capath, 'README'), 'not a certificate\n');
    const o = tlsServerOptions({ ...base, capath, requireCertificate: true });
    expect(o.ca).toHaveLength(1);
    expect([o.requestCert, o.rejectUnauthorized, o.minVersion]).toEqual([true, true, 'TLSv1.2']);
    const plain = tlsServerOptions({ ...base, tlsVersion: 'tlsv1.3' });
    expect([plain.requestCert, plain.ca, plain.minVersion]).toEqual([false, undefined, 'TLSv1.3']);
  });

  it('keeps the TLS 1.3 suites when ciphers names TLS 1.2 ones', () => {
    const o = tlsServerOptions({ ...base, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    expect(o.ciphers).toMatch(/^TLS_AES_256_GCM_SHA384:.*:ECDHE-ECDSA-AES128-GCM-SHA256$/);
  });

  it('refuses files it cannot use, naming them', () => {
    expect(() => tlsServerOptions({ ...base, keyfile: join(dir, 'missing.key') })).toThrow(/cannot read keyfile .*missing\.key: no such file/);
    expect(() => tlsServerOptions({ ...base, keyfile: certs.aliceKey })).toThrow(/TLS settings of the listener cannot be used/);
    expect(() => tlsServerOptions({ ...base, ciphers: 'NO-SUCH-CIPHER' })).toThrow(/cannot be used/);
    const empty = join(dir, 'empty-capath');
    mkdirSync(empty);
    expect(() => tlsServerOptions({ ...base, capath: empty })).toThrow(/holds no PEM certificate/);
  });
});
