/**
 * Test certificates, made with openssl when a test starts (nothing private is kept in the repository): a CA, a
 * server certificate for localhost / 127.0.0.1 signed by it, client certificates signed by it (CN alice, and one
 * without a CN), and a client certificate from a CA nobody trusts. EC P-256 keys: quick to make.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  aliceCert: string;
  aliceKey: string;
  /** A client certificate signed by the CA whose subject has no common name. */
  noCnCert: string;
  noCnKey: string;
  /** A client certificate from another CA. */
  strangerCert: string;
  strangerKey: string;
  /** The CA certificate's bytes (for mqbench's TLS material). */
  ca: Buffer;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function key(dir: string, name: string): string {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  return join(dir, `${name}.key`);
}

function signed(dir: string, name: string, subject: string, ca: string, ext?: string): string {
  key(dir, name);
  openssl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2'];
  if (ext !== undefined) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    args.push('-extfile', `${name}.ext`);
  }
  openssl(args, dir);
  return join(dir, `${name}.crt`);
}

function selfSigned(dir: string, name: string, subject: string): string {
  key(dir, name);
  openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', subject], dir);
  return join(dir, `${name}.crt`);
}

/** Make the certificates in `<dir>/certs`. */
export function makeTestCerts(parent: string): TestCerts {
  const dir = join(parent, 'certs');
  mkdirSync(dir, { recursive: true });
  const caFile = selfSigned(dir, 'ca', '/CN=mqbench test CA');
  const serverCert = signed(dir, 'server', '/CN=localhost', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const aliceCert = signed(dir, 'alice', '/O=mqbench/CN=alice', 'ca');
  const noCnCert = signed(dir, 'nocn', '/O=mqbench/OU=no common name', 'ca');
  selfSigned(dir, 'other-ca', '/CN=another CA');
  const strangerCert = signed(dir, 'stranger', '/CN=stranger', 'other-ca');
  return {
    dir,
    caFile,
    serverCert,
    serverKey: join(dir, 'server.key'),
    aliceCert,
    aliceKey: join(dir, 'alice.key'),
    noCnCert,
    noCnKey: join(dir, 'nocn.key'),
    strangerCert,
    strangerKey: join(dir, 'stranger.key'),
    ca: readFileSync(caFile),
  };
}
