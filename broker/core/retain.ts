/**
 * Retained messages (§3.3.1.3): at most one per topic, kept in a trie so a wildcard subscription finds its matches
 * without scanning every retained topic. Every walk is iterative: a client chooses how deep a topic is.
 */
import type { Msg } from './message.js';

class RetainNode {
  readonly children = new Map<string, RetainNode>();
  msg: Msg | null = null;
  constructor(
    readonly parent: RetainNode | null,
    readonly level: string,
  ) {}
}

export class RetainStore {
  private readonly root = new RetainNode(null, '');
  private n = 0;
  private bytes = 0;
  /** Counts every message retained, so that a walk can tell what was retained after it began. */
  private seq = 0;

  get count(): number {
    return this.n;
  }

  /** Payload bytes of the retained messages. */
  get byteCount(): number {
    return this.bytes;
  }

  /** Store `msg` for its topic; an empty payload clears the topic instead [MQTT-3.3.1-10], [MQTT-3.3.1-11]. */
  set(msg: Msg): void {
    if (msg.pLen === 0) {
      this.clear(msg.topic);
      return;
    }
    let node = this.root;
    for (const level of msg.topic.split('/')) {
      let child = node.children.get(level);
      if (!child) {
        child = new RetainNode(node, level);
        node.children.set(level, child);
      }
      node = child;
    }
    if (node.msg) this.bytes -= node.msg.pLen;
    else this.n++;
    msg.retainedAt = ++this.seq;
    node.msg = msg;
    this.bytes += msg.pLen;
  }

  clear(topic: string): void {
    let node: RetainNode | undefined = this.root;
    for (const level of topic.split('/')) {
      node = node.children.get(level);
      if (!node) return;
    }
    if (!node.msg) return;
    this.drop(node);
  }

  /** Retained messages whose topics match `filter`; expired ones are removed on the way [MQTT-3.3.2-5]. */
  match(filter: string, now: number): Msg[] {
    const out: Msg[] = [];
    const cursor = this.cursor(filter);
    while (cursor.next(out, Infinity, now)) {
      // All in one go.
    }
    return out;
  }

  /**
   * A walk over the retained messages matching `filter` that can stop after any number of messages and go on later
   * (a subscription to `#` on a broker holding 100,000 retained messages is served over several turns of the event
   * loop). It yields what was retained when it began and is still retained: a message retained meanwhile reached
   * the subscription live, and is not sent twice.
   */
  cursor(filter: string): RetainCursor {
    return new RetainCursor(this, this.root, filter.split('/'), this.seq);
  }

  /** Every retained message, `$` topics included (a new array, in no particular order). */
  list(): Msg[] {
    const out: Msg[] = [];
    const stack: RetainNode[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.msg !== null) out.push(node.msg);
      for (const child of node.children.values()) stack.push(child);
    }
    return out;
  }

  /** Remove an expired message found by a cursor. */
  expire(node: RetainNode): void {
    if (node.msg !== null) this.drop(node);
  }

  private drop(node: RetainNode): void {
    this.bytes -= node.msg!.pLen;
    node.msg = null;
    this.n--;
    let n: RetainNode | null = node;
    while (n && n.parent && !n.msg && n.children.size === 0) {
      n.parent.children.delete(n.level);
      n = n.parent;
    }
  }
}

/**
 * The state of one walk: a stack of trie nodes, each with the index of the filter level it is to match next, or -1
 * for "everything below" (under a `#`).
 */
export class RetainCursor {
  private readonly nodes: RetainNode[];
  private readonly at: number[];
  /** Trie nodes the last next() visited. */
  visited = 0;

  constructor(
    private readonly store: RetainStore,
    root: RetainNode,
    private readonly levels: string[],
    /** The store's sequence number when the walk began: later messages are not yielded. */
    private readonly before: number,
  ) {
    this.nodes = [root];
    this.at = [0];
  }

  /**
   * Append up to `max` more matching messages to `out`, visiting at most 10 × `max` trie nodes (topics may be deep
   * and the matches sparse); false once the walk is over.
   */
  next(out: Msg[], max: number, now: number): boolean {
    const { nodes, at, levels } = this;
    const expired: RetainNode[] = [];
    let taken = 0;
    const most = 10 * max;
    let visits = 0;
    while (nodes.length > 0 && taken < max && visits < most) {
      visits++;
      const node = nodes.pop()!;
      const i = at.pop()!;
      if (i < 0) {
        // Everything below a '#': this node, then its children.
        taken += take(node, out, expired, now, this.before);
        for (const child of node.children.values()) {
          nodes.push(child);
          at.push(-1);
        }
        continue;
      }
      if (i === levels.length) {
        taken += take(node, out, expired, now, this.before);
        continue;
      }
      const level = levels[i];
      if (level === '#') {
        // '#' includes the parent level itself [MQTT-4.7.1-2]; a leading wildcard does not match '$' topics
        // [MQTT-4.7.2-1].
        if (i > 0) taken += take(node, out, expired, now, this.before);
        for (const [name, child] of node.children) {
          if (i === 0 && name.charCodeAt(0) === 0x24) continue;
          nodes.push(child);
          at.push(-1);
        }
        continue;
      }
      if (level === '+') {
        for (const [name, child] of node.children) {
          if (i === 0 && name.charCodeAt(0) === 0x24) continue;
          nodes.push(child);
          at.push(i + 1);
        }
        continue;
      }
      const child = node.children.get(level);
      if (child) {
        nodes.push(child);
        at.push(i + 1);
      }
    }
    for (const node of expired) this.store.expire(node);
    this.visited = visits;
    return nodes.length > 0;
  }
}

function take(node: RetainNode, out: Msg[], expired: RetainNode[], now: number, before: number): number {
  const m = node.msg;
  if (!m || m.retainedAt > before) return 0;
  if (m.expired(now)) {
    expired.push(node);
    return 0;
  }
  out.push(m);
  return 1;
}
