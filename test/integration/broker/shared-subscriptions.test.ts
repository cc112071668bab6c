/**
 * Shared subscriptions `$share/{group}/{filter}`: one member per message, round-robin, groups independent of each
 * other and of plain subscriptions.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { TestResources, payloadsOf, uniqueName, type RawClient } from '../../helpers/raw-client.js';
import { RC } from '../../../src/protocol/reason-codes.js';

describe.each(testBrokerKinds())('%s broker: shared subscriptions', (kind) => {
  let broker: TestBroker;
  const res = new TestResources();
  beforeAll(async () => {
    broker = await startTestBroker(kind);
  });
  afterAll(async () => {
    await broker?.stop();
  });
  afterEach(() => res.releaseAll());

  async function members(filter: string, versions: Array<4 | 5>, qos: 0 | 1 | 2 = 1): Promise<RawClient[]> {
    const out: RawClient[] = [];
    for (const v of versions) {
      const c = await res.connect(broker, v, { clientId: uniqueName('member') });
      expect((await c.subscribe(filter, qos)).granted).toEqual([qos]);
      out.push(c);
    }
    return out;
  }

  /** Publishes `count` QoS 1 messages m0..m{count-1} to `topic`. */
  async function publishMany(topic: string, count: number): Promise<void> {
    const pub = await res.connect(broker, 5, { clientId: uniqueName('share-pub') });
    for (let i = 0; i < count; i++) await pub.publish(topic, `m${i}`, { qos: 1 });
  }

  /** Everything each client receives until 200 ms pass without a PUBLISH, acknowledged as it comes. */
  async function drain(clients: RawClient[]): Promise<string[][]> {
    return Promise.all(
      clients.map(async (c) => {
        const got: string[] = [];
        for (;;) {
          try {
            got.push(payloadsOf([await c.receive(200)])[0]);
          } catch {
            return got;
          }
        }
      }),
    );
  }

  it('[MQTT-4.8.2-1] [MQTT-4.8.2-2] each message goes to exactly one member of the group (3.1.1 and v5 members alike)', async () => {
    const topic = uniqueName('shared');
    const group = await members(`$share/g1/${topic}`, [5, 5, 4]);
    await publishMany(topic, 12);
    const got = await drain(group);
    expect(got.flat().sort()).toEqual(Array.from({ length: 12 }, (_, i) => `m${i}`).sort());
  });

  it('members take turns: round-robin in a fixed order', async () => {
    const topic = uniqueName('rr');
    const group = await members(`$share/rr/${topic}`, [5, 5, 5]);
    await publishMany(topic, 9);
    const got = await drain(group);
    expect(got.map((g) => g.length)).toEqual([3, 3, 3]);
    for (const mine of got) {
      const idx = mine.map((p) => Number(p.slice(1)));
      expect(idx).toEqual([idx[0], idx[0] + 3, idx[0] + 6]);
    }
  });

  it('each group gets its own copy, and a plain subscriber gets one as well', async () => {
    const topic = uniqueName('groups');
    const a = await members(`$share/ga/${topic}`, [5, 5]);
    const b = await members(`$share/gb/${topic}`, [5]);
    const plain = await members(topic, [4]);
    await publishMany(topic, 4);
    const [a1, a2, b1, p1] = await drain([...a, ...b, ...plain]);
    const all = ['m0', 'm1', 'm2', 'm3'];
    expect([...a1, ...a2].sort()).toEqual(all);
    expect(b1).toEqual(all);
    expect(p1).toEqual(all);
  });

  it('[MQTT-4.8.2-3] a member receives at the QoS granted to its subscription', async () => {
    const topic = uniqueName('share-qos');
    const [only] = await members(`$share/q/${topic}`, [5], 0);
    const pub = await res.connect(broker, 5, { clientId: uniqueName('share-qos-pub') });
    await pub.publish(topic, 'x', { qos: 2 });
    expect((await only.next('publish')).qos).toBe(0);
  });

  it('a member that unsubscribes or disconnects gets no more messages; the others get them all', async () => {
    const topic = uniqueName('leave');
    const [leaver, quitter, stayer] = await members(`$share/l/${topic}`, [5, 5, 5]);
    await leaver.unsubscribe(`$share/l/${topic}`);
    await quitter.disconnect();
    await publishMany(topic, 5);
    const [fromLeaver, fromStayer] = await drain([leaver, stayer]);
    expect(fromLeaver).toEqual([]);
    expect(fromStayer).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('[MQTT-4.8.2-1] [MQTT-4.8.2-2] a shared filter without a share name or without a filter is refused with 0x8F (bundled)', async () => {
    for (const bad of ['$share/onlygroup', '$share//x']) {
      const c = await res.connect(broker, 5, { clientId: uniqueName('bad-share') });
      const suback = await c.subscribe(bad, 1);
      // Mosquitto 2.0.11 grants both as if they were plain topic filters.
      expect(suback.granted, bad).toEqual([kind === 'bundled' ? RC.TopicFilterInvalid : 1]);
    }
  });
});
