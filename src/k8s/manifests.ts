/**
 * The Kubernetes objects of one sharded run: the scenario (ConfigMap, and a Secret for TLS files and variables), the
 * results volume (PersistentVolumeClaim), the shards (an Indexed Job) and the merge (a Job that waits for the
 * shards). Plain data in, plain objects out; the types come from the Kubernetes API's own schema.
 */
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { IVolumeProjection } from 'kubernetes-models/v1/VolumeProjection';
import type { ScenarioBundle } from './scenario-bundle.js';
import { POD_PATHS, barrierScript, mergeWaitScript, shardScript, shellQuote } from './scripts.js';

export type K8sObject = IConfigMap | ISecret | IPersistentVolumeClaim | IJob;

/** The image's user (node:20-slim's `node`). */
export const POD_USER = 1000;
/** Source ports of each pod's connections; the kernel's default range (32768–60999) gives 28,232. */
export const PORT_RANGE = { first: 10240, last: 65535 } as const;
/** Annotation the Job controller sets on each pod of an Indexed Job. */
const COMPLETION_INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']";
/** Label the Job controller sets on its pods (Kubernetes 1.27 and later): the Job's uid. */
const JOB_UID = "metadata.labels['batch.kubernetes.io/controller-uid']";

export type StartPlan =
  /** The shards wait for each other and start `startDelayMs` after the last one is ready. */
  | { kind: 'barrier'; startDelayMs: number; readyTimeoutSec: number }
  /** An instant fixed when the manifests were made. */
  | { kind: 'fixed'; iso: string; unixMs: number };

export interface ManifestPlan {
  /** Prefix of every object's name: a DNS label of at most 40 characters. */
  name: string;
  namespace: string | undefined;
  image: string;
  version: string;
  shards: number;
  bundle: ScenarioBundle;
  /** --broker for the pods; `secret` when the URL carries credentials (kept out of the Job's spec). */
  broker: { url: string; secret: boolean } | undefined;
  /** --workers for the pods; undefined when the scenario sets its own. */
  workers: number | undefined;
  start: StartPlan;
  /** The shards' Job deadline and the merge's wait, from when they are applied. */
  deadlineSec: number;
  ttlSec: number;
  storage: { size: string; storageClass: string | undefined; accessMode: 'ReadWriteMany' | 'ReadWriteOnce' };
  resources: { cpu: string; memory: string };
  /** Prometheus scraping of the shards; `passFlag`: this mqbench's run has --metrics-port. */
  metrics: { port: number; passFlag: boolean } | undefined;
  /** The scenario's drain: a stopped shard needs it to write its reports. */
  drainMs: number;
}

export const MERGE_EXTRA_SEC = 600;
const SECRET_BROKER_KEY = 'broker-url';
const BROKER_ENV = 'MQBENCH_BROKER_URL';

export function names(name: string) {
  return {
    configMap: `${name}-scenario`,
    secret: `${name}-secret`,
    claim: `${name}-results`,
    shardsJob: `${name}-shards`,
    mergeJob: `${name}-merge`,
  };
}

export function buildManifests(p: ManifestPlan): K8sObject[] {
  const n = names(p.name);
  const needsSecret = p.bundle.files.some((f) => f.secret) || Object.keys(p.bundle.env).length > 0 || p.broker?.secret === true;
  const objects: K8sObject[] = [configMap(p, n.configMap)];
  if (needsSecret) objects.push(secret(p, n.secret));
  objects.push(claim(p, n.claim), shardsJob(p, n, needsSecret), mergeJob(p, n));
  return objects;
}

function labels(p: ManifestPlan, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'mqbench',
    'app.kubernetes.io/instance': p.name,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/version': p.version,
  };
}

function meta(p: ManifestPlan, name: string, component: string) {
  return p.namespace === undefined ? { name, labels: labels(p, component) } : { name, namespace: p.namespace, labels: labels(p, component) };
}

