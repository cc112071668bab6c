import type { KnownDeviation } from './index.js';

export const SUBSCRIBE_DEVIATIONS: KnownDeviation[] = [];
