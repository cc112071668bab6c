/**
 * Findings from outside, one test each: authentication without a way to check passwords, wills checked like a
 * PUBLISH, MQTT 3.1's own rules, the client's Maximum Packet Size for every packet, capped reason strings, wills on
 * session take-over, acknowledgements of the wrong kind, $SYS/broker/connection/+/state, capped log lines, and a
 * log that nobody reads. Where Mosquitto 2.0 behaves the same, both brokers run the test.
 */
import { spawn } from 'node:child_process';
import { createServer, connect as netConnect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { generate } from 'mqtt-packet';
import { FrameReader } from '../../../src/protocol/frame-reader.js';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { TestResources, connackCode, uniqueName, type RawClient } from '../../helpers/raw-client.js';

const res = new TestResources();
let broker: TestBroker | undefined;
afterEach(async () => {
  await res.releaseAll();
  await broker?.stop();
  broker = undefined;
});

const ep = () => ({ host: broker!.host, port: broker!.port });

describe.each(testBrokerKinds())('%s broker: authentication and wills', (kind) => {
  it('allow_anonymous false without a password file refuses every CONNECT, whatever user name and password', async () => {
    broker = await startTestBroker(kind, ['allow_anonymous false', 'log_type warning']);
    for (const v of [4, 5] as const) {
      for (const username of [undefined, '', 'bob']) {
        const c = await res.open(ep(), v);
        const connack = await c.connect({ clientId: uniqueName('anyone'), username, password: username === undefined ? undefined : Buffer.from('secret') });
        expect(connackCode(connack), `v${v} user ${JSON.stringify(username)}`).toBe(v === 5 ? 0x87 : 5);
      }
    }
    if (kind === 'bundled') expect(broker.logs()).toMatch(/every client will be refused/);
  });

  it('a retained will on $SYS is accepted and never published, like a PUBLISH there', async () => {
    broker = await startTestBroker(kind);
    for (const v of [4, 5] as const) {
      const topic = `$SYS/broker/${uniqueName('fake')}`;
      const w = await res.connect(ep(), v, { clientId: uniqueName('sys-will'), will: { topic, payload: Buffer.from('x'), qos: 0, retain: true } });
      w.destroy();
      await sleep(200);
      const late = await res.connect(ep(), v, { clientId: uniqueName('late') });
      await late.subscribe(topic, 0);
      await late.expectNothing(300, 'publish');
    }
  });

  it('a will payload over message_size_limit is refused at CONNECT (5 / 0x95)', async () => {
    broker = await startTestBroker(kind, ['message_size_limit 1']);
    for (const v of [4, 5] as const) {
      const c = await res.open(ep(), v);
      const connack = await c.connect({ clientId: uniqueName('big-will'), will: { topic: 'w', payload: Buffer.from('xy'), qos: 0, retain: false } });
      expect(connackCode(connack)).toBe(v === 5 ? 0x95 : 5);
    }
  });

  it('$SYS/broker/connection/+/state may be published (bridges report there); the rest of $SYS may not', async () => {
    broker = await startTestBroker(kind);
    const sub = await res.connect(ep(), 5, { clientId: uniqueName('sys-sub') });
    await sub.subscribe('$SYS/broker/connection/#', 0);
    const pub = await res.connect(ep(), 5, { clientId: uniqueName('bridge') });
    for (const [topic, allowed] of [
      ['$SYS/broker/connection/x/state', true],
      ['$SYS/broker/connection//state', true],
      ['$SYS/broker/connection/x/y/state', false],
      ['$SYS/broker/connection/x/statex', false],
      ['$SYS/broker/connection/state', false],
    ] as const) {
      const ack = await pub.publish(topic, '1', { qos: 1 });
      expect((ack as { reasonCode?: number }).reasonCode ?? 0, topic).toBe(allowed ? 0 : 0x87);
      if (allowed) expect((await sub.receive()).topic).toBe(topic);
      else await sub.expectNothing(200, 'publish');
    }
  });
});

describe.each(testBrokerKinds())('%s broker: wills on session take-over', (kind) => {
  // MQTT 5 [MQTT-3.1.2-8]: a new connection for the client id before the will delay has passed means no will; a
  // will without delay goes out when the old connection closes, unless the new one continues the session (Mosquitto
  // agrees). MQTT 3.1.1 [MQTT-3.1.2-8]: the connection closed without DISCONNECT, so the will goes out, session
  // continued or not (Mosquitto skips it when the session continues: that case is the bundled broker's alone).
  const cases = [
    // [version, will delay, old session expiry / clean session, new clean start, will expected]
    [5, 0, 60, false, false],
    [5, 5, 60, false, false],
    [5, 5, 0, false, false],
    [5, 5, 60, true, false],
    [5, 0, 0, false, true],
    [4, 0, 'clean', true, true],
    [4, 0, 'clean', false, true],
    [4, 0, 'persistent', true, true],
    ...(kind === 'bundled' ? ([[4, 0, 'persistent', false, true]] as const) : []),
  ] as const;
  it.each(cases)('v%i, will delay %i, old session %s, new clean start %s: will published %s', async (v, delay, old, clean, expected) => {
    broker = await startTestBroker(kind);
    const id = uniqueName('taken');
    const topic = uniqueName('will');
    const watcher = await res.connect(ep(), 4, { clientId: uniqueName('watch') });
    await watcher.subscribe(topic, 0);
    const will = { topic, payload: Buffer.from('w'), qos: 0 as const, retain: false, ...(v === 5 ? { properties: { willDelayInterval: delay } } : {}) };
    const first =
      v === 5
        ? { clientId: id, clean: true, properties: { sessionExpiryInterval: old as number }, will }
        : { clientId: id, clean: old === 'clean', will };
    await res.connect(ep(), v, first);
    await res.connect(ep(), v, { clientId: id, clean, ...(v === 5 ? { properties: { sessionExpiryInterval: 60 } } : {}) });
    if (expected) expect((await watcher.receive()).topic).toBe(topic);
    else await watcher.expectNothing(700, 'publish');
  });
});

describe.each(testBrokerKinds())('%s broker: acknowledgements of the wrong kind', (kind) => {
  async function delivered(qos: 1 | 2, v: 4 | 5): Promise<{ sub: RawClient; packetId: number }> {
    const topic = uniqueName('wrong-ack');
    const sub = await res.connect(ep(), v, { clientId: uniqueName('sub') });
    await sub.subscribe(topic, qos);
    const pub = await res.connect(ep(), v, { clientId: uniqueName('pub') });
    // The whole flow (Mosquitto passes a QoS 2 message on only once it is released).
    await pub.publish(topic, 'x', { qos });
    // Not acknowledged: the test answers it.
    const p = await sub.next('publish');
    return { sub, packetId: p.messageId! };
  }

  it.each([
    [1, 'pubrec'],
    [1, 'pubcomp'],
    [2, 'puback'],
  ] as const)('a QoS %i delivery answered with %s is a protocol error: the connection is closed', async (qos, answer) => {
    broker = await startTestBroker(kind);
    for (const v of [4, 5] as const) {
      const { sub, packetId } = await delivered(qos, v);
      sub.send({ cmd: answer, messageId: packetId } as never);
      await sub.closed();
    }
  });

  it('a PUBREC with a failure code ends the QoS 2 flow: no PUBREL follows', async () => {
    broker = await startTestBroker(kind);
    const { sub, packetId } = await delivered(2, 5);
    sub.send({ cmd: 'pubrec', messageId: packetId, reasonCode: 0x80 });
    sub.send({ cmd: 'pubrec', messageId: 999, reasonCode: 0x80 });
    await sub.expectNothing(300, 'pubrel');
    expect(sub.closedByBroker).toBe(false);
  });
});

describe.each(testBrokerKinds())('%s broker: MQTT 3.1', (kind) => {
  it('has no session present flag (CONNACK byte 0 on a resumed session) and no reserved flags to check', async () => {
    broker = await startTestBroker(kind);
    const id = uniqueName('v31');
    const first = await res.connect(ep(), 3, { clientId: id, clean: false });
    first.destroy();
    await sleep(100);
    const again = await res.open(ep(), 3);
    expect((await again.connect({ clientId: id, clean: false })).sessionPresent).toBe(false);
    // A SUBSCRIBE with fixed header flags 0000: 3.1.1 reserved them, 3.1 did not.
    const body = Buffer.concat([Buffer.from([0, 1, 0, 3]), Buffer.from('a/b'), Buffer.from([0])]);
    again.sendRaw(Buffer.concat([Buffer.from([0x80, body.length]), body]));
    expect((await again.next('suback')).granted).toEqual([0]);
    // A CONNECT with the reserved connect flag set (3.1.1 made it 0).
    const raw = await res.open(ep(), 3);
    const c = Buffer.concat([Buffer.from([0, 6]), Buffer.from('MQIsdp'), Buffer.from([3, 0x03, 0, 60, 0, 3]), Buffer.from('r31')]);
    raw.sendRaw(Buffer.concat([Buffer.from([0x10, c.length]), c]));
    expect(connackCode(await raw.next('connack'))).toBe(0);
  });
});

/** Sizes of the packets a broker sends on a raw socket, after `bytes`. */
async function packetSizes(port: number, bytes: Buffer, waitMs = 400): Promise<{ sizes: number[]; types: number[]; closed: boolean }> {
  const sizes: number[] = [];
  const types: number[] = [];
  let closed = false;
  const reader = new FrameReader({
    onFrame(header, _buf, start, end) {
      types.push(header >> 4);
      sizes.push(1 + (end - start) + (end - start < 128 ? 1 : end - start < 16384 ? 2 : 3));
      return true;
    },
    onFrameError() {},
    acceptHeader: () => true,
  });
  const s = netConnect({ host: '127.0.0.1', port });
  s.on('data', (d) => reader.feed(d));
  s.on('error', () => {});
  s.on('close', () => (closed = true));
  await new Promise((r) => s.once('connect', r));
  s.write(bytes);
  await sleep(waitMs);
  s.destroy();
  return { sizes, types, closed };
}

describe('bundled broker: the client’s Maximum Packet Size for every packet', () => {
  const connect = (max: number) =>
    generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: uniqueName('small'), clean: true, keepalive: 60, properties: { maximumPacketSize: max } });

  it.each([1, 2, 4])('a limit of %i bytes gets no CONNACK (the smallest is 5): the connection is closed', async (max) => {
    broker = await startTestBroker('bundled');
    const got = await packetSizes(broker.port, connect(max));
    expect(got.sizes).toEqual([]);
    expect(got.closed).toBe(true);
  });

  it.each([8, 10])('a limit of %i bytes: CONNACK, SUBACK, PUBACK and PINGRESP fit it; a SUBACK that cannot closes the connection', async (max) => {
    broker = await startTestBroker('bundled');
    const sub = generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 1 }], properties: {} }, { protocolVersion: 5 });
    const pub = generate({ cmd: 'publish', topic: 'nobody', payload: Buffer.from('x'), qos: 1, messageId: 2, dup: false, retain: false, properties: {} }, { protocolVersion: 5 });
    const ping = Buffer.from([0xc0, 0]);
    const many = generate({ cmd: 'subscribe', messageId: 3, subscriptions: Array.from({ length: 10 }, (_, i) => ({ topic: `m/${i}`, qos: 0 as const })), properties: {} }, { protocolVersion: 5 });
    const got = await packetSizes(broker.port, Buffer.concat([connect(max), sub, pub, ping, many]));
    // CONNACK, SUBACK, PUBACK (0x10: no subscribers), PINGRESP; then the 10-filter SUBACK (15 bytes) cannot be sent.
    expect(got.types).toEqual([2, 9, 4, 13]);
    for (const size of got.sizes) expect(size).toBeLessThanOrEqual(max);
    expect(got.closed).toBe(true);
  });

  it('caps reason strings: a 65 KB invalid will topic is not echoed into the CONNACK', async () => {
    broker = await startTestBroker('bundled');
    const c = await res.open(ep(), 5);
    const connack = await c.connect({ clientId: uniqueName('echo'), will: { topic: `bad/+/${'t'.repeat(65_000)}`, payload: Buffer.from('w'), qos: 0, retain: false } });
    expect(connack.reasonCode).toBe(0x90);
    expect(String(connack.properties?.reasonString ?? '').length).toBeLessThanOrEqual(256);
  });
});

