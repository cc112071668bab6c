/**
 * A client's connection as the packet handlers see it: what its CONNECT negotiated, the session it is bound to,
 * and the ways to answer or end it. Implemented by broker/connection.ts.
 */
import type { ConnState, Outlet } from './outlet.js';
import type { Session } from './session.js';

export interface Client extends Outlet {
  state: ConnState;
  session: Session | null;
  clientId: string;
  /** 3, 4 or 5 once CONNECT has been read. */
  protocolVersion: number;
  keepaliveMs: number;
  /** v5 Receive Maximum the client declared: outgoing QoS 1/2 in flight [MQTT-3.3.4-7]. */
  receiveMaximum: number;
  maxPacketOut: number;
  inflightLimit: number;
  problemInfo: boolean;
  aliasOutMax: number;
  /** Topic aliases the client has set towards the broker (index = alias). */
  aliasIn: (string | undefined)[] | null;
  /** Largest packet accepted from this client (total bytes). */
  readonly maxPacketIn: number;
  /** "ip:port" of the peer. */
  readonly address: string;

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
