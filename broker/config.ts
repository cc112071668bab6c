/**
 * The mosquitto.conf options that apply to the bundled broker. Every line that is not understood is reported with
 * file:line; nothing is silently ignored.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suggest } from '../src/util/suggest.js';
import { AUTH_SETTERS } from './config/auth.js';
import { parseBoolean, parseInteger, type LineContext, type ListenerDraft, type Setter } from './config/context.js';
import { DELIVERY_SETTERS } from './config/delivery.js';
import { LISTENER_SETTERS, listenerProblem, newListener } from './config/listeners.js';
import { finishLogging, LOGGING_SETTERS } from './config/logging.js';
import { PERSISTENCE_SETTERS } from './config/persistence.js';
import { ALL_LOG_TYPES, type BrokerOptions, type ListenerOptions, type LogType } from './options.js';

export interface ConfigProblem {
  file: string;
  line: number;
  message: string;
}

export interface ParsedConfig {
  options: Partial<BrokerOptions>;
  problems: ConfigProblem[];
  /** Lines shown at start-up, e.g. the allow_anonymous default Mosquitto applies when listeners are configured. */
  notices: string[];
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => (p.line > 0 ? `${p.file}:${p.line}: ${p.message}` : `${p.file}: ${p.message}`)).join('\n'));
  }
}

/** Mosquitto options this broker deliberately does not implement; named so the error says so rather than "unknown". */
const KNOWN_UNSUPPORTED = new Set([
  'allow_duplicate_messages', 'auth_plugin', 'auth_opt_', 'bridge_cafile', 'ciphers_tls1.3',
  'connection', 'crlfile', 'dhparamfile', 'http_dir',
  'log_facility', 'memory_limit', 'mount_point',
  'pid_file', 'plugin', 'plugin_opt_',
  'psk_file', 'psk_hint', 'queue_qos0_messages', 'set_tcp_nodelay',
  'use_subject_as_username', 'use_username_as_clientid',
  'user', 'websockets_log_level', 'websockets_headers_size', 'address', 'topic', 'bind_interface', 'max_qos', 'maximum_qos',
]);

const SETTERS: Record<string, Setter> = {
  ...LISTENER_SETTERS,
  ...AUTH_SETTERS,
  ...LOGGING_SETTERS,
  ...DELIVERY_SETTERS,
  max_inflight_messages: integer('maxInflightMessages', 0, 65535),
  max_queued_messages: integer('maxQueuedMessages', 0, 2 ** 31 - 1),
  max_queued_bytes: integer('maxQueuedBytes', 0, Number.MAX_SAFE_INTEGER),
  topic_hierarchy_limit: integer('topicHierarchyLimit', 1, 65_535),
  partial_packet_budget: integer('partialPacketBudget', 0, Number.MAX_SAFE_INTEGER),
  message_size_limit: integer('messageSizeLimit', 0, 268_435_455),
  max_packet_size: integer('maxPacketSize', 0, 268_435_455),
  max_keepalive: integer('maxKeepalive', 0, 65535),
  max_topic_alias: integer('maxTopicAlias', 0, 65535),
  sys_interval: integer('sysInterval', 0, 65_535),
  retain_available(value, ctx) {
    const b = parseBoolean(value);
    if (b === undefined) return `retain_available must be true or false, got "${value}"`;
    ctx.out.retainAvailable = b;
    return undefined;
  },
  persistent_client_expiration(value, ctx) {
    const seconds = parseDuration(value);
    if (seconds === undefined) return `persistent_client_expiration expects a duration like 1h, 2d, 1w, got "${value}"`;
    ctx.out.persistentClientExpiration = seconds;
    return undefined;
  },
  log_type(value, ctx) {
    ctx.logTypes ??= new Set();
    if (value === 'all') {
      for (const t of ALL_LOG_TYPES) ctx.logTypes.add(t);
    } else if (value === 'none') {
      ctx.logTypes.clear();
    } else if ((ALL_LOG_TYPES as readonly string[]).includes(value)) {
      ctx.logTypes.add(value as LogType);
    } else if (value === 'websockets') {
      // Accepted: the lines of Mosquitto's WebSocket library have no counterpart here.
    } else {
      return `log_type must be one of ${[...ALL_LOG_TYPES, 'websockets', 'none', 'all'].join(', ')}, got "${value}"`;
    }
    return undefined;
  },
  log_timestamp(value) {
    if (parseBoolean(value) !== true) return 'log_timestamp false is not supported by the mqbench broker (lines always carry the time)';
    return undefined;
  },
  metrics_port(value, ctx) {
    const port = parseInteger(value, 0, 65535);
    if (port === undefined) return `metrics_port must be 0-65535, got "${value}"`;
    ctx.out.metrics = { host: ctx.out.metrics?.host ?? '127.0.0.1', port };
    return undefined;
  },
  metrics_host(value, ctx) {
    if (/\s/.test(value)) return `metrics_host expects one address, got "${value}"`;
    ctx.out.metrics = { host: value, port: ctx.out.metrics?.port ?? -1 };
    ctx.metricsHostLine = ctx.line;
    return undefined;
  },
  ...PERSISTENCE_SETTERS,
};

