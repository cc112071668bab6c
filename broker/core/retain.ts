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
    const expired: RetainNode[] = [];
    const levels = filter.split('/');
    const nodes: RetainNode[] = [this.root];
    const at: number[] = [0];
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const i = at.pop()!;
      if (i === levels.length) {
        take(node, out, expired, now);
        continue;
      }
      const level = levels[i];
      if (level === '#') {
        // '#' includes the parent level itself [MQTT-4.7.1-2].
        if (i > 0) take(node, out, expired, now);
        this.everything(node, i === 0, out, expired, now);
        continue;
      }
      if (level === '+') {
        for (const [name, child] of node.children) {
          // [MQTT-4.7.2-1] a leading wildcard does not match '$' topics.
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
    for (const node of expired) if (node.msg) this.drop(node);
    return out;
  }

  /** Every message below `node`, depth first. */
  private everything(node: RetainNode, atRoot: boolean, out: Msg[], expired: RetainNode[], now: number): void {
    const stack: RetainNode[] = [];
    for (const [name, child] of node.children) {
      if (atRoot && name.charCodeAt(0) === 0x24) continue;
      stack.push(child);
    }
    while (stack.length > 0) {
      const n = stack.pop()!;
      take(n, out, expired, now);
      for (const child of n.children.values()) stack.push(child);
    }
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

function take(node: RetainNode, out: Msg[], expired: RetainNode[], now: number): void {
  const m = node.msg;
  if (!m) return;
  if (m.expired(now)) expired.push(node);
  else out.push(m);
}
