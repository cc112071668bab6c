/**
 * mosquitto.conf lines about listeners: `listener`, the default listener's `port` and `bind_address`, and what each
 * listener block may hold (protocol, socket_domain, max_connections, TLS). Before any `listener` line they configure
 * the default listener, as in Mosquitto.
 */
import type { ListenerTls } from '../options.js';
import { booleanSetter, parseInteger, type LineContext, type ListenerDraft, type Setter } from './context.js';

/** A fresh listener block. */
export function newListener(port: number, host: string, file: string, line: number): ListenerDraft {
  return { port, host, file, line, tlsLine: 0 };
}

/** The default listener block is in use (an option was given for it). */
function useDefault(ctx: LineContext): ListenerDraft {
  if (ctx.current === ctx.defaultListener) ctx.defaultListenerUsed = true;
  return ctx.current;
}

/** The TLS options of the current block, made on first use. */
function tls(ctx: LineContext): Partial<ListenerTls> {
  const l = useDefault(ctx);
  if (l.tlsLine === 0) l.tlsLine = ctx.line;
  return (l.tls ??= { requireCertificate: false, useIdentityAsUsername: false } as ListenerTls);
}

function tlsString(key: 'certfile' | 'keyfile' | 'cafile' | 'capath' | 'ciphers'): Setter {
  return (value, ctx) => {
    const t = tls(ctx);
    if (t[key] !== undefined) return `duplicate ${key} in this listener's block`;
    t[key] = value;
    return undefined;
  };
}

export const LISTENER_SETTERS: Record<string, Setter> = {
  listener(value, ctx) {
    const [portText, host, ...rest] = value.split(/\s+/);
    if (rest.length > 0 && !rest[0].startsWith('#')) return `listener expects "<port> [bind address]", got "${value}"`;
    const port = parseInteger(portText, 0, 65535);
    if (port === undefined) return `listener port must be 0-65535, got "${portText}"`;
    const address = host === undefined || host.startsWith('#') ? '' : host;
    const draft = newListener(port, address, ctx.file, ctx.line);
    ctx.listeners.push(draft);
    ctx.current = draft;
    return undefined;
  },
  port(value, ctx) {
    const port = parseInteger(value, 0, 65535);
    if (port === undefined) return `port must be 0-65535, got "${value}"`;
    ctx.defaultListenerUsed = true;
    ctx.defaultListener.port = port;
    return undefined;
  },
  bind_address(value, ctx) {
    if (/\s/.test(value)) return `bind_address expects one address, got "${value}"`;
    ctx.defaultListenerUsed = true;
    ctx.defaultListener.host = value;
    return undefined;
  },
  protocol(value, ctx) {
    if (value !== 'mqtt' && value !== 'websockets') return `protocol must be mqtt or websockets, got "${value}"`;
    useDefault(ctx).protocol = value;
    return undefined;
  },
  socket_domain(value, ctx) {
    if (value !== 'ipv4' && value !== 'ipv6') return `socket_domain must be ipv4 or ipv6, got "${value}"`;
    useDefault(ctx).socketDomain = value;
    return undefined;
  },
  max_connections(value, ctx) {
    const n = parseInteger(value, Number.MIN_SAFE_INTEGER, 2 ** 31 - 1);
    if (n === undefined) return `max_connections must be an integer (-1 for no limit), got "${value}"`;
    // Mosquitto: a negative value means no limit. Before any listener line the limit holds for the broker's
    // listeners together (Mosquitto would give it to a default listener on port 1883).
    const limit = n < 0 ? -1 : n;
    if (ctx.current === ctx.defaultListener) ctx.out.maxConnections = limit;
    else ctx.current.maxConnections = limit;
    return undefined;
  },
  certfile: tlsString('certfile'),
  keyfile: tlsString('keyfile'),
  cafile: tlsString('cafile'),
  capath: tlsString('capath'),
  ciphers: tlsString('ciphers'),
  require_certificate: booleanSetter('require_certificate', (b, ctx) => {
    tls(ctx).requireCertificate = b;
  }),
  use_identity_as_username: booleanSetter('use_identity_as_username', (b, ctx) => {
    tls(ctx).useIdentityAsUsername = b;
  }),
  tls_version(value, ctx) {
    if (value !== 'tlsv1.3' && value !== 'tlsv1.2' && value !== 'tlsv1.1') return `tls_version must be tlsv1.3, tlsv1.2 or tlsv1.1, got "${value}"`;
    tls(ctx).tlsVersion = value;
    return undefined;
  },
};

/** End-of-file checks of one listener block; returns the problem, if any. */
export function listenerProblem(l: ListenerDraft): string | undefined {
  const t = l.tls;
  if (t === undefined) return undefined;
  if (t.certfile === undefined || t.keyfile === undefined) return 'a TLS listener needs both certfile and keyfile';
  if ((t.requireCertificate || t.useIdentityAsUsername) && t.cafile === undefined && t.capath === undefined) {
    return 'require_certificate and use_identity_as_username need cafile or capath (the CAs that sign client certificates)';
  }
  return undefined;
}
