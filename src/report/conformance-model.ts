/**
 * What every conformance renderer takes: the runner's result for each broker tested, with the versions checked and
 * the known deviations of each broker.
 */
import type { BrokerRun } from '../conformance/runner.js';
import type { MqttVersion } from '../conformance/statements.js';

export interface ConformanceRun extends BrokerRun {
  /** Explanations of known deviations for this broker, by check id (e.g. Mosquitto's). */
  deviations?: Record<string, string>;
}

export interface ConformanceReport {
  tool: { name: 'mqbench'; version: string };
  /** ISO time. */
  generatedAt: string;
  versions: MqttVersion[];
  runs: ConformanceRun[];
}
