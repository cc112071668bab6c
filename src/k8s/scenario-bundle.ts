/**
 * What the pods need of a scenario besides the image: the scenario file, the files it references (TLS files, which
 * go into a Secret, and payload files, which go into the ConfigMap) laid out so that the scenario's relative names
 * still lead to them, and the environment variables it reads. The pods' view is checked here by loading the scenario
 * again from a copy of that layout, with only that environment.
 */
import { isUtf8 } from 'node:buffer';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { formatProblems, loadScenarioText, type Scenario, type ScenarioOverrides, type Step } from '../scenario/index.js';
import type { Env } from '../scenario/interpolate.js';

/** Largest ConfigMap or Secret the API server stores (its data, all keys together). */
export const MAX_OBJECT_DATA_BYTES = 1024 * 1024;

/** Variables a pod sets for itself: a value from this shell would be wrong there. */
const POD_OWN_VARIABLES = new Set(['HOSTNAME', 'HOME', 'PATH', 'PWD', 'JOB_COMPLETION_INDEX', 'NODE_VERSION', 'YARN_VERSION', 'NODE_ENV']);

export type FileRole = 'tls ca' | 'tls cert' | 'tls key' | 'tls pfx' | 'payload';

export interface ReferencedFile {
  /** Absolute, on this machine. */
  path: string;
  roles: FileRole[];
}

export interface BundledFile {
  /** Key in the ConfigMap or Secret: letters, digits, '-', '_' and '.'. */
  key: string;
  /** Relative to the pods' scenario folder, with '/'. */
  podPath: string;
  bytes: Buffer;
  /** TLS files (keys, certificates) go into the Secret. */
  secret: boolean;
  /** Valid UTF-8 (a ConfigMap's `data`), or not (its `binaryData`). */
  text: boolean;
}

export interface ScenarioBundle {
  /** The scenario file itself, first, then the files it references. */
  files: BundledFile[];
  /** The scenario's path in the pods, relative to their scenario folder. */
  scenarioPodPath: string;
  /** Variables the scenario reads that are set here: the pods get the same values. */
  env: Record<string, string>;
  /** Variables the scenario reads that the pods set themselves, left to the pods; here's values stand in for them. */
  podOwnVariables: Record<string, string | undefined>;
}

export class BundleError extends Error {}

/** Every file the scenario reads, each once, with why. */
export function referencedFiles(scenario: Scenario): ReferencedFile[] {
  const byPath = new Map<string, ReferencedFile>();
  const add = (path: string | undefined, role: FileRole) => {
    if (path === undefined) return;
    const known = byPath.get(path);
    if (known) {
      if (!known.roles.includes(role)) known.roles.push(role);
    } else byPath.set(path, { path, roles: [role] });
  };
  const tls = scenario.broker.tls;
  if (tls) {
    add(tls.ca, 'tls ca');
    add(tls.cert, 'tls cert');
    add(tls.key, 'tls key');
    add(tls.pfx, 'tls pfx');
  }
  const walk = (steps: Step[]) => {
    for (const step of steps) {
      if (step.kind === 'publish' && step.payload.kind === 'file') add(step.payload.path, 'payload');
      else if (step.kind === 'connect' && step.will?.payload.kind === 'file') add(step.will.payload.path, 'payload');
      else if (step.kind === 'repeat') walk(step.steps);
    }
  };
  for (const group of scenario.groups) walk(group.steps);
  return [...byPath.values()];
}

/** An environment that remembers which variables were looked up, for the loader's `${NAME}`. */
export function recordingEnv(env: Env): { env: Env; names: Set<string> } {
  const names = new Set<string>();
  const proxy = new Proxy(env as Record<string, string | undefined>, {
    get(target, key) {
      if (typeof key === 'string') names.add(key);
      return target[key as string];
    },
  });
  return { env: proxy, names };
}

/**
 * Lay the scenario and its files out for the pods: under their closest common folder, so that `../certs/ca.pem`
 * written in `scenarios/x.yaml` is still `../certs/ca.pem` from the scenario in the pod.
 */
