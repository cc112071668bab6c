/**
 * Generated topic names and filters for property tests: few distinct level names so that generated filters and
 * topics often match, plus the awkward cases: empty levels, `/` at either end, `$` topics, many levels.
 */
import fc from 'fast-check';

/** Level names: short and few (so matches are common), an empty level, and `$` names that only matter first. */
export const LEVELS = ['a', 'b', 'ab', '', '$x', '$SYS', 'a$'] as const;

const levelArb = fc.constantFrom(...LEVELS);

/** A valid topic name: 1–8 levels, any of which may be empty; never the empty string [MQTT-4.7.3-1]. */
export const topicArb: fc.Arbitrary<string> = fc
  .array(levelArb, { minLength: 1, maxLength: 8 })
  .map((levels) => levels.join('/'))
  .filter((t) => t.length > 0);

/** A valid plain topic filter: levels or `+`, optionally ending in `#` (or `#` alone). */
export const filterArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(fc.oneof({ weight: 3, arbitrary: levelArb }, { weight: 2, arbitrary: fc.constant('+') }), { minLength: 0, maxLength: 8 }),
    fc.boolean(),
  )
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
  .filter((f) => f.length > 0);

/** `depth` levels of `a`: `a/a/…/a`. */
export function deepTopic(depth: number): string {
  return 'a/'.repeat(depth - 1) + 'a';
}
