/**
 * Command-line parsing for every command: node:util's parseArgs, with its errors turned into one clear line — an
 * unknown option gets "did you mean", a missing value names the option — and exit code 2.
 */
import { parseArgs } from 'node:util';
import { suggest } from '../util/suggest.js';
import { CliError, EXIT } from './exit-codes.js';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** parseArgs, strict, with positionals allowed or not; errors become CliError (exit 2). */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, allowPositionals: boolean, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new CliError(`${describeArgsError(err, options ?? {})}\n\n${usage}`, EXIT.usage);
  }
}

function describeArgsError(err: unknown, options: NonNullable<Options>): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const names = Object.keys(options).map((n) => `--${n}`);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const m = /^Unknown option '([^']+)'/.exec(message);
    const given = m ? m[1] : message;
    const hint = suggest(given, names);
    return `unknown option ${given}${hint ? ` (did you mean ${hint}?)` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const m = /^Option '(--?[\w-]+)/.exec(message);
    return m ? `${m[1]} needs a value` : message;
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const m = /^Unexpected argument '([^']+)'/.exec(message);
    return m ? `unexpected argument ${m[1]}` : message;
  }
  return message;
}
