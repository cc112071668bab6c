import type { KnownDeviation } from './index.js';

export const SUBSCRIBE_DEVIATIONS: KnownDeviation[] = [
  {
    check: '5.0/3.8/no-local-on-shared',
    explanation:
      'Mosquitto 2.0.11 grants a shared subscription with No Local set (SUBACK 0x00) and keeps the connection open; ' +
      '5.0 §3.8.3.1 makes No Local on a shared subscription a Protocol Error, which §4.13.1 answers by closing the connection.',
  },
  {
    check: '5.0/4.8/share-name-required',
    explanation:
      'Mosquitto 2.0.11 grants $share//t (routing t to a group with an empty name), $share/ and $share// with SUBACK 0x00; ' +
      '§4.8.2 requires a share name of at least one character, so these filters are malformed and must be refused.',
  },
  {
    check: '5.0/4.8/share-name-form',
    explanation:
      'Mosquitto 2.0.11 grants $share/+/t (a group named "+"), $share/g (no "/" and topic filter after the share name) ' +
      'and $share/g/ (an empty topic filter) with SUBACK 0x00; §4.8.2 forbids "+" in a share name and requires "/" and ' +
      'a topic filter after it. It does refuse share names containing "+" or "#" next to other characters ($share/g+/t).',
  },
];
