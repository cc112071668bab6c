/**
 * The Dockerfile, checked without Docker (none on the test machines): pinned base images, a non-root user, an
 * ENTRYPOINT that exists in the image, production dependencies only, and every file the CLI loads at run time
 * copied into the image. The last is found by following the imports of the built CLI from the ENTRYPOINT's script,
 * through the paths the final stage copies (from the build context or from the build stage, whose output is this
 * repository's own dist/ after `npm run build`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const stages: Stage[] = [];
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`cannot read Dockerfile line: ${line}`);
    const op = m[1].toUpperCase();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(m[2].trim());
      if (!f) throw new Error(`cannot read FROM ${m[2]}`);
      stages.push({ image: f[1], name: f[2], instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`${op} before FROM`);
      stages[stages.length - 1].instructions.push({ op, args: m[2].trim() });
    }
  }
  return stages;
}

const repoRoot = resolve(__dirname, '../../..');
const dockerfile = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const runtime = dockerfile[dockerfile.length - 1];
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
};
const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

/** A .dockerignore pattern (no negations here) matches a context path or one of its parents. */
function isIgnored(path: string): boolean {
  const parts = posix.normalize(path).split('/');
  return ignored.some((pattern) => {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    return parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')));
  });
}

interface Mapping {
  /** Absolute path in the image. */
  image: string;
  /** Where its content comes from, here. */
  local: string;
}

/** The stage's WORKDIR in force at each instruction. */
function withWorkdirs(stage: Stage): { instruction: Instruction; workdir: string }[] {
  let workdir = '/';
  return stage.instructions.map((instruction) => {
    if (instruction.op === 'WORKDIR') workdir = posix.resolve(workdir, instruction.args);
    return { instruction, workdir };
  });
}

/** What the final stage's COPY instructions put where, mapped to files of this repository. */
function runtimeFiles(): Mapping[] {
  const mappings: Mapping[] = [];
  for (const { instruction, workdir } of withWorkdirs(runtime)) {
    if (instruction.op !== 'COPY') continue;
    const words = instruction.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const dest = posix.resolve(workdir, paths[paths.length - 1]);
    const sources = paths.slice(0, -1);
    for (const src of sources) {
      let local: string;
      if (from === undefined) {
        expect(isIgnored(src), `.dockerignore hides ${src}, which the runtime stage copies`).toBe(false);
        local = join(repoRoot, src);
      } else {
        const stage = dockerfile.find((s) => s.name === from);
        expect(stage, `COPY --from=${from}: no such stage`).toBeDefined();
        const buildDir = withWorkdirs(stage!).find((w) => w.instruction.op === 'RUN')!.workdir;
        // The build stage's working folder holds this repository's files and, after the build, its dist/.
        local = join(repoRoot, posix.relative(buildDir, src));
      }
      expect(existsSync(local), `COPY ${src}: ${relative(repoRoot, local)} does not exist here (npm run build first)`).toBe(true);
      const intoFolder = sources.length > 1 || paths[paths.length - 1].endsWith('/') || statSync(local).isDirectory();
      const image = intoFolder && !statSync(local).isDirectory() ? posix.join(dest, posix.basename(src)) : dest;
      mappings.push({ image, local });
    }
  }
  return mappings;
}

function toLocal(mappings: Mapping[], imagePath: string): string | undefined {
  const m = [...mappings].reverse().find((x) => imagePath === x.image || imagePath.startsWith(`${x.image}/`));
  return m ? join(m.local, imagePath.slice(m.image.length)) : undefined;
}

