/**
 * Subscriptions by topic filter: a trie over topic levels, and a cache from topic to the sessions it reaches.
 *
 * A publish looks its topic up in the cache; only a miss walks the trie, iteratively (a client chooses how deep a
 * topic is). Any subscription change empties the cache, so a cached result is always exact, and the cache is bounded
 * by bytes, not entries: a client publishing to endless distinct long topics cannot make it hold their strings.
 * Each result is merged per session: one target per session with the highest QoS among its matching subscriptions,
 * so overlapping subscriptions deliver once [MQTT-3.3.5-1].
 */
import type { AclView } from '../auth/acl.js';
import type { Session, Subscription } from './session.js';

/** One session a topic reaches, its matching subscriptions merged. */
export interface Target {
  session: Session;
  /** Highest QoS of the matching subscriptions. */
  qos: number;
  /** Highest QoS among matching subscriptions without no-local: what a message published by this very session gets; -1 for none. */
  qosLocal: number;
  /** Any matching subscription has retain-as-published. */
  retainAsPublished: boolean;
  /** Subscription identifiers of the matching subscriptions, null when none has one. */
  subIds: number[] | null;
  /** The same two for a message this very session published: only subscriptions without no-local count. */
  retainAsPublishedLocal: boolean;
  subIdsLocal: number[] | null;
  /**
   * The session's read access to this result's topic, as its ACL `aclView` answered it: the result is per topic,
   * so each delivery after the first reads the answer here instead of asking again.
   */
  aclView: AclView | null;
  aclRead: boolean;
}

export class SharedGroup {
  readonly members: Subscription[] = [];
  /** Round-robin position. */
  next = 0;
  constructor(
    readonly name: string,
    readonly filter: string,
  ) {}
}

export interface MatchResult {
  targets: Target[];
  groups: SharedGroup[];
}

/** One level of the trie. Its collections are made on first use: most nodes have one child or one subscription. */
class TrieNode {
  children: Map<string, TrieNode> | null = null;
  /** The subscriptions on this filter: one kept as is, more in a set. */
  subs: Subscription | Set<Subscription> | null = null;
  shared: Map<string, SharedGroup> | null = null;
  constructor(
    readonly parent: TrieNode | null,
    readonly level: string,
  ) {}

  child(level: string): TrieNode | undefined {
    return this.children === null ? undefined : this.children.get(level);
  }

  get empty(): boolean {
    return (
      (this.children === null || this.children.size === 0) &&
      (this.subs === null || (this.subs instanceof Set && this.subs.size === 0)) &&
      (this.shared === null || this.shared.size === 0)
    );
  }
}

const EMPTY_RESULT: MatchResult = { targets: [], groups: [] };

/** Bytes the match cache may hold (topic strings, results and map entries, estimated). */
export const MATCH_CACHE_BYTES = 8 * 1024 * 1024;
/** Topics longer than this are matched without caching: a cache of them saves little and costs much. */
const CACHE_TOPIC_MAX = 1024;
const ENTRY_BYTES = 80;
const TARGET_BYTES = 64;

export class Router {
  private readonly root = new TrieNode(null, '');
  private cache = new Map<string, MatchResult>();
  private cacheBytes = 0;
  private subscriptionCount = 0;
  private sharedCount = 0;
  // Scratch for compute(): an explicit stack instead of recursion.
  private readonly stackNode: TrieNode[] = [];
  private readonly stackLevel: number[] = [];

  get count(): number {
    return this.subscriptionCount;
  }

  get sharedSubscriptionCount(): number {
    return this.sharedCount;
  }

  /** Estimated bytes held by the match cache. */
  get cachedBytes(): number {
    return this.cacheBytes;
  }

  add(sub: Subscription): void {
    const node = this.nodeFor(sub.filter, true)!;
    if (sub.share === null) {
      const here = node.subs;
      if (here === null) node.subs = sub;
      else if (here instanceof Set) here.add(sub);
      else node.subs = new Set([here, sub]);
    } else {
      node.shared ??= new Map();
      let group = node.shared.get(sub.share);
      if (!group) {
        group = new SharedGroup(sub.share, sub.filter);
        node.shared.set(sub.share, group);
      }
      group.members.push(sub);
      this.sharedCount++;
    }
    this.subscriptionCount++;
    this.invalidate();
  }

