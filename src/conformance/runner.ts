/**
 * Runs conformance checks against one broker: probe what it declares, run each check with its own names and a time
 * limit, clean up after it, and report per check and per normative statement.
 */
import { randomBytes } from 'node:crypto';
import type { IConnackPacket } from 'mqtt-packet';
import { RawClient, connackCode, describePacket, type ConnectOptions, type Endpoint, type ProtocolVersion, type TraceEvent } from './client.js';
import { CheckSkipped, type Capabilities, type Check, type CheckContext } from './check.js';
import { STATEMENTS, type MqttVersion, type Statement } from './statements.js';

export type CheckStatus = 'pass' | 'fail' | 'skip' | 'error';

export interface CheckOutcome {
  id: string;
  version: MqttVersion;
  statements: string[];
  title: string;
  status: CheckStatus;
  /** Why it failed, was skipped or errored. */
  message?: string;
  /** For a skip: the broker's declaration, quoted. */
  declaration?: string;
  /** For a failure: what each client sent and received. */
  trace?: { client: string; events: TraceEvent[] }[];
  /** A failure listed with --allow-fail: reported, but not counted against the exit code. */
  allowed?: boolean;
  durationMs: number;
}

export interface StatementOutcome {
  id: string;
  version: MqttVersion;
  chapter: string;
  summary: string;
  /** pass/fail/skip/error from its checks; 'not-checked' for statements that bind only clients or cannot be observed. */
  status: CheckStatus | 'not-checked';
  /** Why a statement is not checked (from the table), or the failing checks' ids. */
  note?: string;
  checks: string[];
}

export interface BrokerRun {
  broker: string;
  /** Reached the broker at all, and it accepted a CONNECT of at least one of the versions run. */
  reachable: boolean;
  unreachableReason?: string;
  /**
   * Versions whose CONNECT the broker refused (a CONNACK with an error, a close, or silence) while it accepted
   * another's: why, quoted. Every check of such a version is skipped with this as the broker's declaration.
   */
  refusedVersions?: Partial<Record<MqttVersion, string>>;
  capabilities: Partial<Record<MqttVersion, Capabilities>>;
  checks: CheckOutcome[];
  statements: StatementOutcome[];
  startedAt: string;
  durationMs: number;
}

export interface RunOptions {
  endpoint: Endpoint;
  /** How the broker is named in reports ("bundled", "mqtt://host:1883", "mosquitto 2.0.11"). */
  label: string;
  versions: MqttVersion[];
  /** Only checks whose id, title or statements contain this text. */
  grep?: string;
  timeoutMs: number;
  /** Check or statement ids whose failures are known and accepted. */
  allowFail: ReadonlySet<string>;
  /** Checks run side by side. */
  concurrency?: number;
  /** Use these instead of probing the broker (to test the checks themselves against a broker that never answers). */
  assumeCapabilities?: Capabilities;
  /** Each check's outcome as it comes. Not called for a broker found unreachable before any check ran. */
  onOutcome?(o: CheckOutcome): void;
}

/** The longest any one check may take, whatever it waits for. */
const CHECK_LIMIT_MS = 30_000;

export function selectChecks(all: readonly Check[], versions: readonly MqttVersion[], grep?: string): Check[] {
  const g = grep?.toLowerCase();
  return all.filter(
    (c) =>
      versions.includes(c.version) &&
      (g === undefined || c.id.toLowerCase().includes(g) || c.title.toLowerCase().includes(g) || c.statements.some((s) => s.toLowerCase().includes(g))),
  );
}

export async function runChecks(all: readonly Check[], opts: RunOptions): Promise<BrokerRun> {
  const started = Date.now();
  const checks = selectChecks(all, opts.versions, opts.grep);
  const runId = randomBytes(3).toString('hex');
  const capabilities: BrokerRun['capabilities'] = {};
  const refused: Partial<Record<MqttVersion, string>> = {};
  const outcomes: CheckOutcome[] = [];
  // Reachability is settled once per broker, before any check: a broker that cannot be reached, or accepts no
  // version's CONNECT, is reported once, and its checks are marked as errors without each being tried.
  let unreachable: string | undefined;
  for (const v of opts.versions) {
    if (opts.assumeCapabilities) {
      capabilities[v] = opts.assumeCapabilities;
      continue;
    }
    const answer = await probe(opts.endpoint, v, runId, opts.timeoutMs).catch((err: Error) => ({ unreachable: err.message }));
    if ('unreachable' in answer) {
      unreachable = answer.unreachable;
      break;
    }
    if ('refused' in answer) refused[v] = answer.refused;
    else capabilities[v] = answer.capabilities;
  }
  if (unreachable === undefined && opts.versions.every((v) => refused[v] !== undefined)) {
    unreachable = `the broker refused the probe's CONNECT: ${opts.versions.map((v) => (opts.versions.length > 1 ? `MQTT ${v}: ${refused[v]}` : refused[v])).join('; ')}`;
  }
  if (unreachable !== undefined) {
    for (const c of checks) {
      outcomes.push({ id: c.id, version: c.version, statements: c.statements, title: c.title, status: 'error', message: `broker not reachable: ${unreachable}`, durationMs: 0 });
    }
    return finish(opts, false, unreachable, capabilities, outcomes, started, checks);
  }
  let next = 0;
  const workers = Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, async () => {
    while (next < checks.length) {
      const index = next++;
      const c = checks[index];
      const why = refused[c.version];
      const o: CheckOutcome =
        why === undefined
          ? await runOne(c, index, runId, capabilities[c.version]!, opts)
          : { id: c.id, version: c.version, statements: c.statements, title: c.title, status: 'skip', message: `the broker refused an MQTT ${c.version} CONNECT`, declaration: why, durationMs: 0 };
      outcomes[index] = o;
      opts.onOutcome?.(o);
    }
  });
  await Promise.all(workers);
  const run = finish(opts, true, undefined, capabilities, outcomes, started, checks);
  return Object.keys(refused).length > 0 ? { ...run, refusedVersions: refused } : run;
}

