import { Cleanup } from './cleanup.js';
import { progress } from './settings.js';

export interface RunBenchOptions {
  /** Print how long the whole bench took (a progress line). */
  readonly timed?: boolean;
}

/**
 * Runs a benchmark as a program: tears down whatever `body` registered with
 * the cleanup, on success, failure or Ctrl-C, then exits with `body`'s code,
 * or 1 with the error when something failed to run. A report, not a test:
 * a bar not met is no failure.
 */
export function runBench(
  name: string,
  body: (cleanup: Cleanup) => Promise<number>,
  options: RunBenchOptions = {},
): void {
  const main = async (): Promise<number> => {
    const cleanup = new Cleanup();
    cleanup.onSignals();
    const began = Date.now();
    try {
      const code = await body(cleanup);
      if (options.timed === true) progress(`${name} took ${((Date.now() - began) / 1000).toFixed(0)} s`);
      return code;
    } finally {
      await cleanup.run();
    }
  };
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
