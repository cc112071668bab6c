/** A group's `steps:` list: one key per step (`- publish: {…}`), one reader per kind. */
import { describeTopicProblem, parseSharedFilter, topicFilterProblem, topicNameProblem } from '../protocol/topic.js';
import { suggest } from '../util/suggest.js';
import { describe, readExistingFile, type MapReader, type ReadContext } from './reader.js';
import {
  DEFAULTS,
  MAX_PAYLOAD_BYTES,
  protocolName,
  SESSION_NEVER_EXPIRES,
  STEP_KINDS,
  TIMESTAMP_HEADER_BYTES,
  type ConnectStep,
  type DisconnectStep,
  type Payload,
  type ProtocolVersion,
  type PublishStep,
  type RepeatStep,
  type SampleEvery,
  type Step,
  type StepAt,
  type StepKind,
  type SubscribeStep,
  type Subscription,
  type UnsubscribeStep,
  type WaitStep,
  type WillMessage,
} from './schema.js';
import { locate, type Place, type RawNode } from './source-tree.js';
import { compileTemplate, renderTemplate, type ClientVars, type Template, type TemplateContext } from './templates.js';
import { parseDuration, parseMessageCount } from './units.js';

/** What the steps of one group need to know about it. */
export interface StepScope {
  protocolVersion: ProtocolVersion;
  /** Client 0's variables, to check that rendered topics are valid. */
  sample: ClientVars;
  clients: number;
}

const MAX_COUNT = Number.MAX_SAFE_INTEGER;
const MAX_SUBSCRIPTION_ID = 268_435_455;
/** Reason codes a client may send in DISCONNECT (MQTT 5 §3.14.2.1). */
const CLIENT_DISCONNECT_REASONS = [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x98, 0x99];

/** Steps that need no options may be written bare (`- connect`) or with an empty value (`- connect:`). */
const BARE_OK: readonly StepKind[] = ['connect', 'disconnect', 'unsubscribe'];

const STEP_SYNONYMS: Record<string, string> = {
  sub: 'subscribe',
  pub: 'publish',
  unsub: 'unsubscribe',
  sleep: 'wait',
  pause: 'wait',
  delay: 'wait',
  loop: 'repeat',
  close: 'disconnect',
};

export function readSteps(ctx: ReadContext, node: RawNode, scope: StepScope, label = 'steps'): Step[] {
  const items = ctx.r.list(node, label);
  if (!items) return [];
  if (items.length === 0) {
    ctx.problems.at(node.place, `${label} is empty`, 'a group needs at least a connect step');
    return [];
  }
  const steps: Step[] = [];
  for (const item of items) {
    const step = readStep(ctx, item, scope);
    if (step) steps.push(step);
  }
  return steps;
}

function readStep(ctx: ReadContext, item: RawNode, scope: StepScope): Step | undefined {
  let kindText: string;
  let kindPlace: Place;
  let value: RawNode | undefined;
  if (item.kind === 'scalar' && typeof item.value === 'string') {
    kindText = item.value;
    kindPlace = item.place;
  } else if (item.kind === 'map' && item.entries.length > 0) {
    const [first, ...rest] = item.entries;
    kindText = first.key;
    kindPlace = first.keyPlace;
    value = first.value;
    if (rest.length > 0) {
      const known = (STEP_KINDS as readonly string[]).includes(kindText);
      ctx.problems.at(
        rest[0].keyPlace,
        `a step has exactly one key, the step kind; this one also has "${rest.map((e) => e.key).join('", "')}"`,
        known ? `indent the step's options under "${kindText}:" by two more spaces` : `step kinds: ${STEP_KINDS.join(', ')}`,
      );
    }
  } else {
    ctx.problems.at(item.place, `a step must be one of ${STEP_KINDS.join(', ')}, got ${describe(item)}`, 'e.g. - publish: { topic: a/b, qos: 1 }');
    return undefined;
  }
  if (!(STEP_KINDS as readonly string[]).includes(kindText)) {
    const guess = STEP_SYNONYMS[kindText.toLowerCase()] ?? suggest(kindText, STEP_KINDS);
    ctx.problems.at(kindPlace, `unknown step "${kindText}"`, guess ? `did you mean "${guess}"?` : `step kinds: ${STEP_KINDS.join(', ')}`);
    return undefined;
  }
  const kind = kindText as StepKind;
  const at: StepAt = { line: kindPlace.line, col: kindPlace.col };
  const empty = value === undefined || (value.kind === 'scalar' && value.value === null);
  if (empty && !BARE_OK.includes(kind)) {
    ctx.problems.at(kindPlace, `${kind} needs options`, stepExample(kind));
    return undefined;
  }
  switch (kind) {
    case 'connect':
      return readConnect(ctx, empty ? undefined : value!, scope, at);
    case 'disconnect':
      return readDisconnect(ctx, empty ? undefined : value!, scope, at);
    case 'unsubscribe':
      return readUnsubscribe(ctx, empty ? undefined : value!, scope, at);
    case 'subscribe':
      return readSubscribe(ctx, value!, scope, at);
    case 'publish':
      return readPublish(ctx, value!, scope, at);
    case 'wait':
      return readWait(ctx, value!, at);
    case 'repeat':
      return readRepeat(ctx, value!, scope, at);
  }
}

