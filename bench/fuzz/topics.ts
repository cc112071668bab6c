/** Topic names built to be hard on a broker: thousands of levels, or tens of kilobytes in one name. */

/** Characters outside Latin-1, so a broker cannot keep the name as one byte per character. */
export const NON_LATIN1 = ['✓', 'Ж', '€', '中', '𝄞'] as const;

/** `levels` levels of `level`: "a/a/a/…". */
export function deepTopic(levels: number, level = 'a'): string {
  return `${level}/`.repeat(levels - 1) + level;
}

/** `levels` empty levels: "/" repeated levels − 1 times. */
export function emptyLevelsTopic(levels: number): string {
  return '/'.repeat(levels - 1);
}

/**
 * `prefix` padded to exactly `bytes` UTF-8 bytes (at most 65,535, the longest a topic can be); `special`, if
 * given, goes in the middle of the padding.
 */
export function longTopic(prefix: string, bytes: number, special = ''): string {
  const fill = bytes - Buffer.byteLength(prefix) - Buffer.byteLength(special);
  if (fill < 0 || bytes > 65_535) throw new Error(`longTopic: cannot make ${bytes} bytes from "${prefix.slice(0, 40)}"`);
  const half = Math.floor(fill / 2);
  return prefix + 'x'.repeat(half) + special + 'x'.repeat(fill - half);
}
