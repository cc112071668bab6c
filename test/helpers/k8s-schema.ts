/**
 * Offline checks of Kubernetes objects against the API's schema, strictly, as `kubectl apply` checks them (it
 * rejects unknown fields), plus the API server's own rules that a schema cannot say (names, keys, references).
 *
 * The schema is kubernetes-models' (generated from the Kubernetes OpenAPI spec, compiled to validators): types,
 * required fields, enums and formats such as quantities. Its schemas allow fields they do not define, so unknown
 * fields are found by watching the validator: it reads every field the schema defines on an object (and enumerates
 * the keys of a map), so a field it never read is one the schema does not have.
 */
import { isUtf8 } from 'node:buffer';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';

type Plain = Record<string, unknown>;

const MODELS: Record<string, { prototype: { validate(): void } }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'batch/v1/Job': Job,
};

interface Visit {
  path: string;
  value: Plain;
  read: Set<string>;
  enumerated: boolean;
}

function tracked(value: unknown, path: string, visits: Visit[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => tracked(v, `${path}/${i}`, visits));
  if (value === null || typeof value !== 'object') return value;
  const visit: Visit = { path, value: value as Plain, read: new Set(), enumerated: false };
  visits.push(visit);
  const copy: Plain = {};
  for (const [k, v] of Object.entries(value)) copy[k] = tracked(v, `${path}/${k}`, visits);
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === 'string') visit.read.add(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === 'string') visit.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      visit.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

/** Schema problems of one object: invalid values, and fields its schema does not define. Empty: valid. */
export function schemaProblems(object: Plain): string[] {
  const model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!model) return [`no schema here for ${String(object.apiVersion)} ${String(object.kind)}`];
  const visits: Visit[] = [];
  const proxy = tracked(object, '', visits);
  try {
    model.prototype.validate.call(proxy);
  } catch (err) {
    return [(err as Error).message];
  }
  const unknown: string[] = [];
  for (const v of visits) {
    if (v.enumerated) continue;
    for (const key of Object.keys(v.value)) if (!v.read.has(key)) unknown.push(`${v.path}/${key}`);
  }
  // Inside an unknown field nothing is read; the outermost one is the mistake.
  return unknown.filter((path) => !unknown.some((outer) => path.startsWith(`${outer}/`))).map((path) => `unknown field ${path}`);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * The API server's validation beyond the schema, for the fields these manifests use: names, label values, data keys
 * and sizes, and that every reference (volume, key, ConfigMap, Secret, claim) names something that exists.
 */