describe('bundled broker: logging', () => {
  it('caps log lines at about 1,000 characters (a 65,000-character client id)', async () => {
    broker = await startTestBroker('bundled', [], { verbose: true });
    await res.connect(ep(), 4, { clientId: 'c'.repeat(65_000) });
    await sleep(100);
    const lines = broker.logs().split('\n');
    expect(lines.some((l) => l.includes('ccccc'))).toBe(true);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(1_020);
  });

  it('keeps serving, and stops on SIGTERM, when nobody reads its log', async () => {
    const port = await freePort();
    const bin = join(resolve(import.meta.dirname, '../../..'), 'bin/mqbench.js');
    // -v logs every packet to standard error, a pipe this test never reads.
    const child = spawn(process.execPath, [bin, 'broker', '-v', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.pause();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitForPort(port);
      const filler = 'f'.repeat(60_000);
      for (let i = 0; i < 50; i++) {
        const c = await res.connect({ host: '127.0.0.1', port }, 4, { clientId: `${filler}${i}` });
        c.destroy();
      }
      const started = Date.now();
      const probe = await res.connect({ host: '127.0.0.1', port }, 4, { clientId: uniqueName('probe') });
      expect(Date.now() - started).toBeLessThan(1_000);
      probe.destroy();
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(5_000).then(() => 'still running')]);
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = netConnect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${port}`);
}
