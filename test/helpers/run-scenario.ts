/**
 * Runs a scenario written inline against a fresh bundled broker through `runScenario`, for tests that check what a
 * run reports. The broker publishes $SYS every second, as the one `mqbench run` starts does. The broker stops when the
 * returned `stop` is called (tests call it from afterEach).
 */
import { loadScenarioText } from '../../src/scenario/index.js';
import { runScenario, type RunHooks } from '../../src/run/run.js';
import type { Aggregated } from '../../src/run/aggregate.js';
import { startTestBroker } from './brokers.js';

export async function runInline(
  yaml: string,
  stops: (() => Promise<void>)[],
  hooks: RunHooks = {},
  workers = 2,
): Promise<Aggregated> {
  const b = await startTestBroker('bundled', ['sys_interval 1']);
  stops.push(() => b.stop());
  const loaded = loadScenarioText(yaml, 'inline.yaml');
  if ('problems' in loaded) throw new Error(loaded.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n'));
  return runScenario(
    {
      scenario: loaded.scenario,
      endpoint: { transport: 'mqtt', hosts: [{ host: '127.0.0.1', port: b.port }], path: '', tls: undefined },
      target: { kind: 'bundled', url: `mqtt://127.0.0.1:${b.port}`, protocol: loaded.scenario.broker.protocolVersion === 5 ? '5' : '3.1.1' },
      workers,
      version: 'test',
    },
    hooks,
  );
}
