/**
 * Paced publishing: drift-free schedule from the step's start, owed messages sent on the next pump, intended send
 * times while catching up after being held back (coordinated omission), count and duration limits.
 */
import { describe, expect, it } from 'vitest';
import { loadScenarioText, type PublishStep } from '../../../src/scenario/index.js';
import { Publisher } from '../../../src/engine/publisher.js';
import type { SimClient } from '../../../src/engine/client.js';

function step(publish: string): PublishStep {
  const loaded = loadScenarioText(`name: p\ngroups:\n  - name: g\n    steps:\n      - connect\n      - publish: ${publish}\n`, 'p.yaml');
  if ('problems' in loaded) throw new Error(loaded.problems.map((p) => p.message).join('\n'));
  return loaded.scenario.groups[0].steps[1] as PublishStep;
}

/** The parts of a client a publisher uses, recording what it sends. */
class FakeClient {
  readonly sent: number[] = [];
  connected = true;
  windowFull = false;
  finished = 0;
  readonly clientId = 'c';
  readonly index = 0;
  readonly group = { name: 'g' };
  readonly protocolVersion = 4;
  readonly publisherId = 1;
  readonly slot = 0;
  totalSent = 0;
  readonly engine = {
    payloadFor: () => Buffer.alloc(24),
    flow: { open: () => true },
    gated: () => undefined,
  };
  canSend = () => this.connected;
  inflightFull = () => this.windowFull;
  backlog = () => 0;
  waitForDrain = () => undefined;
  nextSeq = () => 0;
  streamFor = () => ({ publisherId: 1, clientId: 'c', topic: 't', qos: 0, sent: 0, acknowledged: 0, firstUs: -1, lastUs: -1 });
  sendPublish = (_t: unknown, _s: unknown, sentUs: number) => {
    this.sent.push(sentUs);
    this.totalSent++;
  };
  publisherFinished = () => {
    this.finished++;
  };
}

function publisher(publish: string, startUs = 0): { pub: Publisher; client: FakeClient } {
  const client = new FakeClient();
  const pub = new Publisher(client as unknown as SimClient, step(publish), startUs);
  return { pub, client };
}

describe('paced publisher', () => {
  it('sends on a fixed schedule from the start without drift, and says when the next one is due', () => {
    const { pub, client } = publisher('{ topic: t, rate: 100/s, count: 10 }', 1_000_000);
    expect(pub.pump(1_000_000)).toBe(1_010_000);
    expect(client.sent).toEqual([1_000_000]);
    // A late timer (+3.5 intervals): the owed messages go out now, the schedule itself does not move.
    expect(pub.pump(1_035_000)).toBe(1_040_000);
    expect(client.sent).toHaveLength(4);
    expect(pub.pump(1_040_100)).toBe(1_050_000);
    expect(client.sent).toHaveLength(5);
  });

  it('stamps messages with the send time when on schedule, and with their intended times after being held back', () => {
    const { pub, client } = publisher('{ topic: t, qos: 1, rate: 100/s, count: 10 }', 0);
    pub.pump(500);
    expect(client.sent).toEqual([500]);
    client.windowFull = true;
    expect(pub.pump(10_200)).toBe(-1);
    client.windowFull = false;
    pub.pump(31_000);
    // Held back from 10 ms: the messages owed for 10, 20 and 30 ms carry those times.
    expect(client.sent).toEqual([500, 10_000, 20_000, 30_000]);
    pub.pump(40_300);
    expect(client.sent.at(-1)).toBe(40_300);
  });

  it('stops at its count, and at its duration whatever remains', () => {
    const counted = publisher('{ topic: t, rate: 1000/s, count: 3 }', 0);
    counted.pub.pump(1_000_000);
    expect(counted.client.sent).toHaveLength(3);
    expect(counted.pub.done).toBe(true);
    expect(counted.client.finished).toBe(1);

    const timed = publisher('{ topic: t, rate: 1000/s, duration: 10ms }', 0);
    timed.pub.pump(9_500);
    expect(timed.client.sent).toHaveLength(10);
    timed.pub.pump(50_000);
    expect(timed.client.sent).toHaveLength(10);
    expect(timed.pub.done).toBe(true);
  });

  it('divides a group rate among the group\'s clients', () => {
    const loaded = loadScenarioText(
      'name: p\ngroups:\n  - name: g\n    clients: 4\n    steps:\n      - connect\n      - publish: { topic: t, totalRate: 400/s, count: 5 }\n',
      'p.yaml',
    );
    if ('problems' in loaded) throw new Error(loaded.problems.map((p) => p.message).join('\n'));
    const s = loaded.scenario.groups[0].steps[1] as PublishStep;
    expect(s.clientIntervalUs).toBe(10_000);
  });
});
