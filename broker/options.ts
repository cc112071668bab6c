/**
 * Broker options: the in-process API's names, each mapped to the mosquitto.conf option it mirrors.
 * Defaults are Mosquitto 2.0's.
 */
import { lineWriter, type LogType } from './log.js';

export { ALL_LOG_TYPES, type LogType } from './log.js';

export interface ListenerOptions {
  /**
   * `bind_address` / the address part of `listener`: an address or host name; '' listens on every address, IPv4 and
   * IPv6 (`listener 1883` with no address). Default 127.0.0.1 (Mosquitto's local-only default).
   */
  host: string;
  /** `port` / `listener`. 0 picks a free port. */
  port: number;
  /** `protocol`: MQTT over TCP (default) or over WebSocket (any path, subprotocol `mqtt` or `mqttv3.1`). */
  protocol?: 'mqtt' | 'websockets';
  /** `socket_domain`: only IPv4 or only IPv6; default both where the address allows. */
  socketDomain?: 'ipv4' | 'ipv6';
  /** `max_connections` in this listener's block: clients this listener holds at once; -1 (default) no limit. */
  maxConnections?: number;
  /** TLS (`certfile`, `keyfile`, ...): the listener speaks MQTT (or WebSocket) over TLS. */
  tls?: ListenerTls;
  /** With `per_listener_settings true`: this listener's own authentication and ACL settings. */
  security?: Partial<SecuritySettings>;
}

export interface ListenerTls {
  /** `certfile` / `keyfile`: PEM certificate (chain) and private key. */
  certfile: string;
  keyfile: string;
  /** `cafile` / `capath`: CAs that sign client certificates (capath: a directory of PEM files). */
  cafile?: string;
  capath?: string;
  /** `require_certificate`: clients must present a certificate signed by those CAs. */
  requireCertificate: boolean;
  /** `use_identity_as_username`: the client certificate's CN is the user name (no password check). */
  useIdentityAsUsername: boolean;
  /** `tls_version`: the lowest TLS version accepted (default TLS 1.2). */
  tlsVersion?: 'tlsv1.3' | 'tlsv1.2' | 'tlsv1.1';
  /** `ciphers`: OpenSSL cipher list for TLS 1.2 and below (TLS 1.3 suites stay the defaults). */
  ciphers?: string;
}

/** Who may connect and what they may do: global, or per listener with `per_listener_settings true`. */
export interface SecuritySettings {
  /** `allow_anonymous`: accept clients that send no user name. */
  allowAnonymous: boolean;
  /** `password_file`: user names and password hashes (Mosquitto 2.0's format, see `mqbench passwd`). */
  passwordFile: string | undefined;
  /** `acl_file`: which topics each client may read and write. */
  aclFile: string | undefined;
  /** `allow_zero_length_clientid`: give clients that send an empty client id one of their own. */
  allowZeroLengthClientid: boolean;
  /** `auto_id_prefix`: prefix of the client ids given that way. */
  autoIdPrefix: string;
}

export interface AuthRequest {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  /** "127.0.0.1:54321" */
  address: string;
  protocolVersion: number;
}

/**
 * Decides whether a client may connect. Return true to accept, false to refuse as "not authorized" (as Mosquitto 2.0
 * answers a failed password check),
 * or a v5 reason code (e.g. 0x86 bad user name or password); 3.1.1 clients get the matching CONNACK return code.
 */
export type Authenticate = (req: AuthRequest) => boolean | number;

/** How the persistent store waits for the disk before acknowledging (`persistence_fsync`, an mqbench option). */
export type FsyncPolicy = 'batch' | 'write' | 'never';

/** `persistence` and the options around it (Mosquitto's names). */
export interface PersistenceOptions {
  /** `persistence`: keep retained messages and persistent sessions on disk across restarts. */
  enabled: boolean;
  /** `persistence_location`: the directory of the file ('' is the working directory, as in Mosquitto). */
  location: string;
  /** `persistence_file`: the file's name (default mosquitto.db). */
  file: string;
  /**
   * `autosave_interval`: seconds between compactions of the file (a fresh snapshot replacing the log) while it has
   * grown; with `autosave_on_changes`, changes recorded instead of seconds. 0: only by size and at shutdown.
   */
  autosaveInterval: number;
  autosaveOnChanges: boolean;
  /**
   * `persistence_fsync`: `batch` (default) acknowledges a message once the records of its turn of the event loop are
   * written and fdatasync'ed; `write` once they are written to the operating system; `never` at once, records written
   * in the background.
   */
  fsync: FsyncPolicy;
}

