/**
 * Fronts for a plain-TCP broker so clients can be tested over other transports: a TLS terminator (optionally
 * requiring a client certificate) and a WebSocket bridge (plain or TLS). Certificates are made with openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Certificates {
  dir: string;
  /** PEM paths. */
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** PKCS#12 bundle of the client certificate and key, protected by `pfxPassphrase`. */
  clientPfx: string;
  pfxPassphrase: string;
  remove(): void;
}

/** A CA, a server certificate for localhost/127.0.0.1 and a client certificate, all signed by the CA. */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'mqbench-certs-'));
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=mqbench test CA', '-keyout', p('ca.key'), '-out', p('ca.pem'));
  const sign = (name: string, subject: string, ext: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`));
    execFileSync('sh', ['-c', `printf '%s\\n' '${ext}' > ${name}.ext`], { cwd: dir });
    ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p(`${name}.ext`), '-out', p(`${name}.pem`));
  };
  sign('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  sign('client', '/CN=mqbench test client', 'extendedKeyUsage=clientAuth');
  const pfxPassphrase = 'pfx-secret';
  ssl('pkcs12', '-export', '-in', p('client.pem'), '-inkey', p('client.key'), '-certfile', p('ca.pem'), '-passout', `pass:${pfxPassphrase}`, '-out', p('client.p12'));
  return {
    dir,
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    clientPfx: p('client.p12'),
    pfxPassphrase,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Front {
  port: number;
  /** Connections the front accepted and passed on. */
  accepted: number;
  close(): Promise<void>;
}

/** TLS in front of the broker; with `requireClientCert`, only clients presenting a certificate from our CA pass. */
export async function startTlsFront(broker: { host: string; port: number }, certs: Certificates, requireClientCert = false): Promise<Front> {
  const sockets = new Set<Socket>();
  const state = { accepted: 0 };
  const server: TlsServer = createTlsServer(
    {
      cert: readFileSync(certs.serverCert),
      key: readFileSync(certs.serverKey),
      ca: readFileSync(certs.ca),
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
    },
    (tlsSocket) => {
      state.accepted++;
      const upstream = connect(broker.port, broker.host);
      sockets.add(tlsSocket);
      sockets.add(upstream);
      tlsSocket.pipe(upstream).pipe(tlsSocket);
      const end = () => {
        tlsSocket.destroy();
        upstream.destroy();
      };
      tlsSocket.on('error', end);
      upstream.on('error', end);
      tlsSocket.on('close', end);
      upstream.on('close', end);
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    get accepted() {
      return state.accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** MQTT over WebSocket at `path` (subprotocol "mqtt"), bridged to the broker's TCP port; over TLS when `certs`. */
export async function startWebSocketFront(broker: { host: string; port: number }, path: string, certs?: Certificates): Promise<Front> {
  const state = { accepted: 0 };
  const https = certs ? createHttpsServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }) : undefined;
  const wss = new WebSocketServer({
    ...(https ? { server: https } : { port: 0, host: '127.0.0.1' }),
    path,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  wss.on('connection', (ws: WebSocket) => {
    state.accepted++;
    const upstream = connect(broker.port, broker.host);
    // MQTT travels in binary frames only; a text frame ends the connection [MQTT-6.0.0-1].
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) upstream.write(data);
      else ws.close(1003, 'MQTT is sent in binary frames');
    });
    upstream.on('data', (d: Buffer) => ws.send(d, { binary: true }));
    const end = () => {
      ws.terminate();
      upstream.destroy();
    };
    ws.on('close', end);
    upstream.on('close', end);
    ws.on('error', end);
    upstream.on('error', end);
  });
  let port: number;
  if (https) {
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', () => resolve()));
    const a = https.address();
    port = typeof a === 'object' && a ? a.port : 0;
  } else {
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const a = wss.address();
    port = typeof a === 'object' && a ? a.port : 0;
  }
  return {
    port,
    get accepted() {
      return state.accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => (https ? https.close(() => resolve()) : resolve()));
      }),
  };
}
