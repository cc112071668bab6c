/** Every attack of bench:abuse, in the order they run. */
import type { Attack } from '../attack.js';
import { CONNECTION_FLOOD } from './connection-flood.js';
import { DEEP_RETAINED, DEEP_WILL, DEEP_WILL_DELAYED } from './deep-topics.js';
import { FILTERS } from './filters.js';
import { KEEPALIVE_BYTES } from './keepalive-bytes.js';
import { LONG_TOPICS } from './long-topics.js';
import { QOS1_EXCHANGE } from './qos1-exchange.js';
import { SLOW_READER } from './slow-reader.js';
import { TRICKLE } from './trickle.js';

export const ATTACKS: readonly Attack[] = [
  DEEP_WILL,
  DEEP_WILL_DELAYED,
  DEEP_RETAINED,
  LONG_TOPICS,
  TRICKLE,
  KEEPALIVE_BYTES,
  FILTERS,
  QOS1_EXCHANGE,
  SLOW_READER,
  CONNECTION_FLOOD,
];
