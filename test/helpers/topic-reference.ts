/**
 * Topic matching written straight from the spec (§4.7 of MQTT 3.1.1 and 5.0, §4.8 for shared subscriptions), as
 * the reference property tests hold the broker's tries against. Deliberately plain: no trie, no cache, one topic
 * and one filter at a time, level by level, iterative so that topics thousands of levels deep are fine.
 */

/** A filter split into its parts: the plain filter matched against topics, and the share name when shared. */
export interface ReferenceFilter {
  /** The filter after `$share/{group}/`, or the whole filter. */
  filter: string;
  /** The share name of `$share/{group}/{filter}`, or null. */
  group: string | null;
}

/** `$share/{group}/{filter}` → its group and filter [MQTT-4.8.2-1]; anything else is a plain filter. */
export function splitShared(subscribed: string): ReferenceFilter {
  const prefix = '$share/';
  if (!subscribed.startsWith(prefix)) return { filter: subscribed, group: null };
  const rest = subscribed.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) throw new Error(`not a shared subscription: ${subscribed}`);
  return { group: rest.slice(0, slash), filter: rest.slice(slash + 1) };
}

/**
 * Does the (plain, valid) topic filter match the topic name?
 * - levels are separated by `/`; an empty level is a level like any other [MQTT-4.7.1-1];
 * - `+` matches exactly one level, empty ones included [MQTT-4.7.1-3];
 * - `#` is the last level and matches its parent level and any number of levels below it [MQTT-4.7.1-2];
 * - a filter whose first character is a wildcard does not match a topic whose first character is `$` [MQTT-4.7.2-1].
 */
export function referenceMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  let i = 0;
  for (; i < f.length; i++) {
    if (f[i] === '#') {
      if (i !== f.length - 1) throw new Error(`'#' is not the last level of ${filter}`);
      // "sport/#" matches "sport" (the parent level) and everything under it.
      return t.length >= i;
    }
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return t.length === f.length;
}
