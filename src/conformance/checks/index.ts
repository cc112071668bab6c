/**
 * Every conformance check, from the files of each chapter.
 */
import type { Check } from '../check.js';
import { CONNACK_SESSION_CHECKS } from './connack-session.js';
import { CONNECT_CHECKS } from './connect.js';
import { PUBLISH_CHECKS } from './publish.js';
import { SUBSCRIBE_CHECKS } from './subscribe.js';
import { WEBSOCKET_CHECKS } from './websocket.js';

export const ALL_CHECKS: readonly Check[] = [...CONNECT_CHECKS, ...CONNACK_SESSION_CHECKS, ...PUBLISH_CHECKS, ...SUBSCRIBE_CHECKS, ...WEBSOCKET_CHECKS];
