/**
 * The ACL file: parsing (every problem at file:line, Mosquitto's warning for a pattern without %c or %u), and the
 * checks against a plain model of Mosquitto 2.0's algorithm (rules in a list, deny rules first, user section before
 * patterns, patterns skipped for names with + or #): random files, clients and topics must get the model's answer,
 * and a SUBSCRIBE refused by mayRead() must be one whose every topic is unreadable.
 *
 * Replay: MQBENCH_PROPERTY_SEED=<seed> [MQBENCH_PROPERTY_RUNS=<n>] [MQBENCH_PROPERTY_PATH=<path>] (printed on failure).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACL_READ, ACL_WRITE, parseAclFile, type AclFile, type AclRule } from '../../../broker/auth/acl-file.js';
import { AclSet, TOTAL_CACHE_BYTES, VIEW_CACHE_BYTES, substitute } from '../../../broker/auth/acl.js';
import { propertyParams } from '../../helpers/property.js';
import { referenceMatches } from '../../helpers/topic-reference.js';

describe('ACL file parsing', () => {
  it('reads anonymous rules, user sections and patterns, with the access words and defaults', () => {
    const { acl, problems, warnings } = parseAclFile(
      [
        '# anonymous clients',
        'topic read public/#',
        'topic anon/rw',
        '',
        'user alice',
        'topic write out/#',
        '  topic deny foo/secret',
        'topic readwrite with space/x',
        'pattern read clients/%c/#',
        'user bob',
        'topic #',
        'pattern readwrite fixed/topic',
      ].join('\n'),
      'acl',
    );
    expect(problems).toEqual([]);
    expect(acl.anonymous.map(({ filter, access }) => [filter, access])).toEqual([
      ['public/#', ACL_READ],
      ['anon/rw', ACL_READ | ACL_WRITE],
    ]);
    expect(acl.users.get('alice')!.map(({ filter, access }) => [filter, access])).toEqual([
      ['out/#', ACL_WRITE],
      ['foo/secret', 0],
      ['with space/x', ACL_READ | ACL_WRITE],
    ]);
    expect(acl.users.get('bob')!.map((r) => r.filter)).toEqual(['#']);
    expect(acl.patterns.map((r) => r.filter)).toEqual(['clients/%c/#', 'fixed/topic']);
    expect(warnings).toEqual([{ file: 'acl', line: 12, message: "ACL pattern 'fixed/topic' does not contain '%c' or '%u'." }]);
  });

  it('names every bad line with file:line, as Mosquitto refuses them', () => {
    const { problems } = parseAclFile(
      ['bogus line', 'topic foo#', 'topic read foo/#/bar', 'topic readx foo', 'user', 'topic', 'topic read ok', 'pattern deny +bad'].join('\n'),
      'bad.acl',
    );
    expect(problems.map((p) => p.line)).toEqual([1, 2, 3, 4, 5, 6, 8]);
    expect(problems[0].message).toMatch(/expected "topic", "pattern" or "user", got "bogus"/);
    expect(problems[1].message).toMatch(/"foo#" is not a valid topic filter/);
    expect(problems[3].message).toMatch(/access must be read, write, readwrite or deny, got "readx"/);
    expect(problems[4].message).toMatch(/user needs a user name/);
    expect(problems[5].message).toMatch(/topic needs a topic filter/);
  });

  it('substitutes %c and %u as Mosquitto does, leaving other % sequences alone', () => {
    expect(substitute('a/%c/%u/%x/%', 'cid', 'u/v')).toBe('a/cid/u/v/%x/%');
    expect(substitute('%u%u', 'c', 'uu')).toBe('uuuu');
  });
});

describe('ACL checks', () => {
  const file = parseAclFile(
    [
      'topic read public/#',
      'user alice',
      'topic read foo/#',
      'topic write out/#',
      'topic deny foo/secret',
      'topic readwrite $SYS/broker/#',
      'pattern readwrite users/%u/#',
      'pattern read clients/%c',
    ].join('\n'),
    'acl',
  ).acl;
  const set = new AclSet(file);

  it('applies the user section, deny first, then the patterns', () => {
    const alice = set.view('c1', 'alice');
    expect(alice.canRead('foo/x')).toBe(true);
    expect(alice.canRead('foo/secret')).toBe(false);
    expect(alice.canWrite('foo/x')).toBe(false);
    expect(alice.canWrite('out/a/b')).toBe(true);
    expect(alice.canRead('users/alice/inbox')).toBe(true);
    expect(alice.canWrite('users/alice')).toBe(true);
    expect(alice.canRead('users/bob/inbox')).toBe(false);
    expect(alice.canRead('clients/c1')).toBe(true);
    expect(alice.canWrite('clients/c1')).toBe(false);
    // The anonymous section is not alice's.
    expect(alice.canRead('public/x')).toBe(false);
    // A wildcard rule does not reach $ topics; a rule naming them does.
    expect(alice.canRead('$SYS/broker/uptime')).toBe(true);
  });

  it('gives anonymous clients the rules before the first user line, and no %u patterns', () => {
    const anon = set.view('c2', undefined);
    expect(anon.canRead('public/news')).toBe(true);
    expect(anon.canWrite('public/news')).toBe(false);
    expect(anon.canRead('clients/c2')).toBe(true);
    expect(anon.canRead('users/undefined/x')).toBe(false);
  });

  it('skips patterns for a user name or client id with + or #, and substitutes one with / as it is', () => {
    expect(set.view('c3', 'p+q').canRead('users/p+q/x')).toBe(false);
    expect(set.view('c3', 'p+q').dangerous).toBe(true);
    expect(set.view('c#', 'bob').canRead('clients/c#')).toBe(false);
    expect(set.view('c4', 'a/b').canRead('users/a/b/x')).toBe(true);
    expect(set.view('c4', 'a/b').canRead('users/a/x')).toBe(false);
  });

  it('refuses a subscription only when no topic it matches is readable', () => {
    const alice = set.view('c1', 'alice');
    expect(alice.mayRead('#')).toBe(true);
    expect(alice.mayRead('foo/+')).toBe(true);
    expect(alice.mayRead('foo/secret')).toBe(false);
    expect(alice.mayRead('bar/#')).toBe(false);
    expect(alice.mayRead('users/+/inbox')).toBe(true);
    expect(alice.mayRead('out/#')).toBe(false);
    expect(set.view('c9', 'nobody').mayRead('#')).toBe(true); // clients/c9 via the pattern
    expect(set.view('c9', 'nobody').mayRead('public/#')).toBe(false);
  });

  it('keeps each client cache and all of them together within their byte bounds', () => {
    const big = new AclSet(parseAclFile('topic read #', 'acl').acl);
    const views = Array.from({ length: 8 }, (_, i) => big.view(`c${i}`, undefined));
    for (let i = 0; i < 20_000; i++) for (const v of views) expect(v.canRead(`t/${i}/${'x'.repeat(200)}`)).toBe(true);
    expect(big.budget.used).toBeLessThanOrEqual(Math.min(TOTAL_CACHE_BYTES, 8 * VIEW_CACHE_BYTES));
    expect(big.budget.used).toBeGreaterThan(0);
    for (const v of views) v.clearCache();
    expect(big.budget.used).toBe(0);
  });
});

// ---- the model -------------------------------------------------------------------------------------------------

/** Mosquitto 2.0's acl check, transcribed: lists with deny rules in front, user list then patterns. */
function modelCheck(acl: AclFile, clientId: string, username: string | undefined, topic: string, access: number): boolean {
  const ordered = (rules: readonly AclRule[]) => [...rules.filter((r) => r.access === 0), ...rules.filter((r) => r.access !== 0)];
  const userRules = username === undefined ? acl.anonymous : acl.users.get(username);
  for (const r of ordered(userRules ?? [])) {
    if (topic.startsWith('$') && !r.filter.startsWith('$')) continue;
    if (!referenceMatches(r.filter, topic)) continue;
    if (r.access === 0) return false;
    if (r.access & access) return true;
  }
  if (acl.patterns.length === 0) return false;
  if ((username !== undefined && /[+#]/.test(username)) || /[+#]/.test(clientId)) return false;
  for (const r of ordered(acl.patterns)) {
    if (username === undefined && r.filter.includes('%u')) continue;
    if (!referenceMatches(substitute(r.filter, clientId, username), topic)) continue;
    if (r.access === 0) return false;
    if (r.access & access) return true;
  }
  return false;
}

const NAMES = ['a', 'b', '', '$x', 'u1'];
const levelArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.constant('+') });
const filterArb = fc
  .tuple(fc.array(levelArb, { minLength: 0, maxLength: 3 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
  .filter((f) => f.length > 0);
const patternArb = fc
  .tuple(filterArb, fc.constantFrom('%u', '%c', 'x'), fc.nat(3))
  .map(([f, sub, at]) => {
    const levels = f.split('/');
    const i = Math.min(at, levels.length - (levels[levels.length - 1] === '#' ? 1 : 0));
    levels.splice(i, 0, sub);
    return levels.join('/');
  });
const accessArb = fc.constantFrom('read', 'write', 'readwrite', 'deny', '');
const lineArb = fc.oneof(
  fc.tuple(accessArb, filterArb).map(([a, f]) => `topic ${a ? `${a} ` : ''}${f}`),
  fc.tuple(accessArb, patternArb).map(([a, f]) => `pattern ${a ? `${a} ` : ''}${f}`),
  fc.constantFrom('user u1', 'user u2', 'user a+'),
);
const aclArb = fc.array(lineArb, { maxLength: 10 }).map((lines) => {
  const parsed = parseAclFile(lines.join('\n'), 'gen.acl');
  expect(parsed.problems).toEqual([]);
  return parsed.acl;
});
const identityArb = fc.record({
  clientId: fc.constantFrom('u1', 'c', 'a/b', 'c+'),
  username: fc.constantFrom(undefined, 'u1', 'u2', 'a+', 'a/b'),
});
const topicArb = fc.array(fc.constantFrom(...NAMES, 'z', '%u'), { minLength: 1, maxLength: 5 }).map((l) => l.join('/')).filter((t) => t.length > 0);

/** Topics of up to five levels over NAMES and "z": deep enough for the generated filters. */
const UNIVERSE: string[] = (() => {
  const names = [...NAMES, 'z'];
  const out: string[] = [];
  let layer = [''];
  for (let depth = 1; depth <= 5; depth++) {
    layer = layer.flatMap((prefix) => names.map((n) => (depth === 1 ? n : `${prefix}/${n}`)));
    out.push(...layer.filter((t) => t.length > 0));
  }
  return out;
})();

describe('ACL checks against the model of Mosquitto 2.0', () => {
  it('canRead and canWrite agree with the model, cached or not', () => {
    fc.assert(
      fc.property(aclArb, identityArb, fc.array(topicArb, { minLength: 1, maxLength: 6 }), (acl, id, topics) => {
        const view = new AclSet(acl).view(id.clientId, id.username);
        for (const topic of [...topics, ...topics]) {
          expect(view.canRead(topic)).toBe(modelCheck(acl, id.clientId, id.username, topic, ACL_READ));
          expect(view.canWrite(topic)).toBe(modelCheck(acl, id.clientId, id.username, topic, ACL_WRITE));
        }
      }),
      propertyParams({ numRuns: 400 }),
    );
  });

  it('a subscription mayRead() refuses has no readable topic', () => {
    fc.assert(
      fc.property(aclArb, identityArb, filterArb, (acl, id, filter) => {
        const view = new AclSet(acl).view(id.clientId, id.username);
        if (view.mayRead(filter)) return;
        const readable = UNIVERSE.filter((t) => referenceMatches(filter, t) && modelCheck(acl, id.clientId, id.username, t, ACL_READ));
        expect(readable).toEqual([]);
      }),
      propertyParams({ numRuns: 300 }),
    );
  });
});
