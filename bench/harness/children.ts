/**
 * Processes a benchmark started (brokers, load generators), ended however the benchmark ends: a normal exit, an
 * uncaught error, or SIGINT/SIGTERM, so that no broker outlives the run that measured it.
 */

const killers = new Map<number, () => void>();
let exitHookInstalled = false;

/** Remember `pid` until `forget(pid)`; `kill` must end it synchronously (it runs inside the 'exit' event). */
export function remember(pid: number, kill: () => void = () => killQuietly(pid)): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAll);
  }
  killers.set(pid, kill);
}

export function forget(pid: number): void {
  killers.delete(pid);
}

/**
 * For command-line entries: SIGINT and SIGTERM end every remembered process, then this one, with the shell's exit
 * code for the signal (130, 143). Not for library use: a test runner owns its own signals.
 */
export function endChildrenOnSignals(): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping the brokers and load processes this run started\n`);
      killAll();
      process.exit(code);
    });
  }
}

function killAll(): void {
  for (const kill of killers.values()) kill();
  killers.clear();
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
