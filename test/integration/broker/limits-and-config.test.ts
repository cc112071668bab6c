/**
 * mosquitto.conf options that limit or shape the broker: max_connections, max_queued_messages with
 * max_inflight_messages, message_size_limit, retain_available; and the config parser's error reports.
 * (allow_anonymous: connect.test.ts; max_keepalive: keepalive.test.ts; max_packet_size: mqtt5.test.ts;
 * sys_interval: sys.test.ts; log_type: logging.test.ts; max_inflight_messages alone: publish-qos.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds } from '../../helpers/brokers.js';
import { TestResources, connackCode, payloadsOf, uniqueName } from '../../helpers/raw-client.js';
import { parseConfig } from '../../../broker/config.js';
import { RC } from '../../../src/protocol/reason-codes.js';

describe.each(testBrokerKinds())('%s broker: limits from the config', (kind) => {
  const res = new TestResources();
  afterEach(() => res.releaseAll());

  it('max_connections: a connection beyond the limit is closed without CONNACK; a freed slot can be reused', async () => {
    const b = res.add(await startTestBroker(kind, ['max_connections 2']));
    // Mosquitto 2.0.11 lets one connection more than max_connections in (observed for 1, 2 and 3); the bundled
    // broker is held to the limit itself.
    const allowed = kind === 'bundled' ? 2 : 3;
    const inside = [];
    for (let i = 0; i < allowed; i++) inside.push(await res.connect(b, 4, { clientId: uniqueName('mc') }));
    const over = await res.open(b, 4);
    over.send(over.connectPacket({ clientId: uniqueName('mc-over') }));
    await over.closed();
    expect(over.received).toEqual([]);

    await inside[0].disconnect();
    // The broker may still be tearing the first connection down: retry briefly.
    let accepted = false;
    for (let attempt = 0; attempt < 10 && !accepted; attempt++) {
      const c = await res.open(b, 4);
      c.send(c.connectPacket({ clientId: uniqueName('mc-again') }));
      accepted = await c.next('connack', 300).then(
        (ack) => connackCode(ack) === 0,
        () => false,
      );
    }
    expect(accepted).toBe(true);
  });

  it('max_queued_messages counts beyond max_inflight_messages for a connected client that does not acknowledge', async () => {
    const b = res.add(await startTestBroker(kind, ['max_inflight_messages 2', 'max_queued_messages 3']));
    const t = uniqueName('queued');
    const sub = await res.connect(b, 4, { clientId: uniqueName('queued-sub') });
    await sub.subscribe(t, 1);
    const pub = await res.connect(b, 4, { clientId: uniqueName('queued-pub') });
    for (let i = 0; i < 10; i++) await pub.publish(t, `m${i}`, { qos: 1 });

    const got: string[] = [];
    for (;;) {
      const p = await sub.next('publish', 300).catch(() => undefined);
      if (p === undefined) break;
      got.push(p.payload.toString());
      sub.send({ cmd: 'puback', messageId: p.messageId! });
    }
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('message_size_limit: a larger PUBLISH is dropped; QoS 1/2 still acknowledged (v5: 0x95), the connection stays', async () => {
    const b = res.add(await startTestBroker(kind, ['message_size_limit 10']));
    const t = uniqueName('size');
    const sub = await res.connect(b, 5, { clientId: uniqueName('size-sub') });
    await sub.subscribe(`${t}/#`, 2);
    const big = Buffer.alloc(11, 0x62);

    for (const v of [4, 5] as const) {
      const c = await res.connect(b, v, { clientId: uniqueName(`size${v}`) });
      c.send({ cmd: 'publish', topic: `${t}/q0`, payload: big, qos: 0, dup: false, retain: false });

      c.send({ cmd: 'publish', topic: `${t}/q1`, payload: big, qos: 1, messageId: 11, dup: false, retain: false });
      const puback = await c.next('puback');
      expect(puback.messageId).toBe(11);
      // 0x95 is not among the PUBACK/PUBREC reason codes the spec lists, but it is what Mosquitto sends.
      if (v === 5) expect(puback.reasonCode).toBe(RC.PacketTooLarge);

      c.send({ cmd: 'publish', topic: `${t}/q2`, payload: big, qos: 2, messageId: 12, dup: false, retain: false });
      const pubrec = await c.next('pubrec');
      expect(pubrec.messageId).toBe(12);
      if (v === 5) {
        expect(pubrec.reasonCode).toBe(RC.PacketTooLarge);
      } else {
        c.send({ cmd: 'pubrel', messageId: 12 });
        expect((await c.next('pubcomp')).messageId).toBe(12);
      }

      await c.publish(`${t}/fits`, Buffer.alloc(10, 0x61), { qos: 1 });
      expect(c.closedByBroker).toBe(false);
      const delivered = await sub.receive();
      expect([delivered.topic, delivered.payload.length]).toEqual([`${t}/fits`, 10]);
    }
    await sub.expectNothing(150, 'publish');
  });

  it('[MQTT-3.2.2-13] [MQTT-3.2.2-14] retain_available false: v5 CONNACK says so; a retained PUBLISH or will is refused', async () => {
    const b = res.add(await startTestBroker(kind, ['retain_available false']));
    const t = uniqueName('noretain');
    const sub = await res.connect(b, 4, { clientId: uniqueName('noretain-sub') });
    await sub.subscribe(t, 1);

    const c5 = await res.open(b, 5);
    const connack = await c5.connect({ clientId: uniqueName('noretain5') });
    expect(connack.properties?.retainAvailable).toBe(false);
    await c5.publish(t, 'plain', { qos: 1 });
    expect(payloadsOf([await sub.receive()])).toEqual(['plain']);
    c5.send({ cmd: 'publish', topic: t, payload: 'kept?', qos: 1, messageId: 2, dup: false, retain: true });
    expect((await c5.next('disconnect')).reasonCode).toBe(RC.RetainNotSupported);
    await c5.closed();

    const c4 = await res.connect(b, 4, { clientId: uniqueName('noretain4') });
    c4.send({ cmd: 'publish', topic: t, payload: 'kept?', qos: 1, messageId: 2, dup: false, retain: true });
    await c4.closed();
    expect(c4.received.map((p) => p.cmd)).toEqual(['connack']);
    await sub.expectNothing(150, 'publish');

    const will5 = await res.open(b, 5);
    const refused = await will5.connect({
      clientId: uniqueName('noretain-will'),
      will: { topic: t, payload: 'w', qos: 0, retain: true },
    });
    expect(connackCode(refused)).toBe(RC.RetainNotSupported);
    await will5.closed();
  });
});

describe('parseConfig (bundled broker config)', () => {
  it('reads the supported options', () => {
    const parsed = parseConfig(
      ['# comment', '', 'max_connections 5', 'max_inflight_messages 3', 'retain_available false', 'sys_interval 0'].join('\n'),
      'ok.conf',
    );
    expect(parsed.problems).toEqual([]);
    expect(parsed.options).toMatchObject({
      maxConnections: 5,
      maxInflightMessages: 3,
      retainAvailable: false,
      sysInterval: 0,
    });
  });

  it('reports every unknown, unsupported or invalid line with file:line, and suggests a near name', () => {
    const text = [
      'max_conections 5', // 1: typo
      'plugin /usr/lib/mosquitto_dynamic_security.so', // 2: a Mosquitto option not supported here
      '# fine',
      'max_inflight_messages lots', // 4: bad value
      'sys_interval 1', // 5: fine
      'allow_anonymous maybe', // 6: bad boolean
    ].join('\n');
    const { problems } = parseConfig(text, 'broker.conf');
    expect(problems.map((p) => `${p.file}:${p.line}`)).toEqual(['broker.conf:1', 'broker.conf:2', 'broker.conf:4', 'broker.conf:6']);
    expect(problems[0].message).toMatch(/unknown option "max_conections".*did you mean "max_connections"/);
    expect(problems[1].message).toMatch(/plugin.*not support/);
    expect(problems[2].message).toMatch(/max_inflight_messages/);
    expect(problems[3].message).toMatch(/allow_anonymous/);
  });

  it('the bundled test broker refuses to start with a config problem, naming it', async () => {
    await expect(startTestBroker('bundled', ['bogus_option 1'])).rejects.toThrow(/test\.conf:1: unknown option "bogus_option"/);
  });
});
