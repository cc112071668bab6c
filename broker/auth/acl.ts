/**
 * ACL checks as Mosquitto 2.0's acl_file plugin makes them. A client's rules are its user section (or the anonymous
 * section), then the patterns with its client id and user name substituted; within each, a matching `deny` rule
 * denies, then a matching rule with the access asked for allows; nothing matching denies. Patterns are skipped for a
 * client whose client id or user name contains `+` or `#` (Mosquitto's "dangerous" identities: such a name would
 * widen a pattern into a wildcard). `/` in a name is substituted as it is, as Mosquitto 2.0.11 does.
 *
 * Each section is compiled once per load into tries (rule-trie.ts); a client's patterns are compiled on its first
 * check. Results are cached per client and topic, bounded in bytes per client and over all clients.
 */
import { ACL_READ, ACL_WRITE, type AclFile, type AclRule } from './acl-file.js';
import { RuleTrie } from './rule-trie.js';

/** Bytes of cached results per client, and over all clients of a process, before a client's cache is emptied. */
export const VIEW_CACHE_BYTES = 64 * 1024;
export const TOTAL_CACHE_BYTES = 32 * 1024 * 1024;
const ENTRY_BYTES = 64;
/** Topics longer than this are checked without caching. */
const CACHE_TOPIC_MAX = 1024;

// Cached result bits.
const READ_KNOWN = 1;
const READ_OK = 2;
const WRITE_KNOWN = 4;
const WRITE_OK = 8;

/** One section's rules by access. */
class Section {
  readonly deny = new RuleTrie();
  readonly read = new RuleTrie();
  readonly write = new RuleTrie();

  add(filter: string, access: number): void {
    if (access === 0) this.deny.add(filter);
    if (access & ACL_READ) this.read.add(filter);
    if (access & ACL_WRITE) this.write.add(filter);
  }

  static of(rules: readonly AclRule[]): Section {
    const s = new Section();
    for (const r of rules) s.add(r.filter, r.access);
    return s;
  }
}

/** Bytes cached by every view, shared so that a million clients cannot each fill their own cache. */
class CacheBudget {
  used = 0;
}

/** A loaded ACL file, compiled: what every client's view is made from. */
export class AclSet {
  readonly anonymous: Section;
  readonly users = new Map<string, Section>();
  readonly patterns: readonly AclRule[];
  readonly budget = new CacheBudget();

  constructor(file: AclFile) {
    this.anonymous = Section.of(file.anonymous);
    for (const [user, rules] of file.users) this.users.set(user, Section.of(rules));
    this.patterns = file.patterns;
  }

  /** The view of a client with this client id and user name (undefined: anonymous). */
  view(clientId: string, username: string | undefined): AclView {
    return new AclView(this, clientId, username);
  }
}

/** Does a user name or client id make patterns unsafe to apply (Mosquitto: "+" or "#")? */
export function dangerousName(name: string | undefined): boolean {
  return name !== undefined && (name.includes('+') || name.includes('#'));
}

/** `%c` → client id, `%u` → user name, as Mosquitto substitutes them. */
export function substitute(filter: string, clientId: string, username: string | undefined): string {
  let out = '';
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i];
    if (c === '%' && i < filter.length - 1) {
      const n = filter[i + 1];
      if (n === 'c') {
        out += clientId;
        i++;
        continue;
      }
      if (n === 'u' && username !== undefined) {
        out += username;
        i++;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** One client's ACL: its sections, its compiled patterns, and its cached results. */
export class AclView {
  private readonly section: Section | null;
  private patterns: Section | null = null;
  /** Patterns apply to this client (there are some, and its names are not dangerous). */
  readonly patternsApply: boolean;
  private cache = new Map<string, number>();
  private cacheBytes = 0;

  constructor(
    readonly set: AclSet,
    readonly clientId: string,
    readonly username: string | undefined,
  ) {
    this.section = username === undefined ? set.anonymous : (set.users.get(username) ?? null);
    this.patternsApply = set.patterns.length > 0 && !dangerousName(username) && !dangerousName(clientId);
  }

  /** Patterns exist but this client's names keep them from applying (log-worthy, as Mosquitto logs it). */
  get dangerous(): boolean {
    return this.set.patterns.length > 0 && !this.patternsApply;
  }

  canRead(topic: string): boolean {
    return this.check(topic, ACL_READ);
  }

  canWrite(topic: string): boolean {
    return this.check(topic, ACL_WRITE);
  }

  /**
   * May a subscription to `filter` ever deliver a message to this client? False only when no topic the filter
   * matches is readable: either a `deny` rule covers the whole filter before any rule could allow, or no rule
   * allowing reads shares a topic with it. (True does not mean every matching topic is readable: delivery checks
   * each message.)
   */
  mayRead(filter: string): boolean {
    const levels = filter.split('/');
    const s = this.section;
    if (s !== null) {
      if (s.deny.coversFilter(levels)) return false;
      if (s.read.intersectsFilter(levels)) return true;
    }
    if (!this.patternsApply) return false;
    const p = this.compiledPatterns();
    if (p.deny.coversFilter(levels)) return false;
    return p.read.intersectsFilter(levels);
  }

  private check(topic: string, access: number): boolean {
    const known = access === ACL_READ ? READ_KNOWN : WRITE_KNOWN;
    const ok = access === ACL_READ ? READ_OK : WRITE_OK;
    const cacheable = topic.length <= CACHE_TOPIC_MAX;
    let bits = cacheable ? (this.cache.get(topic) ?? 0) : 0;
    if (bits & known) return (bits & ok) !== 0;
    const allowed = this.compute(topic, access);
    if (cacheable) {
      const fresh = bits === 0;
      bits |= known | (allowed ? ok : 0);
      if (fresh) this.remember(topic);
      this.cache.set(topic, bits);
    }
    return allowed;
  }

  private remember(topic: string): void {
    const cost = ENTRY_BYTES + 2 * topic.length;
    const budget = this.set.budget;
    if (this.cacheBytes + cost > VIEW_CACHE_BYTES || budget.used + cost > TOTAL_CACHE_BYTES) this.clearCache();
    this.cacheBytes += cost;
    budget.used += cost;
  }

  /** Forget the cached results (the view is replaced, or its cache is full). */
  clearCache(): void {
    this.set.budget.used -= this.cacheBytes;
    this.cacheBytes = 0;
    this.cache = new Map();
  }

  private compute(topic: string, access: number): boolean {
    const levels = topic.split('/');
    const s = this.section;
    if (s !== null) {
      if (s.deny.matchesTopic(levels)) return false;
      if ((access === ACL_READ ? s.read : s.write).matchesTopic(levels)) return true;
    }
    if (!this.patternsApply) return false;
    const p = this.compiledPatterns();
    if (p.deny.matchesTopic(levels)) return false;
    return (access === ACL_READ ? p.read : p.write).matchesTopic(levels);
  }

  private compiledPatterns(): Section {
    if (this.patterns !== null) return this.patterns;
    const p = new Section();
    for (const rule of this.set.patterns) {
      // A pattern naming the user name does not apply to a client without one.
      if (this.username === undefined && rule.filter.includes('%u')) continue;
      p.add(substitute(rule.filter, this.clientId, this.username), rule.access);
    }
    return (this.patterns = p);
  }
}
