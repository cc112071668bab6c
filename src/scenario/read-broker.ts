/**
 * The `broker:` section: bundled or a URL with failover hosts, protocol version, credentials and TLS files, and
 * persistence for a broker mqbench starts.
 */
import { expandSourceAddresses } from '../util/source-addresses.js';
import { suggest } from '../util/suggest.js';
import { describe, readExistingFile, type ReadContext } from './reader.js';
import {
  DEFAULTS,
  type BrokerSettings,
  type HostPort,
  type Persistence,
  type ProtocolVersion,
  type RemoteTarget,
  type TlsSettings,
  type Transport,
} from './schema.js';
import type { RawNode, RawScalar } from './source-tree.js';

const BROKER_KEYS = ['url', 'hosts', 'protocol', 'username', 'password', 'tls', 'sourceAddresses', 'persistence', 'autosave'] as const;
const BROKER_SYNONYMS: Record<string, string> = {
  host: 'url',
  server: 'url',
  servers: 'hosts',
  failover: 'hosts',
  version: 'protocol',
  protocolversion: 'protocol',
  mqttversion: 'protocol',
  user: 'username',
  pass: 'password',
  ssl: 'tls',
  sourceaddress: 'sourceAddresses',
  sourceip: 'sourceAddresses',
  sourceips: 'sourceAddresses',
  localaddress: 'sourceAddresses',
  ifaddr: 'sourceAddresses',
  persistent: 'persistence',
  persist: 'persistence',
  autosaveinterval: 'autosave',
};
const TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'verify', 'serverName'] as const;
const TLS_SYNONYMS: Record<string, string> = {
  cafile: 'ca',
  certfile: 'cert',
  certificate: 'cert',
  keyfile: 'key',
  p12: 'pfx',
  pkcs12: 'pfx',
  password: 'passphrase',
  rejectunauthorized: 'verify',
  insecure: 'verify',
  verifyserver: 'verify',
  servername: 'serverName',
  sni: 'serverName',
};

const DEFAULT_PORTS: Record<Transport, number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };
const TRANSPORTS: readonly Transport[] = ['mqtt', 'mqtts', 'ws', 'wss'];
const SCHEME_HINTS: Record<string, string> = {
  tcp: 'write mqtt:// for plain TCP',
  ssl: 'write mqtts:// for MQTT over TLS',
  tls: 'write mqtts:// for MQTT over TLS',
  http: 'write ws:// for MQTT over WebSocket',
  https: 'write wss:// for MQTT over secure WebSocket',
};
const DEFAULT_WS_PATH = '/mqtt';

/**
 * `broker:` (absent: bundled). `override` is `--broker` from the command line, `sourceOverride` `--source-ip`.
 */