function stepExample(kind: StepKind): string {
  switch (kind) {
    case 'subscribe':
      return 'e.g. - subscribe: sensors/#   or   - subscribe: { topics: [a/#, b/+], qos: 1 }';
    case 'publish':
      return 'e.g. - publish: { topic: sensors/{client}, qos: 1, rate: 10/s, count: 100 }';
    case 'wait':
      return 'e.g. - wait: 2s';
    case 'repeat':
      return 'e.g. - repeat: { times: 3, steps: [ ... ] }';
    default:
      return '';
  }
}

/** Options that MQTT 3.1/3.1.1 cannot carry are errors there, not silently dropped. */
function requireV5(ctx: ReadContext, scope: StepScope, place: Place, what: string): void {
  if (scope.protocolVersion === 5) return;
  ctx.problems.at(
    place,
    `${what} needs MQTT 5; this group uses MQTT ${protocolName(scope.protocolVersion)}`,
    'set protocol: 5 in the broker section or in the group',
  );
}

// ---------------------------------------------------------------- connect

const CONNECT_KEYS = ['keepalive', 'clean', 'sessionExpiry', 'timeout', 'attempts', 'reconnects', 'backoff', 'maxBackoff', 'will', 'consumeRate'];
const CONNECT_SYNONYMS: Record<string, string> = {
  keepaliveinterval: 'keepalive',
  cleansession: 'clean',
  cleanstart: 'clean',
  sessionexpiryinterval: 'sessionExpiry',
  expiry: 'sessionExpiry',
  connecttimeout: 'timeout',
  connectattempts: 'attempts',
  retries: 'attempts',
  reconnect: 'reconnects',
  reconnectattempts: 'reconnects',
  maxreconnects: 'reconnects',
  reconnectbackoff: 'backoff',
  reconnectdelay: 'backoff',
  retrydelay: 'backoff',
  maxreconnectdelay: 'maxBackoff',
  lastwill: 'will',
  receiverate: 'consumeRate',
  readrate: 'consumeRate',
};

