/**
 * CONNECT / CONNACK: protocol levels, names and flags, client identifiers, authentication, second CONNECT,
 * first packet, session takeover.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import {
  TestResources,
  connackCode,
  encodeRawConnect,
  payloadsOf,
  uniqueName,
  type RawClient,
} from '../../helpers/raw-client.js';
import { startBroker } from '../../../broker/index.js';
import { defaultBrokerOptions, type AuthRequest } from '../../../broker/options.js';
import { RC, CONNACK_V3 } from '../../../src/protocol/reason-codes.js';

const kinds = testBrokerKinds();

/** Closed, with nothing received but (at most) a refusing CONNACK. */
function expectRefusedWithoutSession(c: RawClient): void {
  for (const p of c.received) {
    expect(p.cmd).toBe('connack');
    if (p.cmd === 'connack') expect(connackCode(p)).not.toBe(0);
  }
}

describe.each(kinds)('%s broker: CONNECT and CONNACK', (kind) => {
  let broker: TestBroker;
  const res = new TestResources();
  beforeAll(async () => {
    broker = await startTestBroker(kind);
  });
  afterAll(async () => {
    await broker?.stop();
  });
  afterEach(() => res.releaseAll());

  it('accepts MQTT 3.1 ("MQIsdp", level 3), 3.1.1 and 5 on one listener and routes between them', async () => {
    const topic = uniqueName('levels');
    const clients = await Promise.all(
      ([3, 4, 5] as const).map((v) => res.connect(broker, v, { clientId: uniqueName(`lv${v}`) })),
    );
    for (const c of clients) await c.subscribe(`${topic}/#`, 1);
    for (const c of clients) await c.publish(`${topic}/from${c.protocolVersion}`, `v${c.protocolVersion}`, { qos: 1 });
    for (const c of clients) {
      const got = [await c.receive(), await c.receive(), await c.receive()];
      expect(payloadsOf(got).sort()).toEqual(['v3', 'v4', 'v5']);
    }
  });

  it('[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 (0x84 in a v5 CONNACK), then the connection closes', async () => {
    const c = await res.open(broker, 4);
    c.sendRaw(encodeRawConnect({ level: 6, clientId: uniqueName('lvl6') }));
    const connack = await c.next('connack');
    // Mosquitto answers with a 3.1.1-shaped CONNACK carrying 0x01, which every client version can read.
    expect([CONNACK_V3.UnacceptableProtocolVersion, RC.UnsupportedProtocolVersion]).toContain(connackCode(connack));
    expect(connack.sessionPresent).toBe(false);
    await c.closed();
  });

  it('[MQTT-3.1.2-2] protocol name "MQIsdp" with a level other than 3 gets CONNACK 0x01, then the connection closes', async () => {
    const c = await res.open(broker, 4);
    c.sendRaw(encodeRawConnect({ protocolName: 'MQIsdp', level: 4, clientId: uniqueName('mqisdp4') }));
    expect(connackCode(await c.next('connack'))).toBe(CONNACK_V3.UnacceptableProtocolVersion);
    await c.closed();
  });

  it('[MQTT-3.1.2-1] an unknown protocol name closes the connection without accepting it', async () => {
    const c = await res.open(broker, 4);
    c.sendRaw(encodeRawConnect({ protocolName: 'MQTX', level: 4, clientId: uniqueName('mqtx') }));
    await c.closed();
    expectRefusedWithoutSession(c);
  });

  it.each([4, 5] as const)('[MQTT-3.1.2-3] [MQTT-3.1.4-1] the reserved CONNECT flag set closes the connection (v%i)', async (v) => {
    const c = await res.open(broker, v);
    c.sendRaw(encodeRawConnect({ level: v, flags: 0x03, clientId: uniqueName('reserved') }));
    await c.closed();
    expectRefusedWithoutSession(c);
  });

  it('[MQTT-3.1.3-6] [MQTT-3.2.2-1] a 3.1.1 client with an empty client id and clean session is accepted and works', async () => {
    const c = await res.open(broker, 4);
    c.sendRaw(encodeRawConnect({ level: 4, flags: 0x02, clientId: '' }));
    const connack = await c.next('connack');
    expect(connackCode(connack)).toBe(0);
    expect(connack.sessionPresent).toBe(false);
    const topic = uniqueName('anon');
    await c.subscribe(topic, 0);
    await c.publish(topic, 'self', { qos: 0 });
    expect(payloadsOf([await c.next('publish')])).toEqual(['self']);
  });

  it('[MQTT-3.1.3-7] [MQTT-3.2.2-16] a v5 client with an empty client id gets a new Assigned Client Identifier', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await res.open(broker, 5);
      const connack = await c.connect({ clientId: '', clean: true });
      expect(connackCode(connack)).toBe(0);
      const assigned = connack.properties?.assignedClientIdentifier;
      expect(typeof assigned).toBe('string');
      expect(assigned!.length).toBeGreaterThan(0);
      ids.push(assigned!);
    }
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('[MQTT-3.1.3-8] [MQTT-3.2.2-4] a 3.1.1 empty client id without clean session gets CONNACK 0x02, then the connection closes', async () => {
    const c = await res.open(broker, 4);
    c.sendRaw(encodeRawConnect({ level: 4, flags: 0x00, clientId: '' }));
    const connack = await c.next('connack');
    expect(connackCode(connack)).toBe(CONNACK_V3.IdentifierRejected);
    expect(connack.sessionPresent).toBe(false);
    await c.closed();
  });

  it('[MQTT-3.1.3-8] a v5 empty client id without clean start is refused with 0x85 (bundled)', async () => {
    const c = await res.open(broker, 5);
    c.sendRaw(encodeRawConnect({ level: 5, flags: 0x00, clientId: '' }));
    const connack = await c.next('connack');
    if (kind === 'bundled') {
      expect(connackCode(connack)).toBe(RC.ClientIdentifierNotValid);
      expect(connack.sessionPresent).toBe(false);
      await c.closed();
    } else {
      // Mosquitto 2.0.11 accepts it and assigns an identifier, as if clean start were set.
      expect(connackCode(connack)).toBe(0);
      expect(connack.properties?.assignedClientIdentifier).toBeTruthy();
    }
  });

  it('MQTT 3.1 requires a client id of 1 to 23 characters: an empty one gets CONNACK 0x02 even with clean session', async () => {
    const c = await res.open(broker, 3);
    c.sendRaw(encodeRawConnect({ level: 3, flags: 0x02, clientId: '' }));
    expect(connackCode(await c.next('connack'))).toBe(CONNACK_V3.IdentifierRejected);
    await c.closed();
  });

  it('[MQTT-3.1.3-5] client ids of 1 to 23 alphanumeric characters are accepted (and longer UTF-8 ones too)', async () => {
    for (const clientId of ['a', 'Z0123456789abcdefghijkl', `é-${uniqueName('long').padEnd(60, 'x')}`]) {
      const c = await res.open(broker, 4);
      expect(connackCode(await c.connect({ clientId }))).toBe(0);
      await c.disconnect();
    }
  });

  it('[MQTT-3.1.0-2] a second CONNECT on one connection is a protocol violation: the connection closes (3.1.1)', async () => {
    const c = await res.connect(broker, 4, { clientId: uniqueName('twice') });
    c.send(c.connectPacket({ clientId: uniqueName('twice') }));
    await c.closed();
    expect(c.received.filter((p) => p.cmd === 'connack')).toHaveLength(1);
  });

  it('[MQTT-3.1.0-2] [MQTT-3.2.0-2] a second CONNECT on one connection is a protocol error: the connection closes (v5)', async () => {
    const c = await res.connect(broker, 5, { clientId: uniqueName('twice5') });
    c.send(c.connectPacket({ clientId: uniqueName('twice5') }));
    await c.closed();
    expect(c.received.filter((p) => p.cmd === 'connack')).toHaveLength(1);
    // Mosquitto closes without a DISCONNECT; a DISCONNECT, if sent, must say protocol error.
    for (const p of c.received) if (p.cmd === 'disconnect') expect(p.reasonCode).toBe(RC.ProtocolError);
  });

  it.each([
    ['PINGREQ', [0xc0, 0x00]],
    ['PUBLISH', [0x30, 0x04, 0x00, 0x01, 0x74, 0x78]],
    ['SUBSCRIBE', [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x74, 0x00]],
  ])('[MQTT-3.1.0-1] a first packet that is not CONNECT (%s) closes the connection', async (_name, bytes) => {
    const c = await res.open(broker, 4);
    c.sendRaw(bytes);
    await c.closed();
    expect(c.received).toEqual([]);
  });

  it('[MQTT-3.1.4-2] a new connection with a connected client id takes over: the old connection is closed (3.1.1)', async () => {
    const clientId = uniqueName('takeover');
    const topic = uniqueName('takeover-t');
    const old = await res.connect(broker, 4, { clientId });
    await old.subscribe(topic, 0);
    const fresh = await res.connect(broker, 4, { clientId });
    await old.closed();
    await fresh.subscribe(topic, 0);
    await fresh.publish(topic, 'to-new', { qos: 0 });
    expect(payloadsOf([await fresh.next('publish')])).toEqual(['to-new']);
    expect(await fresh.stillOpenAfter(100)).toBe(true);
  });

  it('[MQTT-3.1.4-3] v5 takeover: the old connection gets DISCONNECT 0x8E (Session taken over) and is closed (bundled)', async () => {
    const clientId = uniqueName('takeover5');
    const old = await res.connect(broker, 5, { clientId });
    await res.connect(broker, 5, { clientId });
    await old.closed();
    const disconnects = old.received.filter((p) => p.cmd === 'disconnect');
    if (kind === 'bundled') {
      expect(disconnects).toHaveLength(1);
      expect(disconnects[0].cmd === 'disconnect' && disconnects[0].reasonCode).toBe(RC.SessionTakenOver);
    } else {
      // Mosquitto 2.0.11 queues the DISCONNECT but closes the socket before writing it: the old client sees only EOF.
      expect(disconnects).toEqual([]);
    }
  });

  it('[MQTT-3.2.2-5] [MQTT-3.1.4-5] allow_anonymous false refuses a 3.1.1 client without username with 0x05 and ignores what follows', async () => {
    const b = res.add(await startTestBroker(kind, ['allow_anonymous false']));
    const c = await res.open(b, 4);
    const topic = uniqueName('anon-refused');
    // CONNECT and SUBSCRIBE in one write: the SUBSCRIBE must not be processed.
    c.sendRaw(
      Buffer.concat([
        c.encode(c.connectPacket({ clientId: uniqueName('anon4') })),
        c.encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }),
      ]),
    );
    const connack = await c.next('connack');
    expect(connackCode(connack)).toBe(CONNACK_V3.NotAuthorized);
    expect(connack.sessionPresent).toBe(false);
    await c.closed();
    expect(c.received.map((p) => p.cmd)).toEqual(['connack']);
  });

  it('[MQTT-3.2.2-6] [MQTT-3.2.2-7] allow_anonymous false refuses a v5 client without username with 0x87, then closes', async () => {
    const b = res.add(await startTestBroker(kind, ['allow_anonymous false']));
    const c = await res.open(b, 5);
    const connack = await c.connect({ clientId: uniqueName('anon5') });
    expect(connackCode(connack)).toBe(RC.NotAuthorized);
    expect(connack.sessionPresent).toBe(false);
    await c.closed();
  });
});

