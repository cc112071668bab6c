/**
 * Retained messages (§3.3.1.3): at most one per topic, kept in a trie so a wildcard subscription finds its matches
 * without scanning every retained topic.
 */
import type { Msg } from './message.js';

class RetainNode {
  readonly children = new Map<string, RetainNode>();
  msg: Msg | null = null;
  constructor(readonly parent: RetainNode | null, readonly level: string) {}
}

export class RetainStore {
  private readonly root = new RetainNode(null, '');
  private n = 0;
  private bytes = 0;

  get count(): number {
    return this.n;
  }

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
    this.bytes -= node.msg.pLen;
    node.msg = null;
    this.n--;
    this.prune(node);
  }

  /** Retained messages whose topics match `filter`; expired ones are removed on the way [MQTT-3.3.2-5]. */
  match(filter: string, now: number): Msg[] {
    const out: Msg[] = [];
    const expired: RetainNode[] = [];
    this.walk(this.root, filter.split('/'), 0, out, expired, now);
    for (const node of expired) {
      this.bytes -= node.msg!.pLen;
      node.msg = null;
      this.n--;
      this.prune(node);
    }
    return out;
  }

  private walk(node: RetainNode, levels: string[], i: number, out: Msg[], expired: RetainNode[], now: number): void {
    if (i === levels.length) {
      this.take(node, out, expired, now);
      return;
    }
    const level = levels[i];
    if (level === '#') {
      // '#' includes the parent level itself.
      if (i > 0) this.take(node, out, expired, now);
      this.everything(node, i === 0, out, expired, now);
      return;
    }
    if (level === '+') {
      for (const [name, child] of node.children) {
        // [MQTT-4.7.2-1] a leading wildcard does not match '$' topics.
        if (i === 0 && name.startsWith('$')) continue;
        this.walk(child, levels, i + 1, out, expired, now);
      }
      return;
    }
    const child = node.children.get(level);
    if (child) this.walk(child, levels, i + 1, out, expired, now);
  }

  private everything(node: RetainNode, atRoot: boolean, out: Msg[], expired: RetainNode[], now: number): void {
    for (const [name, child] of node.children) {
      if (atRoot && name.startsWith('$')) continue;
      this.take(child, out, expired, now);
      this.everything(child, false, out, expired, now);
    }
  }

  private take(node: RetainNode, out: Msg[], expired: RetainNode[], now: number): void {
    const m = node.msg;
    if (!m) return;
    if (m.expired(now)) expired.push(node);
    else out.push(m);
  }

  private prune(node: RetainNode): void {
    let n: RetainNode | null = node;
    while (n && n.parent && !n.msg && n.children.size === 0) {
      n.parent.children.delete(n.level);
      n = n.parent;
    }
  }
}