function readConnect(ctx: ReadContext, value: RawNode | undefined, scope: StepScope, at: StepAt): ConnectStep {
  const step: ConnectStep = {
    kind: 'connect',
    at,
    keepaliveSec: DEFAULTS.keepaliveSec,
    clean: true,
    sessionExpirySec: 0,
    timeoutMs: DEFAULTS.connectTimeoutMs,
    attempts: DEFAULTS.connectAttempts,
    reconnectAttempts: DEFAULTS.reconnectAttempts,
    backoffMs: DEFAULTS.backoffMs,
    maxBackoffMs: DEFAULTS.maxBackoffMs,
    will: undefined,
    consumeRatePerSec: undefined,
  };
  if (!value) return step;
  const m = ctx.r.map(value, 'connect', CONNECT_KEYS, 'in connect', CONNECT_SYNONYMS);
  if (!m) return step;
  let v: RawNode | undefined;
  if ((v = m.take('keepalive'))) step.keepaliveSec = readSeconds(ctx, v, 'keepalive', 65_535) ?? step.keepaliveSec;
  if ((v = m.take('clean'))) step.clean = ctx.r.boolean(v, 'clean') ?? step.clean;
  if ((v = m.take('sessionExpiry'))) {
    const sec =
      v.kind === 'scalar' && v.value === 'never' ? SESSION_NEVER_EXPIRES : readSeconds(ctx, v, 'sessionExpiry', SESSION_NEVER_EXPIRES - 1, 'never');
    if (sec !== undefined) {
      step.sessionExpirySec = sec;
      if (sec !== 0) requireV5(ctx, scope, v.place, 'sessionExpiry');
    }
  }
  if ((v = m.take('timeout'))) step.timeoutMs = positiveDuration(ctx, v, 'timeout') ?? step.timeoutMs;
  if ((v = m.take('attempts'))) step.attempts = ctx.r.integer(v, 'attempts', 1, 1_000_000) ?? step.attempts;
  if ((v = m.take('reconnects'))) {
    if (v.kind === 'scalar' && v.value === 'unlimited') step.reconnectAttempts = Infinity;
    else step.reconnectAttempts = ctx.r.integer(v, 'reconnects', 0, 1_000_000, 'a count, or unlimited') ?? step.reconnectAttempts;
  }
  if ((v = m.take('backoff'))) step.backoffMs = ctx.r.duration(v, 'backoff') ?? step.backoffMs;
  const maxNode = m.take('maxBackoff');
  if (maxNode) step.maxBackoffMs = ctx.r.duration(maxNode, 'maxBackoff') ?? step.maxBackoffMs;
  if (step.maxBackoffMs < step.backoffMs) {
    if (maxNode) ctx.problems.at(maxNode.place, `maxBackoff (${step.maxBackoffMs}ms) is shorter than backoff (${step.backoffMs}ms)`);
    else step.maxBackoffMs = step.backoffMs;
  }
  if ((v = m.take('will'))) step.will = readWill(ctx, v, scope);
  if ((v = m.take('consumeRate'))) step.consumeRatePerSec = ctx.r.rate(v, 'consumeRate');
  m.finish();
  return step;
}

/** A duration MQTT sends in whole seconds. `keyword` names a word also accepted (checked by the caller). */
function readSeconds(ctx: ReadContext, node: RawNode, label: string, maxSec: number, keyword?: string): number | undefined {
  const ms = ctx.r.duration(node, label);
  if (ms === undefined) return undefined;
  if (ms % 1000 !== 0) {
    ctx.problems.at(node.place, `${label} is sent in whole seconds, got ${ms}ms`);
    return undefined;
  }
  if (ms / 1000 > maxSec) {
    ctx.problems.at(node.place, `${label} can be at most ${maxSec}s`, keyword ? `or write ${keyword}` : undefined);
    return undefined;
  }
  return ms / 1000;
}

function positiveDuration(ctx: ReadContext, node: RawNode, label: string): number | undefined {
  const ms = ctx.r.duration(node, label);
  if (ms === 0) {
    ctx.problems.at(node.place, `${label} must be longer than 0`);
    return undefined;
  }
  return ms;
}

const WILL_KEYS = ['topic', 'payload', 'qos', 'retain', 'delay'];

function readWill(ctx: ReadContext, node: RawNode, scope: StepScope): WillMessage | undefined {
  const m = ctx.r.map(node, 'will', WILL_KEYS, 'in will', { delayinterval: 'delay', message: 'payload' });
  if (!m) return undefined;
  const topicNode = m.take('topic');
  const topic = topicNode ? readTopic(ctx, topicNode, 'will topic', 'will-topic', scope) : missing(ctx, m, 'will', 'topic');
  const payloadNode = m.take('payload');
  const payload: Payload = payloadNode ? readPayload(ctx, payloadNode) ?? { kind: 'empty' } : { kind: 'empty' };
  const qosNode = m.take('qos');
  const retainNode = m.take('retain');
  const delayNode = m.take('delay');
  const will: WillMessage = {
    topic: topic!,
    payload,
    qos: qosNode ? ctx.r.qos(qosNode) ?? 0 : 0,
    retain: retainNode ? ctx.r.boolean(retainNode, 'retain') ?? false : false,
    delaySec: 0,
  };
  if (delayNode) {
    will.delaySec = readSeconds(ctx, delayNode, 'will delay', 0xffff_ffff) ?? 0;
    if (will.delaySec !== 0) requireV5(ctx, scope, delayNode.place, 'will delay');
  }
  m.finish();
  return topic ? will : undefined;
}

