/**
 * `GET /metrics` in the Prometheus text exposition format 0.0.4: the text writer, the standard `process_*` figures,
 * the broker's own figures, and a small hardened HTTP server (one path, GET and HEAD only, bounded requests). It
 * imports nothing from the broker: `mqbench run` serves its own metrics with the same writer and server.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { getHeapStatistics } from 'node:v8';

// ---- the text format ------------------------------------------------------------------------------------------

export type Labels = Readonly<Record<string, string>>;

export interface ValueSample {
  labels: Labels;
  value: number;
}

/** A histogram series: counts per bucket as Prometheus wants them, cumulative, the last one for `le="+Inf"`. */
export interface HistogramSample {
  labels: Labels;
  /** Upper bounds in the metric's unit, increasing; `+Inf` is implied. */
  upperBounds: readonly number[];
  /** upperBounds.length + 1 cumulative counts; the last is the total count. */
  cumulative: ArrayLike<number>;
  sum: number;
}

export type MetricFamily =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples: ValueSample[] }
  | { name: string; help: string; type: 'histogram'; samples: HistogramSample[] };

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The exposition text of `families`, each once, its lines together. A family with no samples still gets its HELP and
 * TYPE lines. Names are checked (a bad one is a programming error and throws); label values are escaped.
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`invalid metric name "${f.name}"`);
    if (seen.has(f.name)) throw new Error(`metric family "${f.name}" appears twice`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type === 'histogram') {
      for (const s of f.samples) {
        if (s.cumulative.length !== s.upperBounds.length + 1) throw new Error(`${f.name}: ${s.upperBounds.length} bounds need ${s.upperBounds.length + 1} counts`);
        const base = labelText(s.labels);
        const sep = base === '' ? '' : ',';
        for (let i = 0; i < s.upperBounds.length; i++) {
          out.push(`${f.name}_bucket{${base}${sep}le="${formatValue(s.upperBounds[i])}"} ${formatValue(s.cumulative[i])}`);
        }
        const count = s.cumulative[s.upperBounds.length];
        out.push(`${f.name}_bucket{${base}${sep}le="+Inf"} ${formatValue(count)}`);
        out.push(`${f.name}_sum${braces(base)} ${formatValue(s.sum)}`, `${f.name}_count${braces(base)} ${formatValue(count)}`);
      }
    } else {
      for (const s of f.samples) out.push(`${f.name}${braces(labelText(s.labels))} ${formatValue(s.value)}`);
    }
  }
  return out.join('\n') + '\n';
}

