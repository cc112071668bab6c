/**
 * Subscriptions by topic filter: a trie over topic levels, and a cache from topic to the sessions it reaches.
 *
 * A publish looks its topic up in the cache; only a miss walks the trie. Any subscription change clears the cache,
 * so a cached result is always exact. Each result is already merged per session: one target per session with the
 * highest QoS among its matching subscriptions, so overlapping subscriptions deliver once [MQTT-3.3.5-1].
 */
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

class TrieNode {
  readonly children = new Map<string, TrieNode>();
  readonly subs: Subscription[] = [];
  shared: Map<string, SharedGroup> | null = null;
  constructor(readonly parent: TrieNode | null, readonly level: string) {}

  get empty(): boolean {
    return this.children.size === 0 && this.subs.length === 0 && (this.shared === null || this.shared.size === 0);
  }
}

const EMPTY_RESULT: MatchResult = { targets: [], groups: [] };
const CACHE_LIMIT = 65_536;

export class Router {
  private readonly root = new TrieNode(null, '');
  private readonly cache = new Map<string, MatchResult>();
  private subscriptionCount = 0;
  private sharedCount = 0;

  get count(): number {
    return this.subscriptionCount;
  }

  get sharedSubscriptionCount(): number {
    return this.sharedCount;
  }

  add(sub: Subscription): void {
    const node = this.nodeFor(sub.filter, true)!;
    if (sub.share === null) {
      node.subs.push(sub);
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
    this.cache.clear();
  }

  remove(sub: Subscription): void {
    const node = this.nodeFor(sub.filter, false);
    if (!node) return;
    let removed = false;
    if (sub.share === null) {
      const i = node.subs.indexOf(sub);
      if (i >= 0) {
        node.subs.splice(i, 1);
        removed = true;
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
    this.cache.clear();
    // Prune empty branches so churned filters do not accumulate.
    let n: TrieNode | null = node;
    while (n && n.parent && n.empty) {
      n.parent.children.delete(n.level);
      n = n.parent;
    }
  }

  /** The sessions `topic` reaches. The result is shared and must not be modified. */
  match(topic: string): MatchResult {
    let r = this.cache.get(topic);
    if (r === undefined) {
      r = this.compute(topic);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(topic, r);
    }
    return r;
  }

  private nodeFor(filter: string, create: boolean): TrieNode | undefined {
    let node = this.root;
    for (const level of filter.split('/')) {
      let child = node.children.get(level);
      if (!child) {
        if (!create) return undefined;
        child = new TrieNode(node, level);
        node.children.set(level, child);
      }
      node = child;
    }
    return node;
  }

  private compute(topic: string): MatchResult {
    const subs: Subscription[] = [];
    const groups: SharedGroup[] = [];
    const levels = topic.split('/');
    // [MQTT-4.7.2-1] topics starting with '$' are not matched by a filter starting with a wildcard.
    collect(this.root, levels, 0, topic.charCodeAt(0) === 0x24, subs, groups);
    if (subs.length === 0 && groups.length === 0) return EMPTY_RESULT;
    return { targets: mergePerSession(subs), groups };
  }
}

function collect(
  node: TrieNode,
  levels: string[],
  i: number,
  dollar: boolean,
  subs: Subscription[],
  groups: SharedGroup[],
): void {
  const atRoot = i === 0;
  const hash = atRoot && dollar ? undefined : node.children.get('#');
  // '#' matches the parent level and everything below it [MQTT-4.7.1-2].
  if (hash) take(hash, subs, groups);
  if (i === levels.length) {
    take(node, subs, groups);
    return;
  }
  const exact = node.children.get(levels[i]);
  if (exact) collect(exact, levels, i + 1, dollar, subs, groups);
  const plus = atRoot && dollar ? undefined : node.children.get('+');
  if (plus) collect(plus, levels, i + 1, dollar, subs, groups);
}

function take(node: TrieNode, subs: Subscription[], groups: SharedGroup[]): void {
  for (const s of node.subs) subs.push(s);
  if (node.shared) for (const g of node.shared.values()) groups.push(g);
}

function mergePerSession(subs: Subscription[]): Target[] {
  const bySession = new Map<Session, Target>();
  for (const s of subs) {
    let t = bySession.get(s.session);
    if (!t) {
      t = { session: s.session, qos: -1, qosLocal: -1, retainAsPublished: false, subIds: null };
      bySession.set(s.session, t);
    }
    if (s.qos > t.qos) t.qos = s.qos;
    if (!s.noLocal && s.qos > t.qosLocal) t.qosLocal = s.qos;
    if (s.retainAsPublished) t.retainAsPublished = true;
    if (s.subId !== 0) (t.subIds ??= []).push(s.subId);
  }
  return [...bySession.values()];
}
