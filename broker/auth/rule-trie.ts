/**
 * A set of topic filters (ACL rules) in a trie over topic levels, answering three questions without a scan of the
 * rules: does some rule match this topic, does some rule cover every topic of this filter, does some rule share a
 * topic with this filter. MQTT's matching rules apply throughout: `#` matches its parent level and everything below,
 * `+` one level, and a wildcard in the first level never matches a topic starting with `$` [MQTT-4.7.2-1]. Every
 * walk is iterative (an explicit stack): topics and filters come from clients.
 */

/**
 * One level. Most nodes of an ACL's trie have one child (a rule's levels after the point where it parts from the
 * others): that one is kept in `only`, and a map is made for a second.
 */
class Node {
  only: Node | null = null;
  children: Map<string, Node> | null = null;
  /** A rule ends at this node. */
  end = false;
  constructor(readonly key: string) {}

  child(level: string): Node | undefined {
    if (this.children !== null) return this.children.get(level);
    const only = this.only;
    return only !== null && only.key === level ? only : undefined;
  }

  get hasChildren(): boolean {
    return this.only !== null || this.children !== null;
  }

  addChild(child: Node): void {
    if (this.children !== null) this.children.set(child.key, child);
    else if (this.only === null) this.only = child;
    else {
      this.children = new Map([
        [this.only.key, this.only],
        [child.key, child],
      ]);
      this.only = null;
    }
  }

  /** Every child (a new array: walks that need them all are the rare ones). */
  list(): Node[] {
    if (this.children !== null) return [...this.children.values()];
    return this.only !== null ? [this.only] : [];
  }
}

function isDollar(level: string): boolean {
  return level.charCodeAt(0) === 0x24;
}

/** The levels before `i` do not form a topic name: none, or a single empty level (the empty string). */
function noParent(levels: readonly string[], i: number): boolean {
  return i === 0 || (i === 1 && levels[0] === '');
}

/**
 * The only topic of `i` levels that both the filter `levels` and the rule path ending at `node` match would be the
 * empty string (no topic at all).
 */
function bothEmpty(levels: readonly string[], i: number, node: Node): boolean {
  return i === 0 || (i === 1 && (levels[0] === '' || node.key === ''));
}

export class RuleTrie {
  private readonly root = new Node('');
  private n = 0;
  // Scratch stacks, reused by every walk.
  private readonly nodes: Node[] = [];
  private readonly at: number[] = [];

  get size(): number {
    return this.n;
  }

  add(filter: string): void {
    let node = this.root;
    for (const level of filter.split('/')) {
      let child = node.child(level);
      if (child === undefined) {
        child = new Node(level);
        node.addChild(child);
      }
      node = child;
    }
    if (!node.end) this.n++;
    node.end = true;
  }

  /** Does some rule match the topic name `levels`? */
  matchesTopic(levels: readonly string[]): boolean {
    if (this.n === 0) return false;
    const dollar = isDollar(levels[0]);
    const nodes = this.begin();
    const at = this.at;
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const i = at.pop()!;
      const wild = i > 0 || !dollar;
      if (!node.hasChildren) {
        if (i === levels.length && node.end) return true;
        continue;
      }
      if (wild) {
        // '#' matches this level's parent and everything below [MQTT-4.7.1-2].
        const hash = node.child('#');
        if (hash !== undefined && hash.end) return true;
      }
      if (i === levels.length) {
        if (node.end) return true;
        continue;
      }
      this.push(node.child(levels[i]), i + 1);
      if (wild) this.push(node.child('+'), i + 1);
    }
    return false;
  }

  /** Does some rule match every topic the filter `levels` matches? */
  coversFilter(levels: readonly string[]): boolean {
    if (this.n === 0) return false;
    // A filter whose first level is a wildcard matches no `$` topic, and neither does such a rule: only a filter
    // that starts with a `$` name is out of reach of a rule that starts with a wildcard.
    const dollar = isDollar(levels[0]) && levels[0] !== '+' && levels[0] !== '#';
    const nodes = this.begin();
    const at = this.at;
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const i = at.pop()!;
      const wild = i > 0 || !dollar;
      if (node.hasChildren && wild) {
        const hash = node.child('#');
        if (hash !== undefined && hash.end) return true;
      }
      if (i === levels.length) {
        if (node.end) return true;
        continue;
      }
      if (!node.hasChildren) continue;
      const f = levels[i];
      if (f === '#') {
        // Beyond a '#' rule (checked above), '+/#' covers a '#' level that has no valid parent topic: the first level
        // (a topic has at least one level), or the second after an empty first (the empty topic is not a topic).
        if (noParent(levels, i)) {
          const plus = node.child('+');
          const hash = plus === undefined ? undefined : plus.child('#');
          if (hash !== undefined && hash.end) return true;
        }
        continue;
      }
      if (f === '+') {
        this.push(node.child('+'), i + 1);
        continue;
      }
      this.push(node.child(f), i + 1);
      if (wild) this.push(node.child('+'), i + 1);
    }
    return false;
  }

  /** Is there a topic that both some rule and the filter `levels` match? */
  intersectsFilter(levels: readonly string[]): boolean {
    if (this.n === 0) return false;
    const first = levels[0];
    const filterWildFirst = first === '+' || first === '#';
    const dollar = !filterWildFirst && isDollar(first);
    const nodes = this.begin();
    const at = this.at;
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const i = at.pop()!;
      const has = node.hasChildren;
      if (has && (i > 0 || !dollar) && !(i === levels.length && bothEmpty(levels, i, node))) {
        // A '#' rule matches every topic from here on (this level's parent included); the filter matches one.
        const hash = node.child('#');
        if (hash !== undefined && hash.end) return true;
      }
      if (i === levels.length) {
        if (node.end) return true;
        continue;
      }
      const f = levels[i];
      if (f === '#') {
        // The filter matches this level's parent (a topic, unless it would be empty) and everything below: any rule
        // ending here or below.
        if (node.end && !bothEmpty(levels, i, node)) return true;
        if (!has) continue;
        if (i > 0) return true;
        for (const child of node.list()) if (!isDollar(child.key)) return true;
        continue;
      }
      if (!has) continue;
      if (f === '+') {
        for (const child of node.list()) {
          const key = child.key;
          if (key === '#') continue;
          if (i === 0 && key !== '+' && isDollar(key)) continue;
          this.push(child, i + 1);
        }
        continue;
      }
      this.push(node.child(f), i + 1);
      if (i > 0 || !dollar) this.push(node.child('+'), i + 1);
    }
    return false;
  }

  private begin(): Node[] {
    const nodes = this.nodes;
    nodes.length = 0;
    this.at.length = 0;
    nodes.push(this.root);
    this.at.push(0);
    return nodes;
  }

  private push(node: Node | undefined, i: number): void {
    if (node === undefined) return;
    this.nodes.push(node);
    this.at.push(i);
  }
}
