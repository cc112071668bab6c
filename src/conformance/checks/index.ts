/**
 * Every conformance check, from the files of each chapter.
 */
import type { Check } from '../check.js';
import { CONNECT_CHECKS } from './connect.js';

export const ALL_CHECKS: readonly Check[] = [...CONNECT_CHECKS];
