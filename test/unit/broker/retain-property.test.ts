/**
 * Property test of the broker's retained-message store against a plain map and the reference matcher written from
 * the spec: random sets (empty payloads clear [MQTT-3.3.1-10]), clears, lookups by filter and the passing of time
 * (v5 message expiry [MQTT-3.3.2-5]), interleaved. Every lookup must return exactly the unexpired retained messages
 * whose topics the filter matches, one per topic, the latest [MQTT-3.3.1-5]; counts and byte totals must agree.
 *
 * Replay: MQBENCH_PROPERTY_SEED=<seed> [MQBENCH_PROPERTY_RUNS=<n>] [MQBENCH_PROPERTY_PATH=<path>] (printed on failure).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// The broker modules under test: kept together so a move of broker/ changes one place.
import { makeMessage, type Msg } from '../../../broker/core/message.js';
import { RetainStore } from '../../../broker/core/retain.js';
import { propertyParams } from '../../helpers/property.js';
import { referenceMatches } from '../../helpers/topic-reference.js';
import { deepTopic, filterArb, topicArb } from '../../helpers/topic-arbitraries.js';

type Op =
  /** Retain a message on `topic`; size 0 is an empty payload, which clears the topic instead. */
  | { op: 'set'; topic: string; size: number; expiresInMs: number | null }
  | { op: 'clear'; topic: string }
  | { op: 'match'; filter: string }
  | { op: 'advance'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      topic: topicArb,
      size: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: 1, max: 9 }) }),
      expiresInMs: fc.option(fc.integer({ min: 0, max: 3_000 }), { freq: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const), topic: topicArb }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('match' as const), filter: filterArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2_000 }) }) },
);

interface Held {
  /** Which set op stored it (payloads are unique per run). */
  id: string;
  size: number;
  expiryAt: number;
}

function describeMsgs(msgs: readonly Msg[]): string[] {
  return msgs.map((m) => `${m.topic} => ${m.payload().toString()}`).sort();
}

/** Runs `ops` against a fresh store and the model; throws at the first disagreement. */
function runOps(ops: readonly Op[], matches = referenceMatches): void {
  const store = new RetainStore();
  const model = new Map<string, Held>();
  let now = 1_000_000;
  let n = 0;
  for (const op of ops) {
    switch (op.op) {
      case 'set': {
        const id = `#${n++}`.padEnd(op.size, '.').slice(0, op.size);
        const expiryAt = op.expiresInMs === null ? 0 : now + op.expiresInMs;
        store.set(makeMessage(op.topic, Buffer.from(id), 1, true, null, expiryAt, null));
        if (op.size === 0) model.delete(op.topic);
        else model.set(op.topic, { id, size: op.size, expiryAt });
        break;
      }
      case 'clear':
        store.clear(op.topic);
        model.delete(op.topic);
        break;
      case 'advance':
        now += op.ms;
        break;
      case 'match': {
        const expected: string[] = [];
        for (const [topic, held] of model) {
          if (!matches(op.filter, topic)) continue;
          if (held.expiryAt !== 0 && now >= held.expiryAt) {
            // An expired message is not sent [MQTT-3.3.2-5]; a lookup that meets it forgets it.
            model.delete(topic);
            continue;
          }
          expected.push(`${topic} => ${held.id}`);
        }
        expect(describeMsgs(store.match(op.filter, now)), `match("${op.filter}") at ${now}`).toEqual(expected.sort());
        break;
      }
    }
    expect(store.count, 'count').toBe(model.size);
    expect(store.byteCount, 'byteCount').toBe([...model.values()].reduce((sum, h) => sum + h.size, 0));
  }
}

describe('RetainStore against the reference matcher', () => {
  it('[MQTT-3.3.1-5] [MQTT-3.3.1-10] [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1] [MQTT-3.3.2-5] lookups return exactly the unexpired retained messages the filter matches', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runOps(ops)),
      propertyParams({ numRuns: 1_000 }),
    );
  });

  it('the property fails against a reference where # does not match its parent level (the check can fail)', () => {
    const hashSkipsParent = (filter: string, topic: string): boolean =>
      referenceMatches(filter, topic) && !(filter.endsWith('/#') && filter.split('/').length - 1 === topic.split('/').length);
    const outcome = fc.check(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runOps(ops, hashSkipsParent)),
      { seed: 1, numRuns: 1_000 },
    );
    expect(outcome.failed).toBe(true);
  });

  it('a retained message on a topic thousands of levels deep is found without overflowing the stack', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32_000 }), fc.constantFrom('#', 'exact', 'parent/#'), (depth, shape) => {
        const topic = deepTopic(depth);
        const filter = shape === 'exact' ? topic : shape === '#' ? '#' : `${topic}/#`;
        const store = new RetainStore();
        store.set(makeMessage(topic, Buffer.from('deep'), 1, true, null, 0, null));
        expect(store.match(filter, 0).map((m) => m.topic === topic)).toEqual([true]);
      }),
      propertyParams({ numRuns: 30 }),
    );
  });

  it.each(['#', 'exact'])('regression: a retained message on a 30,000-level topic is found by the filter %s', (shape) => {
    const topic = deepTopic(30_000);
    const store = new RetainStore();
    store.set(makeMessage(topic, Buffer.from('deep'), 1, true, null, 0, null));
    expect(store.match(shape === '#' ? '#' : topic, 0).length).toBe(1);
  });
});