function finish(
  opts: RunOptions,
  reachable: boolean,
  reason: string | undefined,
  capabilities: BrokerRun['capabilities'],
  outcomes: CheckOutcome[],
  started: number,
  checks: Check[],
): BrokerRun {
  for (const o of outcomes) {
    if (o.status === 'fail' && (opts.allowFail.has(o.id) || o.statements.some((s) => opts.allowFail.has(s)))) o.allowed = true;
  }
  return {
    broker: opts.label,
    reachable,
    unreachableReason: reason,
    capabilities,
    checks: outcomes,
    statements: statementOutcomes(opts.versions, outcomes, checks, opts.grep !== undefined),
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
  };
}

/** One row per statement of the versions run: the worst outcome among its checks. */
function statementOutcomes(versions: readonly MqttVersion[], outcomes: CheckOutcome[], checks: Check[], filtered: boolean): StatementOutcome[] {
  const rows: StatementOutcome[] = [];
  const byStatement = new Map<string, CheckOutcome[]>();
  for (const o of outcomes) for (const s of o.statements) {
    const key = `${o.version} ${s}`;
    let list = byStatement.get(key);
    if (list === undefined) byStatement.set(key, (list = []));
    list.push(o);
  }
  const covered = new Set(checks.flatMap((c) => c.statements.map((s) => `${c.version} ${s}`)));
  for (const st of STATEMENTS as readonly Statement[]) {
    if (!versions.includes(st.version)) continue;
    const key = `${st.version} ${st.id}`;
    const list = byStatement.get(key) ?? [];
    if (list.length === 0) {
      if (filtered && !covered.has(key) && st.check === 'wire') continue;
      rows.push({ id: st.id, version: st.version, chapter: st.chapter, summary: st.summary, status: 'not-checked', note: st.reason, checks: [] });
      continue;
    }
    const status: CheckStatus = list.some((o) => o.status === 'error')
      ? 'error'
      : list.some((o) => o.status === 'fail')
        ? 'fail'
        : list.every((o) => o.status === 'skip')
          ? 'skip'
          : 'pass';
    const failing = list.filter((o) => o.status === 'fail' || o.status === 'error').map((o) => o.id);
    rows.push({
      id: st.id,
      version: st.version,
      chapter: st.chapter,
      summary: st.summary,
      status,
      note: failing.length > 0 ? failing.join(', ') : undefined,
      checks: list.map((o) => o.id),
    });
  }
  return rows;
}

