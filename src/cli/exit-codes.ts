/** Process exit codes, one meaning each, so CI can tell a failed check from a broken set-up. */
export const EXIT = {
  ok: 0,
  /** The run or check completed and something failed (a threshold, a conformance check). */
  failed: 1,
  /** Bad input: unknown option, invalid scenario or config. Nothing was started. */
  usage: 2,
  /** A broker could not be reached or started. */
  unavailable: 3,
  /** Stopped by Ctrl-C (SIGINT) before the end. */
  interrupted: 130,
  /** Stopped by SIGTERM before the end. */
  terminated: 143,
} as const;

/** An error the CLI reports as a message (no stack) with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
  }
}
