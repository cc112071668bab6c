/**
 * One client publishing QoS 0 to thousands of distinct 60 KB topics (each with one character outside Latin-1) that
 * nobody subscribes to. Nothing needs keeping: a broker whose memory grows with every new topic name leaks.
 */
import { generate } from 'mqtt-packet';
import { longTopic } from '../../fuzz/topics.js';
import type { Attack, AttackOutcome, AttackTarget } from '../attack.js';
import { connected, sendConfirmed } from './tools.js';

const TOPICS = 3_000;
const TOPIC_BYTES = 60 * 1024;
const BATCH_BYTES = 512 * 1024;
const TIME_LIMIT_MS = 30_000;

async function longTopics(target: AttackTarget): Promise<AttackOutcome> {
  const client = await connected(target, { clientId: 'abuse-long-topics' });
  const payload = Buffer.from('x');
  const started = performance.now();
  try {
    const sent = await sendConfirmed(
      client,
      TOPICS,
      (i) =>
        generate({
          cmd: 'publish',
          topic: longTopic(`abuse-long/${i}/`, TOPIC_BYTES, 'Ж'),
          payload,
          qos: 0,
          dup: false,
          retain: false,
        }),
      BATCH_BYTES,
      started + TIME_LIMIT_MS,
    );
    const notes: string[] = [];
    if (sent.stalled) notes.push(`the broker stopped confirming: ${sent.stalled}`);
    return {
      inFlightBytes: sent.maxUnconfirmed,
      facts: [
        { label: 'topics published', value: sent.sent, unit: 'count' },
        { label: 'took', value: (performance.now() - started) / 1000, unit: 's' },
      ],
      notes,
    };
  } finally {
    await client.disconnect();
  }
}

export const LONG_TOPICS: Attack = {
  name: 'long-topics',
  title: `QoS 0 to ${TOPICS.toLocaleString('en-US')} distinct 60 KB topics (one non-Latin-1 character each) nobody subscribes to`,
  run: longTopics,
};