function configMap(p: ManifestPlan, name: string): IConfigMap {
  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  for (const f of p.bundle.files) {
    if (f.secret) continue;
    if (f.text) data[f.key] = f.bytes.toString('utf8');
    else binaryData[f.key] = f.bytes.toString('base64');
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(p, name, 'scenario'),
    // Immutable: the kubelets of N pods need not watch it, and a run's scenario cannot change under it.
    immutable: true,
    data,
    ...(Object.keys(binaryData).length > 0 ? { binaryData } : {}),
  };
}

function secret(p: ManifestPlan, name: string): ISecret {
  const data: Record<string, string> = {};
  for (const f of p.bundle.files) if (f.secret) data[f.key] = f.bytes.toString('base64');
  for (const [k, v] of Object.entries(p.bundle.env)) data[`env.${k}`] = Buffer.from(v, 'utf8').toString('base64');
  if (p.broker?.secret) data[SECRET_BROKER_KEY] = Buffer.from(p.broker.url, 'utf8').toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: meta(p, name, 'scenario'), type: 'Opaque', immutable: true, data };
}

function claim(p: ManifestPlan, name: string): IPersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta(p, name, 'results'),
    spec: {
      // Every shard writes its folder and the merge reads them all, from pods on different nodes.
      accessModes: [p.storage.accessMode],
      resources: { requests: { storage: p.storage.size } },
      ...(p.storage.storageClass !== undefined ? { storageClassName: p.storage.storageClass } : {}),
    },
  };
}

function podSecurity(sysctls: boolean): IPodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: POD_USER,
    runAsGroup: POD_USER,
    // The results volume becomes writable by the image's user.
    fsGroup: POD_USER,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
    // A safe sysctl (allowed without any cluster setting): each pod has its own network namespace, and each client
    // connection to one broker address takes a source port from this range.
    ...(sysctls ? { sysctls: [{ name: 'net.ipv4.ip_local_port_range', value: `${PORT_RANGE.first} ${PORT_RANGE.last}` }] } : {}),
  };
}

const containerSecurity: ISecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

function indexEnv(): IEnvVar {
  return { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: COMPLETION_INDEX } } };
}

