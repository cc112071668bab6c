/**
 * CONNACK, PINGREQ, DISCONNECT, AUTH, session state, network connections, flow control, enhanced authentication,
 * error handling, WebSocket and conformance (3.2, 3.12, 3.14, 3.15, 4.1, 4.2, 4.9, 4.12, 4.13, 6, 7).
 */
import type { Check } from '../check.js';

export const CONNACK_SESSION_CHECKS: Check[] = [];
