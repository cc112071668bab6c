/**
 * `npm run fuzz`: a seeded fuzz run against the bundled broker or Mosquitto (see bench/fuzz/args.ts for the
 * options); prints progress, then the report, and exits non-zero when the broker failed.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { findMosquitto } from '../src/launch/mosquitto.js';
import { UsageError } from './options.js';
import { FUZZ_USAGE, parseFuzzArgs, type FuzzArgs } from './fuzz/args.js';
import { renderFuzzReport } from './fuzz/render.js';
import { runFuzz } from './fuzz/run.js';
import { BrokerStartError } from './harness/broker.js';
import { endChildrenOnSignals } from './harness/children.js';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_NO_MOSQUITTO = 3;
const EXIT_BROKER_START = 4;

async function main(argv: readonly string[]): Promise<number> {
  let args: FuzzArgs;
  try {
    args = parseFuzzArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${FUZZ_USAGE}`);
    return EXIT_USAGE;
  }
  if (args.help) {
    process.stdout.write(FUZZ_USAGE);
    return 0;
  }
  if (args.broker === 'mosquitto' && !findMosquitto()) {
    process.stderr.write('mosquitto was not found (PATH, /usr/sbin, MQBENCH_MOSQUITTO); install it or use --broker bundled.\n');
    return EXIT_NO_MOSQUITTO;
  }
  endChildrenOnSignals();
  const seed = args.seed ?? `fuzz-${randomBytes(6).toString('hex')}`;
  process.stderr.write(
    `Fuzzing the ${args.broker} broker: ${args.packets.toLocaleString('en-US')} packets, ${args.connections} connections ` +
      `at once, seed "${seed}"\n`,
  );
  let report;
  try {
    report = await runFuzz({
      broker: args.broker,
      seed,
      packets: args.packets,
      connections: args.connections,
      limitSeconds: args.limitSeconds,
      kinds: args.kinds,
      conf: args.conf,
      probeLimitMs: args.probeLimitMs,
      onProgress: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (err) {
    if (!(err instanceof BrokerStartError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT_BROKER_START;
  }
  process.stdout.write(`\n${renderFuzzReport(report)}`);
  if (args.jsonFile) {
    mkdirSync(dirname(args.jsonFile), { recursive: true });
    writeFileSync(args.jsonFile, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`Wrote ${args.jsonFile}\n`);
  }
  return report.failures.length > 0 ? EXIT_FAILED : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`fuzz failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