if (kinds.includes('bundled')) {
  describe('bundled broker: authentication hook', () => {
    const res = new TestResources();
    afterEach(() => res.releaseAll());

    async function startWithHook(authenticate: (req: AuthRequest) => boolean | number) {
      const b = await startBroker({
        ...defaultBrokerOptions(),
        listeners: [{ host: '127.0.0.1', port: 0 }],
        sysInterval: 0,
        logSink: () => undefined,
        authenticate,
      });
      res.add({ stop: () => b.close() });
      return b;
    }

    it('passes client id, username, password, address and protocol version to the hook', async () => {
      const seen: AuthRequest[] = [];
      const b = await startWithHook((req) => {
        seen.push(req);
        return true;
      });
      const c = await res.open(b, 5);
      const clientId = uniqueName('hook');
      expect(connackCode(await c.connect({ clientId, username: 'alice', password: Buffer.from('s3cret') }))).toBe(0);
      expect(seen).toHaveLength(1);
      expect(seen[0].clientId).toBe(clientId);
      expect(seen[0].username).toBe('alice');
      expect(Buffer.from(seen[0].password!).toString()).toBe('s3cret');
      expect(seen[0].address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(seen[0].protocolVersion).toBe(5);
    });

    it('refuses with "not authorized" when the hook returns false (3.1.1: 0x05, v5: 0x87)', async () => {
      const b = await startWithHook((req) => req.username === 'ok');
      const c4 = await res.open(b, 4);
      expect(connackCode(await c4.connect({ clientId: uniqueName('no4'), username: 'nope' }))).toBe(
        CONNACK_V3.NotAuthorized,
      );
      await c4.closed();
      const c5 = await res.open(b, 5);
      expect(connackCode(await c5.connect({ clientId: uniqueName('no5'), username: 'nope' }))).toBe(RC.NotAuthorized);
      await c5.closed();
      const ok = await res.open(b, 4);
      expect(connackCode(await ok.connect({ clientId: uniqueName('yes'), username: 'ok' }))).toBe(0);
    });

    it('a reason code from the hook is sent to v5 clients and mapped for 3.1.1 (0x86 → 0x04)', async () => {
      const b = await startWithHook(() => RC.BadUserNameOrPassword);
      const c5 = await res.open(b, 5);
      expect(connackCode(await c5.connect({ clientId: uniqueName('bad5'), username: 'u' }))).toBe(
        RC.BadUserNameOrPassword,
      );
      await c5.closed();
      const c4 = await res.open(b, 4);
      expect(connackCode(await c4.connect({ clientId: uniqueName('bad4'), username: 'u' }))).toBe(
        CONNACK_V3.BadUserNameOrPassword,
      );
      await c4.closed();
    });
  });
}
