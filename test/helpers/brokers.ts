/**
 * Brokers under test: the bundled broker (always) and Mosquitto (when its binary is present).
 *
 * Both are configured with mosquitto.conf lines, so one test states its set-up once for both.
 * MQBENCH_REQUIRE_MOSQUITTO=1 (set by CI) turns "skip when missing" into "fail when missing".
 * MQBENCH_TEST_BROKERS=bundled|mosquitto|bundled,mosquitto narrows the set.
 */
import { findMosquitto, startMosquitto } from '../../src/launch/mosquitto.js';
import { parseConfig } from '../../broker/config.js';
import { startBroker } from '../../broker/index.js';

export type BrokerKind = 'bundled' | 'mosquitto';

export interface TestBroker {
  kind: BrokerKind;
  host: string;
  port: number;
  /** Log lines the broker printed (verbose brokers log everything). */
  logs(): string;
  stop(): Promise<void>;
}

export interface TestBrokerOptions {
  /** Log every line (`log_type all`, like `-v`). */
  verbose?: boolean;
}

const requireMosquitto = process.env.MQBENCH_REQUIRE_MOSQUITTO === '1';

/** The broker kinds the current environment tests against. */
export function testBrokerKinds(): BrokerKind[] {
  const wanted = (process.env.MQBENCH_TEST_BROKERS ?? 'bundled,mosquitto').split(',').map((s) => s.trim());
  const kinds: BrokerKind[] = [];
  if (wanted.includes('bundled')) kinds.push('bundled');
  if (wanted.includes('mosquitto')) {
    if (findMosquitto()) kinds.push('mosquitto');
    else if (requireMosquitto) {
      throw new Error('MQBENCH_REQUIRE_MOSQUITTO=1 but no mosquitto binary was found (apt-get install -y mosquitto)');
    }
  }
  return kinds;
}

export async function startTestBroker(
  kind: BrokerKind,
  confLines: string[] = [],
  opts: TestBrokerOptions = {},
): Promise<TestBroker> {
  if (kind === 'mosquitto') {
    const m = await startMosquitto({ config: confLines, verbose: opts.verbose });
    return { kind, host: m.host, port: m.port, logs: m.output, stop: m.stop };
  }
  const parsed = parseConfig(confLines.join('\n'), 'test.conf');
  if (parsed.problems.length > 0) {
    throw new Error(parsed.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n'));
  }
  const lines: string[] = [];
  const broker = await startBroker({
    ...parsed.options,
    // Tests always listen on a free loopback port; allow_anonymous defaults as in the generated Mosquitto config.
    listeners: [{ host: '127.0.0.1', port: 0 }],
    allowAnonymous: parsed.options.allowAnonymous ?? true,
    logTypes: opts.verbose ? undefined : parsed.options.logTypes ?? new Set(['error']),
    verbose: opts.verbose,
    logSink: (line) => {
      lines.push(line);
    },
  });
  return {
    kind,
    host: broker.host,
    port: broker.port,
    logs: () => lines.join('\n'),
    stop: () => broker.close(),
  };
}
