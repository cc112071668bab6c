/**
 * Where the compiled entry of a child process is. Children run as plain Node processes, so they are always the
 * built files under dist/; under the test runner the calling module is the TypeScript source, and the built file
 * sits at the same place under dist/.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `file` (a .js name, relative to the module at `moduleUrl`) as a path to a compiled file that exists. */
export function compiledEntry(file: string, moduleUrl: string): string {
  const target = fileURLToPath(new URL(file, moduleUrl));
  if (fileURLToPath(moduleUrl).endsWith('.js')) return target;
  // This module is bench/harness/compiled.ts in the source tree.
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const built = join(root, 'dist', relative(root, target));
  if (!existsSync(built)) throw new Error(`${built} is missing: run "npm run build" first`);
  return built;
}