function shardsJob(p: ManifestPlan, n: ReturnType<typeof names>, hasSecret: boolean): IJob {
  // The Job's uid names this run, so two runs of one scenario on one broker do not share coordination topics.
  const env: IEnvVar[] = [indexEnv(), { name: 'MQBENCH_JOB_UID', valueFrom: { fieldRef: { fieldPath: JOB_UID } } }];
  for (const k of Object.keys(p.bundle.env)) env.push({ name: k, valueFrom: { secretKeyRef: { name: n.secret, key: `env.${k}` } } });
  const runArgs = [shellQuote(`${POD_PATHS.scenario}/${p.bundle.scenarioPodPath}`), '--shards', String(p.shards)];
  if (p.broker) {
    if (p.broker.secret) {
      env.push({ name: BROKER_ENV, valueFrom: { secretKeyRef: { name: n.secret, key: SECRET_BROKER_KEY } } });
      runArgs.push('--broker', `"$${BROKER_ENV}"`);
    } else runArgs.push('--broker', shellQuote(p.broker.url));
  }
  if (p.workers !== undefined) runArgs.push('--workers', String(p.workers));
  // Bound to every address of the pod: Prometheus scrapes it from outside.
  if (p.metrics?.passFlag) runArgs.push('--metrics-port', String(p.metrics.port), '--metrics-host', '0.0.0.0');
  runArgs.push('--run-id', '"$MQBENCH_JOB_UID"');

  const projections: IVolumeProjection[] = [
    { configMap: { name: n.configMap, items: p.bundle.files.filter((f) => !f.secret).map((f) => ({ key: f.key, path: f.podPath })) } },
  ];
  const secretFiles = p.bundle.files.filter((f) => f.secret);
  if (hasSecret && secretFiles.length > 0) projections.push({ secret: { name: n.secret, items: secretFiles.map((f) => ({ key: f.key, path: f.podPath })) } });

  const shard: IContainer = {
    name: 'shard',
    image: p.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['/bin/sh', '-c', shardScript({ runArgs, start: p.start.kind === 'barrier' ? { kind: 'barrier' } : p.start })],
    env,
    resources: { requests: { ...p.resources }, limits: { ...p.resources } },
    securityContext: containerSecurity,
    volumeMounts: [
      { name: 'scenario', mountPath: POD_PATHS.scenario, readOnly: true },
      { name: 'results', mountPath: POD_PATHS.results },
      { name: 'sync', mountPath: POD_PATHS.sync, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ],
    ...(p.metrics ? { ports: [{ name: 'metrics', containerPort: p.metrics.port, protocol: 'TCP' }] } : {}),
  };
  const initContainers: IContainer[] =
    p.start.kind === 'barrier'
      ? [
          {
            name: 'wait-for-shards',
            image: p.image,
            imagePullPolicy: 'IfNotPresent',
            command: ['/bin/sh', '-c', barrierScript({ shards: p.shards, readyTimeoutSec: p.start.readyTimeoutSec, startDelayMs: p.start.startDelayMs })],
            env: [indexEnv(), { name: 'MQBENCH_JOB_UID', valueFrom: { fieldRef: { fieldPath: JOB_UID } } }],
            resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
            securityContext: containerSecurity,
            volumeMounts: [
              { name: 'results', mountPath: POD_PATHS.results },
              { name: 'sync', mountPath: POD_PATHS.sync },
            ],
          },
        ]
      : [];

  const podLabels = labels(p, 'shard');
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(p, n.shardsJob, 'shard'),
    spec: {
      completionMode: 'Indexed',
      completions: p.shards,
      parallelism: p.shards,
      // A shard cannot rejoin a run that has started: one that fails fails the run, and is not started again.
      backoffLimit: 0,
      activeDeadlineSeconds: p.deadlineSec,
      ttlSecondsAfterFinished: p.ttlSec,
      template: {
        metadata: {
          labels: podLabels,
          ...(p.metrics
            ? { annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(p.metrics.port), 'prometheus.io/path': '/metrics' } }
            : {}),
        },
        spec: {
          restartPolicy: 'Never',
          // On SIGTERM a shard drains like at its end and writes its reports.
          terminationGracePeriodSeconds: Math.ceil(p.drainMs / 1000) + 30,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity(true),
          affinity: {
            podAntiAffinity: {
              // One shard per node where there are nodes enough: shards on one node share its CPUs and network.
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    topologyKey: 'kubernetes.io/hostname',
                    labelSelector: {
                      matchLabels: { 'app.kubernetes.io/instance': p.name, 'app.kubernetes.io/component': 'shard' },
                    },
                  },
                },
              ],
            },
          },
          ...(initContainers.length > 0 ? { initContainers } : {}),
          containers: [shard],
          volumes: [
            { name: 'scenario', projected: { sources: projections } },
            { name: 'results', persistentVolumeClaim: { claimName: n.claim } },
            { name: 'sync', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
}

function mergeJob(p: ManifestPlan, n: ReturnType<typeof names>): IJob {
  const shardDirs = Array.from({ length: p.shards }, (_, i) => `${POD_PATHS.results}/shard-${i}`);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(p, n.mergeJob, 'merge'),
    spec: {
      completions: 1,
      parallelism: 1,
      // The merge's exit code is the run's verdict (1: a threshold failed): not a reason to merge again.
      backoffLimit: 0,
      activeDeadlineSeconds: p.deadlineSec + MERGE_EXTRA_SEC,
      ttlSecondsAfterFinished: p.ttlSec,
      template: {
        metadata: { labels: labels(p, 'merge') },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity(false),
          initContainers: [
            {
              name: 'wait-for-results',
              image: p.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['/bin/sh', '-c', mergeWaitScript({ shards: p.shards, timeoutSec: p.deadlineSec, shardsJob: n.shardsJob })],
              resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
              securityContext: containerSecurity,
              volumeMounts: [{ name: 'results', mountPath: POD_PATHS.results, readOnly: true }],
            },
          ],
          containers: [
            {
              name: 'merge',
              image: p.image,
              imagePullPolicy: 'IfNotPresent',
              args: ['merge', ...shardDirs, '--out', `${POD_PATHS.results}/merged`],
              resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } },
              securityContext: containerSecurity,
              volumeMounts: [
                { name: 'results', mountPath: POD_PATHS.results },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'results', persistentVolumeClaim: { claimName: n.claim } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
}