export function readBroker(
  ctx: ReadContext,
  node: RawNode | undefined,
  override: RawScalar | undefined,
  sourceOverride?: RawScalar,
): BrokerSettings {
  const settings: BrokerSettings = {
    target: { kind: 'bundled' },
    protocolVersion: DEFAULTS.protocolVersion,
    username: undefined,
    password: undefined,
    tls: undefined,
    sourceAddresses: [],
    persistence: undefined,
  };
  if (sourceOverride) settings.sourceAddresses = readSourceAddresses(ctx, sourceOverride);
  if (node === undefined || (node.kind === 'scalar' && node.value === null)) {
    if (override) applyUrl(ctx, settings, override, undefined);
    return settings;
  }
  if (node.kind !== 'map') {
    if (node.kind === 'scalar' && typeof node.value === 'string') {
      applyUrl(ctx, settings, override ?? node, undefined);
    } else {
      ctx.problems.at(node.place, `broker must be "bundled", "mosquitto", "aedes", a URL like mqtt://host:1883, or a mapping, got ${describe(node)}`);
    }
    return settings;
  }
  const m = ctx.r.map(node, 'broker', BROKER_KEYS, 'in broker', BROKER_SYNONYMS)!;
  const urlNode = m.take('url');
  const hostsNode = m.take('hosts');
  const protocolNode = m.take('protocol');
  if (protocolNode) settings.protocolVersion = readProtocol(ctx, protocolNode) ?? settings.protocolVersion;
  const usernameNode = m.take('username');
  const passwordNode = m.take('password');
  if (usernameNode) settings.username = ctx.r.string(usernameNode, 'username');
  if (passwordNode) settings.password = ctx.r.string(passwordNode, 'password');
  const tlsNode = m.take('tls');
  const sourcesNode = m.take('sourceAddresses');
  if (sourcesNode && !sourceOverride) settings.sourceAddresses = readSourceAddresses(ctx, sourcesNode);
  const persistenceNode = m.take('persistence');
  const autosaveNode = m.take('autosave');
  m.finish();
  // A --broker URL replaces the written one and its failover hosts; TLS files stay only if the new URL uses TLS.
  const chosenUrl = override ?? urlNode;
  const hasCredentials = usernameNode !== undefined || passwordNode !== undefined;
  if (chosenUrl) applyUrl(ctx, settings, chosenUrl, override ? undefined : hostsNode, hasCredentials);
  else if (hostsNode) ctx.problems.at(hostsNode.place, 'hosts needs a url: they are failover hosts for it', 'add url: mqtt://first-host:1883');
  if (tlsNode) {
    const target = settings.target;
    const secure = target.kind === 'remote' && (target.transport === 'mqtts' || target.transport === 'wss');
    if (secure) settings.tls = readTls(ctx, tlsNode);
    else if (!override) {
      ctx.problems.at(
        tlsNode.place,
        `tls applies to mqtts:// and wss:// URLs; this broker is ${target.kind === 'bundled' ? 'the bundled one' : target.kind === 'local' ? `a ${target.broker} started for the run` : target.url}`,
        target.kind === 'remote' ? `write ${target.transport === 'ws' ? 'wss' : 'mqtts'}:// to use TLS` : undefined,
      );
    }
  }
  settings.persistence = readPersistence(ctx, settings, persistenceNode, autosaveNode, override !== undefined);
  return settings;
}

/**
 * `persistence: true` (and `autosave: 1s`): the broker mqbench starts keeps sessions and messages on disk, in a
 * directory of the run's own, through a scenario's faults. A broker mqbench does not start, or Aedes (memory only),
 * has no such switch here.
 */
function readPersistence(
  ctx: ReadContext,
  settings: BrokerSettings,
  node: RawNode | undefined,
  autosaveNode: RawNode | undefined,
  fromCommandLine: boolean,
): Persistence | undefined {
  const on = node === undefined ? false : ctx.r.boolean(node, 'persistence');
  let autosaveSec: number = DEFAULTS.autosaveSec;
  if (autosaveNode !== undefined) {
    const ms = ctx.r.duration(autosaveNode, 'autosave');
    if (ms !== undefined && ms % 1000 !== 0) ctx.problems.at(autosaveNode.place, `autosave is whole seconds (mosquitto.conf autosave_interval), got ${ms}ms`);
    else if (ms !== undefined) autosaveSec = ms / 1000;
    if (on === false) {
      ctx.problems.at(autosaveNode.place, 'autosave says how often a persistent broker saves, and persistence is not on', 'add persistence: true');
    }
  }
  if (on !== true) return undefined;
  const target = settings.target;
  if (target.kind === 'remote' || (target.kind === 'local' && target.broker === 'aedes')) {
    const what = target.kind === 'remote' ? `${target.url}, which mqbench does not start` : 'aedes, which mqbench runs in memory only';
    ctx.problems.at(
      node!.place,
      `persistence applies to a broker mqbench starts (bundled or mosquitto); ${fromCommandLine ? 'the --broker given is' : 'this broker is'} ${what}`,
      target.kind === 'remote' ? 'configure persistence on that broker itself, or run against bundled or mosquitto' : 'run against bundled or mosquitto',
    );
    return undefined;
  }
  return { autosaveSec };
}

