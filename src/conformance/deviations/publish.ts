import type { KnownDeviation } from './index.js';

export const PUBLISH_DEVIATIONS: KnownDeviation[] = [];
