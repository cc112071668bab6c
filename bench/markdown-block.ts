/** A generated block inside a hand-written Markdown file, between two marker lines, rewritten in place. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * `text` with the block from the `begin` line to the `end` line replaced by `block` (which carries both lines), or
 * with `block` appended when `text` has neither line. A file with only one of them is refused: what to keep is unclear.
 */
export function replaceMarkdownBlock(text: string, block: string, begin: string, end: string): string {
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) {
    const after = text.indexOf('\n', to);
    return text.slice(0, from) + block + (after < 0 ? '' : text.slice(after + 1));
  }
  if (from >= 0 || to >= 0) throw new Error(`only one of the lines "${begin}" and "${end}" is there, or they are in the wrong order; fix it by hand first`);
  return text === '' ? block : `${text.replace(/\n*$/, '\n')}\n${block}`;
}

export function writeMarkdownBlock(file: string, block: string, begin: string, end: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  let next: string;
  try {
    next = replaceMarkdownBlock(text, block, begin, end);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, next);
}
