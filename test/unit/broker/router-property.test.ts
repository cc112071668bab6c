/**
 * Property test of the broker's subscription router against the reference matcher written from the spec: random
 * subscriptions (overlapping, shared, of several sessions) are added and removed between lookups, and every lookup
 * must name exactly the sessions and shared groups the reference finds, each session once at the highest QoS of its
 * matching subscriptions [MQTT-3.3.5-1].
 *
 * Replay: MQBENCH_PROPERTY_SEED=<seed> [MQBENCH_PROPERTY_RUNS=<n>] [MQBENCH_PROPERTY_PATH=<path>] (printed on failure).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// The broker modules under test: kept together so a move of broker/ changes one place.
import { Router, type MatchResult } from '../../../broker/core/router.js';
import { Session, Subscription, newSubscription } from '../../../broker/core/session.js';
import { propertyParams } from '../../helpers/property.js';
import { referenceMatches } from '../../helpers/topic-reference.js';
import { deepTopic, filterArb, topicArb } from '../../helpers/topic-arbitraries.js';

const SESSION_IDS = ['s0', 's1', 's2', 's3'];
const GROUPS = ['g1', 'g2'];

interface SubSpec {
  session: number;
  filter: string;
  group: string | null;
  qos: number;
  noLocal: boolean;
  retainAsPublished: boolean;
  subId: number;
}

type Op =
  | { op: 'add'; sub: SubSpec }
  /** Removes the `index % live`-th live subscription. */
  | { op: 'remove'; index: number }
  /** Removes a subscription object that was never added (same fields as a live one): nothing may change. */
  | { op: 'removeStranger'; index: number }
  | { op: 'match'; topic: string };

const subSpecArb: fc.Arbitrary<SubSpec> = fc
  .record({
    session: fc.nat({ max: SESSION_IDS.length - 1 }),
    filter: filterArb,
    group: fc.option(fc.constantFrom(...GROUPS), { freq: 4 }),
    qos: fc.integer({ min: 0, max: 2 }),
    noLocal: fc.boolean(),
    retainAsPublished: fc.boolean(),
    subId: fc.constantFrom(0, 0, 1, 7),
  })
  // No local on a shared subscription is a protocol error [MQTT-3.8.3-4]: the broker never adds one.
  .map((s) => (s.group === null ? s : { ...s, noLocal: false }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: subSpecArb.map((sub) => ({ op: 'add' as const, sub })) },
  { weight: 2, arbitrary: fc.nat().map((index) => ({ op: 'remove' as const, index })) },
  { weight: 1, arbitrary: fc.nat().map((index) => ({ op: 'removeStranger' as const, index })) },
  { weight: 5, arbitrary: topicArb.map((topic) => ({ op: 'match' as const, topic })) },
);

function toSubscription(spec: SubSpec, sessions: Session[]): Subscription {
  const key = spec.group === null ? spec.filter : `$share/${spec.group}/${spec.filter}`;
  const shared = spec.group === null ? null : { group: spec.group, filter: spec.filter };
  const options = { qos: spec.qos, noLocal: spec.noLocal, retainAsPublished: spec.retainAsPublished, retainHandling: 0 };
  return newSubscription(sessions[spec.session], key, shared, options, spec.subId);
}

function plainSpec(filter: string): SubSpec {
  return { session: 0, filter, group: null, qos: 1, noLocal: false, retainAsPublished: false, subId: 0 };
}

/** What a lookup should return, in a form that does not depend on the router's internal order. */
interface Expected {
  targets: Array<{ clientId: string; qos: number; qosLocal: number; retainAsPublished: boolean; subIds: number[] | null }>;
  groups: Array<{ name: string; filter: string; members: string[] }>;
}

