/**
 * The broker: its listeners (TCP, TLS, WebSocket; see listeners/), the security settings in force (the broker's, or
 * each listener's with per_listener_settings), every client socket made a Connection bound to the core, keep alive
 * and the CONNECT deadline, $SYS, a reload of the security and log settings, and shutdown.
 */
import { RC } from '../src/protocol/reason-codes.js';
import { FlushQueue } from '../src/util/batch-writer.js';
import { FileProblemsError, formatProblem, type FileProblem } from './auth/problems.js';
import { SecurityDomain } from './auth/security.js';
import { PasswordVerifier } from './auth/verifier.js';
import { Connection, connectionFrameLimits, peerAddress, type ConnectionFrameLimits, type ConnectionHost } from './connection.js';
import { Core } from './core/core.js';
import { CloseReason, ConnState } from './core/outlet.js';
import { Listener, type Accepted } from './listeners/listener.js';
import { closeLogFile, Log, openLogFile, type LineWriter } from './log.js';
import { timestamper } from './log-time.js';
import type { BrokerOptions, SecuritySettings } from './options.js';
import { PartialBudget } from './partial-budget.js';
import { applySecurity } from './reload.js';
import { SysTree } from './sys.js';

/** A socket that has not sent CONNECT within this time is closed. */
const CONNECT_TIMEOUT_MS = 20_000;
const SWEEP_INTERVAL_MS = 250;

export class Broker implements ConnectionHost {
  readonly log: Log;
  readonly core: Core;
  /** Connections with output this tick. */
  readonly flushQueue: FlushQueue;
  readonly partialBudget: PartialBudget;
  readonly frameLimits: ConnectionFrameLimits;
  /** Password checks, bounded for all listeners together. */
  readonly verifier = new PasswordVerifier();
  /** The broker's security settings; with per_listener_settings, each listener's are in `domains` by index. */
  readonly security: SecurityDomain;
  readonly domains: SecurityDomain[] = [];

  private readonly conns = new Set<Connection>();
  private readonly listeners: Listener[] = [];
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly sys: SysTree;
  private closing = false;
  private logFile: LineWriter | null = null;

  constructor(readonly options: BrokerOptions) {
    this.log = new Log(options.logTypes, options.logSink, timestamper(options.logTimestampFormat), options.connectionMessages);
    this.core = new Core(options, this.log);
    this.flushQueue = new FlushQueue(this.core.stats);
    this.partialBudget = new PartialBudget(options.partialPacketBudget);
    this.frameLimits = connectionFrameLimits(options, this.partialBudget);
    this.sys = new SysTree(this.core);
    this.security = new SecurityDomain(globalSecurity(options), this.verifier);
    for (let i = 0; i < options.listeners.length; i++) {
      this.domains.push(options.perListenerSettings ? new SecurityDomain(listenerSecurity(options, i), this.verifier) : this.security);
    }
  }

