import type { KnownDeviation } from './index.js';

export const CONNECT_DEVIATIONS: KnownDeviation[] = [];
