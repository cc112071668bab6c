import { describe, expect, it } from 'vitest';
import { makeMessage } from '../../../broker/core/message.js';
import { RetainStore } from '../../../broker/core/retain.js';

const msg = (topic: string, payload = 'x', expiryAt = 0) => makeMessage(topic, Buffer.from(payload), 0, true, null, expiryAt, null);
const topics = (store: RetainStore, filter: string, now = 0) => store.match(filter, now).map((m) => m.topic).sort();

describe('RetainStore', () => {
  it('[MQTT-3.3.1-5] keeps one message per topic, the latest', () => {
    const s = new RetainStore();
    s.set(msg('a/b', 'one'));
    s.set(msg('a/b', 'two'));
    expect(s.count).toBe(1);
    expect(s.match('a/b', 0)[0].payload().toString()).toBe('two');
  });

  it('[MQTT-3.3.1-10] [MQTT-3.3.1-11] an empty payload clears the topic', () => {
    const s = new RetainStore();
    s.set(msg('a/b'));
    s.set(msg('a/b', ''));
    expect(s.count).toBe(0);
    expect(topics(s, '#')).toEqual([]);
  });

  it('matches filters with + and #, # including the parent level, and never $ topics from a leading wildcard', () => {
    const s = new RetainStore();
    for (const t of ['a', 'a/b', 'a/b/c', 'a/x/c', 'b', '$SYS/up', 'a//c']) s.set(msg(t));
    expect(topics(s, 'a/#')).toEqual(['a', 'a//c', 'a/b', 'a/b/c', 'a/x/c']);
    expect(topics(s, 'a/+/c')).toEqual(['a//c', 'a/b/c', 'a/x/c']);
    expect(topics(s, '#')).toEqual(['a', 'a//c', 'a/b', 'a/b/c', 'a/x/c', 'b']);
    expect(topics(s, '+')).toEqual(['a', 'b']);
    expect(topics(s, '$SYS/#')).toEqual(['$SYS/up']);
  });

  it('[MQTT-3.3.2-5] drops an expired message instead of returning it', () => {
    const s = new RetainStore();
    s.set(msg('a', 'x', 1_000));
    s.set(msg('b', 'y', 5_000));
    expect(topics(s, '#', 2_000)).toEqual(['b']);
    expect(s.count).toBe(1);
  });
});