function missing(ctx: ReadContext, m: MapReader, where: string, key: string): undefined {
  ctx.problems.at(m.node.place, `${where} needs ${key}`);
  return undefined;
}

// ---------------------------------------------------------------- templates and topics

export function readTemplate(ctx: ReadContext, node: RawNode, label: string, context: TemplateContext): Template | undefined {
  const source = ctx.r.string(node, label);
  if (source === undefined) return undefined;
  const compiled = compileTemplate(source, context);
  if ('problems' in compiled) {
    for (const p of compiled.problems) {
      const close = source.indexOf('}', p.offset);
      const needle = source.slice(p.offset, close < 0 ? source.length : close + 1);
      ctx.problems.at(locate(node, needle), `${label}: ${p.message}`, p.hint);
    }
    return undefined;
  }
  return compiled.template;
}

function readTopic(ctx: ReadContext, node: RawNode, label: string, context: TemplateContext, scope: StepScope): Template | undefined {
  const t = readTemplate(ctx, node, label, context);
  if (!t) return undefined;
  // Check the topic as client 0 would send it, so a wildcard that arrives through {client} is caught too.
  const rendered = renderTemplate(t, scope.sample, () => 0);
  const problem = context === 'publish-topic' || context === 'will-topic' ? topicNameProblem(rendered) : topicFilterProblem(rendered);
  if (problem) {
    const shown = t.source === rendered ? `"${t.source}"` : `"${t.source}" (for the first client "${rendered}")`;
    const hint =
      problem === 'wildcard-in-name'
        ? 'wildcards belong in subscriptions; a published topic names one topic [MQTT-3.3.2-2]'
        : problem === 'bad-plus' || problem === 'bad-hash'
          ? "'+' fills a whole level (a/+/c) and '#' is the whole last level (a/#) [MQTT-4.7.1-2], [MQTT-4.7.1-3]"
          : undefined;
    ctx.problems.at(node.place, `${label} ${shown} ${describeTopicProblem(problem)}`, hint);
    return undefined;
  }
  return t;
}

// ---------------------------------------------------------------- payload

const PAYLOAD_KINDS = ['text', 'hex', 'size', 'file'];

