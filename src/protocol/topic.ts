/**
 * Topic names and topic filters: validation and matching, per MQTT 3.1.1 §4.7 and 5.0 §4.7–4.8.
 * Leaf module: imports nothing from the project.
 */

/** Longest topic or filter in bytes the wire can carry (a 16-bit length prefix). */
export const MAX_TOPIC_BYTES = 65_535;

export type TopicProblem =
  | 'empty'
  | 'too-long'
  | 'wildcard-in-name'
  | 'bad-plus'
  | 'bad-hash'
  | 'null-char'
  | 'bad-share';

const PLUS = 0x2b;
const HASH = 0x23;
const SLASH = 0x2f;

/** A topic name a client may publish to: non-empty, no wildcards, no U+0000 [MQTT-4.7.3-1], [MQTT-3.3.2-2]. */
export function topicNameProblem(topic: string): TopicProblem | undefined {
  if (topic.length === 0) return 'empty';
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH) return 'wildcard-in-name';
    if (c === 0) return 'null-char';
  }
  if (topic.length > MAX_TOPIC_BYTES / 3 && Buffer.byteLength(topic) > MAX_TOPIC_BYTES) return 'too-long';
  return undefined;
}

/**
 * A topic filter: `+` occupies a whole level [MQTT-4.7.1-3], `#` occupies the last level only [MQTT-4.7.1-2],
 * non-empty [MQTT-4.7.3-1]. `$share/{group}/{filter}` is checked as a shared subscription [MQTT-4.8.2-1], [MQTT-4.8.2-2].
 */
export function topicFilterProblem(filter: string): TopicProblem | undefined {
  if (filter.length === 0) return 'empty';
  if (filter.length > MAX_TOPIC_BYTES / 3 && Buffer.byteLength(filter) > MAX_TOPIC_BYTES) return 'too-long';
  const shared = parseSharedFilter(filter);
  if (shared === null) return 'bad-share';
  return plainFilterProblem(shared === undefined ? filter : shared.filter);
}

function plainFilterProblem(filter: string): TopicProblem | undefined {
  if (filter.length === 0) return 'empty';
  const n = filter.length;
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0) return 'null-char';
    if (c === PLUS) {
      const beforeOk = i === 0 || filter.charCodeAt(i - 1) === SLASH;
      const afterOk = i === n - 1 || filter.charCodeAt(i + 1) === SLASH;
      if (!beforeOk || !afterOk) return 'bad-plus';
    } else if (c === HASH) {
      const beforeOk = i === 0 || filter.charCodeAt(i - 1) === SLASH;
      if (!beforeOk || i !== n - 1) return 'bad-hash';
    }
  }
  return undefined;
}

export interface SharedFilter {
  group: string;
  filter: string;
}

/**
 * `$share/group/filter` → {group, filter}; a filter that is not shared → undefined;
 * a malformed shared filter (empty or wildcard group, no filter) → null.
 */
export function parseSharedFilter(filter: string): SharedFilter | undefined | null {
  if (!filter.startsWith('$share/')) return undefined;
  const slash = filter.indexOf('/', 7);
  if (slash < 0) return null;
  const group = filter.slice(7, slash);
  const rest = filter.slice(slash + 1);
  // [MQTT-4.8.2-1] the share name is at least one character and has no '/', '+' or '#'.
  if (group.length === 0 || group.includes('+') || group.includes('#')) return null;
  // [MQTT-4.8.2-2] a topic filter follows the share name.
  if (rest.length === 0) return null;
  return { group, filter: rest };
}

/**
 * Does `topic` (a name or a filter) have more than `maxSeparators` '/' separators? Brokers bound the depth of what
 * they keep in their tries (Mosquitto: 200).
 */
export function tooManyLevels(topic: string, maxSeparators: number): boolean {
  if (topic.length <= maxSeparators) return false;
  let n = 0;
  for (let i = topic.indexOf('/'); i >= 0; i = topic.indexOf('/', i + 1)) if (++n > maxSeparators) return true;
  return false;
}

export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/**
 * Does `filter` match `topic`? A leading wildcard never matches a topic starting with `$` [MQTT-4.7.2-1].
 * Used by clients and tests; the broker routes through its trie instead.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 /* $ */ && (filter.charCodeAt(0) === PLUS || filter.charCodeAt(0) === HASH)) {
    return false;
  }
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true; // matches the parent level too: "sport/#" matches "sport"
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Human wording of a problem, for errors shown to users. */
export function describeTopicProblem(problem: TopicProblem): string {
  switch (problem) {
    case 'empty':
      return 'is empty';
    case 'too-long':
      return 'is longer than 65535 bytes';
    case 'wildcard-in-name':
      return "contains a wildcard ('+' or '#'), which a topic name may not";
    case 'bad-plus':
      return "has a '+' that does not fill a whole level";
    case 'bad-hash':
      return "has a '#' that is not the whole last level";
    case 'null-char':
      return 'contains the null character U+0000';
    case 'bad-share':
      return "is a malformed shared subscription (expected '$share/<group>/<filter>')";
  }
}
