/**
 * What the core may do with a client's live connection: read the limits it negotiated, write packets into its
 * output, withhold its acknowledgements, and end it. The connection layer (broker/connection.ts) implements it.
 */

export const ConnState = {
  /** Socket open, no CONNECT yet. */
  New: 0,
  Connected: 1,
  /** Closing or closed: nothing more is read from it or routed to it. */
  Closed: 2,
} as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

/** Why a connection ended; decides the log line and whether the will is published. */
export const CloseReason = {
  /** DISCONNECT received (the handler has settled the will). */
  Disconnect: 0,
  /** The peer closed the socket without DISCONNECT. */
  PeerClosed: 1,
  SocketError: 2,
  KeepaliveTimeout: 3,
  TakenOver: 4,
  ProtocolError: 5,
  Malformed: 6,
  /** Refused at CONNECT (no session was attached). */
  Refused: 7,
  BrokerShutdown: 8,
  /** The broker ended it with a DISCONNECT of its own (e.g. packet too large). */
  ServerDisconnect: 9,
  /** An exception while serving this client: the broker closes it rather than let it reach the process. */
  Fault: 10,
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

/**
 * A QoS 1/2 acknowledgement (PUBACK or PUBREC) owed to a publisher, withheld while copies of its message wait for
 * room in full sessions (see flow.ts): until one copy is queued, or all were dropped. Acknowledgements leave in the
 * order their PUBLISH packets arrived [MQTT-4.6.0-2], [MQTT-4.6.0-3], so one withheld acknowledgement holds back
 * those after it.
 */
export interface AckTicket {
  readonly owner: Outlet;
  /** PUBACK (0x40) or PUBREC (0x50); 0 until the publish handler has claimed the ticket. */
  type: number;
  packetId: number;
  rc: number;
  /** Parked copies of the message not yet queued or dropped. */
  waiting: number;
  /** The acknowledgement may go (a copy was queued, or none is left waiting). */
  released: boolean;
}

/** The topic aliases a v5 client accepts from the broker: how many, those assigned so far, their topics' length. */
export interface AliasesOut {
  readonly max: number;
  readonly topics: Map<string, number>;
  /** Characters of the topics in `topics`. */
  bytes: number;
}

export interface Outlet {
  readonly state: ConnState;
  readonly protocolVersion: number;
  /** The client id, or "<unknown>" before CONNECT: for log lines. */
  readonly logId: string;
  /** QoS 1/2 messages the broker may have in flight to this client at once. */
  readonly inflightLimit: number;
  /** Largest packet the client accepts (v5 Maximum Packet Size). */
  readonly maxPacketOut: number;
  /** v5 Request Problem Information: reason strings allowed beyond CONNACK, DISCONNECT and PUBLISH. */
  readonly problemInfo: boolean;
  /** Topic aliases the broker assigns to this client; null when it accepts none (v5 Topic Alias Maximum 0). */
  readonly aliasOut: AliasesOut | null;
  /** Acknowledgements withheld, oldest first; null when none is. */
  heldAcks: AckTicket[] | null;

  /** The slab packets are encoded into, at offsets from reserve(). */
  readonly out: Buffer | null;
  /** Reserve `n` bytes of output for one packet; returns its offset in `out`. */
  reserve(n: number): number;
  writeBytes(bytes: Buffer): void;
  /** Bytes waiting to be written to this client. */
  readonly backlog: number;
  /**
   * The packet about to be written acknowledges state the persistent store has not yet put on disk: it, and all
   * output after it, is held until that state is durable. Nothing happens without persistence.
   */
  awaitDurable(): void;

  /** v5: send DISCONNECT with `rc` (and the reason string if it fits the client's limits). */
  sendDisconnect(rc: number, reasonString?: string): void;
  /** End the connection; idempotent. */
  close(reason: CloseReason): void;
}
