/**
 * Run what the generated pods would run, here: a container's command (or the image's ENTRYPOINT, read from the
 * Dockerfile, with its args), its environment as Kubernetes would fill it (the completion index, the Job's uid,
 * values from the generated Secret), and its mount paths mapped to folders of the test's own. The scenario volume is
 * laid out from the generated ConfigMap and Secret, item by item, as the kubelet would project it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type Plain = Record<string, unknown>;

export interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface PodSpec {
  initContainers?: Container[];
  containers: Container[];
  volumes: Plain[];
}

export const repoRoot = resolve(__dirname, '../..');

export function parseManifests(text: string): Plain[] {
  const docs = parseAllDocuments(text);
  for (const d of docs) if (d.errors.length > 0) throw new Error(`invalid YAML: ${d.errors[0].message}`);
  return docs.map((d) => d.toJS() as Plain).filter((o) => o !== null);
}

export function find(objects: Plain[], kind: string, component?: string): Plain {
  const found = objects.filter(
    (o) => o.kind === kind && (component === undefined || (o.metadata as { labels: Record<string, string> }).labels['app.kubernetes.io/component'] === component),
  );
  if (found.length !== 1) throw new Error(`expected one ${kind}${component ? ` (${component})` : ''}, found ${found.length}`);
  return found[0];
}

export function podSpec(job: Plain): PodSpec {
  return ((job.spec as Plain).template as { spec: PodSpec }).spec;
}

/** The image's ENTRYPOINT, as the Dockerfile's final stage gives it (exec form). */
export function dockerEntrypoint(): string[] {
  const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const lines = [...text.matchAll(/^ENTRYPOINT\s+(\[.*\])\s*$/gm)];
  if (lines.length === 0) throw new Error('the Dockerfile has no ENTRYPOINT in exec form');
  return JSON.parse(lines[lines.length - 1][1]) as string[];
}

/** Lay out a projected scenario volume from the generated ConfigMap and Secret. */
export function projectVolume(objects: Plain[], volume: Plain, dir: string): void {
  const sources = (volume.projected as { sources: Plain[] }).sources;
  for (const s of sources) {
    for (const kind of ['configMap', 'secret'] as const) {
      const ref = s[kind] as { name: string; items: { key: string; path: string }[] } | undefined;
      if (!ref) continue;
      const object = objects.find((o) => o.kind === (kind === 'configMap' ? 'ConfigMap' : 'Secret') && (o.metadata as { name: string }).name === ref.name);
      if (!object) throw new Error(`${kind} ${ref.name} is not among the objects`);
      const data = (object.data ?? {}) as Record<string, string>;
      const binary = (object.binaryData ?? {}) as Record<string, string>;
      for (const item of ref.items) {
        const bytes =
          kind === 'secret' ? Buffer.from(data[item.key], 'base64') : item.key in data ? Buffer.from(data[item.key], 'utf8') : Buffer.from(binary[item.key], 'base64');
        const target = join(dir, ...item.path.split('/'));
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, bytes);
      }
    }
  }
}

/** Replace each pod path in a word by its local folder, in one pass (a local folder may contain a pod path), whole path segments only. */
export function mapPaths(word: string, paths: Record<string, string>): string {
  const keys = Object.keys(paths).sort((a, b) => b.length - a.length);
  if (keys.length === 0) return word;
  const alternatives = keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return word.replace(new RegExp(`(?<![\\w.-])(${alternatives})(?=/|[^\\w.-]|$)`, 'g'), (m) => paths[m]);
}

export interface PodIdentity {
  index?: number;
  jobUid?: string;
}

/** The container's environment as the kubelet would set it. */
export function containerEnv(container: Container, objects: Plain[], pod: PodIdentity): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) {
      const path = e.valueFrom.fieldRef.fieldPath;
      if (path === "metadata.annotations['batch.kubernetes.io/job-completion-index']") env[e.name] = String(pod.index);
      else if (path === "metadata.labels['batch.kubernetes.io/controller-uid']") env[e.name] = pod.jobUid ?? '';
      else throw new Error(`no value here for fieldRef ${path}`);
    } else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const secret = objects.find((o) => o.kind === 'Secret' && (o.metadata as { name: string }).name === ref.name);
      const value = (secret?.data as Record<string, string> | undefined)?.[ref.key];
      if (value === undefined) throw new Error(`Secret ${ref.name} has no key ${ref.key}`);
      env[e.name] = Buffer.from(value, 'base64').toString('utf8');
    } else throw new Error(`env ${e.name} has no value`);
  }
  return env;
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  paths: Record<string, string>;
  env: Record<string, string>;
  /** Words replaced in the command after the paths, e.g. a broker's Service URL by a local address. */
  replace?: Record<string, string>;
  timeoutMs: number;
  onSpawn?: (pid: number) => void;
}

/** Run one container's process to its end, or kill it at the timeout. */
export function runContainer(container: Container, o: RunOptions): Promise<Ran> {
  const words = [...(container.command ?? dockerEntrypoint()), ...(container.args ?? [])].map((w) => {
    let out = mapPaths(w, o.paths);
    for (const [from, to] of Object.entries(o.replace ?? {})) out = out.split(from).join(to);
    return out;
  });
  const [file, ...args] = words;
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(file === 'node' ? process.execPath : file, args, {
      cwd: repoRoot,
      env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: process.env.HOME ?? '/tmp', ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) o.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}