/** The reference: every live subscription checked one by one against the topic. */
function expectedFor(topic: string, live: readonly Subscription[], matches = referenceMatches): Expected {
  const perSession = new Map<string, Expected['targets'][number]>();
  const groups = new Map<string, Expected['groups'][number]>();
  for (const s of live) {
    if (!matches(s.filter, topic)) continue;
    if (s.share !== null) {
      const key = `${s.share}\u0000${s.filter}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { name: s.share, filter: s.filter, members: [] }));
      g.members.push(describeSub(s));
      continue;
    }
    const id = s.session.clientId;
    let t = perSession.get(id);
    if (!t) perSession.set(id, (t = { clientId: id, qos: -1, qosLocal: -1, retainAsPublished: false, subIds: null }));
    t.qos = Math.max(t.qos, s.qos);
    if (!s.noLocal) t.qosLocal = Math.max(t.qosLocal, s.qos);
    t.retainAsPublished ||= s.retainAsPublished;
    if (s.subId !== 0) (t.subIds ??= []).push(s.subId);
  }
  return normalise({ targets: [...perSession.values()], groups: [...groups.values()] });
}

function actualOf(r: MatchResult): Expected {
  return normalise({
    targets: r.targets.map((t) => ({
      clientId: t.session.clientId,
      qos: t.qos,
      qosLocal: t.qosLocal,
      retainAsPublished: t.retainAsPublished,
      subIds: t.subIds === null ? null : [...t.subIds],
    })),
    groups: r.groups.map((g) => ({ name: g.name, filter: g.filter, members: g.members.map(describeSub) })),
  });
}

function describeSub(s: Subscription): string {
  return `${s.session.clientId}:${s.key}:q${s.qos}`;
}

function normalise(e: Expected): Expected {
  return {
    targets: e.targets
      .map((t) => ({ ...t, subIds: t.subIds === null ? null : [...t.subIds].sort((a, b) => a - b) }))
      .sort((a, b) => a.clientId.localeCompare(b.clientId)),
    groups: e.groups
      .map((g) => ({ ...g, members: [...g.members].sort() }))
      .sort((a, b) => `${a.name}/${a.filter}`.localeCompare(`${b.name}/${b.filter}`)),
  };
}

/** Runs `ops` against a fresh router and the reference; throws at the first lookup where they disagree. */
function runOps(ops: readonly Op[], matches = referenceMatches): void {
  const sessions = SESSION_IDS.map((id) => new Session(id));
  const router = new Router();
  const live: Subscription[] = [];
  const check = (topic: string): void => {
    expect(actualOf(router.match(topic)), `match("${topic}")`).toEqual(expectedFor(topic, live, matches));
  };
  for (const op of ops) {
    switch (op.op) {
      case 'add': {
        const s = toSubscription(op.sub, sessions);
        router.add(s);
        live.push(s);
        break;
      }
      case 'remove': {
        if (live.length === 0) break;
        const [s] = live.splice(op.index % live.length, 1);
        router.remove(s);
        break;
      }
      case 'removeStranger': {
        if (live.length === 0) break;
        const twin = Object.assign(Object.create(Subscription.prototype) as Subscription, live[op.index % live.length]);
        router.remove(twin);
        break;
      }
      case 'match':
        check(op.topic);
        break;
    }
    expect(router.count).toBe(live.length);
    expect(router.sharedSubscriptionCount).toBe(live.filter((s) => s.share !== null).length);
  }
  // Finally every topic that was looked up, against the final set of subscriptions.
  for (const op of ops) if (op.op === 'match') check(op.topic);
}

describe('Router against the reference matcher', () => {
  it('[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1] [MQTT-3.3.5-1] every lookup reaches exactly the sessions and shared groups the spec says, with adds and removes in between', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runOps(ops)),
      propertyParams({ numRuns: 1_000 }),
    );
  });

  it('the property fails against a reference that forgets the $ rule (the check can fail)', () => {
    const forgetsDollar = (filter: string, topic: string): boolean =>
      referenceMatches(filter, topic.startsWith('$') ? `x${topic.slice(1)}` : topic) ||
      referenceMatches(filter, topic);
    const outcome = fc.check(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runOps(ops, forgetsDollar)),
      { seed: 1, numRuns: 400 },
    );
    expect(outcome.failed).toBe(true);
  });

  it('a lookup of a topic thousands of levels deep (the protocol allows up to 32,767) does not overflow the stack', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32_000 }), fc.constantFrom('exact', 'plus', 'hash'), (depth, shape) => {
        const topic = deepTopic(depth);
        const filter = shape === 'exact' ? topic : shape === 'plus' ? topic.replace(/^a/, '+') : `${topic.slice(0, -1)}#`;
        const sub = toSubscription(plainSpec(filter), [new Session('deep')]);
        const router = new Router();
        router.add(sub);
        expect(actualOf(router.match(topic))).toEqual(expectedFor(topic, [sub]));
      }),
      propertyParams({ numRuns: 30 }),
    );
  });

  it('regression: a subscription to a 30,000-level topic is found when that topic is published', () => {
    // fast-check shrinks this to the depth where the recursion overflows from its own call stack (≈6,500 levels);
    // 30,000 levels (60 kB, within a topic's 65,535 bytes) overflows from any caller.
    const topic = deepTopic(30_000);
    const router = new Router();
    router.add(toSubscription(plainSpec(topic), [new Session('deep')]));
    expect(router.match(topic).targets.map((t) => t.session.clientId)).toEqual(['deep']);
  });
});