function applyUrl(
  ctx: ReadContext,
  settings: BrokerSettings,
  urlNode: RawNode,
  hostsNode: RawNode | undefined,
  hasCredentials = false,
): void {
  const fromCommandLine = urlNode.place.line === 0;
  const text = ctx.r.string(urlNode, fromCommandLine ? '--broker' : 'broker url', { nonEmpty: true });
  if (text === undefined) return;
  if (text === 'bundled') {
    settings.target = { kind: 'bundled' };
    if (hostsNode) ctx.problems.at(hostsNode.place, 'hosts are failover hosts for a URL; the bundled broker has none');
    return;
  }
  if (text === 'mosquitto' || text === 'aedes') {
    settings.target = { kind: 'local', broker: text };
    if (hostsNode) ctx.problems.at(hostsNode.place, `hosts are failover hosts for a URL; a ${text} started for the run has none`);
    return;
  }
  const parsed = parseBrokerUrl(text);
  if ('error' in parsed) {
    ctx.problems.at(urlNode.place, fromCommandLine ? `--broker: ${parsed.error}` : parsed.error, parsed.hint);
    return;
  }
  if (parsed.username !== undefined) {
    if (hasCredentials) {
      ctx.problems.at(urlNode.place, 'the URL has credentials and the broker section has username/password too', 'keep one of them');
    } else {
      settings.username = parsed.username;
      settings.password = parsed.password;
    }
  }
  const target = parsed.target;
  if (hostsNode) {
    const items = hostsNode.kind === 'seq' ? hostsNode.items : [hostsNode];
    for (const item of items) {
      const host = readFailoverHost(ctx, item, target.transport);
      if (host) target.hosts.push(host);
    }
  }
  settings.target = target;
  if (target.transport === 'mqtts' || target.transport === 'wss') settings.tls = defaultTls();
}

export type ParsedUrl =
  | { target: RemoteTarget; username: string | undefined; password: string | undefined }
  | { error: string; hint?: string };

/** `mqtt://`, `mqtts://`, `ws://`, `wss://` with optional `user:pass@`, port and (WebSocket) path. */
export function parseBrokerUrl(text: string): ParsedUrl {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (!scheme) {
    return {
      error: `"${text}" is not a broker URL`,
      hint: `write "bundled", "mosquitto", "aedes" or a URL such as mqtt://${text.includes(':') || text === '' ? 'localhost:1883' : `${text}:1883`}`,
    };
  }
  const transport = scheme[1].toLowerCase();
  if (!(TRANSPORTS as readonly string[]).includes(transport)) {
    const guess = SCHEME_HINTS[transport] ?? (suggest(transport, TRANSPORTS) ? `did you mean ${suggest(transport, TRANSPORTS)}://?` : undefined);
    return { error: `unsupported URL scheme "${scheme[1]}://"`, hint: guess ?? 'use mqtt://, mqtts://, ws:// or wss://' };
  }
  const t = transport as Transport;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { error: `"${text}" is not a valid URL`, hint: 'e.g. mqtt://broker.example.com:1883' };
  }
  const host = stripBrackets(url.hostname);
  if (host === '') return { error: `"${text}" has no host`, hint: `e.g. ${t}://localhost` };
  if (url.search !== '' || url.hash !== '') return { error: `a broker URL takes no query or fragment: "${text}"` };
  const afterAuthority = text.slice(scheme[0].length).replace(/^[^/]*/, '');
  if (t === 'mqtt' || t === 'mqtts') {
    if (afterAuthority !== '' && afterAuthority !== '/') {
      return { error: `an ${t}:// URL has no path, got "${afterAuthority}"`, hint: 'paths are for ws:// and wss:// URLs' };
    }
  }
  const port = url.port === '' ? DEFAULT_PORTS[t] : Number(url.port);
  const path = t === 'ws' || t === 'wss' ? (afterAuthority === '' ? DEFAULT_WS_PATH : url.pathname) : '';
  const username = url.username === '' && !text.slice(scheme[0].length).split('/')[0].includes('@') ? undefined : decodeURIComponent(url.username);
  const password = username === undefined ? undefined : decodeURIComponent(url.password);
  const shown = `${t}://${url.host}${path}`;
  return { target: { kind: 'remote', transport: t, hosts: [{ host, port }], path, url: shown }, username, password };
}

