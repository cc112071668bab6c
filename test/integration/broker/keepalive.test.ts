/**
 * Keepalive: enforced at one and a half times the keepalive (will published), kept alive by any packet,
 * keepalive 0 never expires, and max_keepalive / v5 Server Keep Alive.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds } from '../../helpers/brokers.js';
import { TestResources, connackCode, payloadsOf, sleep, uniqueName, type RawClient } from '../../helpers/raw-client.js';
import { RC } from '../../../src/protocol/reason-codes.js';

describe.each(testBrokerKinds())('%s broker: keepalive', (kind) => {
  const res = new TestResources();
  afterEach(() => res.releaseAll());

  // Mosquitto 2.0.11 sweeps keepalives on a whole-second clock every few seconds: a keepalive of 1 s is enforced
  // after about 5 s there. The bundled broker is held to the 1.5 s the spec asks for.
  const earliestMs = 1_400;
  const latestMs = kind === 'bundled' ? 2_500 : 8_000;

  /** Resolves with how long after `since` the broker closed `c`. */
  async function closedAfter(c: RawClient, since: number): Promise<number> {
    await c.closed(latestMs + 1_000);
    return Date.now() - since;
  }

  /** Sends `send()` every 400 ms until stopped; the broker must keep the connection. */
  function every400ms(send: () => void): () => void {
    const timer = setInterval(send, 400);
    return () => clearInterval(timer);
  }

  it('[MQTT-3.1.2-24] [MQTT-3.1.2-22] [MQTT-3.1.2-8] [MQTT-3.12.4-1] [MQTT-3.2.2-21] keepalive is enforced at 1.5x (will sent), any packet keeps a client alive, keepalive 0 never expires', async () => {
    const broker = res.add(await startTestBroker(kind));
    // Mosquitto 2.0.11 refuses max_keepalive below 10 at start-up, so the Server Keep Alive is enforced here for
    // the bundled broker only (with Mosquitto it would take 15 s or more).
    const capped = kind === 'bundled' ? res.add(await startTestBroker(kind, ['max_keepalive 1'])) : undefined;
    const willTopic = uniqueName('ka-will');
    const watcher = await res.connect(broker, 4, { clientId: uniqueName('ka-watch') });
    await watcher.subscribe(willTopic, 1);

    const idle4 = await res.connect(broker, 4, {
      clientId: uniqueName('idle4'),
      keepalive: 1,
      will: { topic: willTopic, payload: 'timed out', qos: 1, retain: false },
    });
    const start = Date.now();
    const idle5 = await res.connect(broker, 5, { clientId: uniqueName('idle5'), keepalive: 1 });
    let serverKa: RawClient | undefined;
    if (capped) {
      serverKa = await res.open(capped, 5);
      const connack = await serverKa.connect({ clientId: uniqueName('srvka'), keepalive: 60 });
      expect(connack.properties?.serverKeepAlive).toBe(1);
    }

    const pinger = await res.connect(broker, 4, { clientId: uniqueName('pinger'), keepalive: 1 });
    const stopPing = every400ms(() => pinger.send({ cmd: 'pingreq' }));
    const talker = await res.connect(broker, 5, { clientId: uniqueName('talker'), keepalive: 1 });
    const talkTopic = uniqueName('talk');
    const stopTalk = every400ms(() =>
      talker.send({ cmd: 'publish', topic: talkTopic, payload: 'x', qos: 0, dup: false, retain: false }),
    );
    const forever = await res.connect(broker, 4, { clientId: uniqueName('ka0'), keepalive: 0 });

    try {
      const idle: Array<[string, RawClient]> = [
        ['3.1.1 idle client', idle4],
        ['v5 idle client', idle5],
      ];
      if (serverKa) idle.push(['v5 client under Server Keep Alive 1', serverKa]);
      const times = await Promise.all(idle.map(([, c]) => closedAfter(c, start)));
      for (const [i, t] of times.entries()) {
        const name = idle[i][0];
        expect(t, name).toBeGreaterThanOrEqual(earliestMs);
        expect(t, name).toBeLessThanOrEqual(latestMs);
      }
      // A DISCONNECT before the close is allowed for v5 (Mosquitto sends none); it must then say keepalive timeout.
      for (const p of idle5.received) if (p.cmd === 'disconnect') expect(p.reasonCode).toBe(RC.KeepAliveTimeout);

      expect(payloadsOf([await watcher.receive()])).toEqual(['timed out']);

      await sleep(500);
      expect(pinger.closedByBroker, 'client sending PINGREQ').toBe(false);
      expect(talker.closedByBroker, 'client sending PUBLISH').toBe(false);
      expect(forever.closedByBroker, 'client with keepalive 0').toBe(false);
      expect(pinger.received.filter((p) => p.cmd === 'pingresp').length).toBeGreaterThanOrEqual(3);
    } finally {
      stopPing();
      stopTalk();
    }
  });

  it('[MQTT-3.2.2-21] [MQTT-3.2.2-22] max_keepalive: v5 clients asking for more, or for 0, get Server Keep Alive; others get none', async () => {
    const b = res.add(await startTestBroker(kind, ['max_keepalive 10']));
    const cases: Array<[number, number | undefined]> = [
      [60, 10],
      [0, 10],
      [10, undefined],
      [5, undefined],
    ];
    for (const [asked, told] of cases) {
      const c = await res.open(b, 5);
      const connack = await c.connect({ clientId: uniqueName('maxka'), keepalive: asked });
      expect(connackCode(connack)).toBe(0);
      expect(connack.properties?.serverKeepAlive, `keepalive ${asked}`).toBe(told);
    }
    // 3.1.1 has no way to tell the client; Mosquitto 2.0.11 accepts the connection as asked.
    const old = await res.open(b, 4);
    expect(connackCode(await old.connect({ clientId: uniqueName('maxka4'), keepalive: 60 }))).toBe(0);
  });
});