/** A string is text; otherwise exactly one of {text}, {hex}, {size} (random bytes) or {file}. */
function readPayload(ctx: ReadContext, node: RawNode): Payload | undefined {
  if (node.kind === 'scalar') {
    if (node.value === null) return { kind: 'empty' };
    return { kind: 'text', text: ctx.r.string(node, 'payload') ?? '' };
  }
  const m = ctx.r.map(node, 'payload', PAYLOAD_KINDS, 'in payload', { random: 'size', bytes: 'size', path: 'file', string: 'text' });
  if (!m) return undefined;
  const given = m.node.entries.filter((e) => PAYLOAD_KINDS.includes(e.key));
  m.finish();
  if (given.length !== 1) {
    ctx.problems.at(
      given.length > 1 ? given[1].keyPlace : m.node.place,
      given.length > 1 ? `payload has both ${given[0].key} and ${given[1].key}` : 'payload needs one of text, hex, size or file',
      'e.g. payload: { size: 1KB } for random bytes, or payload: { file: data.bin }',
    );
    return undefined;
  }
  const { key, value } = given[0];
  m.take(key);
  switch (key) {
    case 'text': {
      const text = ctx.r.string(value, 'payload text');
      return text === undefined ? undefined : { kind: 'text', text };
    }
    case 'hex': {
      const raw = ctx.r.string(value, 'payload hex');
      if (raw === undefined) return undefined;
      const hex = raw.replace(/\s+/g, '').replace(/^0x/i, '').toLowerCase();
      if (!/^[0-9a-f]*$/.test(hex) || hex.length % 2 !== 0) {
        ctx.problems.at(value.place, `payload hex must be pairs of hex digits, got "${raw}"`, 'e.g. hex: "de ad be ef"');
        return undefined;
      }
      return { kind: 'hex', hex };
    }
    case 'size': {
      const size = ctx.r.size(value, 'payload size');
      if (size === undefined) return undefined;
      if (size > MAX_PAYLOAD_BYTES) {
        ctx.problems.at(value.place, `payload size ${size} is more than an MQTT packet can carry (${MAX_PAYLOAD_BYTES} bytes)`);
        return undefined;
      }
      return { kind: 'random', sizeBytes: size };
    }
    default: {
      const file = readExistingFile(ctx, value, 'payload file');
      if (!file) return undefined;
      if (file.sizeBytes > MAX_PAYLOAD_BYTES) {
        ctx.problems.at(value.place, `payload file is ${file.sizeBytes} bytes, more than an MQTT packet can carry`);
        return undefined;
      }
      return { kind: 'file', path: file.path, sizeBytes: file.sizeBytes };
    }
  }
}

function payloadBytes(p: Payload): number {
  switch (p.kind) {
    case 'empty':
      return 0;
    case 'text':
      return Buffer.byteLength(p.text);
    case 'hex':
      return p.hex.length / 2;
    case 'random':
    case 'file':
      return p.sizeBytes;
  }
}

// ---------------------------------------------------------------- publish

const PUBLISH_KEYS = ['topic', 'qos', 'retain', 'payload', 'timestamp', 'rate', 'totalRate', 'count', 'duration'];
const PUBLISH_SYNONYMS: Record<string, string> = {
  message: 'payload',
  body: 'payload',
  messages: 'count',
  iterations: 'count',
  times: 'count',
  grouprate: 'totalRate',
  ratetotal: 'totalRate',
  timestamped: 'timestamp',
  retained: 'retain',
  interval: 'rate',
};

function readPublish(ctx: ReadContext, node: RawNode, scope: StepScope, at: StepAt): PublishStep | undefined {
  const m = ctx.r.map(node, 'publish', PUBLISH_KEYS, 'in publish', PUBLISH_SYNONYMS);
  if (!m) return undefined;
  const topicNode = m.take('topic');
  const topic = topicNode ? readTopic(ctx, topicNode, 'publish topic', 'publish-topic', scope) : missing(ctx, m, 'publish', 'topic');
  let v: RawNode | undefined;
  const step: PublishStep = {
    kind: 'publish',
    at,
    topic: topic!,
    qos: 0,
    retain: false,
    payload: { kind: 'empty' },
    timestamp: true,
    rate: undefined,
    clientIntervalUs: 0,
    count: undefined,
    durationMs: undefined,
  };
  if ((v = m.take('qos'))) step.qos = ctx.r.qos(v) ?? 0;
  if ((v = m.take('retain'))) step.retain = ctx.r.boolean(v, 'retain') ?? false;
  const payloadNode = m.take('payload');
  if (payloadNode) step.payload = readPayload(ctx, payloadNode) ?? step.payload;
  const timestampNode = m.take('timestamp');
  if (timestampNode) step.timestamp = ctx.r.boolean(timestampNode, 'timestamp') ?? true;
  const rateNode = m.take('rate');
  const totalNode = m.take('totalRate');
  if (rateNode && totalNode) {
    ctx.problems.at(m.keyPlace('totalRate'), 'publish has both rate and totalRate', 'rate is per client; totalRate is for the whole group, shared among its clients');
  } else if (rateNode || totalNode) {
    const perSec = ctx.r.rate((rateNode ?? totalNode)!, rateNode ? 'rate' : 'totalRate');
    if (perSec !== undefined) {
      step.rate = { perSec, per: rateNode ? 'client' : 'group' };
      const perClient = rateNode ? perSec : perSec / scope.clients;
      step.clientIntervalUs = Math.max(1, Math.round(1e6 / perClient));
    }
  }
  if ((v = m.take('count'))) step.count = ctx.r.integer(v, 'count', 1, MAX_COUNT, 'messages each client publishes');
  if ((v = m.take('duration'))) step.durationMs = positiveDuration(ctx, v, 'duration');
  m.finish();
  if (step.timestamp) {
    if (step.payload.kind === 'random' && step.payload.sizeBytes < TIMESTAMP_HEADER_BYTES) {
      ctx.problems.at(
        payloadNode!.kind === 'map' ? payloadNode!.entries.find((e) => e.key === 'size')!.value.place : payloadNode!.place,
        `payload size ${step.payload.sizeBytes} is smaller than the ${TIMESTAMP_HEADER_BYTES}-byte timestamp header`,
        `use at least ${TIMESTAMP_HEADER_BYTES} bytes, or set timestamp: false (no end-to-end latency or loss accounting then)`,
      );
    } else if (step.payload.kind !== 'random' && payloadBytes(step.payload) + TIMESTAMP_HEADER_BYTES > MAX_PAYLOAD_BYTES) {
      ctx.problems.at(payloadNode!.place, 'payload plus the timestamp header is more than an MQTT packet can carry');
    }
  }
  return topic ? step : undefined;
}