function integer(key: keyof BrokerOptions, min: number, max: number): Setter {
  return (value, ctx) => {
    const n = parseInteger(value, min, max);
    if (n === undefined) return `${snake(key)} must be an integer from ${min} to ${max}, got "${value}"`;
    (ctx.out as Record<string, unknown>)[key] = n;
    return undefined;
  };
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

/** Mosquitto durations: a number followed by h, d, w, m (months) or y. */
function parseDuration(text: string): number | undefined {
  const m = /^(\d+)([hdwmy])$/.exec(text);
  if (!m) return undefined;
  const unit = { h: 3600, d: 86400, w: 604800, m: 2_592_000, y: 31_536_000 }[m[2] as 'h'];
  return Number(m[1]) * unit;
}

export function parseConfig(text: string, file: string): ParsedConfig {
  const problems: ConfigProblem[] = [];
  const defaultListener = newListener(1883, '', file, 0);
  const ctx: LineContext = {
    out: {},
    listeners: [],
    defaultListener,
    defaultListenerUsed: false,
    current: defaultListener,
    logTypes: undefined,
    sawAllowAnonymous: false,
    metricsHostLine: 0,
    securitySet: false,
    logDests: undefined,
    file,
    level: 0,
    line: 0,
    notices: [],
  };
  readLines(text, ctx, problems);
  if (ctx.out.metrics !== undefined && ctx.out.metrics.port < 0) {
    problems.push({ file, line: ctx.metricsHostLine, message: 'metrics_host needs a metrics_port line as well (0 picks a free port)' });
    delete ctx.out.metrics;
  }
  const notices = ctx.notices;
  const drafts = ctx.defaultListenerUsed ? [defaultListener, ...ctx.listeners] : ctx.listeners;
  for (const l of drafts) {
    const problem = listenerProblem(l);
    if (problem !== undefined) problems.push({ file: l.file, line: l.line > 0 ? l.line : l.tlsLine, message: problem });
  }
  if (drafts.length > 0) {
    ctx.out.listeners = drafts.map(finishListener);
    // Mosquitto 2.0: once listeners are configured, anonymous access must be allowed explicitly.
    if (ctx.out.perListenerSettings) {
      for (const l of ctx.out.listeners) if (l.security?.allowAnonymous === undefined) (l.security ??= {}).allowAnonymous = false;
    } else if (ctx.out.allowAnonymous === undefined) {
      ctx.out.allowAnonymous = false;
    }
    if (!ctx.sawAllowAnonymous) {
      notices.push(
        'allow_anonymous is not set and listeners are configured: anonymous clients will be refused (as in Mosquitto 2.0).',
      );
    }
  }
  if (ctx.logTypes) ctx.out.logTypes = ctx.logTypes;
  finishLogging(ctx);
  return { options: ctx.out, problems, notices };
}

/** A listener block as the broker takes it (without what only the checks needed). */
function finishListener(d: ListenerDraft): ListenerOptions {
  const l: ListenerOptions = { host: d.host, port: d.port };
  if (d.protocol !== undefined) l.protocol = d.protocol;
  if (d.socketDomain !== undefined) l.socketDomain = d.socketDomain;
  if (d.maxConnections !== undefined) l.maxConnections = d.maxConnections;
  if (d.tls !== undefined) l.tls = d.tls;
  if (d.security !== undefined) l.security = d.security;
  return l;
}

/** Apply the lines of one file (the main one, or one include_dir brings in). */
function readLines(text: string, ctx: LineContext, problems: ConfigProblem[]): void {
  const file = ctx.file;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const space = line.search(/\s/);
    const key = space < 0 ? line : line.slice(0, space);
    const value = space < 0 ? '' : line.slice(space + 1).trim();
    const setter = SETTERS[key];
    ctx.line = i + 1;
    let message: string | undefined;
    if (key === 'include_dir') {
      message = value === '' ? 'include_dir needs a directory' : includeDir(value, ctx, problems);
      ctx.file = file;
    } else if (setter) {
      message = value === '' && key !== 'listener' ? `${key} needs a value` : setter(value, ctx);
    } else if (KNOWN_UNSUPPORTED.has(key) || [...KNOWN_UNSUPPORTED].some((k) => k.endsWith('_') && key.startsWith(k))) {
      message = `option "${key}" is a Mosquitto option the mqbench broker does not support`;
    } else {
      const hint = suggest(key, [...Object.keys(SETTERS), 'include_dir']);
      message = `unknown option "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`;
    }
    if (message) problems.push({ file, line: i + 1, message });
  }
}

/**
 * include_dir: the files ending in ".conf" in `dir`, in byte order of their names (Mosquitto's order: capitals
 * first), read as if their lines stood here. Only the main file may include (Mosquitto ignores deeper ones).
 */
function includeDir(dir: string, ctx: LineContext, problems: ConfigProblem[]): string | undefined {
  if (ctx.level > 0) return 'include_dir is only read from the main config file';
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.conf'));
  } catch (err) {
    return `cannot read include_dir ${dir}: ${readErrorText(err)}`;
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const path = join(dir, name);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      problems.push({ file: path, line: 0, message: `cannot read the config file: ${readErrorText(err)}` });
      continue;
    }
    ctx.notices.push(`Loading config file ${path}`);
    ctx.file = path;
    ctx.level++;
    try {
      readLines(text, ctx, problems);
    } finally {
      ctx.level--;
    }
  }
  return undefined;
}

function readErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.code === 'ENOTDIR' ? 'not a directory' : e.message;
}

export function loadConfigFile(path: string): ParsedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new ConfigError([{ file: path, line: 0, message: `cannot read the config file: ${why}` }]);
  }
  return parseConfig(text, path);
}
