/** The benchmark's rows: the traffic shapes each broker is measured under. */
import type { Qos } from './mqtt-wire.js';

export type RowName = 'qos0-fan-in' | 'qos1-fan-in' | 'qos2-one-to-one' | 'fan-out';

export interface BenchRow {
  name: RowName;
  title: string;
  publishers: number;
  subscribers: number;
  /** QoS of every PUBLISH and of every subscription. */
  qos: Qos;
}

export const ROWS: readonly BenchRow[] = [
  { name: 'qos0-fan-in', title: 'QoS 0 fan-in 4→1', publishers: 4, subscribers: 1, qos: 0 },
  { name: 'qos1-fan-in', title: 'QoS 1 fan-in 4→1', publishers: 4, subscribers: 1, qos: 1 },
  { name: 'qos2-one-to-one', title: 'QoS 2 one-to-one 1→1', publishers: 1, subscribers: 1, qos: 2 },
  { name: 'fan-out', title: 'QoS 0 fan-out 1→100', publishers: 1, subscribers: 100, qos: 0 },
];