// ---------------------------------------------------------------- subscribe / unsubscribe

const SUBSCRIBE_KEYS = ['topic', 'topics', 'qos', 'noLocal', 'retainAsPublished', 'retainHandling', 'subscriptionId', 'sampleEvery'];
const SUBSCRIPTION_KEYS = ['topic', 'qos', 'noLocal', 'retainAsPublished', 'retainHandling'];
const SUBSCRIBE_SYNONYMS: Record<string, string> = {
  filter: 'topic',
  filters: 'topics',
  nl: 'noLocal',
  rap: 'retainAsPublished',
  rh: 'retainHandling',
  subscriptionidentifier: 'subscriptionId',
  interval: 'sampleEvery',
  sampleon: 'sampleEvery',
};

interface SubscriptionDefaults {
  qos: number;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
}

function readSubscribe(ctx: ReadContext, node: RawNode, scope: StepScope, at: StepAt): SubscribeStep | undefined {
  const step: SubscribeStep = {
    kind: 'subscribe',
    at,
    subscriptions: [],
    subscriptionId: undefined,
    sampleEvery: { kind: 'time', everyMs: DEFAULTS.sampleEveryMs },
  };
  const defaults: SubscriptionDefaults = { qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 };
  if (node.kind !== 'map') {
    // `- subscribe: a/#` or `- subscribe: [a/#, b/+]`: filters with default options.
    const items = node.kind === 'seq' ? node.items : [node];
    for (const item of items) {
      const s = readSubscription(ctx, item, scope, defaults);
      if (s) step.subscriptions.push(s);
    }
    if (items.length === 0) ctx.problems.at(node.place, 'subscribe has no topics');
    return step.subscriptions.length === items.length && items.length > 0 ? step : undefined;
  }
  const m = ctx.r.map(node, 'subscribe', SUBSCRIBE_KEYS, 'in subscribe', SUBSCRIBE_SYNONYMS);
  if (!m) return undefined;
  let v: RawNode | undefined;
  if ((v = m.take('qos'))) defaults.qos = ctx.r.qos(v) ?? 0;
  readSubscriptionOptions(ctx, m, scope, defaults);
  if ((v = m.take('subscriptionId'))) {
    step.subscriptionId = ctx.r.integer(v, 'subscriptionId', 1, MAX_SUBSCRIPTION_ID);
    requireV5(ctx, scope, v.place, 'subscriptionId');
  }
  if ((v = m.take('sampleEvery'))) step.sampleEvery = readSampleEvery(ctx, v) ?? step.sampleEvery;
  const topicNode = m.take('topic');
  const topicsNode = m.take('topics');
  m.finish();
  if (topicNode && topicsNode) {
    ctx.problems.at(m.keyPlace('topics'), 'subscribe has both topic and topics', 'list every filter under topics');
    return undefined;
  }
  const listNode = topicsNode ?? topicNode;
  if (!listNode) return missing(ctx, m, 'subscribe', 'topic or topics');
  const items = listNode.kind === 'seq' ? listNode.items : [listNode];
  if (items.length === 0) {
    ctx.problems.at(listNode.place, 'topics is empty');
    return undefined;
  }
  for (const item of items) {
    const s = readSubscription(ctx, item, scope, defaults);
    if (s) step.subscriptions.push(s);
  }
  return step.subscriptions.length === items.length ? step : undefined;
}

