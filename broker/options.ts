/**
 * Broker options: the in-process API's names, each mapped to the mosquitto.conf option it mirrors.
 * Defaults are Mosquitto 2.0's.
 */

export interface ListenerOptions {
  /** `bind_address` / the host part of `listener`. Default 127.0.0.1 (Mosquitto's local-only default). */
  host: string;
  /** `port` / `listener`. 0 picks a free port. */
  port: number;
}

export type LogType = 'error' | 'warning' | 'notice' | 'information' | 'subscribe' | 'unsubscribe' | 'debug';

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

export interface BrokerOptions {
  /** Listeners; default one on 127.0.0.1:1883. */
  listeners: ListenerOptions[];
  /** `max_connections`: -1 means no limit. */
  maxConnections: number;
  /** `max_inflight_messages`: outgoing QoS 1/2 messages in flight per client; 0 means no limit. Also sent to v5 clients as receive maximum. */
  maxInflightMessages: number;
  /** `max_queued_messages`: QoS 1/2 messages queued per client beyond those in flight; 0 means no limit. */
  maxQueuedMessages: number;
  /** `message_size_limit`: largest PUBLISH payload accepted, in bytes; 0 means the protocol maximum. */
  messageSizeLimit: number;
  /** `max_packet_size`: largest packet accepted, in bytes; 0 means the protocol maximum. Sent to v5 clients. */
  maxPacketSize: number;
  /** `max_keepalive`: longest keepalive a client may ask for, in seconds (v5 clients are told via server keep alive). */
  maxKeepalive: number;
  /** `allow_anonymous`: accept clients that send no username. */
  allowAnonymous: boolean;
  /** `sys_interval`: seconds between $SYS updates; 0 turns them off. */
  sysInterval: number;
  /** `retain_available`: false refuses retained PUBLISH (v5 clients are told in CONNACK). */
  retainAvailable: boolean;
  /** `max_topic_alias`: topic aliases a v5 client may use towards the broker. */
  maxTopicAlias: number;
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
}

export const ALL_LOG_TYPES: readonly LogType[] = [
  'error',
  'warning',
  'notice',
  'information',
  'subscribe',
  'unsubscribe',
  'debug',
];

export function defaultBrokerOptions(): BrokerOptions {
  return {
    listeners: [{ host: '127.0.0.1', port: 1883 }],
    maxConnections: -1,
    maxInflightMessages: 20,
    maxQueuedMessages: 1000,
    messageSizeLimit: 0,
    maxPacketSize: 0,
    maxKeepalive: 65535,
    allowAnonymous: true,
    sysInterval: 10,
    retainAvailable: true,
    maxTopicAlias: 10,
    persistentClientExpiration: 0,
    logTypes: new Set<LogType>(['error', 'warning', 'notice', 'information']),
    logSink: (line) => process.stderr.write(line + '\n'),
    authenticate: undefined,
    version: 'mqbench broker',
  };
}
