/**
 * mqbench command line: the only place that reads argv and sets the exit code.
 */
import { brokerVersion } from '../../broker/index.js';
import { brokerCommand } from './commands/broker.js';
import { compareCommand } from './commands/compare.js';
import { conformanceCommand } from './commands/conformance.js';
import { k8sCommand } from './commands/k8s.js';
import { mergeCommand } from './commands/merge.js';
import { passwdCommand } from './commands/passwd.js';
import { runCommand } from './commands/run.js';
import { suggest } from '../util/suggest.js';
import { CliError, EXIT } from './exit-codes.js';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  run: { run: runCommand, summary: 'run a scenario (YAML) against the bundled broker or any broker' },
  merge: { run: mergeCommand, summary: 'merge the shards of a run split over several machines (run --shard I/N)' },
  compare: { run: compareCommand, summary: 'run scenarios against several brokers side by side (bundled, mosquitto, aedes, URLs)' },
  conformance: { run: conformanceCommand, summary: 'check a broker against the MQTT 3.1.1 and 5.0 specs' },
  broker: { run: brokerCommand, summary: 'run the bundled MQTT broker' },
  k8s: { run: k8sCommand, summary: 'print Kubernetes manifests that run a scenario split over N pods, then merge it' },
  passwd: { run: passwdCommand, summary: 'create and change password files (as mosquitto_passwd)' },
};

function mainUsage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `Usage: mqbench <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "mqbench <command> --help" for a command's options; "mqbench --version" for the version.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(mainUsage() + '\n');
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`mqbench ${brokerVersion()}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    const hint = suggest(name, Object.keys(COMMANDS));
    throw new CliError(`unknown command "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}\n\n${mainUsage()}`);
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`mqbench: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof Error && 'code' in err && String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`mqbench: ${err.message}\n`);
      process.exitCode = EXIT.usage;
    } else {
      process.stderr.write(`mqbench: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = EXIT.failed;
    }
  },
);
