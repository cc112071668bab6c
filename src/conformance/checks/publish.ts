/**
 * PUBLISH, its acknowledgements and the QoS flows, retry, receipt and ordering (3.3-3.7, 4.3-4.6).
 */
import type { Check } from '../check.js';

export const PUBLISH_CHECKS: Check[] = [];
