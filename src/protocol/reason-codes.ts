/**
 * MQTT 5.0 reason codes (§2.4) and MQTT 3.1.1 CONNACK return codes (§3.2.2.3), with their names.
 * Leaf module.
 */

export const RC = {
  Success: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWill: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;

export type ReasonCode = (typeof RC)[keyof typeof RC];

/** MQTT 3.1 / 3.1.1 CONNACK return codes. */
export const CONNACK_V3 = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const;

/** SUBACK return code for a refused subscription in 3.1.1. */
export const SUBACK_FAILURE_V3 = 0x80;

const NAMES = new Map<number, string>();
for (const [name, code] of Object.entries(RC)) {
  if (!NAMES.has(code)) NAMES.set(code, name.replace(/([a-z0-9])([A-Z])/g, '$1 $2'));
}

/** "0x87 Not Authorized" style label for a v5 reason code. */
export function reasonName(code: number): string {
  const name = NAMES.get(code) ?? 'Unknown';
  return `0x${code.toString(16).padStart(2, '0')} ${name}`;
}

const V3_CONNACK_NAMES = [
  'Connection Accepted',
  'Unacceptable Protocol Version',
  'Identifier Rejected',
  'Server Unavailable',
  'Bad User Name or Password',
  'Not Authorized',
];

export function connackName(code: number, protocolVersion: number): string {
  if (protocolVersion === 5) return reasonName(code);
  return `${code} ${V3_CONNACK_NAMES[code] ?? 'Unknown'}`;
}

/**
 * The 3.1.1 CONNACK return code closest to a v5 reason code, for refusing a 3.1/3.1.1 client with the same cause.
 */
export function connackCodeForVersion(rc: number, protocolVersion: number): number {
  if (protocolVersion === 5) return rc;
  switch (rc) {
    case RC.Success:
      return CONNACK_V3.Accepted;
    case RC.UnsupportedProtocolVersion:
      return CONNACK_V3.UnacceptableProtocolVersion;
    case RC.ClientIdentifierNotValid:
      return CONNACK_V3.IdentifierRejected;
    case RC.BadUserNameOrPassword:
      return CONNACK_V3.BadUserNameOrPassword;
    case RC.NotAuthorized:
    case RC.Banned:
    case RC.BadAuthenticationMethod:
      return CONNACK_V3.NotAuthorized;
    default:
      return CONNACK_V3.ServerUnavailable;
  }
}