function readSubscriptionOptions(ctx: ReadContext, m: MapReader, scope: StepScope, into: SubscriptionDefaults): void {
  let v: RawNode | undefined;
  if ((v = m.take('noLocal'))) {
    into.noLocal = ctx.r.boolean(v, 'noLocal') ?? false;
    if (into.noLocal) requireV5(ctx, scope, v.place, 'noLocal');
  }
  if ((v = m.take('retainAsPublished'))) {
    into.retainAsPublished = ctx.r.boolean(v, 'retainAsPublished') ?? false;
    if (into.retainAsPublished) requireV5(ctx, scope, v.place, 'retainAsPublished');
  }
  if ((v = m.take('retainHandling'))) {
    const rh = ctx.r.integer(v, 'retainHandling', 0, 2, '0: send retained messages on subscribe, 1: only for a new subscription, 2: never');
    into.retainHandling = (rh ?? 0) as 0 | 1 | 2;
    if (rh) requireV5(ctx, scope, v.place, 'retainHandling');
  }
}

function readSubscription(ctx: ReadContext, node: RawNode, scope: StepScope, defaults: SubscriptionDefaults): Subscription | undefined {
  const options = { ...defaults };
  let topicNode: RawNode | undefined = node;
  if (node.kind === 'map') {
    const m = ctx.r.map(node, 'a subscription', SUBSCRIPTION_KEYS, 'in a subscription', SUBSCRIBE_SYNONYMS)!;
    topicNode = m.take('topic');
    const qosNode = m.take('qos');
    if (qosNode) options.qos = ctx.r.qos(qosNode) ?? 0;
    readSubscriptionOptions(ctx, m, scope, options);
    m.finish();
    if (!topicNode) return missing(ctx, m, 'a subscription', 'topic');
  }
  const filter = readTopic(ctx, topicNode, 'subscription', 'subscription', scope);
  if (!filter) return undefined;
  if (options.noLocal && parseSharedFilter(filter.source)) {
    ctx.problems.at(topicNode.place, 'noLocal cannot be set on a shared subscription [MQTT-3.8.3-4]');
    return undefined;
  }
  return {
    filter,
    qos: options.qos as 0 | 1 | 2,
    noLocal: options.noLocal,
    retainAsPublished: options.retainAsPublished,
    retainHandling: options.retainHandling,
  };
}

/** `1s` (time) or `100 messages`. */
function readSampleEvery(ctx: ReadContext, node: RawNode): SampleEvery | undefined {
  if (node.kind === 'scalar' && typeof node.value === 'string') {
    const count = parseMessageCount(node.value);
    if (count) {
      if ('error' in count) {
        ctx.problems.at(node.place, `sampleEvery: ${count.error}`);
        return undefined;
      }
      return { kind: 'messages', every: count.value };
    }
    const d = parseDuration(node.value);
    if ('value' in d && d.value > 0) return { kind: 'time', everyMs: d.value };
  }
  const n = node.kind === 'scalar' && typeof node.value === 'number' ? node.value : undefined;
  ctx.problems.at(
    node.place,
    `sampleEvery must be a time like 1s or a count like 100 messages, got ${describe(node)}`,
    n !== undefined ? `write ${n} messages, or a time such as ${n}ms` : undefined,
  );
  return undefined;
}

