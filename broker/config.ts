/**
 * The mosquitto.conf options that apply to the bundled broker. Every line that is not understood is reported with
 * file:line; nothing is silently ignored.
 */
import { readFileSync } from 'node:fs';
import { suggest } from '../src/util/suggest.js';
import { PERSISTENCE_SETTERS } from './config/persistence.js';
import { parseBoolean, parseInteger } from './config/values.js';
import { lineWriter } from './log.js';
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
  'acl_file', 'allow_duplicate_messages', 'allow_zero_length_clientid', 'auth_plugin', 'auth_opt_', 'bridge_cafile', 'cafile', 'capath', 'certfile', 'check_retain_source', 'ciphers',
  'clientid_prefixes', 'connection', 'connection_messages', 'crlfile', 'dhparamfile', 'http_dir', 'include_dir',
  'keyfile', 'log_facility', 'log_timestamp_format', 'memory_limit', 'mount_point', 'password_file',
  'per_listener_settings', 'pid_file', 'plugin', 'plugin_opt_', 'protocol',
  'psk_file', 'psk_hint', 'queue_qos0_messages', 'require_certificate', 'set_tcp_nodelay', 'socket_domain',
  'tls_version', 'upgrade_outgoing_qos', 'use_identity_as_username', 'use_subject_as_username', 'use_username_as_clientid',
  'user', 'websockets_log_level', 'address', 'topic',
]);

type Setter = (value: string, ctx: LineContext) => string | undefined;

interface LineContext {
  out: Partial<BrokerOptions>;
  listeners: ListenerOptions[];
  logTypes: Set<LogType> | undefined;
  sawAllowAnonymous: boolean;
  /** Line of a metrics_host, which needs a metrics_port somewhere in the file. */
  metricsHostLine: number;
  line: number;
}

const SETTERS: Record<string, Setter> = {
  listener(value, ctx) {
    const [portText, host, ...rest] = value.split(/\s+/);
    if (rest.length > 0) return `listener expects "<port> [bind address]", got "${value}"`;
    const port = parseInteger(portText, 0, 65535);
    if (port === undefined) return `listener port must be 0-65535, got "${portText}"`;
    ctx.listeners.push({ port, host: host ?? '0.0.0.0' });
    return undefined;
  },
  port(value, ctx) {
    const port = parseInteger(value, 0, 65535);
    if (port === undefined) return `port must be 0-65535, got "${value}"`;
    const first = ctx.listeners.find((l) => (l as DefaultListener).isDefault);
    if (first) first.port = port;
    else ctx.listeners.unshift(Object.assign({ port, host: '0.0.0.0' }, { isDefault: true }));
    return undefined;
  },
  bind_address(value, ctx) {
    const first = ctx.listeners.find((l) => (l as DefaultListener).isDefault);
    if (first) first.host = value;
    else ctx.listeners.unshift(Object.assign({ port: 1883, host: value }, { isDefault: true }));
    return undefined;
  },
  max_connections: integer('maxConnections', -1, 2 ** 31 - 1),
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
  allow_anonymous(value, ctx) {
    const b = parseBoolean(value);
    if (b === undefined) return `allow_anonymous must be true or false, got "${value}"`;
    ctx.out.allowAnonymous = b;
    ctx.sawAllowAnonymous = true;
    return undefined;
  },
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
      // Accepted for compatibility: this broker has no websockets listener, so there is nothing to log.
    } else {
      return `log_type must be one of ${[...ALL_LOG_TYPES, 'websockets', 'none', 'all'].join(', ')}, got "${value}"`;
    }
    return undefined;
  },
  log_dest(value, ctx) {
    if (value === 'stderr') ctx.out.logSink = lineWriter(2).write;
    else if (value === 'stdout') ctx.out.logSink = lineWriter(1).write;
    else if (value === 'none') ctx.out.logSink = () => undefined;
    else return `log_dest "${value}" is not supported by the mqbench broker (supported: stderr, stdout, none)`;
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

interface DefaultListener extends ListenerOptions {
  isDefault?: boolean;
}

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
  const ctx: LineContext = { out: {}, listeners: [], logTypes: undefined, sawAllowAnonymous: false, metricsHostLine: 0, line: 0 };
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
    if (setter) {
      message = value === '' && key !== 'listener' ? `${key} needs a value` : setter(value, ctx);
    } else if (KNOWN_UNSUPPORTED.has(key) || [...KNOWN_UNSUPPORTED].some((k) => k.endsWith('_') && key.startsWith(k))) {
      message = `option "${key}" is a Mosquitto option the mqbench broker does not support`;
    } else {
      const hint = suggest(key, Object.keys(SETTERS));
      message = `unknown option "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`;
    }
    if (message) problems.push({ file, line: i + 1, message });
  }
  if (ctx.out.metrics !== undefined && ctx.out.metrics.port < 0) {
    problems.push({ file, line: ctx.metricsHostLine, message: 'metrics_host needs a metrics_port line as well (0 picks a free port)' });
    delete ctx.out.metrics;
  }
  const notices: string[] = [];
  if (ctx.listeners.length > 0) {
    ctx.out.listeners = ctx.listeners.map(({ host, port }) => ({ host, port }));
    // Mosquitto 2.0: once listeners are configured, anonymous access must be allowed explicitly.
    if (!ctx.sawAllowAnonymous) {
      ctx.out.allowAnonymous = false;
      notices.push(
        'allow_anonymous is not set and listeners are configured: anonymous clients will be refused (as in Mosquitto 2.0).',
      );
    }
  }
  if (ctx.logTypes) ctx.out.logTypes = ctx.logTypes;
  return { options: ctx.out, problems, notices };
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
