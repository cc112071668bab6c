/**
 * `mqbench k8s` as a user runs it (the built CLI in a child process): the manifests it prints for several inputs
 * pass the Kubernetes API's schema strictly and the API server's own rules, have the Indexed Job and merge Job they
 * should, and lay the scenario's files out so that the scenario loads in the pods; every mistake is refused with
 * exit 2 before any YAML is printed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenarioFile } from '../../../src/scenario/index.js';
import { apiServerProblems, schemaProblems } from '../../helpers/k8s-schema.js';
import { containerEnv, find, parseManifests, podSpec, projectVolume, repoRoot, type Plain } from '../../helpers/k8s-pods.js';

const bin = join(repoRoot, 'bin/mqbench.js');
const work = mkdtempSync(join(tmpdir(), 'mqbench-k8s-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function k8s(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, 'k8s', ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function generate(args: string[], env: NodeJS.ProcessEnv = {}): { objects: Plain[]; stderr: string; text: string } {
  const r = k8s(args, env);
  expect(r.code, r.stderr).toBe(0);
  return { objects: parseManifests(r.stdout), stderr: r.stderr, text: r.stdout };
}

function expectValid(objects: Plain[]): void {
  for (const o of objects) expect(schemaProblems(o), `${String(o.kind)} ${(o.metadata as { name: string }).name}`).toEqual([]);
  expect(apiServerProblems(objects)).toEqual([]);
}

type Container = { name: string; command?: string[]; args?: string[]; env?: Plain[]; resources: { requests: Plain; limits: Plain } };

const qos2 = join(repoRoot, 'scenarios/qos2.yaml');

// A scenario with TLS files beside its folder, a binary payload file below it, and variables: the Secret's case.
const tlsDir = join(work, 'tls');
mkdirSync(join(tlsDir, 'certs'), { recursive: true });
mkdirSync(join(tlsDir, 'scenarios/data'), { recursive: true });
writeFileSync(join(tlsDir, 'certs/ca.pem'), '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n');
writeFileSync(join(tlsDir, 'certs/client.pem'), '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n');
writeFileSync(join(tlsDir, 'certs/client.key'), '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n');
const payload = Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x81, 0xc3, 0x28]);
writeFileSync(join(tlsDir, 'scenarios/data/reading.bin'), payload);
const tlsScenario = join(tlsDir, 'scenarios/tls.yaml');
writeFileSync(
  tlsScenario,
  [
    'name: tls-fanin',
    'duration: 20s',
    'broker:',
    '  url: mqtts://broker.example.com:8883',
    '  username: bench',
    '  password: ${K8S_TEST_PASSWORD}',
    '  tls:',
    '    ca: ../certs/ca.pem',
    '    cert: ../certs/client.pem',
    '    key: ../certs/client.key',
    'groups:',
    '  - name: sub',
    '    clients: ${K8S_TEST_SUBSCRIBERS:-4}',
    '    steps:',
    '      - connect',
    '      - subscribe: { topic: "t/#", qos: 1 }',
    '  - name: pub',
    '    clients: 8',
    '    steps:',
    '      - connect',
    '      - publish:',
    '          topic: t/{i}',
    '          qos: 1',
    '          payload: { file: data/reading.bin }',
    '          rate: 10/s',
    '          count: 20',
    '',
  ].join('\n'),
);

describe('mqbench k8s: the manifests', () => {
  it('for a scenario and a broker URL: ConfigMap, claim, an Indexed Job of N shards and a merge Job, all valid', () => {
    const { objects, stderr } = generate([qos2, '--shards', '2', '--broker', 'mqtt://mosquitto.mqtt.svc:1883', '--name', 'qos2-a']);
    expect(objects.map((o) => `${String(o.kind)}/${(o.metadata as { name: string }).name}`)).toEqual([
      'ConfigMap/qos2-a-scenario',
      'PersistentVolumeClaim/qos2-a-results',
      'Job/qos2-a-shards',
      'Job/qos2-a-merge',
    ]);
    expectValid(objects);
    for (const o of objects) expect((o.metadata as Plain).namespace).toBeUndefined();

    const claim = find(objects, 'PersistentVolumeClaim');
    expect(claim.spec).toEqual({ accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } });
    expect((find(objects, 'ConfigMap').data as Record<string, string>)['qos2.yaml']).toBe(readFileSync(qos2, 'utf8'));

    const shards = find(objects, 'Job', 'shard');
    const spec = shards.spec as Plain;
    expect(spec).toMatchObject({ completionMode: 'Indexed', completions: 2, parallelism: 2, backoffLimit: 0, ttlSecondsAfterFinished: 86_400 });
    const pod = podSpec(shards) as unknown as Plain & { containers: Container[]; initContainers: Container[] };
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: 'kubernetes.io/hostname',
              labelSelector: { matchLabels: { 'app.kubernetes.io/instance': 'qos2-a', 'app.kubernetes.io/component': 'shard' } },
            },
          },
        ],
      },
    });
    expect((pod.securityContext as Plain).sysctls).toEqual([{ name: 'net.ipv4.ip_local_port_range', value: '10240 65535' }]);
    const [shard] = pod.containers;
    expect(shard.resources.requests).toEqual({ cpu: '2', memory: '2Gi' });
    expect(shard.resources.limits).toEqual(shard.resources.requests);
    expect(shard.env).toContainEqual({ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } });
    const script = shard.command![2];
    expect(shard.command!.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(script).toContain('i="$JOB_COMPLETION_INDEX"');
    expect(script).toContain('out="/results/shard-$i"');
    expect(script).toContain(
      'node /app/bin/mqbench.js run /scenario/qos2.yaml --shards 2 --broker mqtt://mosquitto.mqtt.svc:1883 --workers 2 --metrics-port 9464 --metrics-host 0.0.0.0 --run-id "$MQBENCH_JOB_UID" --start-at "$start_at" --out "$out" &',
    );
    expect(script).toContain('start_at=$(cat /sync/start-at)');
    // The shards start together: each waits for the others in an init container with a bounded wait.
    expect(pod.initContainers.map((c) => c.name)).toEqual(['wait-for-shards']);
    expect(pod.initContainers[0].command![2]).toContain('deadline=$(( $(date +%s) + 600 ))');
    expect(pod.initContainers[0].command![2]).toContain('start=$((latest + 60000))');
    // Scraping is declared; this build's run decides whether the flag is passed.
    expect(((shards.spec as Plain).template as { metadata: Plain }).metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9464',
      'prometheus.io/path': '/metrics',
    });

    const merge = find(objects, 'Job', 'merge');
    expect(merge.spec).toMatchObject({ completions: 1, backoffLimit: 0 });
    const mergePod = podSpec(merge) as unknown as { containers: Container[]; initContainers: Container[] };
    expect(mergePod.containers[0].command).toBeUndefined();
    expect(mergePod.containers[0].args).toEqual(['merge', '/results/shard-0', '/results/shard-1', '--out', '/results/merged']);
    const wait = mergePod.initContainers[0].command![2];
    // The merge waits as long as the shards may run, and no longer.
    expect(wait).toContain(`deadline=$(( $(date +%s) + ${String(spec.activeDeadlineSeconds)} ))`);
    expect(wait).toContain('sleep 5');
    expect((merge.spec as Plain).activeDeadlineSeconds).toBe((spec.activeDeadlineSeconds as number) + 600);
    // qos2 has no duration: the default deadline is the start wait plus an hour, and the user is told.
    expect(spec.activeDeadlineSeconds).toBe(600 + 60 + 3600);
    expect(stderr).toMatch(/no duration: the shards get 1h11m/);
  });

  it('puts TLS files and the variables the scenario reads into a Secret, payload files into the ConfigMap, laid out as beside the scenario', () => {
    const env = { K8S_TEST_PASSWORD: 's3cret pass', K8S_TEST_SUBSCRIBERS: '' };
    const { objects, stderr, text } = generate(
      [
        tlsScenario,
        '--shards',
        '3',
        '--namespace',
        'bench',
        '--name',
        'tls-b',
        '--storage-class',
        'nfs-client',
        '--storage',
        '5Gi',
        '--start-at',
        '+15m',
        '--metrics-port',
        'off',
        '--cpu',
        '500m',
        '--memory',
        '768Mi',
        '--image',
        'registry.example.com/mqbench:0.1.0',
      ],
      env,
    );
    expectValid(objects);
    expect(objects.map((o) => o.kind)).toEqual(['ConfigMap', 'Secret', 'PersistentVolumeClaim', 'Job', 'Job']);
    for (const o of objects) expect((o.metadata as Plain).namespace).toBe('bench');
    expect(text).not.toContain('s3cret');
    expect(stderr).toContain('the scenario reads K8S_TEST_PASSWORD, K8S_TEST_SUBSCRIBERS');

    const configMap = find(objects, 'ConfigMap');
    expect(Object.keys(configMap.data as Plain)).toEqual(['tls.yaml']);
    expect(Buffer.from((configMap.binaryData as Record<string, string>)['f4-reading.bin'], 'base64')).toEqual(payload);
    const secret = find(objects, 'Secret');
    const secretData = secret.data as Record<string, string>;
    expect(Object.keys(secretData).sort()).toEqual(['env.K8S_TEST_PASSWORD', 'env.K8S_TEST_SUBSCRIBERS', 'f1-ca.pem', 'f2-client.pem', 'f3-client.key']);
    expect(Buffer.from(secretData['env.K8S_TEST_PASSWORD'], 'base64').toString()).toBe('s3cret pass');

    const shards = find(objects, 'Job', 'shard');
    const pod = podSpec(shards);
    expect(pod.initContainers).toBeUndefined();
    expect(((shards.spec as Plain).template as { metadata: Plain }).metadata.annotations).toBeUndefined();
    const shard = pod.containers[0] as unknown as Container;
    expect(shard.resources.limits).toEqual({ cpu: '500m', memory: '768Mi' });
    const script = shard.command![2];
    // No --broker: the scenario's own URL, with its TLS files; half a CPU still runs one worker thread.
    expect(script).toContain('node /app/bin/mqbench.js run /scenario/scenarios/tls.yaml --shards 3 --workers 1 --run-id "$MQBENCH_JOB_UID" --start-at "$start_at" --out "$out" &');
    const fixed = /start_at=(\S+)\n/.exec(script)![1];
    expect(Date.parse(fixed) - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(Date.parse(fixed) - Date.now()).toBeLessThan(15 * 60_000 + 1);
    expect(find(objects, 'PersistentVolumeClaim').spec).toMatchObject({ storageClassName: 'nfs-client', resources: { requests: { storage: '5Gi' } } });
    expect(shard.command![2]).not.toContain('--metrics-port');
    expect(JSON.stringify(pod)).not.toContain('9464');

    // In the pods the scenario loads as here, with its files found beside it.
    const volume = pod.volumes.find((v) => v.name === 'scenario')!;
    const podDir = join(work, 'pod-view');
    projectVolume(objects, volume, podDir);
    const loaded = loadScenarioFile(join(podDir, 'scenarios/tls.yaml'), { env: containerEnv(shard as never, objects, { index: 0 }) });
    if ('problems' in loaded) throw new Error(JSON.stringify(loaded.problems));
    expect(loaded.scenario.broker.tls!.ca).toBe(join(podDir, 'certs/ca.pem'));
    expect(readFileSync(loaded.scenario.broker.tls!.key!, 'utf8')).toBe(readFileSync(join(tlsDir, 'certs/client.key'), 'utf8'));
    expect(loaded.scenario.broker.password).toBe('s3cret pass');
    expect(loaded.scenario.groups[0].clients).toBe(4);
  });

  it('keeps a broker URL with credentials out of the Job, in the Secret', () => {
    const { objects, text } = generate([qos2, '--shards', '1', '--broker', 'mqtts://user:pa55word@broker.example.com:8883', '--name', 'cred-c', '--access-mode', 'ReadWriteOnce']);
    expectValid(objects);
    expect(text).not.toContain('pa55word');
    expect(Buffer.from((find(objects, 'Secret').data as Record<string, string>)['broker-url'], 'base64').toString()).toBe('mqtts://user:pa55word@broker.example.com:8883');
    const shard = podSpec(find(objects, 'Job', 'shard')).containers[0] as unknown as Container;
    expect(shard.command![2]).toContain('--shards 1 --broker "$MQBENCH_BROKER_URL" --workers 2 --metrics-port 9464 --metrics-host 0.0.0.0 --run-id "$MQBENCH_JOB_UID"');
    expect(shard.env).toContainEqual({ name: 'MQBENCH_BROKER_URL', valueFrom: { secretKeyRef: { name: 'cred-c-secret', key: 'broker-url' } } });
    expect((find(objects, 'PersistentVolumeClaim').spec as Plain).accessModes).toEqual(['ReadWriteOnce']);
  });

  it('scales to many shards: 50 pods of a 60,000-client scenario, the merge naming each shard', () => {
    const big = join(work, 'big.yaml');
    writeFileSync(big, ['name: Big Idle!', 'duration: 5m', 'groups:', '  - name: idle', '    clients: 60000', '    connectRate: 2000/s', '    steps: [connect]', ''].join('\n'));
    const { objects } = generate([big, '--shards', '50', '--broker', 'mqtt://emqx.emqx.svc.cluster.local:1883']);
    expectValid(objects);
    const shards = find(objects, 'Job', 'shard');
    const name = (shards.metadata as { name: string }).name;
    expect(name).toMatch(/^mqbench-big-idle-[a-z0-9]{5}-shards$/);
    expect(shards.spec).toMatchObject({ completions: 50, parallelism: 50 });
    // 5m of run, 1s drain, 10s reply timeout, 10m + 60s of start wait and 6 minutes to spare.
    expect((shards.spec as Plain).activeDeadlineSeconds).toBe(600 + 60 + 300 + 1 + 10 + 360);
    const mergeArgs = (podSpec(find(objects, 'Job', 'merge')).containers[0] as unknown as Container).args!;
    expect(mergeArgs).toHaveLength(1 + 50 + 2);
    expect(mergeArgs[50]).toBe('/results/shard-49');
  });

  it('writes to --out and says how to apply it; the same names again with --name', () => {
    const file = join(work, 'out.yaml');
    const r = k8s([qos2, '--shards', '2', '--broker', 'mqtt://mosquitto.mqtt.svc:1883', '--name', 'qos2-d', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`kubectl apply -f ${file}`);
    expect(r.stderr).toContain('kubectl wait --for=condition=complete job/qos2-d-merge --timeout=');
    const objects = parseManifests(readFileSync(file, 'utf8'));
    expectValid(objects);
    expect(readFileSync(file, 'utf8').startsWith('# mqbench k8s: scenario "qos2", 5 clients in 2 shards, against mqtt://mosquitto.mqtt.svc:1883\n')).toBe(true);
  });
});

describe('the strict check itself', () => {
  const { objects } = (() => {
    const r = k8s([qos2, '--shards', '2', '--broker', 'mqtt://mosquitto.mqtt.svc:1883', '--name', 'qos2-e']);
    return { objects: parseManifests(r.stdout) };
  })();
  const job = () => structuredClone(find(objects, 'Job', 'shard')) as Plain & { spec: { template: { spec: { containers: Plain[]; volumes: Plain[] } } } };

  it('rejects a field the schema does not have, at any depth', () => {
    const a = job();
    (a.spec as Plain).completionsMode = 'Indexed';
    expect(schemaProblems(a)).toEqual(['unknown field /spec/completionsMode']);
    const b = job();
    b.spec.template.spec.containers[0].ulimits = { nofile: 1_000_000 };
    expect(schemaProblems(b)).toEqual(['unknown field /spec/template/spec/containers/0/ulimits']);
    const c = job();
    (c.metadata as Plain).label = { a: 'b' };
    expect(schemaProblems(c)).toEqual(['unknown field /metadata/label']);
  });

  it('rejects wrong values: an enum, a quantity, a type', () => {
    const a = job();
    (a.spec as Plain).completionMode = 'indexed';
    expect(schemaProblems(a).join()).toMatch(/completionMode must be equal to one of the allowed values/);
    const b = job();
    ((b.spec.template.spec.containers[0].resources as Plain).limits as Plain).memory = '2 GB';
    expect(schemaProblems(b).join()).toMatch(/limits\/memory/);
    const c = job();
    (c.spec as Plain).parallelism = '2';
    expect(schemaProblems(c).join()).toMatch(/parallelism must be integer/);
  });

  it('rejects what the API server would: a reference to a key that does not exist, a bad name', () => {
    const copy = structuredClone(objects);
    const configMap = find(copy, 'ConfigMap');
    configMap.data = { 'other.yaml': 'x' };
    expect(apiServerProblems(copy)).toContain('Job qos2-e-shards: configMap qos2-e-scenario has no key qos2.yaml');
    (find(copy, 'PersistentVolumeClaim').metadata as Plain).name = 'Results';
    expect(apiServerProblems(copy)).toContain('PersistentVolumeClaim Results: invalid name');
  });
});

describe('mqbench k8s: refusals (exit 2, nothing printed)', () => {
  const refused = (args: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}) => {
    const r = k8s(args, env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(pattern);
    return r.stderr;
  };

  it('an invalid scenario, with file:line:col, like mqbench run', () => {
    const broken = join(work, 'broken.yaml');
    writeFileSync(broken, ['name: broken', 'duraton: 10s', 'groups:', '  - name: a', '    clients: 2', '    steps:', '      - connect: { keepalive: 10 }', ''].join('\n'));
    const stderr = refused([broken, '--shards', '2', '--broker', 'mqtt://b.example.com'], /broken\.yaml:2:1: .*duraton/);
    expect(stderr).toMatch(/broken\.yaml:7:\d+: .*keepalive/);
    expect(existsSync(join(work, 'never.yaml'))).toBe(false);
  });

  it('the bundled broker, or a broker on this machine, and says why', () => {
    refused([qos2, '--shards', '2'], /the bundled broker: in a cluster each shard would start one of its own/);
    refused([qos2, '--shards', '2', '--broker', 'mosquitto'], /a mosquitto started for the run/);
    refused([qos2, '--shards', '2', '--broker', 'mqtt://localhost:1883'], /loopback address: in a pod it is the pod itself/);
    refused([qos2, '--shards', '2', '--broker', 'mqtt://127.0.0.1:1883'], /loopback/);
    refused([qos2, '--shards', '2', '--broker', 'mqtt//broker:1883'], /--broker: "mqtt\/\/broker:1883" is not a broker URL/);
  });

  it('a bad shard count, and lists every mistake at once', () => {
    refused([qos2, '--broker', 'mqtt://b.example.com'], /--shards is required/);
    refused([qos2, '--shards', '0', '--broker', 'mqtt://b.example.com'], /--shards must be 1 to 1000/);
    refused([qos2, '--shards', '6', '--broker', 'mqtt://b.example.com'], /--shards 6 is more than the scenario's 5 clients/);
    const stderr = refused(
      [qos2, '--shards', 'two', '--broker', 'mqtt://b.example.com', '--cpu', '0', '--start-delay', '5', '--namespace', 'Bench', '--storage', '1 Gi'],
      /--shards is a whole number/,
    );
    for (const m of [/--cpu "0"/, /--start-delay: a duration needs a unit/, /--namespace "Bench"/, /--storage "1 Gi"/]) expect(stderr).toMatch(m);
  });

  it('more clients per shard than a pod has source ports for one broker', () => {
    const many = join(work, 'many.yaml');
    writeFileSync(many, ['name: many', 'groups:', '  - name: idle', '    clients: 120000', '    steps: [connect]', ''].join('\n'));
    refused([many, '--shards', '2', '--broker', 'mqtt://b.example.com'], /60000 clients per shard is more than one pod can open to one broker address \(50000[\s\S]*--shards 3 or more/);
  });

  it('a file the pods could not find: named by an absolute path', () => {
    const abs = join(work, 'abs.yaml');
    writeFileSync(
      abs,
      ['name: abs', 'broker:', '  url: mqtts://b.example.com', '  tls:', `    ca: ${join(tlsDir, 'certs/ca.pem')}`, 'groups:', '  - name: a', '    steps: [connect]', ''].join('\n'),
    );
    refused([abs, '--shards', '1'], /tls ca file .*ca\.pem is named by an absolute path[\s\S]*hint: name it relative to the scenario file/);
  });

  it('files larger than a ConfigMap holds', () => {
    const dir = join(work, 'huge');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'big.bin'), Buffer.alloc(1_100_000, 7));
    writeFileSync(
      join(dir, 'huge.yaml'),
      ['name: huge', 'groups:', '  - name: p', '    steps:', '      - connect', '      - publish: { topic: t, payload: { file: big.bin }, count: 1 }', ''].join('\n'),
    );
    refused([join(dir, 'huge.yaml'), '--shards', '1', '--broker', 'mqtt://b.example.com'], /more than a ConfigMap holds \(1048576 bytes\); the largest is big\.bin/);
  });

  it('a start instant that has passed, a misspelt option, options that do not go together', () => {
    refused([qos2, '--shards', '2', '--broker', 'mqtt://b.example.com', '--start-at', '2020-01-01T00:00:00Z'], /--start-at 2020-01-01T00:00:00Z has passed/);
    refused([qos2, '--shards', '2', '--broker', 'mqtt://b.example.com', '--start-at', '2030-01-01T00:00:00'], /ISO-8601 with a zone/);
    refused([qos2, '--shards', '2', '--broker', 'mqtt://b.example.com', '--start-at', '+5m', '--start-delay', '10s'], /give one or the other/);
    refused([qos2, '--shard', '2', '--broker', 'mqtt://b.example.com'], /unknown option --shard \(did you mean --shards\?\)/);
    refused([qos2, '--shards', '2', '--broker', 'mqtt://b.example.com', '--deadline', '30s'], /--deadline 30s ends before the run starts/);
  });
});