function labelText(labels: Labels): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || name === 'le') throw new Error(`invalid label name "${name}"`);
    parts.push(`${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  }
  return parts.join(',');
}

function braces(labels: string): string {
  return labels === '' ? '' : `{${labels}}`;
}

/** Go's ParseFloat reads these: integers as digits, NaN, +Inf, -Inf. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

// ---- the process ----------------------------------------------------------------------------------------------

const START_TIME_SECONDS = Math.round(Date.now() - process.uptime() * 1000) / 1000;

/**
 * The standard process figures (the names every Prometheus client library uses) and the V8 heap, read on each
 * scrape: CPU time, resident memory, heap. About 25 µs (process.memoryUsage() would walk the heap's pages: 150 µs).
 */
export function processFamilies(): MetricFamily[] {
  const cpu = process.cpuUsage();
  const heap = getHeapStatistics();
  const one = (value: number): ValueSample[] => [{ labels: {}, value }];
  return [
    { name: 'process_cpu_user_seconds_total', help: 'User CPU time spent, seconds.', type: 'counter', samples: one(cpu.user / 1e6) },
    { name: 'process_cpu_system_seconds_total', help: 'System CPU time spent, seconds.', type: 'counter', samples: one(cpu.system / 1e6) },
    { name: 'process_cpu_seconds_total', help: 'User and system CPU time spent, seconds.', type: 'counter', samples: one((cpu.user + cpu.system) / 1e6) },
    { name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch, seconds.', type: 'gauge', samples: one(START_TIME_SECONDS) },
    { name: 'process_resident_memory_bytes', help: 'Resident memory size, bytes.', type: 'gauge', samples: one(process.memoryUsage.rss()) },
    { name: 'nodejs_heap_size_total_bytes', help: 'V8 heap size, bytes.', type: 'gauge', samples: one(heap.total_heap_size) },
    { name: 'nodejs_heap_size_used_bytes', help: 'V8 heap in use, bytes.', type: 'gauge', samples: one(heap.used_heap_size) },
    { name: 'nodejs_external_memory_bytes', help: 'Memory of objects outside the V8 heap bound to JavaScript objects (buffers), bytes.', type: 'gauge', samples: one(heap.external_memory) },
  ];
}

// ---- the broker -----------------------------------------------------------------------------------------------

/** What the broker's metrics read: the fields of `stats()` (broker/index.ts) they need. */
export interface BrokerFigures {
  clientsConnected: number;
  clientsMaximum: number;
  clientsExpired: number;
  sessions: number;
  subscriptions: number;
  sharedSubscriptions: number;
  retained: number;
  retainedBytes: number;
  messagesReceived: number;
  messagesSent: number;
  publishReceived: number;
  publishSent: number;
  publishDropped: number;
  publishExpired: number;
  publishBytesReceived: number;
  publishBytesSent: number;
  bytesReceived: number;
  bytesSent: number;
  socketsAccepted: number;
  connectsAccepted: number;
  queuedMessages: number;
  queuedBytes: number;
  inflightMessages: number;
  parkedMessages: number;
  parkedBytes: number;
  faults: number;
  matchCacheBytes: number;
  partialPacketBytes: number;
  uptimeSeconds: number;
}

type BrokerMetric = [name: string, type: 'counter' | 'gauge', field: keyof BrokerFigures, help: string];

const BROKER_METRICS: BrokerMetric[] = [
  ['mqbench_broker_clients_connected', 'gauge', 'clientsConnected', 'Clients connected ($SYS/broker/clients/connected).'],
  ['mqbench_broker_clients_maximum', 'gauge', 'clientsMaximum', 'Most clients connected at once since the start ($SYS/broker/clients/maximum).'],
  ['mqbench_broker_clients_expired_total', 'counter', 'clientsExpired', 'Persistent sessions ended by their expiry ($SYS/broker/clients/expired).'],
  ['mqbench_broker_sessions', 'gauge', 'sessions', 'Sessions held, connected or not ($SYS/broker/clients/total).'],
  ['mqbench_broker_subscriptions', 'gauge', 'subscriptions', 'Subscriptions, shared ones included ($SYS/broker/subscriptions/count).'],
  ['mqbench_broker_shared_subscriptions', 'gauge', 'sharedSubscriptions', 'Shared subscriptions ($SYS/broker/shared_subscriptions/count).'],
  ['mqbench_broker_retained_messages', 'gauge', 'retained', 'Retained messages held ($SYS/broker/retained messages/count).'],
  ['mqbench_broker_retained_bytes', 'gauge', 'retainedBytes', 'Payload bytes of the retained messages ($SYS/broker/store/messages/bytes).'],
  ['mqbench_broker_packets_received_total', 'counter', 'messagesReceived', 'MQTT packets of every type received ($SYS/broker/messages/received).'],
  ['mqbench_broker_packets_sent_total', 'counter', 'messagesSent', 'MQTT packets of every type sent ($SYS/broker/messages/sent).'],
  ['mqbench_broker_publish_received_total', 'counter', 'publishReceived', 'PUBLISH packets received ($SYS/broker/publish/messages/received).'],
  ['mqbench_broker_publish_sent_total', 'counter', 'publishSent', 'PUBLISH packets sent ($SYS/broker/publish/messages/sent).'],
  ['mqbench_broker_publish_dropped_total', 'counter', 'publishDropped', 'Messages not delivered to a client for lack of room: queue full, QoS 0 backlog, over message_size_limit ($SYS/broker/publish/messages/dropped).'],
  ['mqbench_broker_publish_expired_total', 'counter', 'publishExpired', 'Queued messages whose MQTT 5 message expiry passed before they could be sent.'],
  ['mqbench_broker_publish_received_bytes_total', 'counter', 'publishBytesReceived', 'Payload bytes of the PUBLISH packets received ($SYS/broker/publish/bytes/received).'],
  ['mqbench_broker_publish_sent_bytes_total', 'counter', 'publishBytesSent', 'Payload bytes of the PUBLISH packets sent ($SYS/broker/publish/bytes/sent).'],
  ['mqbench_broker_received_bytes_total', 'counter', 'bytesReceived', 'Bytes received on every connection ($SYS/broker/bytes/received).'],
  ['mqbench_broker_sent_bytes_total', 'counter', 'bytesSent', 'Bytes sent on every connection ($SYS/broker/bytes/sent).'],
  ['mqbench_broker_sockets_accepted_total', 'counter', 'socketsAccepted', 'Sockets accepted (what $SYS/broker/load/sockets rates).'],
  ['mqbench_broker_connects_accepted_total', 'counter', 'connectsAccepted', 'CONNECTs accepted (what $SYS/broker/load/connections rates).'],
  ['mqbench_broker_queued_messages', 'gauge', 'queuedMessages', 'QoS 1 and 2 messages queued for sessions, beyond those in flight.'],
  ['mqbench_broker_queued_bytes', 'gauge', 'queuedBytes', 'Payload bytes of the queued messages.'],
  ['mqbench_broker_inflight_messages', 'gauge', 'inflightMessages', 'Outgoing QoS 1 and 2 messages sent and not yet acknowledged.'],
  ['mqbench_broker_parked_messages', 'gauge', 'parkedMessages', "Messages parked in front of full queues while their publishers' acknowledgements wait."],
  ['mqbench_broker_parked_bytes', 'gauge', 'parkedBytes', 'Payload bytes of the parked messages.'],
  ['mqbench_broker_faults_total', 'counter', 'faults', 'Exceptions while serving a client; each closed that client and was logged.'],
  ['mqbench_broker_match_cache_bytes', 'gauge', 'matchCacheBytes', "Estimated bytes held by the router's topic match cache (bounded)."],
  ['mqbench_broker_partial_packet_bytes', 'gauge', 'partialPacketBytes', "Bytes held in packets still arriving, beyond each connection's first 64 KiB (bounded by partial_packet_budget)."],
  ['mqbench_broker_uptime_seconds', 'gauge', 'uptimeSeconds', 'Seconds since the broker started ($SYS/broker/uptime).'],
];

/** The broker's figures and the process's, as metric families. */
export function brokerFamilies(figures: BrokerFigures, version: string): MetricFamily[] {
  const families: MetricFamily[] = BROKER_METRICS.map(([name, type, field, help]) => ({
    name,
    help,
    type,
    samples: [{ labels: {}, value: figures[field] }],
  }));
  families.push({ name: 'mqbench_broker_info', help: 'The broker version, as a label; the value is always 1.', type: 'gauge', samples: [{ labels: { version }, value: 1 }] });
  return [...families, ...processFamilies()];
}

// ---- the server -----------------------------------------------------------------------------------------------

export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The exposition text, made on each GET. */
  render(): string;
  /** After each GET answered with the text (not HEAD). */
  onScrape?(): void;
}

export interface MetricsServer {
  host: string;
  port: number;
  /** http://host:port/metrics */
  url: string;
  /** Stops listening and closes every connection, idle keep-alive ones included. */
  close(): Promise<void>;
}

/** Limits of one request: a scraper sends a few hundred bytes of headers and reads a few KiB. */
const MAX_HEADER_BYTES = 8 * 1024;
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const MAX_CONNECTIONS = 64;

export class MetricsListenError extends Error {
  readonly code = 'METRICS_LISTEN';
}

/**
 * Serves `/metrics` (any query string) to GET and HEAD. Another path is 404, another method 405 (with Allow), a request
 * with a body 413; those close the connection. Headers beyond 8 KiB are refused (431), headers must arrive within 5 s
 * and the whole request within 10 s, at most 64 connections at once. Prometheus keeps its connection open between
 * scrapes; idle ones close after 65 s (longer than the usual scrape interval) and at close().
 * Rejects with a MetricsListenError that names the address when the port cannot be had.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      // How often the two timeouts above are checked (Node's default, 30 s, would let a slow client hold on that long).
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => answer(req, res, options),
  );
  server.maxConnections = MAX_CONNECTIONS;
  // A request that breaks the protocol or a limit is answered by Node itself (400, 408, 431) and its connection
  // destroyed: no 'clientError' listener, which would take that over.
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new MetricsListenError(`cannot serve metrics on ${options.host}:${options.port}: ${describeListenError(err)}`)));
    server.listen({ host: options.host, port: options.port }, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : options.port);
    });
  });
  const host = options.host;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url: `http://${shownHost}:${port}/metrics`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, options: MetricsServerOptions): void {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path !== '/metrics') return refuse(res, 404, 'Not Found: only /metrics is served');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return refuse(res, 405, `Method Not Allowed: ${req.method ?? ''}; /metrics answers GET and HEAD`);
  }
  const length = req.headers['content-length'];
  if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
    return refuse(res, 413, 'Content Too Large: a scrape has no body');
  }
  let text: string;
  try {
    text = options.render();
  } catch (err) {
    return refuse(res, 500, `Internal Server Error: ${(err as Error).message}`);
  }
  const body = Buffer.from(text, 'utf8');
  res.writeHead(200, { 'Content-Type': EXPOSITION_CONTENT_TYPE, 'Content-Length': body.length, 'Cache-Control': 'no-store' });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  res.end(body);
  options.onScrape?.();
}

function refuse(res: ServerResponse, status: number, message: string): void {
  const body = Buffer.from(message + '\n', 'utf8');
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, Connection: 'close' });
  res.end(body);
}

function describeListenError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'address already in use (another process listens there; choose another port, or 0 for a free one)';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    case 'EADDRNOTAVAIL':
      return 'address not available on this machine';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    default:
      return err.message;
  }
}
