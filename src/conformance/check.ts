/**
 * What a conformance check is, and what it gets to work with.
 *
 * A check drives one or more wire clients against the broker and throws when the broker does not do what the
 * statements it names require. The runner gives each check its own topic prefix and client ids (so a shared broker
 * can be tested and checks can run side by side), closes its connections, and undoes what it registered (retained
 * messages, persistent sessions).
 */
import type { ConnectOptions, Endpoint, ProtocolVersion, RawClient } from './client.js';
import type { MqttVersion } from './statements.js';

export interface Check {
  /** Unique and stable: `<version>/<chapter>/<short-name>`, e.g. "5.0/3.1/second-connect". */
  id: string;
  version: MqttVersion;
  /** Normative statement ids (of `version`) this check holds the broker to. */
  statements: string[];
  /** What the broker must do, in our words, one line. */
  title: string;
  run(ctx: CheckContext): Promise<void>;
}

/** What the broker declared about optional features (MQTT 5 CONNACK, or what 3.1.1 SUBACKs granted). */
export interface Capabilities {
  /** Highest QoS the broker accepts/grants (v5 Maximum QoS; 3.1.1: granted for a QoS 2 subscription). */
  maximumQoS: 0 | 1 | 2;
  retainAvailable: boolean;
  wildcardSubscriptions: boolean;
  subscriptionIdentifiers: boolean;
  sharedSubscriptions: boolean;
  /** v5 Topic Alias Maximum the broker accepts from clients (0: none). */
  topicAliasMaximum: number;
  /** v5 Receive Maximum the broker declared (65535 when absent). */
  receiveMaximum: number;
  /** v5 Maximum Packet Size the broker declared (undefined: no limit). */
  maximumPacketSize: number | undefined;
  /** The declarations as received, quoted when a check is skipped. */
  declared: string[];
}

export interface CheckContext {
  readonly version: MqttVersion;
  /** The protocol level of `version`: 4 for 3.1.1, 5 for 5.0. */
  readonly level: 4 | 5;
  readonly capabilities: Capabilities;
  /** How long to wait for a reply the broker owes. */
  readonly timeoutMs: number;
  /** Where the broker is (plain TCP address, or transport, hosts, path and TLS). */
  readonly endpoint: Endpoint;
  /** A topic under this check's own prefix. */
  topic(name?: string): string;
  /** A client id unique to this check and run, at most 23 characters (the length every broker must accept). */
  clientId(name?: string): string;
  /** A new connection (nothing sent yet) at `level` (default: the check's). Closed when the check ends. */
  open(level?: ProtocolVersion): Promise<RawClient>;
  /** A connection that has sent CONNECT and been accepted (CONNACK success), or the check errors. */
  connect(opts?: ConnectOptions, level?: ProtocolVersion): Promise<RawClient>;
  /** Clear this retained topic when the check ends. */
  clearRetained(topic: string): void;
  /** End this client id's session when the check ends (it was connected with a persistent session). */
  endSession(clientId: string, level?: ProtocolVersion): void;
  /** Skip: the broker declared it does not offer what the check needs. `declaration` is quoted in reports. */
  skip(reason: string, declaration: string): never;
  /** Skip unless the broker offers `feature` (e.g. 'retain'), quoting its declaration. */
  require(feature: keyof Omit<Capabilities, 'declared' | 'topicAliasMaximum' | 'receiveMaximum' | 'maximumPacketSize'> | 'qos1' | 'qos2'): void;
}

/** Thrown by ctx.skip(). */
export class CheckSkipped extends Error {
  constructor(
    message: string,
    readonly declaration: string,
  ) {
    super(message);
  }
}

/** A check's expectation did not hold. */
export class CheckFailed extends Error {}

/** Fail the check unless `condition` holds. */
export function expectThat(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

/** Fail the check unless `actual` equals `expected` (deep, by JSON), naming `what`. */
export function expectEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new CheckFailed(`${what}: expected ${e}, got ${a}`);
}

/** Fail the check unless `actual` is one of `allowed`. */
export function expectOneOf<T>(actual: T, allowed: readonly T[], what: string): void {
  if (!allowed.includes(actual)) throw new CheckFailed(`${what}: expected one of ${JSON.stringify(allowed)}, got ${JSON.stringify(actual)}`);
}
