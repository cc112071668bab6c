/**
 * The broker's layers, read from its import statements (type-only imports included): listeners → connection →
 * handlers and the persistent store → core, with the wire format, options and log below them all. Nothing imports a layer above its own, and
 * no set of files imports itself round in a cycle.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../../broker');

/** Layer of each file, by path relative to broker/; higher may import lower or equal, never the reverse. */
function layerOf(file: string): number {
  if (['options.ts', 'log.ts', 'log-time.ts', 'wire.ts', 'decode.ts', 'partial-budget.ts'].includes(file)) return 0;
  // Passwords and ACLs: below the core, which asks them on every delivery.
  if (file.startsWith('auth/')) return 0;
  if (file.startsWith('core/')) return 1;
  if (file.startsWith('handlers/')) return 2;
  // The persistent store: called by the core through core/durable.ts, made by index.ts, gating a connection's output.
  if (file.startsWith('persist/')) return 2;
  if (file === 'connection.ts') return 3;
  if (['server.ts', 'sys.ts', 'metrics-http.ts', 'reload.ts'].includes(file) || file.startsWith('listeners/')) return 4;
  if (file === 'config.ts' || file === 'index.ts' || file.startsWith('config/')) return 5;
  throw new Error(`broker/${file} has no layer: add it to the layer table of this test`);
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (name.endsWith('.ts')) out.push(relative(ROOT, full));
  }
  return out.sort();
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) {
    const target = relative(ROOT, resolve(dirname(join(ROOT, file)), m[1])).replace(/\.js$/, '.ts');
    if (!target.startsWith('..')) found.push(target);
  }
  return found;
}

const files = sources(ROOT);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('broker layers', () => {
  it('finds the files and their imports', () => {
    expect(files).toContain('core/core.ts');
    expect(graph.get('server.ts')).toContain('connection.ts');
  });

  it('imports nothing from a layer above', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) if (layerOf(dep) > layerOf(file)) upward.push(`${file} → ${dep}`);
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const dep of graph.get(file) ?? []) visit(dep, [...path, file]);
      state.set(file, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('keeps state of one packet out of module-level variables in the core', () => {
    // `let` at module level in core/ would be state shared by every broker in the process.
    const offenders = files.filter((f) => f.startsWith('core/') && /^let\s/m.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
