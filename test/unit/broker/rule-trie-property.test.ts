/**
 * Property test of the ACL rule trie against brute force over a finite universe of topics: a rule set matches a
 * topic when one of its rules does (the spec's reference matcher); it covers a filter when every topic of the
 * universe the filter matches is matched by one rule; it intersects a filter when some topic of the universe is
 * matched by both. The universe has a level name no filter uses ("z", standing for any level a wildcard takes) and is
 * two levels deeper than any filter, so for these filters it decides the questions exactly.
 *
 * Replay: MQBENCH_PROPERTY_SEED=<seed> [MQBENCH_PROPERTY_RUNS=<n>] [MQBENCH_PROPERTY_PATH=<path>] (printed on failure).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuleTrie } from '../../../broker/auth/rule-trie.js';
import { propertyParams } from '../../helpers/property.js';
import { referenceMatches } from '../../helpers/topic-reference.js';

const NAMES = ['a', 'b', '', '$x'];
const MAX_FILTER_LEVELS = 3;

const levelArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NAMES) }, { weight: 2, arbitrary: fc.constant('+') });
const filterArb = fc
  .tuple(fc.array(levelArb, { minLength: 0, maxLength: MAX_FILTER_LEVELS }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
  .filter((f) => f.length > 0 && f.split('/').length <= MAX_FILTER_LEVELS + 1);

/** Every topic of 1 to MAX_FILTER_LEVELS + 2 levels over NAMES and "z". */
const UNIVERSE: string[] = (() => {
  const names = [...NAMES, 'z'];
  const out: string[] = [];
  let layer = [''];
  for (let depth = 1; depth <= MAX_FILTER_LEVELS + 2; depth++) {
    layer = layer.flatMap((prefix) => names.map((n) => (depth === 1 ? n : `${prefix}/${n}`)));
    out.push(...layer.filter((t) => t.length > 0));
  }
  return out;
})();

function trieOf(rules: string[]): RuleTrie {
  const t = new RuleTrie();
  for (const r of rules) t.add(r);
  return t;
}

const params = propertyParams({ numRuns: 300 });

describe('ACL rule trie', () => {
  it('matches a topic exactly when some rule matches it', () => {
    fc.assert(
      fc.property(fc.array(filterArb, { maxLength: 6 }), fc.constantFrom(...UNIVERSE), (rules, topic) => {
        const expected = rules.some((r) => referenceMatches(r, topic));
        expect(trieOf(rules).matchesTopic(topic.split('/'))).toBe(expected);
      }),
      params,
    );
  });

  it('covers a filter exactly when one rule matches every topic the filter matches', () => {
    fc.assert(
      fc.property(fc.array(filterArb, { maxLength: 4 }), filterArb, (rules, filter) => {
        const topics = UNIVERSE.filter((t) => referenceMatches(filter, t));
        const expected = rules.some((r) => topics.every((t) => referenceMatches(r, t)));
        expect(trieOf(rules).coversFilter(filter.split('/'))).toBe(expected);
      }),
      params,
    );
  });

  it('intersects a filter exactly when some topic is matched by a rule and by the filter', () => {
    fc.assert(
      fc.property(fc.array(filterArb, { maxLength: 4 }), filterArb, (rules, filter) => {
        const expected = UNIVERSE.some((t) => referenceMatches(filter, t) && rules.some((r) => referenceMatches(r, t)));
        expect(trieOf(rules).intersectsFilter(filter.split('/'))).toBe(expected);
      }),
      params,
    );
  });

  it('walks a topic of 10,000 levels without recursion', () => {
    const deep = Array.from({ length: 10_000 }, () => 'a');
    const t = trieOf([deep.join('/'), '+/'.repeat(9_999) + '#']);
    expect(t.matchesTopic(deep)).toBe(true);
    expect(t.intersectsFilter(['#'])).toBe(true);
    expect(t.coversFilter(deep)).toBe(true);
  });
});