export function bundleScenario(scenario: Scenario, scenarioFile: string, readVariables: Iterable<string>, env: Env): ScenarioBundle {
  const scenarioPath = resolve(scenarioFile);
  const referenced = referencedFiles(scenario);
  const root = commonFolder([dirname(scenarioPath), ...referenced.map((f) => dirname(f.path))]);
  const podPath = (abs: string) => relative(root, abs).split(sep).join('/');
  const keys = new Set<string>();
  const keyFor = (abs: string, n: number) => {
    const base = basename(abs).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '') || 'file';
    let key = n === 0 ? base : `f${n}-${base}`;
    key = key.slice(0, 200);
    while (keys.has(key)) key = `f${n}-${key}`.slice(0, 200);
    keys.add(key);
    return key;
  };
  const files: BundledFile[] = [];
  const scenarioBytes = Buffer.from(scenario.source.text, 'utf8');
  files.push({ key: keyFor(scenarioPath, 0), podPath: podPath(scenarioPath), bytes: scenarioBytes, secret: false, text: true });
  referenced.forEach((f, n) => {
    let bytes: Buffer;
    try {
      bytes = readFileSync(f.path);
    } catch (err) {
      throw new BundleError(`cannot read ${f.roles.join(' and ')} file ${f.path}: ${(err as Error).message}`);
    }
    const secret = f.roles.some((r) => r.startsWith('tls'));
    files.push({ key: keyFor(f.path, n + 1), podPath: podPath(f.path), bytes, secret, text: isUtf8(bytes) });
  });
  const vars: Record<string, string> = {};
  const podOwn: Record<string, string | undefined> = {};
  for (const name of [...readVariables].sort()) {
    if (POD_OWN_VARIABLES.has(name) || name.startsWith('KUBERNETES_')) {
      podOwn[name] = env[name];
      continue;
    }
    const value = env[name];
    if (value !== undefined) vars[name] = value;
  }
  checkSizes(files);
  return { files, scenarioPodPath: podPath(scenarioPath), env: vars, podOwnVariables: podOwn };
}

function checkSizes(files: BundledFile[]): void {
  for (const secret of [false, true]) {
    const mine = files.filter((f) => f.secret === secret);
    const total = mine.reduce((n, f) => n + f.bytes.length, 0);
    if (total > MAX_OBJECT_DATA_BYTES) {
      const biggest = [...mine].sort((a, b) => b.bytes.length - a.bytes.length)[0];
      throw new BundleError(
        `the scenario's ${secret ? 'TLS files' : 'files'} come to ${total} bytes, more than a ${secret ? 'Secret' : 'ConfigMap'} holds (${MAX_OBJECT_DATA_BYTES} bytes); the largest is ${biggest.podPath} (${biggest.bytes.length} bytes)\n` +
          `  hint: use a smaller payload file or payload: { size: … }, or build the files into an image of your own FROM the mqbench image`,
      );
    }
  }
}

/**
 * Load the scenario as the pods will: from a copy of the bundle's layout, with only the variables the pods get and
 * the same command-line overrides. Every file it then reads must be inside the copy; a file named by an absolute path
 * (written so, or through a variable) would not exist in the pods.
 */
export function checkPodView(bundle: ScenarioBundle, overrides: ScenarioOverrides): void {
  const dir = mkdtempSync(join(tmpdir(), 'mqbench-k8s-'));
  try {
    const top = join(dir, 'scenario');
    for (const f of bundle.files) {
      const target = join(top, ...f.podPath.split('/'));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, f.bytes);
    }
    const scenarioCopy = join(top, ...bundle.scenarioPodPath.split('/'));
    const text = bundle.files[0].bytes.toString('utf8');
    const loaded = loadScenarioText(text, scenarioCopy, { env: { ...bundle.podOwnVariables, ...bundle.env }, overrides });
    if ('problems' in loaded) {
      throw new BundleError(
        `the scenario would not load in the pods, with only the variables they get (${Object.keys(bundle.env).join(', ') || 'none'}):\n` +
          formatProblems(loaded.problems.map((p) => ({ ...p, file: p.file === scenarioCopy ? `(in the pods) /scenario/${bundle.scenarioPodPath}` : p.file }))),
      );
    }
    const outside = referencedFiles(loaded.scenario).filter((f) => {
      const rel = relative(top, f.path);
      return rel.startsWith('..') || isAbsolute(rel);
    });
    if (outside.length > 0) {
      throw new BundleError(
        outside.map((f) => `the scenario's ${f.roles.join(' and ')} file ${f.path} is named by an absolute path: the pods would look for it there and not find it`).join('\n') +
          `\n  hint: name it relative to the scenario file (e.g. certs/ca.pem); mqbench k8s puts the files it references beside the scenario in the pods`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function commonFolder(folders: string[]): string {
  let common = folders[0].split(sep);
  for (const f of folders.slice(1)) {
    const parts = f.split(sep);
    let n = 0;
    while (n < common.length && n < parts.length && common[n] === parts[n]) n++;
    common = common.slice(0, n);
  }
  return common.join(sep) || sep;
}