function readUnsubscribe(ctx: ReadContext, value: RawNode | undefined, scope: StepScope, at: StepAt): UnsubscribeStep | undefined {
  const step: UnsubscribeStep = { kind: 'unsubscribe', at, filters: [] };
  if (!value) return step;
  let list: RawNode | undefined = value;
  if (value.kind === 'map') {
    const m = ctx.r.map(value, 'unsubscribe', ['topic', 'topics'], 'in unsubscribe', { filter: 'topic', filters: 'topics' })!;
    const one = m.take('topic');
    const many = m.take('topics');
    m.finish();
    if (one && many) {
      ctx.problems.at(m.keyPlace('topics'), 'unsubscribe has both topic and topics');
      return undefined;
    }
    list = many ?? one;
    if (!list) return step;
  }
  const items = list.kind === 'seq' ? list.items : [list];
  for (const item of items) {
    const t = readTopic(ctx, item, 'unsubscribe filter', 'unsubscription', scope);
    if (!t) return undefined;
    step.filters.push(t);
  }
  return step;
}

// ---------------------------------------------------------------- wait, disconnect, repeat

function readWait(ctx: ReadContext, node: RawNode, at: StepAt): WaitStep | undefined {
  let durationNode: RawNode | undefined = node;
  if (node.kind === 'map') {
    const m = ctx.r.map(node, 'wait', ['duration'], 'in wait', { time: 'duration', for: 'duration' })!;
    durationNode = m.take('duration');
    m.finish();
    if (!durationNode) return missing(ctx, m, 'wait', 'duration');
  }
  const ms = ctx.r.duration(durationNode, 'wait');
  return ms === undefined ? undefined : { kind: 'wait', at, durationMs: ms };
}

function readDisconnect(ctx: ReadContext, value: RawNode | undefined, scope: StepScope, at: StepAt): DisconnectStep {
  const step: DisconnectStep = { kind: 'disconnect', at, abrupt: false, reasonCode: 0 };
  if (!value) return step;
  const m = ctx.r.map(value, 'disconnect', ['abrupt', 'reasonCode'], 'in disconnect', { reason: 'reasonCode', kill: 'abrupt', drop: 'abrupt' });
  if (!m) return step;
  const abrupt = m.take('abrupt');
  if (abrupt) step.abrupt = ctx.r.boolean(abrupt, 'abrupt') ?? false;
  const reason = m.take('reasonCode');
  if (reason) {
    const rc = ctx.r.integer(reason, 'reasonCode', 0, 255);
    if (rc !== undefined && !CLIENT_DISCONNECT_REASONS.includes(rc)) {
      ctx.problems.at(
        reason.place,
        `reasonCode 0x${rc.toString(16).padStart(2, '0')} is not one a client may send in DISCONNECT`,
        `client reason codes: ${CLIENT_DISCONNECT_REASONS.map((c) => '0x' + c.toString(16).padStart(2, '0')).join(', ')}`,
      );
    } else if (rc !== undefined) {
      step.reasonCode = rc;
      if (rc !== 0) requireV5(ctx, scope, reason.place, 'reasonCode');
      if (step.abrupt && rc !== 0) ctx.problems.at(reason.place, 'an abrupt disconnect sends no DISCONNECT, so it carries no reasonCode');
    }
  }
  m.finish();
  return step;
}

function readRepeat(ctx: ReadContext, node: RawNode, scope: StepScope, at: StepAt): RepeatStep | undefined {
  const m = ctx.r.map(node, 'repeat', ['times', 'duration', 'steps'], 'in repeat', { count: 'times', iterations: 'times', do: 'steps' });
  if (!m) return undefined;
  const step: RepeatStep = { kind: 'repeat', at, times: undefined, durationMs: undefined, steps: [] };
  const times = m.take('times');
  if (times) step.times = ctx.r.integer(times, 'times', 1, MAX_COUNT);
  const duration = m.take('duration');
  if (duration) step.durationMs = positiveDuration(ctx, duration, 'repeat duration');
  const stepsNode = m.take('steps');
  m.finish();
  if (!stepsNode) return missing(ctx, m, 'repeat', 'steps');
  step.steps = readSteps(ctx, stepsNode, scope, 'repeat steps');
  return step;
}
