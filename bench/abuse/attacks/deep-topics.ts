/**
 * Topics of thousands of levels: a will routed when its client's socket closes (at once, or after a v5 will delay),
 * and a retained message that a SUBSCRIBE to # must find. A broker that walks levels by recursion runs out of stack.
 */
import { deepTopic, emptyLevelsTopic } from '../../fuzz/topics.js';
import type { MqttClient } from '../../harness/mqtt-client.js';
import type { Attack, AttackOutcome, AttackTarget } from '../attack.js';
import { ACK_TIMEOUT_MS, connected, sleep } from './tools.js';

const WILL_LEVELS = 5_000;
const RETAINED_LEVELS = 20_000;
/** Time for the will (or the retained message) to arrive after it is due. */
const DELIVERY_WAIT_MS = 3_000;

async function deepWill(target: AttackTarget, willDelaySeconds: number): Promise<AttackOutcome> {
  const topic = deepTopic(WILL_LEVELS);
  // Someone is subscribed where the will goes, so the broker must route it through its subscription tree.
  let willsSeen = 0;
  const watcher = await connected(target, { clientId: 'abuse-will-watcher' }, (_c, p) => {
    if (p.cmd === 'publish' && p.topic === topic) willsSeen++;
  });
  const notes: string[] = [];
  try {
    watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 0 }] });
    await watcher.next((p) => p.cmd === 'suback', ACK_TIMEOUT_MS, 'SUBACK');
    const v5 = willDelaySeconds > 0;
    const attacking = connected(target, {
      clientId: 'abuse-deep-will',
      protocolVersion: v5 ? 5 : 4,
      // A will delay only matters while the session lives on after the connection.
      properties: v5 ? { sessionExpiryInterval: 60 } : undefined,
      will: {
        topic,
        payload: Buffer.from('will'),
        qos: 0,
        retain: false,
        properties: v5 ? { willDelayInterval: willDelaySeconds } : undefined,
      },
    });
    let attacker: MqttClient;
    try {
      attacker = await attacking;
    } catch (err) {
      // Refusing such a topic is a fair answer (Mosquitto allows 200 levels); crashing is not.
      return {
        inFlightBytes: 0,
        facts: [
          { label: 'CONNECT refused', value: 1, unit: 'count' },
          { label: 'will delivered', value: 0, unit: 'count' },
        ],
        notes: [`the broker refused the will's topic: ${(err as Error).message}`],
      };
    }
    attacker.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    await attacker.next((p) => p.cmd === 'suback', ACK_TIMEOUT_MS, 'SUBACK').catch((err: Error) => notes.push(err.message));
    const inFlightBytes = attacker.bytesWritten;
    attacker.destroy();
    const deadline = performance.now() + willDelaySeconds * 1000 + DELIVERY_WAIT_MS;
    while (willsSeen === 0 && watcher.open && performance.now() < deadline) await sleep(20);
    if (!watcher.open) notes.push(watcher.closedReason ?? 'watcher closed');
    return {
      inFlightBytes,
      facts: [
        { label: 'CONNECT refused', value: 0, unit: 'count' },
        { label: 'will delivered', value: willsSeen, unit: 'count' },
      ],
      notes,
    };
  } finally {
    watcher.destroy();
  }
}

async function deepRetained(target: AttackTarget): Promise<AttackOutcome> {
  const topic = emptyLevelsTopic(RETAINED_LEVELS);
  let retainedSeen = 0;
  const notes: string[] = [];
  const client: MqttClient = await connected(target, { clientId: 'abuse-deep-retained' }, (_c, p) => {
    if (p.cmd === 'publish' && p.topic === topic) retainedSeen++;
  });
  try {
    client.send({ cmd: 'publish', topic, payload: Buffer.from('retained'), qos: 1, messageId: 1, retain: true, dup: false });
    await client.next((p) => p.cmd === 'puback', ACK_TIMEOUT_MS, 'PUBACK').catch((err: Error) => notes.push(err.message));
    client.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '#', qos: 0 }] });
    await client.next((p) => p.cmd === 'suback', ACK_TIMEOUT_MS, 'SUBACK').catch((err: Error) => notes.push(err.message));
    const deadline = performance.now() + DELIVERY_WAIT_MS;
    while (retainedSeen === 0 && client.open && performance.now() < deadline) await sleep(20);
    if (!client.open) notes.push(client.closedReason ?? 'closed');
    return {
      inFlightBytes: client.bytesWritten,
      facts: [{ label: 'retained delivered', value: retainedSeen, unit: 'count' }],
      notes,
    };
  } finally {
    await client.disconnect();
  }
}

export const DEEP_WILL: Attack = {
  name: 'deep-will',
  title: `will on a ${WILL_LEVELS.toLocaleString('en-US')}-level topic, routed when its client's socket closes`,
  run: (target) => deepWill(target, 0),
};

export const DEEP_WILL_DELAYED: Attack = {
  name: 'deep-will-delayed',
  title: `the same will with a v5 will delay of 1 s`,
  run: (target) => deepWill(target, 1),
};

export const DEEP_RETAINED: Attack = {
  name: 'deep-retained',
  title: `retained message on a ${RETAINED_LEVELS.toLocaleString('en-US')}-level topic, then SUBSCRIBE #`,
  run: deepRetained,
};