export interface BrokerOptions {
  /** Listeners; default one on 127.0.0.1:1883. */
  listeners: ListenerOptions[];
  /** `max_connections`: -1 means no limit. */
  maxConnections: number;
  /** `max_inflight_messages`: outgoing QoS 1/2 messages in flight per client; 0 means no limit. Also sent to v5 clients as receive maximum. */
  maxInflightMessages: number;
  /** `max_queued_messages`: QoS 1/2 messages queued per client beyond those in flight; 0 means no limit. */
  maxQueuedMessages: number;
  /** `max_queued_bytes`: payload bytes queued per client beyond those in flight; 0 means no limit. */
  maxQueuedBytes: number;
  /** `message_size_limit`: largest PUBLISH payload accepted, in bytes; 0 means the protocol maximum. */
  messageSizeLimit: number;
  /** `max_packet_size`: largest packet accepted, in bytes; 0 means the protocol maximum. Sent to v5 clients. */
  maxPacketSize: number;
  /** `max_keepalive`: longest keepalive a client may ask for, in seconds (v5 clients are told via server keep alive). */
  maxKeepalive: number;
  /** `allow_anonymous`: accept clients that send no username. */
  allowAnonymous: boolean;
  /** `password_file`, `acl_file`, `allow_zero_length_clientid`, `auto_id_prefix`: see SecuritySettings. */
  passwordFile: string | undefined;
  aclFile: string | undefined;
  allowZeroLengthClientid: boolean;
  autoIdPrefix: string;
  /** `per_listener_settings`: each listener has its own security settings (ListenerOptions.security). */
  perListenerSettings: boolean;
  /** `clientid_prefixes`: only client ids starting with this are accepted (others: not authorised). */
  clientidPrefixes: string | undefined;
  /** `check_retain_source`: a retained message is sent only while its publisher may still write its topic. */
  checkRetainSource: boolean;
  /** `upgrade_outgoing_qos`: deliver at the subscription's QoS even when the message was published lower. */
  upgradeOutgoingQos: boolean;
  /** `max_inflight_bytes`: payload bytes of outgoing QoS 1/2 messages in flight per client; 0 means no limit. */
  maxInflightBytes: number;
  /** `connection_messages`: log clients connecting and disconnecting. */
  connectionMessages: boolean;
  /** `log_timestamp_format`: strftime-style format of the time in front of each line (default: Unix seconds). */
  logTimestampFormat: string | undefined;
  /** `log_dest file <path>`: also append lines to this file (reopened on reload, for log rotation). */
  logFile: string | undefined;
  /** A TLS client that has not completed its handshake within this many ms is dropped. */
  tlsHandshakeTimeoutMs: number;
  /** `sys_interval`: seconds between $SYS updates; 0 turns them off. */
  sysInterval: number;
  /** `retain_available`: false refuses retained PUBLISH (v5 clients are told in CONNACK). */
  retainAvailable: boolean;
  /** `max_topic_alias`: topic aliases a v5 client may use towards the broker. */
  maxTopicAlias: number;
  /**
   * `topic_hierarchy_limit` (an mqbench option; Mosquitto's built-in TOPIC_HIERARCHY_LIMIT): most '/' separators a
   * topic name or filter may have. Deeper ones are refused.
   */
  topicHierarchyLimit: number;
  /**
   * `partial_packet_budget` (an mqbench option): bytes all connections together may hold in packets still arriving,
   * beyond 64 KiB each. A big packet that would exceed it waits until other packets complete.
   */
  partialPacketBudget: number;
  /** `persistent_client_expiration`: seconds a 3.1.1 persistent session survives disconnection; 0 means forever. */
  persistentClientExpiration: number;
  /** `log_type`: which kinds of lines are logged. Empty means none; `-v` turns on all of them. */
  logTypes: Set<LogType>;
  /** Where log lines go (default: stderr, as Mosquitto's `log_dest stderr`). Each line gets the Unix-time prefix. */
  logSink: (line: string) => void;
  /** Authentication hook. */
  authenticate: Authenticate | undefined;
  /** Version string published on $SYS/broker/version. */
  version: string;
  /**
   * `metrics_port` / `metrics_host` (mqbench options; Mosquitto has none): serve `GET /metrics` in the Prometheus text
   * format on this address (host default 127.0.0.1; port 0 picks a free one). Undefined serves nothing.
   */
  metrics: ListenerOptions | undefined;
  /** `persistence` and its options. */
  persistence: PersistenceOptions;
}

export function defaultPersistenceOptions(): PersistenceOptions {
  return { enabled: false, location: '', file: 'mosquitto.db', autosaveInterval: 1800, autosaveOnChanges: false, fsync: 'batch' };
}


export function defaultBrokerOptions(): BrokerOptions {
  return {
    listeners: [{ host: '127.0.0.1', port: 1883 }],
    maxConnections: -1,
    maxInflightMessages: 20,
    maxQueuedMessages: 1000,
    maxQueuedBytes: 0,
    messageSizeLimit: 0,
    maxPacketSize: 0,
    maxKeepalive: 65535,
    allowAnonymous: true,
    passwordFile: undefined,
    aclFile: undefined,
    allowZeroLengthClientid: true,
    autoIdPrefix: 'auto-',
    perListenerSettings: false,
    clientidPrefixes: undefined,
    checkRetainSource: false,
    upgradeOutgoingQos: false,
    maxInflightBytes: 0,
    connectionMessages: true,
    logTimestampFormat: undefined,
    logFile: undefined,
    tlsHandshakeTimeoutMs: 10_000,
    sysInterval: 10,
    retainAvailable: true,
    maxTopicAlias: 10,
    topicHierarchyLimit: 200,
    partialPacketBudget: 256 * 1024 * 1024,
    persistentClientExpiration: 0,
    logTypes: new Set<LogType>(['error', 'warning', 'notice', 'information']),
    logSink: lineWriter(2).write,
    authenticate: undefined,
    version: 'mqbench broker',
    metrics: undefined,
    persistence: defaultPersistenceOptions(),
  };
}
