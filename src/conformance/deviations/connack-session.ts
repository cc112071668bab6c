import type { KnownDeviation } from './index.js';

export const CONNACK_SESSION_DEVIATIONS: KnownDeviation[] = [];
