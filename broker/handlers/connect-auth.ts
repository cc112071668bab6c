/**
 * Who may connect, as Mosquitto 2.0 decides it: on a listener with use_identity_as_username, the client
 * certificate's common name is the user name (no password check); else, with a password file, a client that sends
 * a user name must send that user's password (checked on libuv's thread pool, a bounded number at a time) and one
 * that sends none is let in only with allow_anonymous; without a password file, allow_anonymous decides. The
 * in-process authentication hook, when given, has the last word.
 */
import { RC } from '../../src/protocol/reason-codes.js';
import type { Client } from '../core/client.js';
import type { Core } from '../core/core.js';
import { ConnState } from '../core/outlet.js';

export type AuthOutcome = { ok: true; username: string | undefined } | { ok: false; rc: number; why: string };

export interface Credentials {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  protocolVersion: number;
}

/**
 * Decide now (the outcome), or later: undefined means a password check is under way and `later` will be called with
 * the outcome (unless the client has gone by then).
 */
export function authenticate(core: Core, client: Client, c: Credentials, later: (outcome: AuthOutcome) => void): AuthOutcome | undefined {
  const security = client.security;
  const settings = security.settings;
  const cert = client.certIdentity;
  if (cert !== undefined) {
    // Mosquitto: a listener that takes user names from certificates refuses a client without one (4 / 0x86).
    if (cert === null) return { ok: false, rc: RC.BadUserNameOrPassword, why: 'no client certificate to take the user name from' };
    return hook(core, client, c, cert);
  }
  const passwords = security.passwords;
  if (passwords === null) {
    // Without a way to check credentials, allow_anonymous false refuses everybody (as Mosquitto 2.0), whatever
    // user name and password they send.
    if (!settings.allowAnonymous && (c.username === undefined || core.options.authenticate === undefined)) return refused();
    return hook(core, client, c, c.username);
  }
  if (c.username === undefined) return settings.allowAnonymous ? hook(core, client, c, undefined) : refused();
  const entry = passwords.get(c.username);
  if (entry === undefined || c.password === undefined) return refused();
  const password = c.password;
  // A $6$ check answers at once, inside submit(): that answer is returned rather than passed to `later`.
  let returned = false;
  let now: AuthOutcome | undefined;
  const settle = (outcome: AuthOutcome): void => {
    if (returned) later(outcome);
    else now = outcome;
  };
  const queued = security.verifier.submit({
    entry,
    password,
    wanted: () => client.state !== ConnState.Closed,
    done: (ok) => {
      if (client.state === ConnState.Closed) return;
      if (!ok) {
        settle(refused());
        return;
      }
      // Kept for a reload to check again; the entry's text tells whether it changed.
      client.credentials = { password, hash: entry.text };
      settle(hook(core, client, c, c.username));
    },
  });
  returned = true;
  if (!queued) return { ok: false, rc: RC.ServerBusy, why: 'too many password checks waiting' };
  return now;
}

function refused(): AuthOutcome {
  return { ok: false, rc: RC.NotAuthorized, why: 'not authorised' };
}

function hook(core: Core, client: Client, c: Credentials, username: string | undefined): AuthOutcome {
  const authenticateHook = core.options.authenticate;
  if (authenticateHook === undefined) return { ok: true, username };
  const verdict = authenticateHook({
    clientId: c.clientId,
    username,
    password: c.password,
    address: client.address,
    protocolVersion: c.protocolVersion,
  });
  const rc = verdict === true ? 0 : verdict === false ? RC.NotAuthorized : verdict;
  return rc === 0 ? { ok: true, username } : { ok: false, rc, why: 'authentication refused' };
}
