/**
 * Topics thousands of levels deep over the wire: the failures the router and retained-store properties found in
 * the broker's recursive walks (test/unit/broker/*-property.test.ts), as a client sees them. A broker may refuse
 * such topics (Mosquitto 2.0.11 closes the connection of a client that publishes or subscribes with more than 200
 * separators, 201 levels); one that accepts them must serve them, and must not let one client's deep topic break
 * another client's connection.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { TestResources, describePacket, uniqueName } from '../../helpers/raw-client.js';

/** 30,000 levels: 60 kB, within a topic's 65,535 bytes. */
const DEPTH = 30_000;

function deepTopic(root: string): string {
  return `${root}${'/a'.repeat(DEPTH - 1)}`;
}

describe.each(testBrokerKinds())('%s broker: topics thousands of levels deep', (kind) => {
  let broker: TestBroker;
  const res = new TestResources();
  beforeAll(async () => {
    broker = await startTestBroker(kind);
  });
  afterAll(async () => {
    await broker?.stop();
  });
  afterEach(() => res.releaseAll());

  it('a retained message on a deep topic does not cost a later subscriber to # its connection', async () => {
    const publisher = await res.connect(broker, 4, { clientId: uniqueName('deep-ret') });
    // Stored or refused (the broker may close this connection): either way, others must not suffer.
    await publisher.publish(deepTopic(uniqueName('deep')), 'deep', { qos: 1, retain: true }).catch(() => undefined);

    const subscriber = await res.connect(broker, 4, { clientId: uniqueName('deep-all') });
    const suback = await subscriber.subscribe('#', 1);
    expect(suback.granted).toEqual([1]);
    expect(await subscriber.stillOpenAfter(100)).toBe(true);
  });

  it('a granted subscription to a deep topic gets what is published to it, and the publisher its PUBACK', async () => {
    const topic = deepTopic(uniqueName('deep'));
    const subscriber = await res.connect(broker, 4, { clientId: uniqueName('deep-sub') });
    let granted: number;
    try {
      granted = Number((await subscriber.subscribe(topic, 1)).granted[0]);
    } catch {
      // Refused by closing the connection (Mosquitto): the broker does not take deep topics at all.
      expect(subscriber.closedByBroker).toBe(true);
      return;
    }
    // Refused in the SUBACK: also a way not to take deep topics.
    if (granted >= 0x80) return;
    const publisher = await res.connect(broker, 4, { clientId: uniqueName('deep-pub') });
    const puback = await publisher.publish(topic, 'deep', { qos: 1 });
    expect(puback && describePacket(puback)).toMatch(/^puback/);
    const delivered = await subscriber.next('publish');
    expect(delivered.topic).toBe(topic);
  });
});