  remove(sub: Subscription): void {
    const node = this.nodeFor(sub.filter, false);
    if (!node) return;
    let removed = false;
    if (sub.share === null) {
      const here = node.subs;
      if (here === sub) {
        node.subs = null;
        removed = true;
      } else {
        removed = here instanceof Set && here.delete(sub);
      }
    } else {
      const group = node.shared?.get(sub.share);
      const i = group ? group.members.indexOf(sub) : -1;
      if (group && i >= 0) {
        group.members.splice(i, 1);
        if (group.next > i) group.next--;
        if (group.members.length === 0) node.shared!.delete(sub.share);
        this.sharedCount--;
        removed = true;
      }
    }
    if (!removed) return;
    this.subscriptionCount--;
    this.invalidate();
    // Prune empty branches so churned filters do not accumulate.
    let n: TrieNode | null = node;
    while (n && n.parent && n.empty) {
      n.parent.children!.delete(n.level);
      n = n.parent;
    }
  }

  /** The sessions `topic` reaches. The result is shared and must not be modified. */
  match(topic: string): MatchResult {
    let r = this.cache.get(topic);
    if (r !== undefined) return r;
    r = this.compute(topic);
    if (topic.length <= CACHE_TOPIC_MAX) {
      const cost = ENTRY_BYTES + 2 * topic.length + TARGET_BYTES * (r.targets.length + r.groups.length);
      if (this.cacheBytes + cost > MATCH_CACHE_BYTES) {
        this.cache = new Map();
        this.cacheBytes = 0;
      }
      this.cache.set(topic, r);
      this.cacheBytes += cost;
    }
    return r;
  }

  private invalidate(): void {
    if (this.cacheBytes === 0) return;
    this.cache = new Map();
    this.cacheBytes = 0;
  }

  private nodeFor(filter: string, create: boolean): TrieNode | undefined {
    let node = this.root;
    let start = 0;
    for (;;) {
      const slash = filter.indexOf('/', start);
      const level = slash < 0 ? filter.slice(start) : filter.slice(start, slash);
      let child = node.child(level);
      if (!child) {
        if (!create) return undefined;
        child = new TrieNode(node, level);
        (node.children ??= new Map()).set(level, child);
      }
      node = child;
      if (slash < 0) return node;
      start = slash + 1;
    }
  }

  private compute(topic: string): MatchResult {
    const subs: Subscription[] = [];
    const groups: SharedGroup[] = [];
    const levels = topic.split('/');
    // [MQTT-4.7.2-1] topics starting with '$' are not matched by a filter starting with a wildcard.
    const dollar = topic.charCodeAt(0) === 0x24;
    const nodes = this.stackNode;
    const at = this.stackLevel;
    nodes.length = 0;
    at.length = 0;
    nodes.push(this.root);
    at.push(0);
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const i = at.pop()!;
      const wild = i > 0 || !dollar;
      // '#' matches the parent level and everything below it [MQTT-4.7.1-2].
      if (node.children === null) {
        if (i === levels.length) take(node, subs, groups);
        continue;
      }
      if (wild) {
        const hash = node.children.get('#');
        if (hash) take(hash, subs, groups);
      }
      if (i === levels.length) {
        take(node, subs, groups);
        continue;
      }
      const exact = node.children.get(levels[i]);
      if (exact) {
        nodes.push(exact);
        at.push(i + 1);
      }
      if (wild) {
        const plus = node.children.get('+');
        if (plus) {
          nodes.push(plus);
          at.push(i + 1);
        }
      }
    }
    if (subs.length === 0 && groups.length === 0) return EMPTY_RESULT;
    return { targets: mergePerSession(subs), groups };
  }
}

function take(node: TrieNode, subs: Subscription[], groups: SharedGroup[]): void {
  const here = node.subs;
  if (here instanceof Set) for (const s of here) subs.push(s);
  else if (here !== null) subs.push(here);
  if (node.shared) for (const g of node.shared.values()) groups.push(g);
}

function mergePerSession(subs: Subscription[]): Target[] {
  const bySession = new Map<Session, Target>();
  for (const s of subs) {
    let t = bySession.get(s.session);
    if (!t) {
      t = {
        session: s.session,
        qos: -1,
        qosLocal: -1,
        retainAsPublished: false,
        subIds: null,
        retainAsPublishedLocal: false,
        subIdsLocal: null,
        aclView: null,
        aclRead: false,
      };
      bySession.set(s.session, t);
    }
    if (s.qos > t.qos) t.qos = s.qos;
    if (s.retainAsPublished) t.retainAsPublished = true;
    if (s.subId !== 0) (t.subIds ??= []).push(s.subId);
    if (!s.noLocal) {
      if (s.qos > t.qosLocal) t.qosLocal = s.qos;
      if (s.retainAsPublished) t.retainAsPublishedLocal = true;
      if (s.subId !== 0) (t.subIdsLocal ??= []).push(s.subId);
    }
  }
  return [...bySession.values()];
}
