/**
 * `mqbench k8s scenario.yaml --shards N --broker URL`: the Kubernetes manifests of one run split over N pods (an
 * Indexed Job), with the scenario, a results volume and a merge Job. Everything is checked before any YAML is printed.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { brokerVersion } from '../../../broker/index.js';
import { buildManifests, MERGE_EXTRA_SEC, names, PORT_RANGE, type ManifestPlan, type StartPlan } from '../../k8s/manifests.js';
import { renderManifests } from '../../k8s/render.js';
import { BundleError, bundleScenario, checkPodView, recordingEnv } from '../../k8s/scenario-bundle.js';
import { formatProblems, loadScenarioFile, type Scenario } from '../../scenario/index.js';
import { parseBrokerUrl } from '../../scenario/read-broker.js';
import { formatDurationMs, parseDuration } from '../../scenario/units.js';
import { parseCommandArgs } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import { usage as runUsage } from './run.js';

export const usage = `Usage: mqbench k8s <scenario.yaml> --shards <n> --broker <url> [options]

Prints the Kubernetes manifests of one run split over n pods: a ConfigMap with the scenario (and a Secret with its
TLS files and the environment variables it reads), a PersistentVolumeClaim for the results, an Indexed Job whose
pod i runs "mqbench run --shards n" as shard i, and a Job that waits for every shard's results and merges them
("mqbench merge"). Apply them with kubectl apply -f; the walkthrough is in docs/distributed.md ("On Kubernetes").

Options:
  --shards <n>            pods that share the scenario's clients, 1 to 1000 (required)
  --broker <url>          the broker as the pods reach it, e.g. mqtt://mosquitto.mqtt.svc:1883 (required unless
                          the scenario names a URL); "bundled" is refused: each pod would test a broker of its own
  --image <ref>           mqbench image the pods run (default mqbench:<version>; build it from the Dockerfile)
  --namespace <ns>        namespace of every object (default: kubectl's current namespace)
  --name <name>           prefix of the objects' names (default mqbench-<scenario>-<random>), at most 40 of a-z 0-9 -
  --start-delay <time>    the shards wait for each other, then start this long after the last one is ready
                          (default 60s)
  --ready-timeout <time>  how long a shard waits for the others before the run fails (default 10m)
  --start-at <instant>    instead of waiting for each other, start at this instant: ISO-8601 with a zone
                          (2030-01-01T12:00:00Z), unix milliseconds, or +<time> from now, fixed in the manifests
  --storage <size>        size of the results volume (default 1Gi)
  --storage-class <sc>    storage class of the results volume (default: the cluster's default class)
  --access-mode <mode>    ReadWriteMany (default: shards on many nodes) or ReadWriteOnce (one-node clusters)
  --cpu <n>               CPUs of each shard, requested and limited alike, and its worker threads (default 2)
  --memory <size>         memory of each shard, requested and limited alike (default 2Gi)
  --metrics-port <p|off>  port the shards' Prometheus metrics are scraped on (default 9464)
  --deadline <time>       Kubernetes stops the shards after this, and the merge waits as long (default: the
                          start wait plus the scenario's duration, drain and 6 minutes; 1h for a scenario
                          without duration)
  --ttl <time>            Kubernetes deletes the finished Jobs after this (default 24h); the results stay
  --out <file>            write the manifests to this file instead of standard output
  -h, --help              show this help

Exit codes: 0 written, 2 invalid scenario or options (each listed; nothing is printed then).`;

const MAX_SHARDS = 1000;
const MIN_START_DELAY_MS = 5_000;
/** Clients one shard may open to one broker address: the source-port range the pods get, less room for reconnects. */
export const MAX_CLIENTS_PER_SHARD = 50_000;
const QUANTITY = /^(\d+(\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export async function k8sCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      shards: { type: 'string' },
      broker: { type: 'string' },
      image: { type: 'string' },
      namespace: { type: 'string' },
      name: { type: 'string' },
      'start-delay': { type: 'string' },
      'ready-timeout': { type: 'string' },
      'start-at': { type: 'string' },
      storage: { type: 'string' },
      'storage-class': { type: 'string' },
      'access-mode': { type: 'string' },
      cpu: { type: 'string' },
      memory: { type: 'string' },
      'metrics-port': { type: 'string' },
      deadline: { type: 'string' },
      ttl: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
    usage,
  );
  if (values.help) {
    process.stdout.write(usage + '\n');
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new CliError(`expected one scenario file, got ${positionals.length}\n\n${usage}`);
  const file = positionals[0];
  const problems: string[] = [];
  const fail = (message: string) => {
    problems.push(message);
    return undefined;
  };

  const shards = values.shards === undefined ? fail('--shards is required: how many pods share the clients') : readShards(values.shards, fail);
  const duration = (flag: string, text: string | undefined, fallback: string): number | undefined => {
    const parsed = parseDuration(text ?? fallback);
    if ('error' in parsed) return fail(`--${flag}: ${parsed.error}${parsed.hint ? ` (${parsed.hint})` : ''}`);
    return parsed.value;
  };
  const startDelayMs = duration('start-delay', values['start-delay'], '60s');
  if (startDelayMs !== undefined && startDelayMs < MIN_START_DELAY_MS) {
    fail(`--start-delay must be at least ${formatDurationMs(MIN_START_DELAY_MS)}: every shard must see the last one ready (it looks every second) before the start`);
  }
  const readyTimeoutMs = duration('ready-timeout', values['ready-timeout'], '10m');
  if (readyTimeoutMs !== undefined && readyTimeoutMs < 1_000) fail('--ready-timeout must be at least 1s');
  if (values['start-at'] !== undefined && (values['start-delay'] !== undefined || values['ready-timeout'] !== undefined)) {
    fail('--start-at fixes the start instant; --start-delay and --ready-timeout are for shards that wait for each other: give one or the other');
  }
  const now = Date.now();
  const startAt = values['start-at'] === undefined ? undefined : readStartAt(values['start-at'], now, fail);
  const ttlMs = duration('ttl', values.ttl, '24h');
  const deadlineMs = values.deadline === undefined ? undefined : duration('deadline', values.deadline, '');
  const cpu = values.cpu ?? '2';
  const cores = readCores(cpu, fail);
  const memory = readQuantity('--memory', values.memory ?? '2Gi', fail);
  const storage = readQuantity('--storage', values.storage ?? '1Gi', fail);
  const accessMode = values['access-mode'] ?? 'ReadWriteMany';
  if (accessMode !== 'ReadWriteMany' && accessMode !== 'ReadWriteOnce') fail(`--access-mode is ReadWriteMany or ReadWriteOnce, got "${accessMode}"`);
  const metricsPort = readMetricsPort(values['metrics-port'] ?? '9464', fail);
  if (values.namespace !== undefined && !(DNS_LABEL.test(values.namespace) && values.namespace.length <= 63)) {
    fail(`--namespace "${values.namespace}" is not a namespace name (lower-case letters, digits and -, at most 63)`);
  }
  if (values.name !== undefined && !(DNS_LABEL.test(values.name) && values.name.length <= 40)) {
    fail(`--name "${values.name}" must be lower-case letters, digits and - (not first or last), at most 40 characters`);
  }
  if (values.image !== undefined && (values.image === '' || /\s/.test(values.image))) fail(`--image "${values.image}" is not an image reference`);
  if (values['storage-class'] !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(values['storage-class'])) {
    fail(`--storage-class "${values['storage-class']}" is not a storage class name`);
  }

  // The scenario, checked as `mqbench run` checks it, with the pods' --broker in place of its own.
  const recorded = recordingEnv(process.env);
  const loaded = loadScenarioFile(file, { env: recorded.env, overrides: { broker: values.broker } });
  if ('problems' in loaded) {
    problems.push(formatProblems(loaded.problems));
    throw new CliError(problems.join('\n'), EXIT.usage);
  }
  const scenario = loaded.scenario;
  checkBroker(scenario, values.broker, fail);
  if (shards !== undefined) checkShares(scenario, shards, fail);
  if (problems.length > 0) throw new CliError(problems.join('\n'), EXIT.usage);

  let bundle;
  try {
    bundle = bundleScenario(scenario, file, recorded.names, process.env);
    checkPodView(bundle, { broker: values.broker });
  } catch (err) {
    if (err instanceof BundleError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }

  const start: StartPlan =
    startAt === undefined
      ? { kind: 'barrier', startDelayMs: startDelayMs!, readyTimeoutSec: Math.ceil(readyTimeoutMs! / 1000) }
      : { kind: 'fixed', iso: new Date(startAt).toISOString(), unixMs: startAt };
  const startWaitMs = start.kind === 'barrier' ? readyTimeoutMs! + startDelayMs! : startAt! - now;
  const runBoundMs = scenario.durationMs === undefined ? undefined : scenario.durationMs + scenario.drainMs + scenario.replyTimeoutMs;
  let deadlineSec: number;
  if (deadlineMs !== undefined) {
    if (deadlineMs <= startWaitMs) {
      throw new CliError(`--deadline ${values.deadline} ends before the run starts (${formatDurationMs(startWaitMs)} from when the manifests are applied)`, EXIT.usage);
    }
    deadlineSec = Math.ceil(deadlineMs / 1000);
  } else if (runBoundMs !== undefined) deadlineSec = Math.ceil((startWaitMs + runBoundMs) / 1000) + 360;
  else {
    deadlineSec = Math.ceil(startWaitMs / 1000) + 3600;
    note(`the scenario has no duration: the shards get ${formatDurationMs(deadlineSec * 1000)} from when they are applied (--deadline to change it)`);
  }

  const version = brokerVersion();
  const name = values.name ?? defaultName(scenario.name);
  const brokerOverride = values.broker === undefined ? undefined : parseBrokerUrl(values.broker);
  const brokerHasCredentials = brokerOverride !== undefined && !('error' in brokerOverride) && brokerOverride.username !== undefined;
  const runHas = (flag: string) => runUsage.includes(`  ${flag} `);
  const plan: ManifestPlan = {
    name,
    namespace: values.namespace,
    image: values.image ?? `mqbench:${version}`,
    version: /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(version) ? version : 'unknown',
    shards: shards!,
    bundle,
    broker: values.broker === undefined ? undefined : { url: values.broker, secret: brokerHasCredentials },
    workers: scenario.workers === 'auto' ? Math.max(1, Math.floor(cores!)) : undefined,
    start,
    deadlineSec,
    ttlSec: Math.ceil(ttlMs! / 1000),
    storage: { size: storage!, storageClass: values['storage-class'], accessMode: accessMode as 'ReadWriteMany' | 'ReadWriteOnce' },
    resources: { cpu, memory: memory! },
    metrics: metricsPort === 'off' ? undefined : { port: metricsPort!, passFlag: runHas('--metrics-port') },
    drainMs: scenario.drainMs,
  };
  const objects = buildManifests(plan);
  const n = names(name);
  const target = scenario.broker.target.kind === 'remote' ? scenario.broker.target.url : '';
  const clients = scenario.groups.reduce((sum, g) => sum + g.clients, 0);
  const header = [
    `mqbench k8s: scenario "${scenario.name}", ${clients} clients in ${shards} shards, against ${target}`,
    `made by mqbench ${version} at ${new Date(now).toISOString()}, from ${basename(file)}`,
    start.kind === 'barrier'
      ? `start: the shards wait for each other (up to ${formatDurationMs(readyTimeoutMs!)}) and start ${formatDurationMs(startDelayMs!)} after the last is ready`
      : `start: at ${start.iso}, fixed: apply these manifests well before then`,
    '',
    `kubectl apply -f <this file>`,
    `kubectl wait --for=condition=complete job/${n.mergeJob} --timeout=${deadlineSec + MERGE_EXTRA_SEC}s   # fails if the run failed`,
    `kubectl logs job/${n.mergeJob}                                     # the merged summary`,
    `Results: PersistentVolumeClaim ${n.claim}, /shard-<i>/ per shard and /merged/. See docs/distributed.md ("On Kubernetes").`,
  ];
  const yaml = renderManifests(objects, header);

  if (!runHas('--shards')) {
    note('this build\'s "mqbench run" has no --shards: the pods need an image built from a version that has sharded runs');
  }
  if (plan.metrics && !plan.metrics.passFlag) {
    note(`this build's "mqbench run" has no --metrics-port: port ${plan.metrics.port} is declared for scraping, but nothing will listen on it`);
  }
  const copied = Object.keys(bundle.env);
  if (copied.length > 0) note(`the scenario reads ${copied.join(', ')}: their values here go to the pods through Secret ${n.secret}`);
  const podOwn = Object.keys(bundle.podOwnVariables);
  if (podOwn.length > 0) note(`the scenario reads ${podOwn.join(', ')}, which the pods set themselves: their values there are used, not these`);
  if (start.kind === 'fixed' && startAt! - now < 120_000) {
    note(`the start instant is ${formatDurationMs(Math.max(0, startAt! - now))} away: pods that are still pulling their image then fail the run`);
  }

  if (values.out !== undefined) {
    try {
      writeFileSync(values.out, yaml);
    } catch (err) {
      throw new CliError(`cannot write ${values.out}: ${(err as Error).message}`, EXIT.usage);
    }
    process.stderr.write(
      `mqbench k8s: ${objects.length} objects for ${shards} shards of "${scenario.name}" written to ${values.out}\n` +
        `  kubectl apply -f ${values.out}\n  kubectl wait --for=condition=complete job/${n.mergeJob} --timeout=${deadlineSec + MERGE_EXTRA_SEC}s\n  kubectl logs job/${n.mergeJob}\n`,
    );
  } else process.stdout.write(yaml);
  return EXIT.ok;
}

function note(text: string): void {
  process.stderr.write(`mqbench k8s: ${text}\n`);
}

function readShards(text: string, fail: (m: string) => undefined): number | undefined {
  if (!/^\d+$/.test(text)) return fail(`--shards is a whole number of pods, got "${text}"`);
  const n = Number(text);
  if (n < 1 || n > MAX_SHARDS) return fail(`--shards must be 1 to ${MAX_SHARDS}, got ${n}`);
  return n;
}

/** ISO-8601 with its zone, unix milliseconds, or +duration from now. */
export function readStartAt(text: string, now: number, fail: (m: string) => undefined): number | undefined {
  let at: number;
  if (text.startsWith('+')) {
    const d = parseDuration(text.slice(1));
    if ('error' in d) return fail(`--start-at ${text}: ${d.error}`);
    at = now + d.value;
  } else if (/^\d{10,}$/.test(text)) {
    at = Number(text);
  } else {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/.test(text)) {
      return fail(`--start-at "${text}" is not an instant: write ISO-8601 with a zone (2030-01-01T12:00:00Z), unix milliseconds, or +5m`);
    }
    at = Date.parse(text);
    if (Number.isNaN(at)) return fail(`--start-at "${text}" is not a valid date`);
  }
  if (at <= now) return fail(`--start-at ${text} has passed (${new Date(at).toISOString()})`);
  return at;
}

function readQuantity(flag: string, text: string, fail: (m: string) => undefined): string | undefined {
  if (!QUANTITY.test(text) || Number(QUANTITY.exec(text)![1]) === 0) return fail(`${flag} "${text}" is not a Kubernetes quantity, e.g. 512Mi or 2Gi`);
  return text;
}

function readCores(text: string, fail: (m: string) => undefined): number | undefined {
  const m = /^(\d+(\.\d+)?)(m?)$/.exec(text);
  if (!m || Number(m[1]) === 0) return fail(`--cpu "${text}" is not a number of CPUs, e.g. 2, 1.5 or 500m`);
  return m[3] === 'm' ? Number(m[1]) / 1000 : Number(m[1]);
}

function readMetricsPort(text: string, fail: (m: string) => undefined): number | 'off' | undefined {
  if (text === 'off') return 'off';
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) return fail(`--metrics-port is a port (1 to 65535) or off, got "${text}"`);
  return Number(text);
}

