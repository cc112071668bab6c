/**
 * Hostile peers at the listeners, the bundled broker and Mosquitto alike where both answer: garbage on the TLS
 * port, WebSocket upgrades without the mqtt subprotocol, a CONNECT cut into one-byte WebSocket frames and TCP
 * writes, a fragmented message, text and unmasked frames, a frame announcing 2^62 bytes. Each closes (or starves)
 * that one connection; the broker goes on serving. And the bundled broker's bound on TLS handshakes: a client that
 * never finishes one is dropped.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { generate } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../../broker/index.js';
import { testBrokerKinds } from '../../helpers/brokers.js';
import { makeTestCerts, type TestCerts } from '../../helpers/certs.js';
import { ConfigDir, startConfiguredBroker, type ConfiguredBroker } from '../../helpers/config-brokers.js';
import { TestResources, uniqueName } from '../../helpers/raw-client.js';

const dir = new ConfigDir();
let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts(dir.path);
});
afterAll(() => dir.remove());

/** A raw TCP connection that records what it receives and when it closes. */
class Raw {
  readonly socket: Socket;
  data = Buffer.alloc(0);
  closed = false;
  private readonly ended: Promise<void>;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (d: Buffer) => (this.data = Buffer.concat([this.data, d])));
    this.socket.on('error', () => undefined);
    this.ended = new Promise((resolve) => this.socket.on('close', () => resolve()));
    void this.ended.then(() => (this.closed = true));
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  async closedWithin(ms: number): Promise<boolean> {
    await Promise.race([this.ended, new Promise((r) => setTimeout(r, ms))]);
    return this.closed;
  }

  async waitFor(predicate: (data: Buffer) => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !predicate(this.data)) {
      if (this.closed) return predicate(this.data);
      await new Promise((r) => setTimeout(r, 10));
    }
    return predicate(this.data);
  }
}

function upgradeRequest(path: string, protocol: string | undefined): string {
  const key = randomBytes(16).toString('base64');
  return [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    ...(protocol === undefined ? [] : [`Sec-WebSocket-Protocol: ${protocol}`]),
    '',
    '',
  ].join('\r\n');
}

/** A client WebSocket frame: masked unless told otherwise. */
function frame(opcode: number, payload: Buffer, opts: { fin?: boolean; masked?: boolean; length?: bigint } = {}): Buffer {
  const fin = opts.fin ?? true;
  const masked = opts.masked ?? true;
  const len = opts.length ?? BigInt(payload.length);
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  if (len < 126n) head.push((masked ? 0x80 : 0) | Number(len));
  else if (len < 65536n) head.push((masked ? 0x80 : 0) | 126, Number(len >> 8n), Number(len & 0xffn));
  else {
    head.push((masked ? 0x80 : 0) | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((len >> BigInt(i * 8)) & 0xffn));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]));
  return Buffer.concat([Buffer.from(head), mask, body]);
}

const CONNECT = (id: string) => generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: id, clean: true, keepalive: 30 });
/** A CONNACK (0x20 0x02 0x00 0x00) inside a server's binary frame (0x82 0x04). */
const hasConnackFrame = (d: Buffer) => d.includes(Buffer.from([0x82, 0x04, 0x20, 0x02, 0x00, 0x00]));