export function apiServerProblems(objects: Plain[]): string[] {
  const problems: string[] = [];
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind) as Plain[];
  const metaOf = (o: Plain) => o.metadata as { name: string; namespace?: string; labels?: Record<string, string> };
  const dataKeys = new Map<string, Set<string>>();
  for (const o of objects) {
    const m = metaOf(o);
    const where = `${String(o.kind)} ${m.name}`;
    if (!DNS_SUBDOMAIN.test(m.name) || m.name.length > 253) problems.push(`${where}: invalid name`);
    if (o.kind === 'Job' && (!DNS_LABEL.test(m.name) || m.name.length > 63)) problems.push(`${where}: a Job's name must be a DNS label`);
    for (const [k, v] of Object.entries(m.labels ?? {})) {
      if (!LABEL_VALUE.test(v) || v.length > 63) problems.push(`${where}: invalid label value ${k}=${v}`);
    }
    if (o.kind === 'ConfigMap' || o.kind === 'Secret') {
      const data = (o.data ?? {}) as Record<string, string>;
      const binary = (o.binaryData ?? {}) as Record<string, string>;
      let size = 0;
      for (const [k, v] of Object.entries(data)) {
        if (!DATA_KEY.test(k) || k.length > 253) problems.push(`${where}: invalid key ${k}`);
        if (o.kind === 'ConfigMap' && !isUtf8(Buffer.from(v, 'utf8'))) problems.push(`${where}: ${k} is not UTF-8`);
        size += o.kind === 'Secret' ? Buffer.from(v, 'base64').length : Buffer.byteLength(v);
        if (o.kind === 'Secret' && Buffer.from(v, 'base64').toString('base64') !== v) problems.push(`${where}: ${k} is not base64`);
      }
      for (const [k, v] of Object.entries(binary)) {
        if (!DATA_KEY.test(k)) problems.push(`${where}: invalid key ${k}`);
        if (k in data) problems.push(`${where}: ${k} is in data and binaryData`);
        size += Buffer.from(v, 'base64').length;
      }
      if (size > 1024 * 1024) problems.push(`${where}: ${size} bytes of data, more than 1 MiB`);
      dataKeys.set(`${String(o.kind)}/${m.name}`, new Set([...Object.keys(data), ...Object.keys(binary)]));
    }
  }
  const namespaces = new Set(objects.map((o) => metaOf(o).namespace));
  if (namespaces.size > 1) problems.push(`objects in several namespaces: ${[...namespaces].join(', ')}`);
  const claims = new Set(byKind('PersistentVolumeClaim').map((o) => metaOf(o).name));
  for (const job of byKind('Job')) {
    const jobName = metaOf(job).name;
    const spec = job.spec as Plain;
    const template = spec.template as { metadata?: { labels?: Record<string, string> }; spec: Plain };
    const pod = template.spec;
    if (pod.restartPolicy !== 'Never' && pod.restartPolicy !== 'OnFailure') problems.push(`Job ${jobName}: restartPolicy must be Never or OnFailure`);
    if (spec.completionMode === 'Indexed' && typeof spec.completions !== 'number') problems.push(`Job ${jobName}: an Indexed Job needs completions`);
    const volumes = new Map(((pod.volumes ?? []) as Plain[]).map((v) => [v.name as string, v]));
    for (const v of volumes.values()) {
      if (!DNS_LABEL.test(v.name as string)) problems.push(`Job ${jobName}: invalid volume name ${String(v.name)}`);
      const claim = v.persistentVolumeClaim as { claimName: string } | undefined;
      if (claim && !claims.has(claim.claimName)) problems.push(`Job ${jobName}: claim ${claim.claimName} is not among the objects`);
      const sources = ((v.projected as { sources?: Plain[] } | undefined)?.sources ?? []) as Plain[];
      for (const s of sources) {
        for (const kind of ['configMap', 'secret'] as const) {
          const ref = s[kind] as { name: string; items?: { key: string; path: string }[] } | undefined;
          if (!ref) continue;
          const keys = dataKeys.get(`${kind === 'configMap' ? 'ConfigMap' : 'Secret'}/${ref.name}`);
          if (!keys) {
            problems.push(`Job ${jobName}: ${kind} ${ref.name} is not among the objects`);
            continue;
          }
          for (const item of ref.items ?? []) {
            if (!keys.has(item.key)) problems.push(`Job ${jobName}: ${kind} ${ref.name} has no key ${item.key}`);
            if (item.path.startsWith('/') || item.path.split('/').includes('..')) problems.push(`Job ${jobName}: item path ${item.path} must be relative, without ..`);
          }
        }
      }
    }
    const containers = [...((pod.initContainers ?? []) as Plain[]), ...((pod.containers ?? []) as Plain[])];
    const containerNames = new Set<string>();
    for (const c of containers) {
      const name = c.name as string;
      if (!DNS_LABEL.test(name) || containerNames.has(name)) problems.push(`Job ${jobName}: container name ${name} invalid or repeated`);
      containerNames.add(name);
      for (const m of (c.volumeMounts ?? []) as { name: string; mountPath: string }[]) {
        if (!volumes.has(m.name)) problems.push(`Job ${jobName}/${name}: mount of unknown volume ${m.name}`);
        if (!m.mountPath.startsWith('/')) problems.push(`Job ${jobName}/${name}: mount path ${m.mountPath} is not absolute`);
      }
      for (const e of (c.env ?? []) as { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]) {
        if (!ENV_NAME.test(e.name)) problems.push(`Job ${jobName}/${name}: invalid env name ${e.name}`);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !dataKeys.get(`Secret/${ref.name}`)?.has(ref.key)) problems.push(`Job ${jobName}/${name}: Secret ${ref.name} has no key ${ref.key}`);
      }
      for (const p of (c.ports ?? []) as { name?: string }[]) {
        if (p.name !== undefined && (p.name.length > 15 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p.name))) problems.push(`Job ${jobName}/${name}: invalid port name ${p.name}`);
      }
    }
  }
  return problems;
}