/** A broker the pods can all reach: a URL, and not this machine's loopback. */
function checkBroker(scenario: Scenario, given: string | undefined, fail: (m: string) => undefined): void {
  const target = scenario.broker.target;
  if (target.kind !== 'remote') {
    const what = target.kind === 'bundled' ? 'the bundled broker' : `a ${target.broker} started for the run`;
    fail(
      `the scenario's broker is ${what}: in a cluster each shard would start one of its own in its pod, so the shards would not share a broker and no message would cross between them\n` +
        `  hint: pass --broker with the URL the pods reach the broker at, e.g. --broker mqtt://mosquitto.mqtt.svc.cluster.local:1883`,
    );
    return;
  }
  for (const h of target.hosts) {
    const host = h.host.toLowerCase();
    if (host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1' || host === '0.0.0.0' || host === '::') {
      fail(
        `${given !== undefined ? '--broker' : 'the scenario\'s broker'} ${target.url} is this machine's loopback address: in a pod it is the pod itself, where no broker runs\n` +
          `  hint: use the broker's Service name (mqtt://<service>.<namespace>.svc:1883) or an address the cluster's pods can reach`,
      );
      return;
    }
  }
}

/** Every shard has clients, and no shard opens more connections to one address than its source ports allow. */
function checkShares(scenario: Scenario, shards: number, fail: (m: string) => undefined): void {
  const clients = scenario.groups.reduce((n, g) => n + g.clients, 0);
  if (shards > clients) {
    fail(`--shards ${shards} is more than the scenario's ${clients} client${clients === 1 ? '' : 's'}: some shards would have nothing to do`);
    return;
  }
  const perShard = scenario.groups.reduce((n, g) => n + Math.ceil(g.clients / shards), 0);
  if (perShard > MAX_CLIENTS_PER_SHARD) {
    const needed = Math.ceil(clients / MAX_CLIENTS_PER_SHARD);
    fail(
      `${perShard} clients per shard is more than one pod can open to one broker address (${MAX_CLIENTS_PER_SHARD}: each connection takes a source port, ${PORT_RANGE.first}–${PORT_RANGE.last} in the pods)\n` +
        `  hint: use --shards ${Math.max(needed, shards + 1)} or more`,
    );
  }
}

function defaultName(scenarioName: string): string {
  const base = scenarioName.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, 25).replace(/-$/, '');
  const suffix = Array.from(randomBytes(5), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
  return `mqbench-${base ? `${base}-` : ''}${suffix}`;
}
