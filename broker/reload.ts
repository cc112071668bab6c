/**
 * After the security settings changed (a reload), what Mosquitto re-applies to the clients: an anonymous client is
 * disconnected when anonymous clients are no longer allowed, a client whose user was removed or whose password
 * changed is checked again (off the event loop) and disconnected when it no longer passes, and every session's ACL is
 * re-made from the rules now in force.
 */
import type { Connection } from './connection.js';
import type { Core } from './core/core.js';
import { ConnState } from './core/outlet.js';

/** Resolves once every password check it started has finished. */
export function applySecurity(core: Core, conns: Iterable<Connection>): Promise<void> {
  for (const session of core.sessions.values()) session.refreshAcl();
  const checks: Promise<void>[] = [];
  for (const conn of conns) {
    if (conn.state !== ConnState.Connected) continue;
    try {
      const check = recheck(core, conn);
      if (check !== undefined) checks.push(check);
    } catch (err) {
      core.fault(conn, err, 'applying reloaded security settings');
    }
  }
  return Promise.all(checks).then(() => undefined);
}

/** Re-check one connected client; a promise when its password must be checked again. */
function recheck(core: Core, conn: Connection): Promise<void> | undefined {
  // A user name taken from the client's certificate stays valid: the certificate was checked at the handshake.
  if (conn.certIdentity !== undefined) return undefined;
  const security = conn.security;
  const settings = security.settings;
  const username = conn.username;
  const passwords = security.passwords;
  if (username === undefined) {
    if (!settings.allowAnonymous) core.revoke(conn);
    return undefined;
  }
  if (passwords === null) {
    if (!settings.allowAnonymous && core.options.authenticate === undefined) core.revoke(conn);
    return undefined;
  }
  const entry = passwords.get(username);
  const credentials = conn.credentials;
  if (entry === undefined || credentials === null) {
    core.revoke(conn);
    return undefined;
  }
  if (entry.text === credentials.hash) return undefined;
  const password = credentials.password;
  return new Promise((resolve) => {
    const queued = security.verifier.submit({
      entry,
      password,
      wanted: () => conn.state === ConnState.Connected,
      done: (ok) => {
        try {
          if (conn.state !== ConnState.Connected) return;
          if (ok) credentials.hash = entry.text;
          else core.revoke(conn);
        } catch (err) {
          core.fault(conn, err, 'a reloaded password check');
        } finally {
          resolve();
        }
      },
    });
    if (!queued) {
      core.revoke(conn);
      resolve();
    }
  });
}