  async listen(): Promise<{ host: string; port: number }[]> {
    this.openLog(this.options.logFile);
    this.loadSecurity();
    for (let i = 0; i < this.options.listeners.length; i++) {
      const listener = new Listener(this.options.listeners[i], i, {
        accept: (a) => this.accept(a),
        log: this.log,
        tlsHandshakeTimeoutMs: this.options.tlsHandshakeTimeoutMs,
        closing: () => this.closing,
      });
      this.listeners.push(listener);
      await listener.listen();
    }
    const open = this.domains.some((d) => d.settings.allowAnonymous || d.passwords !== null || this.options.authenticate !== undefined);
    if (!open && this.log.warning) {
      this.log.line('Warning: allow_anonymous is false and no way to check passwords is configured: every client will be refused.');
    }
    this.sweepTimer = setInterval(this.sweep, SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
    this.sys.start();
    return this.listeners.map((l) => ({ host: l.host, port: l.port }));
  }

  /** Read the password and ACL files; any problem stops the start, every one named with file:line. */
  private loadSecurity(): void {
    const problems: FileProblem[] = [];
    const seen = new Set<SecurityDomain>();
    for (const d of [this.security, ...this.domains]) {
      if (seen.has(d)) continue;
      seen.add(d);
      const r = d.load(d.settings);
      problems.push(...r.problems);
      if (this.log.warning) for (const w of r.warnings) this.log.line(`Warning: ${w.message} (${w.file}:${w.line})`);
    }
    if (problems.length > 0) throw new FileProblemsError(problems);
  }

  private openLog(path: string | undefined): void {
    if (path === undefined) return;
    const file = openLogFile(path);
    this.logFile = file;
    const base = this.options.logSink;
    this.log.configure(this.options.logTypes, (line) => {
      base(line);
      file.write(line);
    }, timestamper(this.options.logTimestampFormat), this.options.connectionMessages);
  }

  private accept(a: Accepted): void {
    const socket = a.socket;
    if (this.closing) {
      socket.destroy();
      return;
    }
    const max = this.options.maxConnections;
    if (max >= 0 && this.conns.size >= max) {
      if (this.log.notice) this.log.line(`Client connection from ${peerAddress(socket)} denied: max_connections exceeded.`);
      socket.destroy();
      return;
    }
    this.core.stats.socketsAccepted++;
    const conn = new Connection(this, socket, { security: this.domains[a.listener.index], certIdentity: a.certIdentity });
    const log = this.log;
    if (log.notice && log.connections) log.line(`New connection from ${conn.address} on port ${a.listener.port}.`);
    this.conns.add(conn);
  }

  connectionGone(conn: Connection): void {
    this.conns.delete(conn);
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /**
   * Apply new settings as Mosquitto does on SIGHUP: the security settings and the password and ACL files they name
   * (a file that cannot be read or has problems keeps its previous contents, and the problems are logged), clients
   * no longer allowed disconnected, ACLs re-applied; the log settings, the log file reopened (log rotation); the
   * TLS certificate files read again. Listeners themselves are not changed. Resolves once re-checked passwords
   * are settled.
   */
  async reload(next: BrokerOptions): Promise<void> {
    const log = this.log;
    const o = this.options;
    if (next.listeners.length !== o.listeners.length) {
      if (log.error) log.line('Error: It is not currently possible to add/remove listeners when reloading the config file.');
      return;
    }
    if (next.perListenerSettings !== o.perListenerSettings) {
      // The security settings in force are per listener or the broker's: that shape is fixed at start-up.
      if (log.error) log.line('Error: per_listener_settings cannot change on reload: restart the broker for it.');
      return;
    }
    for (const key of ['allowAnonymous', 'passwordFile', 'aclFile', 'allowZeroLengthClientid', 'autoIdPrefix', 'perListenerSettings', 'clientidPrefixes', 'checkRetainSource', 'connectionMessages', 'logTimestampFormat', 'logTypes', 'logSink', 'logFile'] as const) {
      (o as unknown as Record<string, unknown>)[key] = next[key];
    }
    next.listeners.forEach((l, i) => {
      o.listeners[i].security = l.security;
    });
    await this.reopenLog();
    const seen = new Set<SecurityDomain>();
    for (let i = -1; i < this.domains.length; i++) {
      const d = i < 0 ? this.security : this.domains[i];
      if (seen.has(d)) continue;
      seen.add(d);
      const r = d.load(i < 0 ? globalSecurity(o) : listenerSecurity(o, i));
      if (log.error) for (const p of r.problems) log.line(`Error: ${formatProblem(p)} (the previous contents stay in force).`);
      if (log.warning) for (const w of r.warnings) log.line(`Warning: ${w.message} (${w.file}:${w.line})`);
    }
    for (const listener of this.listeners) {
      try {
        listener.reloadTls();
      } catch (err) {
        if (log.error) log.line(`Error: ${(err as Error).message}; listener on port ${listener.port} keeps its certificate.`);
      }
    }
    await applySecurity(this.core, this.conns);
  }

  private async reopenLog(): Promise<void> {
    const old = this.logFile;
    this.logFile = null;
    const o = this.options;
    try {
      this.log.configure(o.logTypes, o.logSink, timestamper(o.logTimestampFormat), o.connectionMessages);
      this.openLog(o.logFile);
    } catch (err) {
      if (this.log.error) this.log.line((err as Error).message);
    }
    if (old !== null) await closeLogFile(old);
  }

  private readonly sweep = (): void => {
    const core = this.core;
    const now = core.tick();
    try {
      core.sweep(now);
    } catch (err) {
      core.fault(null, err, 'the stall check');
    }
    // Keep-alive and CONNECT deadlines, and idle connections give back their frame readers.
    for (const conn of this.conns) {
      try {
        conn.trim();
        if (conn.state === ConnState.Connected) {
          // [MQTT-3.1.2-24] no complete packet within 1.5 × keep alive: the connection is treated as failed (will sent).
          if (conn.keepaliveMs > 0 && now - conn.lastRx > conn.keepaliveMs * 1.5) {
            if (conn.protocolVersion === 5) conn.sendDisconnect(RC.KeepAliveTimeout);
            conn.close(CloseReason.KeepaliveTimeout);
          }
        } else if (conn.state === ConnState.New && now - conn.openedAt > CONNECT_TIMEOUT_MS) {
          conn.close(CloseReason.ProtocolError);
        }
      } catch (err) {
        core.fault(conn, err, 'the keep-alive check');
      }
    }
  };

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sys.stop();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const closed = this.listeners.map((l) => l.close());
    for (const conn of [...this.conns]) {
      try {
        if (conn.state === ConnState.Connected && conn.protocolVersion === 5) conn.sendDisconnect(RC.ServerShuttingDown);
        conn.close(CloseReason.BrokerShutdown);
      } catch (err) {
        this.core.fault(conn, err, 'shutdown');
      }
      conn.socket.destroy();
    }
    this.core.close();
    await Promise.all(closed);
    if (this.logFile !== null) await closeLogFile(this.logFile);
  }
}

/** The broker's own security settings. */
function globalSecurity(o: BrokerOptions): SecuritySettings {
  return {
    allowAnonymous: o.allowAnonymous,
    passwordFile: o.passwordFile,
    aclFile: o.aclFile,
    allowZeroLengthClientid: o.allowZeroLengthClientid,
    autoIdPrefix: o.autoIdPrefix,
  };
}

/** Listener `i`'s security settings under per_listener_settings: its own, with Mosquitto's defaults. */
function listenerSecurity(o: BrokerOptions, i: number): SecuritySettings {
  const s = o.listeners[i].security ?? {};
  return {
    allowAnonymous: s.allowAnonymous ?? o.allowAnonymous,
    passwordFile: s.passwordFile,
    aclFile: s.aclFile,
    allowZeroLengthClientid: s.allowZeroLengthClientid ?? true,
    autoIdPrefix: s.autoIdPrefix ?? 'auto-',
  };
}
