/**
 * SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, topic names and filters, shared subscriptions (3.8-3.11, 4.7, 4.8).
 */
import type { Check } from '../check.js';

export const SUBSCRIBE_CHECKS: Check[] = [];