function readFailoverHost(ctx: ReadContext, node: RawNode, transport: Transport): HostPort | undefined {
  const text = ctx.r.string(node, 'a failover host', { nonEmpty: true });
  if (text === undefined) return undefined;
  const withScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) ? text : `${transport}://${text}`;
  const parsed = parseBrokerUrl(withScheme);
  if ('error' in parsed) {
    ctx.problems.at(node.place, `failover host: ${parsed.error}`, parsed.hint ?? 'write host or host:port');
    return undefined;
  }
  if (parsed.target.transport !== transport) {
    ctx.problems.at(node.place, `failover host "${text}" uses ${parsed.target.transport}:// but the url uses ${transport}://`, 'every host of one broker is reached the same way');
    return undefined;
  }
  if (parsed.username !== undefined) {
    ctx.problems.at(node.place, 'a failover host takes no credentials', 'set username and password in the broker section');
    return undefined;
  }
  return parsed.target.hosts[0];
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function defaultTls(): TlsSettings {
  return { ca: undefined, cert: undefined, key: undefined, pfx: undefined, passphrase: undefined, verify: true, serverName: undefined };
}

function readTls(ctx: ReadContext, node: RawNode): TlsSettings {
  const tls = defaultTls();
  const m = ctx.r.map(node, 'tls', TLS_KEYS, 'in tls', TLS_SYNONYMS);
  if (!m) return tls;
  for (const key of ['ca', 'cert', 'key', 'pfx'] as const) {
    const n = m.take(key);
    if (n) tls[key] = readExistingFile(ctx, n, `tls ${key} file`)?.path;
  }
  const passphrase = m.take('passphrase');
  if (passphrase) tls.passphrase = ctx.r.string(passphrase, 'passphrase');
  const verify = m.take('verify');
  if (verify) tls.verify = ctx.r.boolean(verify, 'verify') ?? true;
  const serverName = m.take('serverName');
  if (serverName) tls.serverName = ctx.r.string(serverName, 'serverName', { nonEmpty: true });
  m.finish();
  if (m.has('pfx') && (m.has('cert') || m.has('key'))) {
    ctx.problems.at(m.keyPlace('pfx'), 'tls has both pfx and cert/key', 'a PKCS#12 bundle already holds the certificate and key; give one or the other');
  }
  if (m.has('cert') !== m.has('key')) {
    const [has, lacks] = m.has('cert') ? ['cert', 'key'] : ['key', 'cert'];
    ctx.problems.at(m.keyPlace(has), `tls ${has} needs a ${lacks} too`, 'a client certificate is sent with its private key');
  }
  if (passphrase && !m.has('pfx') && !m.has('key')) {
    ctx.problems.at(passphrase.place, 'passphrase unlocks a pfx bundle or a key file, and tls has neither');
  }
  return tls;
}

/** `protocol: 5`, `3.1.1` or `3.1`. */
export function readProtocol(ctx: ReadContext, node: RawNode): ProtocolVersion | undefined {
  const text = node.kind === 'scalar' ? (typeof node.value === 'number' ? node.plain ?? String(node.value) : typeof node.value === 'string' ? node.value.trim() : undefined) : undefined;
  switch (text) {
    case '3.1':
      return 3;
    case '3.1.1':
      return 4;
    case '5':
    case '5.0':
      return 5;
  }
  const hint =
    text === '4'
      ? 'protocol level 4 is MQTT 3.1.1: write 3.1.1'
      : text === '3'
        ? 'protocol level 3 is MQTT 3.1: write 3.1'
        : 'write 3.1, 3.1.1 or 5';
  ctx.problems.at(node.place, `protocol must be 3.1, 3.1.1 or 5, got ${describe(node)}`, hint);
  return undefined;
}

/** `sourceAddresses`: one string (commas or spaces between entries) or a list of them. */
function readSourceAddresses(ctx: ReadContext, node: RawNode): string[] {
  const fromCommandLine = node.place.line === 0;
  const label = fromCommandLine ? '--source-ip' : 'sourceAddresses';
  const items = node.kind === 'seq' ? node.items : [node];
  const texts: string[] = [];
  for (const item of items) {
    const text = ctx.r.string(item, label, { nonEmpty: true });
    if (text !== undefined) texts.push(text);
  }
  if (texts.length !== items.length) return [];
  if (texts.length === 0) {
    ctx.problems.at(node.place, `${label} is empty`, 'e.g. 127.0.0.2-127.0.0.9');
    return [];
  }
  const expanded = expandSourceAddresses(texts.join(','));
  if ('error' in expanded) {
    ctx.problems.at(node.place, `${label}: ${expanded.error}`, expanded.hint);
    return [];
  }
  return expanded.addresses;
}
