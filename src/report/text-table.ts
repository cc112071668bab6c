/**
 * Aligned plain-text columns for the console summary. Cells hold no colour codes (padding counts characters);
 * colour is added to whole lines afterwards.
 */

export type Align = 'left' | 'right';

/** Lines of `rows` laid out in columns, `gap` spaces apart, trailing spaces trimmed. */
export function alignColumns(rows: readonly (readonly string[])[], align: readonly Align[], gap = 2): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, [...cell].length);
    });
  }
  const space = ' '.repeat(gap);
  return rows.map((row) =>
    row
      .map((cell, i) => {
        const pad = widths[i] - [...cell].length;
        return (align[i] ?? 'left') === 'right' ? ' '.repeat(pad) + cell : cell + ' '.repeat(pad);
      })
      .join(space)
      .trimEnd(),
  );
}