describe.each(testBrokerKinds())('%s broker: hostile peers at the listeners', (kind) => {
  const res = new TestResources();
  let b: ConfiguredBroker;
  beforeAll(async () => {
    b = await startConfiguredBroker(kind, dir, ['mqtt', 'mqtts', 'ws'], (p) =>
      [
        'allow_anonymous true',
        `listener ${p.mqtt} 127.0.0.1`,
        `listener ${p.mqtts} 127.0.0.1`,
        `certfile ${certs.serverCert}`,
        `keyfile ${certs.serverKey}`,
        `listener ${p.ws}`,
        'protocol websockets',
      ].join('\n'),
    );
  });
  afterAll(() => b?.stop());
  afterEach(async () => {
    await res.releaseAll();
    // Whatever was done to it, the broker still serves.
    const c = await res.connect({ host: '127.0.0.1', port: b.ports.mqtt }, 4, { clientId: uniqueName('still') });
    await c.disconnect();
  });

  const upgraded = async (protocol = 'mqtt') => {
    const r = new Raw(b.ports.ws);
    await r.opened();
    r.socket.write(upgradeRequest('/mqtt', protocol));
    expect(await r.waitFor((d) => d.includes('\r\n\r\n'), 3000)).toBe(true);
    expect(r.data.toString('latin1')).toMatch(/^HTTP\/1\.1 101/);
    r.data = r.data.subarray(r.data.indexOf('\r\n\r\n') + 4);
    return r;
  };

  it('garbage on the TLS port closes that connection', async () => {
    const r = new Raw(b.ports.mqtts);
    await r.opened();
    r.socket.write(Buffer.concat([Buffer.from('GET / HTTP/1.0\r\n\r\n'), randomBytes(4096)]));
    expect(await r.closedWithin(5000)).toBe(true);
  });

  it('a WebSocket upgrade without the mqtt subprotocol gets no MQTT session', async () => {
    for (const protocol of ['bogus', undefined]) {
      const r = new Raw(b.ports.ws);
      await r.opened();
      r.socket.write(upgradeRequest('/mqtt', protocol));
      await r.waitFor((d) => d.includes('\r\n\r\n'), 2000);
      const head = r.data.toString('latin1');
      // The bundled broker answers 400; Mosquitto hangs up on an unknown subprotocol and, without one, opens a
      // WebSocket its MQTT side never serves.
      if (kind === 'bundled') expect(head).toMatch(/^HTTP\/1\.1 400 .*\r\n[\s\S]*mqtt/);
      if (head.startsWith('HTTP/1.1 101') && !r.closed) r.socket.write(frame(2, CONNECT(uniqueName('noproto'))));
      expect(await r.waitFor(hasConnackFrame, 1000)).toBe(false);
      r.socket.destroy();
    }
  });

  it('a CONNECT in one-byte WebSocket frames (a fragmented message), each written alone, is answered', async () => {
    const r = await upgraded();
    const packet = CONNECT(uniqueName('bytes'));
    for (let i = 0; i < packet.length; i++) {
      const f = frame(i === 0 ? 2 : 0, packet.subarray(i, i + 1), { fin: i === packet.length - 1 });
      for (const byte of f) {
        r.socket.write(Buffer.from([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    expect(await r.waitFor(hasConnackFrame, 3000)).toBe(true);
    r.socket.destroy();
  });

  it('MQTT packets split across WebSocket messages, with a ping between, are read as one stream', async () => {
    const r = await upgraded();
    const packet = CONNECT(uniqueName('split'));
    r.socket.write(Buffer.concat([frame(2, packet.subarray(0, 3)), frame(9, Buffer.from('hi')), frame(2, packet.subarray(3))]));
    expect(await r.waitFor(hasConnackFrame, 3000)).toBe(true);
    // The ping was answered with a pong carrying its payload.
    expect(r.data.includes(Buffer.from([0x8a, 0x02, 0x68, 0x69]))).toBe(true);
    r.socket.destroy();
  });

  it('a text frame or an unmasked frame is refused ([MQTT-6.0.0-1], RFC 6455 §5.1; Mosquitto 2.0.11 reads both), one announcing 2^62 bytes gets nowhere', async () => {
    const cases = [
      frame(1, CONNECT(uniqueName('text'))),
      frame(2, CONNECT(uniqueName('unmasked')), { masked: false }),
      Buffer.concat([frame(2, Buffer.alloc(0), { length: 2n ** 62n }).subarray(0, 14), CONNECT(uniqueName('huge'))]),
    ];
    const answered = [];
    for (const bytes of cases) {
      const r = await upgraded();
      r.socket.write(bytes);
      answered.push(await r.waitFor(hasConnackFrame, 1000));
      r.socket.destroy();
    }
    expect(answered).toEqual(kind === 'bundled' ? [false, false, false] : [true, true, false]);
  });
});

describe('bundled broker: TLS handshakes are bounded in time', () => {
  it('drops a client that never finishes its handshake, and keeps serving others', async () => {
    const lines: string[] = [];
    const broker = await startBroker({
      listeners: [{ host: '127.0.0.1', port: 0, tls: { certfile: certs.serverCert, keyfile: certs.serverKey, requireCertificate: false, useIdentityAsUsername: false } }],
      tlsHandshakeTimeoutMs: 300,
      logSink: (l) => lines.push(l),
    });
    try {
      const silent = new Raw(broker.port);
      await silent.opened();
      // Half a ClientHello, then nothing.
      silent.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      const t0 = Date.now();
      expect(await silent.closedWithin(3000)).toBe(true);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(lines.join('\n')).toContain('OpenSSL Error[0]: TLS handshake timed out');
      const { RawClient } = await import('../../helpers/raw-client.js');
      const c = await RawClient.open({ transport: 'mqtts', hosts: [{ host: '127.0.0.1', port: broker.port }], path: '', tls: { ca: certs.ca, cert: undefined, key: undefined, pfx: undefined, passphrase: undefined, verify: true, serverName: 'localhost' } }, 4);
      expect((await c.connect({ clientId: uniqueName('after') })).returnCode).toBe(0);
      c.destroy();
    } finally {
      await broker.close();
    }
  });
});