const SPECIFIERS = [
  /(?:^|[;\n])\s*(?:import|export)\s[^;'"`]*?\sfrom\s*['"]([^'"]+)['"]/g,
  /(?:^|[;\n])\s*import\s*['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  /new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g,
];

function specifiers(code: string): string[] {
  const found = new Set<string>();
  for (const re of SPECIFIERS) for (const m of code.matchAll(re)) found.add(m[1]);
  return [...found];
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Packages the image lacks on purpose, with where they may be loaded and why that is fine. */
const NOT_IN_IMAGE: Record<string, { from: string; why: string }> = {
  aedes: { from: '/app/dist/src/launch/aedes-child.js', why: 'a development dependency, only for --broker aedes (a comparison peer)' },
};

describe('Dockerfile', () => {
  it('builds in one stage and runs from node:20-slim in another, base images pinned by major version', () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(2);
    for (const stage of dockerfile) {
      if (dockerfile.some((s) => s.name === stage.image)) continue;
      expect(stage.image, 'a base image with a major version tag (or a digest), never latest').toMatch(/^[\w./-]+(:\d+[\w.-]*|@sha256:[0-9a-f]{64})$/);
    }
    expect(runtime.image).toBe('node:20-slim');
    expect(Number(/^>=(\d+)/.exec((JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node)![1])).toBeLessThanOrEqual(20);
    const build = dockerfile.find((s) => s.name !== undefined && runtime.instructions.some((i) => i.args.includes(`--from=${s.name}`)))!;
    const runs = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
  });

  it('gives the build stage everything the build reads', () => {
    const build = dockerfile.find((s) => s.name === 'build')!;
    const copied = build.instructions
      .filter((i) => i.op === 'COPY')
      .flatMap((i) => i.args.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1));
    for (const c of copied) expect(isIgnored(c), `.dockerignore hides ${c}`).toBe(false);
    const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as { extends: string; include: string[] };
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.build.json', posix.basename(tsconfig.extends), ...tsconfig.include]) {
      expect(copied, `the build stage does not copy ${needed}`).toContain(needed);
    }
    // node_modules and dist from this machine must not leak into the image through the build context.
    expect(isIgnored('node_modules')).toBe(true);
    expect(isIgnored('dist')).toBe(true);
  });

  it('installs production dependencies only in the runtime stage, without install scripts', () => {
    const installs = withWorkdirs(runtime).filter((w) => w.instruction.op === 'RUN' && /\bnpm (ci|install)\b/.test(w.instruction.args));
    expect(installs).toHaveLength(1);
    const install = installs[0].instruction;
    expect(install.args).toMatch(/--omit=dev/);
    // node_modules lands where Node looks for packages from the code's folders.
    expect('/app/dist/src/cli/main.js'.startsWith(`${installs[0].workdir}/`)).toBe(true);
    // "prepare" builds with TypeScript, a development dependency the runtime stage does not have.
    if (pkg.scripts.prepare !== undefined) expect(install.args).toMatch(/--ignore-scripts/);
    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies.some((c) => /^package\.json package-lock\.json \.\/?$/.test(c)), 'package.json and the lock file come before npm ci').toBe(true);
  });

  it('runs as a non-root user, by number', () => {
    const users = runtime.instructions.filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1].args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
  });

  it('has an ENTRYPOINT whose script is in the image, and every module it loads is there too', () => {
    const entry = runtime.instructions.filter((i) => i.op === 'ENTRYPOINT');
    expect(entry).toHaveLength(1);
    const words = JSON.parse(entry[0].args) as string[];
    expect(words).toEqual(['node', '/app/bin/mqbench.js']);
    const mappings = runtimeFiles();
    // brokerVersion() reads the package's package.json at run time, by a computed path.
    expect(toLocal(mappings, '/app/package.json')).toBe(join(repoRoot, 'package.json'));

    const seen = new Set<string>();
    const bare = new Map<string, string>();
    const queue = [words[1]];
    while (queue.length > 0) {
      const imagePath = queue.shift()!;
      if (seen.has(imagePath)) continue;
      seen.add(imagePath);
      const local = toLocal(mappings, imagePath);
      expect(local, `${imagePath} is not copied into the image`).toBeDefined();
      expect(existsSync(local!), `${imagePath} (here ${relative(repoRoot, local!)}) does not exist`).toBe(true);
      for (const spec of specifiers(readFileSync(local!, 'utf8'))) {
        if (spec.startsWith('.') || spec.startsWith('/')) queue.push(posix.resolve(posix.dirname(imagePath), spec));
        else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) bare.set(packageName(spec), imagePath);
      }
    }
    expect(seen.size, 'the CLI, its commands, the engine, the worker and the broker').toBeGreaterThan(100);
    for (const must of ['/app/dist/src/cli/main.js', '/app/dist/src/pool/worker.js', '/app/dist/broker/index.js', '/app/dist/src/cli/commands/k8s.js']) {
      expect(seen.has(must), `${must} is not reached from the ENTRYPOINT`).toBe(true);
    }
    for (const [name, from] of bare) {
      if (name in pkg.dependencies) continue;
      const exception = NOT_IN_IMAGE[name];
      expect(exception, `${from} imports ${name}, which is not a production dependency`).toBeDefined();
      expect(from).toBe(exception.from);
      expect(pkg.devDependencies).toHaveProperty(name);
    }
    // Every production dependency is used, and lives where Node looks for it from /app/dist.
    for (const name of Object.keys(pkg.dependencies)) expect(bare.has(name), `${name} is a dependency the CLI never imports`).toBe(true);
    expect(dirname(toLocal(mappings, '/app/dist/src/cli/main.js')!)).toBe(join(repoRoot, 'dist/src/cli'));
  });
});