async function runOne(check: Check, index: number, runId: string, caps: Capabilities, opts: RunOptions): Promise<CheckOutcome> {
  const started = Date.now();
  const level: 4 | 5 = check.version === '5.0' ? 5 : 4;
  const clients: { name: string; client: RawClient }[] = [];
  const retained = new Set<string>();
  const sessions = new Map<string, ProtocolVersion>();
  const tag = `${runId}${index.toString(36)}`;
  const prefix = `mqbench-conformance/${tag}/`;
  const ctx: CheckContext = {
    version: check.version,
    level,
    capabilities: caps,
    timeoutMs: opts.timeoutMs,
    endpoint: opts.endpoint,
    topic: (name = 't') => `${prefix}${name}`,
    clientId: (name = 'c') => `mqc${tag}${name}`.slice(0, 23),
    open: async (lv = level) => {
      const client = await RawClient.open(opts.endpoint, lv, started);
      clients.push({ name: `client ${clients.length + 1}`, client });
      return client;
    },
    connect: async (o: ConnectOptions = {}, lv = level) => {
      const client = await ctx.open(lv);
      const connack = await client.connect({ clientId: ctx.clientId(`c${clients.length}`), ...o }, opts.timeoutMs);
      if (connackCode(connack) !== 0) throw new Error(`the broker refused a plain CONNECT: ${describePacket(connack)}`);
      return client;
    },
    clearRetained: (topic) => retained.add(topic),
    endSession: (clientId, lv = level) => sessions.set(clientId, lv),
    skip: (reason, declaration) => {
      throw new CheckSkipped(reason, declaration);
    },
    require: (feature) => {
      const ok =
        feature === 'qos1' ? caps.maximumQoS >= 1 : feature === 'qos2' ? caps.maximumQoS >= 2 : caps[feature as keyof Capabilities] !== false;
      if (!ok) throw new CheckSkipped(`the broker does not offer ${feature}`, caps.declared.join('; ') || 'no declaration');
    },
  };
  const base = { id: check.id, version: check.version, statements: check.statements, title: check.title };
  let outcome: CheckOutcome;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.run(ctx),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the check did not finish within ${CHECK_LIMIT_MS / 1000} s`)), CHECK_LIMIT_MS);
      }),
    ]);
    outcome = { ...base, status: 'pass', durationMs: Date.now() - started };
  } catch (err) {
    if (err instanceof CheckSkipped) {
      outcome = { ...base, status: 'skip', message: err.message, declaration: err.declaration, durationMs: Date.now() - started };
    } else {
      const message = (err as Error).message;
      const unreachable = /cannot connect to .*: (ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT)/.test(message);
      outcome = {
        ...base,
        status: unreachable ? 'error' : 'fail',
        message,
        trace: clients.map((c) => ({ client: c.name, events: c.client.trace })),
        durationMs: Date.now() - started,
      };
    }
  } finally {
    if (timer) clearTimeout(timer);
    for (const c of clients) c.client.destroy();
    await cleanUp(opts, retained, sessions).catch(() => undefined);
  }
  return outcome;
}

/** Clear what a check left on the broker: retained messages and persistent sessions. */
async function cleanUp(opts: RunOptions, retained: Set<string>, sessions: Map<string, ProtocolVersion>): Promise<void> {
  if (retained.size > 0) {
    const c = await RawClient.open(opts.endpoint, 4);
    await c.connect({ clientId: '', clean: true }, opts.timeoutMs);
    for (const topic of retained) c.send({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false });
    await c.disconnect();
  }
  for (const [clientId, level] of sessions) {
    const c = await RawClient.open(opts.endpoint, level);
    // Clean start with no session expiry: the broker drops the old session and keeps none.
    await c.connect({ clientId, clean: true, ...(level === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}) }, opts.timeoutMs);
    await c.disconnect();
  }
}

/**
 * Connect once at `version` and read what the broker declares about optional features. A broker that answers the
 * CONNECT with an error, closes, or says nothing has `refused` that version (quoted); one that cannot be reached
 * at all makes this throw.
 */
async function probe(endpoint: Endpoint, version: MqttVersion, runId: string, timeoutMs: number): Promise<{ capabilities: Capabilities } | { refused: string }> {
  const level = version === '5.0' ? 5 : 4;
  const c = await RawClient.open(endpoint, level);
  try {
    let connack: IConnackPacket;
    try {
      connack = await c.connect({ clientId: `mqc${runId}probe${level}`, clean: true }, timeoutMs);
    } catch {
      return { refused: c.closedByBroker ? 'the connection closed without a CONNACK' : `no CONNACK within ${timeoutMs} ms` };
    }
    const code = connackCode(connack);
    if (code !== 0) return { refused: describePacket(connack) };
    const p = connack.properties ?? {};
    const declared: string[] = [];
    if (version === '5.0') {
      for (const [k, v] of Object.entries(p)) declared.push(`CONNACK ${k}=${JSON.stringify(v)}`);
    }
    let maximumQoS = (p.maximumQoS ?? 2) as 0 | 1 | 2;
    if (version === '3.1.1') {
      // 3.1.1 has no declarations: a broker that does not offer QoS 2 grants less in SUBACK [MQTT-3.9.3-?].
      const suback = await c.subscribe(`mqbench-conformance/${runId}/probe`, 2);
      const granted = suback.granted[0] as number;
      if (granted <= 2) maximumQoS = granted as 0 | 1 | 2;
      declared.push(`SUBACK granted QoS ${granted} for a QoS 2 subscription`);
    }
    const capabilities: Capabilities = {
      maximumQoS,
      retainAvailable: p.retainAvailable ?? true,
      wildcardSubscriptions: p.wildcardSubscriptionAvailable ?? true,
      subscriptionIdentifiers: p.subscriptionIdentifiersAvailable ?? true,
      sharedSubscriptions: p.sharedSubscriptionAvailable ?? true,
      topicAliasMaximum: p.topicAliasMaximum ?? 0,
      receiveMaximum: p.receiveMaximum ?? 65535,
      maximumPacketSize: p.maximumPacketSize,
      declared,
    };
    return { capabilities };
  } finally {
    await c.disconnect().catch(() => c.destroy());
  }
}
