/**
 * `mqbench conformance`: run the spec-conformance checks against one or more brokers and write the reports.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { brokerVersion, startBroker } from '../../../broker/index.js';
import { ALL_CHECKS } from '../../conformance/checks/index.js';
import type { Endpoint } from '../../conformance/client.js';
import { MOSQUITTO_DEVIATIONS } from '../../conformance/deviations/index.js';
import { runChecks, selectChecks, type BrokerRun, type CheckOutcome } from '../../conformance/runner.js';
import type { MqttVersion } from '../../conformance/statements.js';
import { startLocalBroker } from '../../launch/local-broker.js';
import { MosquittoNotFoundError, startMosquitto } from '../../launch/mosquitto.js';
import { plural } from '../../report/format.js';
import { renderConformanceJson, renderConformanceMatrix, renderConformanceSummary, renderJUnit, type ConformanceReport } from '../../report/conformance.js';
import { parseBrokerUrl } from '../../scenario/read-broker.js';
import { parseCommandArgs } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';

export const usage = `Usage: mqbench conformance [options]

Checks a broker against the normative statements of MQTT 3.1.1 and 5.0 that bind a server and can be seen on the
wire, and writes conformance.json, junit.xml, conformance.md and conformance.html to --out.

Options:
  --broker <b>          bundled (default), mosquitto or aedes (started locally on a free port), or a URL:
                        mqtt://host:1883, mqtts://host:8883, ws://host:9001/mqtt, wss://…; repeat for a side-by-side matrix
  --version <v>         3.1.1 or 5 (default: both; repeat or comma-separate)
  --grep <text>         only checks whose id, title or statement ids contain <text>
  --timeout <ms>        how long to wait for each reply the broker owes (default 2000)
  --allow-fail <ids>    check or statement ids whose failures are accepted (listed in the report); comma-separated, repeatable
  --known-deviations mosquitto
                        the brokers are Mosquitto 2.0: accept the failures documented as its known deviations
                        (docs/conformance.md) and explain them in the report (a --broker mosquitto is always explained)
  --ca <file>           CA certificate to verify an mqtts:// or wss:// broker
  --insecure            do not verify the broker's TLS certificate
  --out <dir>           report folder (default reports/conformance-<time>)
  -h, --help            show this help

A broker that refuses one version's CONNECT (an MQTT 3.1.1-only broker, say) has that version's checks skipped, with
its answer quoted; one that cannot be reached, or refuses every version, is reported once as unreachable.

Exit codes: 0 every check passed (or its failure is allowed), 1 a check failed, 2 invalid options, 3 a broker could
not be reached or started.`;

interface Target {
  label: string;
  endpoint: Endpoint;
  deviations: Record<string, string> | undefined;
  stop(): Promise<void>;
}

export async function conformanceCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      broker: { type: 'string', multiple: true },
      version: { type: 'string', multiple: true },
      grep: { type: 'string' },
      timeout: { type: 'string' },
      'allow-fail': { type: 'string', multiple: true },
      'known-deviations': { type: 'string' },
      ca: { type: 'string' },
      insecure: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
    usage,
  );
  if (values.help) {
    process.stdout.write(usage + '\n');
    return EXIT.ok;
  }
  const versions = parseVersions(values.version);
  const timeoutMs = values.timeout === undefined ? 2_000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) {
    throw new CliError(`--timeout must be a whole number of milliseconds from 100 to 60000, got "${values.timeout}"`);
  }
  const allowFail = new Set((values['allow-fail'] ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean));
  const known = new Set(ALL_CHECKS.map((c) => c.id));
  const unknown = [...allowFail].filter((id) => !known.has(id) && !/^MQTT-\d/.test(id));
  if (unknown.length > 0) throw new CliError(`--allow-fail names no check or statement: ${unknown.join(', ')}`);
  const selected = selectChecks(ALL_CHECKS, versions, values.grep);
  if (selected.length === 0) throw new CliError(`no check matches --grep "${values.grep}"`);
  const knownAs = values['known-deviations'];
  if (knownAs !== undefined && knownAs !== 'mosquitto') throw new CliError(`--known-deviations: only "mosquitto" is documented, got "${knownAs}"`);
  const brokers = values.broker ?? ['bundled'];
  const tls = values.ca !== undefined || values.insecure ? { ca: values.ca ? readFileSync(values.ca) : undefined, verify: !values.insecure } : undefined;
  const outDir = resolve(values.out ?? join('reports', `conformance-${stamp(new Date())}`));

  const runs: ConformanceReport['runs'] = [];
  for (const spec of brokers) {
    const target = await openTarget(spec, tls);
    if (knownAs === 'mosquitto') target.deviations ??= mosquittoDeviations();
    try {
      process.stderr.write(`mqbench: ${selected.length} checks against ${target.label}\n`);
      const allowed = new Set(allowFail);
      if (knownAs !== undefined && target.deviations) for (const id of Object.keys(target.deviations)) allowed.add(id);
      const run: BrokerRun = await runChecks(ALL_CHECKS, {
        endpoint: target.endpoint,
        label: target.label,
        versions,
        grep: values.grep,
        timeoutMs,
        allowFail: allowed,
        onOutcome: (o) => progress(o),
      });
      if (!run.reachable) process.stderr.write(`  ${target.label} is not reachable: ${run.unreachableReason ?? 'no reason given'}\n`);
      for (const [version, why] of Object.entries(run.refusedVersions ?? {})) {
        const skipped = run.checks.filter((c) => c.version === version).length;
        process.stderr.write(`  ${target.label} refused an MQTT ${version} CONNECT (${why}): ${plural(skipped, `MQTT ${version} check`)} skipped\n`);
      }
      runs.push({ ...run, deviations: target.deviations });
    } finally {
      await target.stop();
    }
  }
  const report: ConformanceReport = { tool: { name: 'mqbench', version: brokerVersion() }, generatedAt: new Date().toISOString(), versions, runs };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'conformance.json'), renderConformanceJson(report));
  writeFileSync(join(outDir, 'junit.xml'), renderJUnit(report));
  writeFileSync(join(outDir, 'conformance.md'), renderConformanceMatrix(report, 'markdown'));
  writeFileSync(join(outDir, 'conformance.html'), renderConformanceMatrix(report, 'html'));
  process.stdout.write(renderConformanceSummary(report, { color: process.stdout.isTTY === true }));
  process.stdout.write(`\nReports: ${outDir}\n`);
  if (runs.some((r) => !r.reachable)) return EXIT.unavailable;
  return runs.some((r) => r.checks.some((c) => (c.status === 'fail' && !c.allowed) || c.status === 'error')) ? EXIT.failed : EXIT.ok;
}

function mosquittoDeviations(): Record<string, string> {
  return Object.fromEntries(MOSQUITTO_DEVIATIONS.map((d) => [d.check, d.explanation]));
}

function parseVersions(values: string[] | undefined): MqttVersion[] {
  if (values === undefined) return ['3.1.1', '5.0'];
  const out: MqttVersion[] = [];
  for (const v of values.flatMap((s) => s.split(','))) {
    const t = v.trim();
    if (t === '3.1.1' || t === '4') out.push('3.1.1');
    else if (t === '5' || t === '5.0') out.push('5.0');
    else throw new CliError(`--version must be 3.1.1 or 5, got "${t}"`);
  }
  return [...new Set(out)];
}

async function openTarget(spec: string, tls: { ca: Buffer | undefined; verify: boolean } | undefined): Promise<Target> {
  if (spec === 'bundled') {
    const b = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], logTypes: new Set() });
    return { label: `bundled (mqbench ${brokerVersion()})`, endpoint: { host: b.host, port: b.port }, deviations: undefined, stop: () => b.close() };
  }
  if (spec === 'aedes') {
    try {
      const a = await startLocalBroker('aedes');
      return { label: a.label, endpoint: { host: a.host, port: a.port }, deviations: undefined, stop: () => a.stop() };
    } catch (err) {
      throw new CliError(`could not start aedes: ${(err as Error).message}`, EXIT.unavailable);
    }
  }
  if (spec === 'mosquitto') {
    try {
      const m = await startMosquitto();
      return { label: `mosquitto ${m.version}`, endpoint: { host: m.host, port: m.port }, deviations: mosquittoDeviations(), stop: () => m.stop() };
    } catch (err) {
      if (err instanceof MosquittoNotFoundError) throw new CliError(err.message, EXIT.unavailable);
      throw new CliError(`could not start mosquitto: ${(err as Error).message}`, EXIT.unavailable);
    }
  }
  const parsed = parseBrokerUrl(spec);
  if ('error' in parsed) throw new CliError(`--broker: ${parsed.error}${parsed.hint ? ` (${parsed.hint})` : ''}`);
  const t = parsed.target;
  const secure = t.transport === 'mqtts' || t.transport === 'wss';
  return {
    label: t.url,
    endpoint: {
      transport: t.transport,
      hosts: t.hosts,
      path: t.path,
      tls: secure
        ? { ca: tls?.ca, cert: undefined, key: undefined, pfx: undefined, passphrase: undefined, verify: tls?.verify ?? true, serverName: undefined }
        : undefined,
    },
    deviations: undefined,
    stop: async () => undefined,
  };
}

let shown = 0;
function progress(o: CheckOutcome): void {
  shown++;
  if (o.status === 'fail' || o.status === 'error') {
    process.stderr.write(`  ${o.allowed ? 'allowed ' : ''}${o.status} ${o.id} [${o.statements.join(' ')}]: ${o.message?.split('\n')[0] ?? ''}\n`);
  } else if (process.stderr.isTTY && shown % 20 === 0) {
    process.stderr.write(`  ${shown} checks run\r`);
  }
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
