import { describe, expect, it } from 'vitest';
import { Router } from '../../../broker/core/router.js';
import { Session, newSubscription, type Subscription } from '../../../broker/core/session.js';
import { parseSharedFilter, topicMatches } from '../../../src/protocol/topic.js';
import { Prng } from '../../../bench/fuzz/prng.js';

function sub(session: Session, key: string, qos = 0, extra: { subId?: number; noLocal?: boolean } = {}): Subscription {
  const options = { qos, noLocal: extra.noLocal ?? false, retainAsPublished: false, retainHandling: 0 };
  return newSubscription(session, key, parseSharedFilter(key), options, extra.subId ?? 0);
}

function reached(router: Router, topic: string): string[] {
  return router
    .match(topic)
    .targets.map((t) => t.session.clientId)
    .sort();
}

describe('Router', () => {
  it('[MQTT-4.7.1-2] [MQTT-4.7.1-3] matches +, # (including the parent level) and exact filters', () => {
    const r = new Router();
    const names = ['a/b', 'a/+', 'a/#', '#', '+/b', 'a/b/c', '+', 'a/+/c'];
    for (const n of names) r.add(sub(new Session(n), n));
    expect(reached(r, 'a/b')).toEqual(['#', '+/b', 'a/#', 'a/+', 'a/b']);
    expect(reached(r, 'a')).toEqual(['#', '+', 'a/#']);
    expect(reached(r, 'a/b/c')).toEqual(['#', 'a/#', 'a/+/c', 'a/b/c']);
    expect(reached(r, 'x/b')).toEqual(['#', '+/b']);
  });

  it('[MQTT-4.7.2-1] a leading wildcard does not match a topic starting with $', () => {
    const r = new Router();
    for (const n of ['#', '+/broker/#', '$SYS/#', '$SYS/+/x']) r.add(sub(new Session(n), n));
    expect(reached(r, '$SYS/broker/x')).toEqual(['$SYS/#', '$SYS/+/x']);
    expect(reached(r, '$SYS/a/x')).toEqual(['$SYS/#', '$SYS/+/x']);
    expect(reached(r, 'SYS/broker/x')).toEqual(['#', '+/broker/#']);
  });

  it('[MQTT-3.3.5-1] merges overlapping subscriptions of one session at the highest QoS, keeping every identifier', () => {
    const r = new Router();
    const s = new Session('c');
    r.add(sub(s, 'a/#', 0, { subId: 7 }));
    r.add(sub(s, 'a/+', 2, { subId: 9, noLocal: true }));
    r.add(sub(s, 'a/b', 1));
    const [t, ...rest] = r.match('a/b').targets;
    expect(rest).toEqual([]);
    expect(t.qos).toBe(2);
    expect(t.qosLocal).toBe(1); // the no-local subscription does not count for the session's own messages
    expect(t.subIds!.sort()).toEqual([7, 9]);
  });

  it('keeps the cache exact across subscribe and unsubscribe, and prunes empty branches', () => {
    const r = new Router();
    const a = sub(new Session('a'), 'x/+/z');
    expect(reached(r, 'x/y/z')).toEqual([]);
    r.add(a);
    expect(reached(r, 'x/y/z')).toEqual(['a']);
    r.remove(a);
    expect(reached(r, 'x/y/z')).toEqual([]);
    expect(r.count).toBe(0);
    r.add(a);
    expect(reached(r, 'x/y/z')).toEqual(['a']);
  });

  it('keeps shared groups apart from ordinary targets, one group per share name and filter', () => {
    const r = new Router();
    r.add(sub(new Session('m1'), '$share/g/t/#'));
    r.add(sub(new Session('m2'), '$share/g/t/#'));
    r.add(sub(new Session('h'), '$share/h/t/#'));
    r.add(sub(new Session('plain'), 't/#'));
    const m = r.match('t/1');
    expect(m.targets.map((t) => t.session.clientId)).toEqual(['plain']);
    expect(m.groups.map((g) => [g.name, g.members.length]).sort()).toEqual([
      ['g', 2],
      ['h', 1],
    ]);
    expect(r.sharedSubscriptionCount).toBe(3);
  });

  it('agrees with the reference matcher on random filters and topics', () => {
    const prng = new Prng('router');
    const rand = () => prng.float();
    const levels = ['a', 'b', 'c', '$x'];
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const r = new Router();
    const filters: string[] = [];
    for (let i = 0; i < 300; i++) {
      const n = 1 + Math.floor(rand() * 4);
      const parts: string[] = [];
      for (let k = 0; k < n; k++) parts.push(rand() < 0.2 ? '+' : pick(levels));
      if (rand() < 0.2) parts.push('#');
      const f = parts.join('/');
      if (filters.includes(f)) continue;
      filters.push(f);
      r.add(sub(new Session(f), f));
    }
    for (let i = 0; i < 500; i++) {
      const n = 1 + Math.floor(rand() * 4);
      const topic = Array.from({ length: n }, () => pick(levels)).join('/');
      const expected = filters.filter((f) => topicMatches(f, topic)).sort();
      expect(reached(r, topic), topic).toEqual(expected);
    }
  });
});
