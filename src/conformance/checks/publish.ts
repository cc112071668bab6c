/**
 * PUBLISH, its acknowledgements and the QoS flows, retry, receipt and ordering (3.3-3.7, 4.3-4.6).
 */
import type { Check } from '../check.js';
import { PUBLISH_HEADER_CHECKS } from './publish-header.js';
import { PUBLISH_ORDER_CHECKS } from './publish-order.js';
import { PUBLISH_PROPERTY_CHECKS } from './publish-properties.js';
import { PUBLISH_QOS_CHECKS } from './publish-qos.js';
import { PUBLISH_RETAIN_CHECKS } from './publish-retain.js';
import { PUBLISH_SESSION_CHECKS } from './publish-session.js';

export const PUBLISH_CHECKS: Check[] = [
  ...PUBLISH_HEADER_CHECKS,
  ...PUBLISH_RETAIN_CHECKS,
  ...PUBLISH_PROPERTY_CHECKS,
  ...PUBLISH_QOS_CHECKS,
  ...PUBLISH_SESSION_CHECKS,
  ...PUBLISH_ORDER_CHECKS,
];
