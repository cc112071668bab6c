/** Whole numbers listed for a person to read, runs written as ranges. */

/** Sorted indexes as text, runs of four or more as ranges: "1–4, 6, 8–65534". */
export function indexRanges(indexes: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indexes.length; ) {
    let j = i;
    while (j + 1 < indexes.length && indexes[j + 1] === indexes[j] + 1) j++;
    if (j - i >= 3) parts.push(`${indexes[i]}–${indexes[j]}`);
    else for (let k = i; k <= j; k++) parts.push(String(indexes[k]));
    i = j + 1;
  }
  return parts.join(', ');
}
