/**
 * A listener's TLS settings as Node's TLS options: certificate and key, the CAs of client certificates (cafile, or
 * every PEM certificate in capath), whether one is required, the lowest TLS version, the TLS 1.2 ciphers. Read from
 * disk at start-up and on reload; and the client certificate's common name, for use_identity_as_username.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CIPHERS, createSecureContext, type SecureContext, type TlsOptions, type TLSSocket } from 'node:tls';
import type { ListenerTls } from '../options.js';

const MIN_VERSION = { 'tlsv1.3': 'TLSv1.3', 'tlsv1.2': 'TLSv1.2', 'tlsv1.1': 'TLSv1.1' } as const;

/** The TLS server options of `tls`; throws with the file and the reason when something cannot be read or used. */
export function tlsServerOptions(tls: ListenerTls): TlsOptions {
  const options: TlsOptions = {
    cert: readPem(tls.certfile, 'certfile'),
    key: readPem(tls.keyfile, 'keyfile'),
    // Mosquitto's default and `tls_version` name the lowest version allowed (TLS 1.2 unless told otherwise).
    minVersion: MIN_VERSION[tls.tlsVersion ?? 'tlsv1.2'],
    // As Mosquitto: a certificate is asked for only when required (use_identity_as_username alone finds none).
    requestCert: tls.requireCertificate,
    rejectUnauthorized: tls.requireCertificate,
  };
  const ca: Buffer[] = [];
  if (tls.cafile !== undefined) ca.push(readPem(tls.cafile, 'cafile'));
  if (tls.capath !== undefined) ca.push(...readCaPath(tls.capath));
  if (ca.length > 0) options.ca = ca;
  if (tls.ciphers !== undefined) {
    // Node's `ciphers` holds the TLS 1.3 suites too; Mosquitto's `ciphers` is for TLS 1.2 and below only.
    const tls13 = DEFAULT_CIPHERS.split(':').filter((c) => c.startsWith('TLS_'));
    options.ciphers = [...tls13, tls.ciphers].join(':');
  }
  // Fails here, at start-up, rather than on the first client: a bad key, a cipher list that matches nothing.
  try {
    createSecureContext(options);
  } catch (err) {
    throw new Error(`TLS settings of the listener cannot be used: ${(err as Error).message}`);
  }
  return options;
}

/** A secure context for `tls` (a reload of certificate files). */
export function tlsContext(tls: ListenerTls): SecureContext {
  return createSecureContext(tlsServerOptions(tls));
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot read ${what} ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message}`);
  }
}

/** Every PEM certificate in `dir` (OpenSSL's hashed names, .pem, .crt: whatever holds one). */
function readCaPath(dir: string): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`cannot read capath ${dir}: ${(err as Error).message}`);
  }
  const out: Buffer[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const pem = readFileSync(path);
    if (pem.includes('-----BEGIN CERTIFICATE-----')) out.push(pem);
  }
  if (out.length === 0) throw new Error(`capath ${dir} holds no PEM certificate`);
  return out;
}

/** The common name of the client's certificate, or null when it sent none that was verified. */
export function certificateName(socket: TLSSocket): string | null {
  if (!socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  const cn: unknown = cert?.subject?.CN;
  if (typeof cn === 'string') return cn;
  if (Array.isArray(cn) && typeof cn[0] === 'string') return cn[0];
  return null;
}
