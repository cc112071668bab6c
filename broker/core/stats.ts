/** The broker's counters: what `$SYS/broker/...` publishes and `stats()` returns. */
export class BrokerStats {
  /** Every packet received / sent (Mosquitto's $SYS/broker/messages/...). */
  msgsReceived = 0;
  msgsSent = 0;
  bytesReceived = 0;
  bytesSent = 0;
  pubReceived = 0;
  pubSent = 0;
  pubBytesReceived = 0;
  pubBytesSent = 0;
  /** PUBLISH not delivered to a client for lack of room (queue full, QoS 0 backlog, over message_size_limit). */
  pubDropped = 0;
  /** Queued messages whose v5 expiry passed before they could be sent. */
  pubExpired = 0;
  /** Sockets accepted / clients that completed CONNECT, since start (Mosquitto's load/sockets and load/connections). */
  socketsAccepted = 0;
  connectsAccepted = 0;
  clientsConnected = 0;
  clientsMaximum = 0;
  clientsExpired = 0;
  /** Exceptions while serving a client: each closed that client and was logged. */
  faults = 0;
}
