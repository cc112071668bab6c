/**
 * Where Mosquitto 2.0 (the reference implementation) does not do what a check expects, and why: each entry is read
 * against the spec and Mosquitto's behaviour, so a failing check on Mosquitto is either explained here or is a bug in
 * the check.
 */
import { CONNACK_SESSION_DEVIATIONS } from './connack-session.js';
import { CONNECT_DEVIATIONS } from './connect.js';
import { PUBLISH_DEVIATIONS } from './publish.js';
import { SUBSCRIBE_DEVIATIONS } from './subscribe.js';

export interface KnownDeviation {
  /** The check's id. */
  check: string;
  /** What Mosquitto does instead, and why that is a deviation (or a choice the spec leaves open), in one or two sentences. */
  explanation: string;
}

/** Known deviations of Mosquitto 2.0 (seen with 2.0.11). */
export const MOSQUITTO_DEVIATIONS: readonly KnownDeviation[] = [
  ...CONNECT_DEVIATIONS,
  ...CONNACK_SESSION_DEVIATIONS,
  ...PUBLISH_DEVIATIONS,
  ...SUBSCRIBE_DEVIATIONS,
];
