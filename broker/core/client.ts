/**
 * A client's connection as the packet handlers see it: what its CONNECT negotiated, the session it is bound to,
 * and the ways to answer or end it. Implemented by broker/connection.ts.
 */
import type { SecurityDomain } from '../auth/security.js';
import type { AliasesOut, ConnState, Outlet } from './outlet.js';
import type { Session } from './session.js';

export interface Credentials {
  readonly password: Buffer;
  /** The password file entry's text. */
  hash: string;
}

export interface Client extends Outlet {
  state: ConnState;
  session: Session | null;
  clientId: string;
  /** 3, 4 or 5 once CONNECT has been read. */
  protocolVersion: number;
  keepaliveMs: number;
  maxPacketOut: number;
  inflightLimit: number;
  problemInfo: boolean;
  /** Set by CONNECT (v5 Topic Alias Maximum above 0). */
  aliasOut: AliasesOut | null;
  /** Topic aliases the client has set towards the broker (index = alias). */
  aliasIn: (string | undefined)[] | null;
  /** "ip:port" of the peer. */
  readonly address: string;
  /** The authentication and ACL settings of the listener it came through (the broker's, unless per listener). */
  readonly security: SecurityDomain;
  /**
   * On a TLS listener with use_identity_as_username: the common name of the client's certificate (null when it sent
   * none). Undefined elsewhere.
   */
  readonly certIdentity: string | null | undefined;
  /** The user name it connected with. */
  username: string | undefined;
  /**
   * The password it was accepted with, while a password file may check it again on reload, and the password file
   * entry it was checked against (a reload with the same entry needs no new check); null without a password check.
   */
  credentials: Credentials | null;

  /** Set once CONNECT has been read: the rules of that protocol level apply from then on. */
  setProtocolVersion(version: number): void;
  /** End the connection for an error in what the client sent (v5: DISCONNECT with `rc` first). */
  fail(rc: number, detail: string): void;
  /**
   * Read nothing more from this client until resumeInput(): a packet whose handling is spread over several turns of
   * the event loop (a SUBSCRIBE with 100,000 filters) finishes before the next one starts.
   */
  pauseInput(): void;
  resumeInput(): void;
}
