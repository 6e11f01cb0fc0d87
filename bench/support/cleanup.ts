/**
 * Teardown steps run last-registered first (servers before the PostgreSQL
 * they sit on, the temp dir last), once, whether the bench finishes, fails
 * or is interrupted.
 */
export class Cleanup {
  private readonly steps: { readonly name: string; readonly run: () => Promise<void> }[] = [];
  private running: Promise<void> | undefined;

  /** True once teardown has begun: nothing new should be started. */
  get started(): boolean {
    return this.running !== undefined;
  }

  add(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run });
  }

  /** Runs every step even if some fail, so one stuck server does not leak the others. */
  run(): Promise<void> {
    this.running ??= this.runSteps();
    return this.running;
  }

  private async runSteps(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step.run();
      } catch (error) {
        process.stderr.write(`cleanup: ${step.name} failed: ${(error as Error).message}\n`);
      }
    }
  }

  /**
   * On SIGINT/SIGTERM, tears down and exits with the conventional 128+n
   * code; without this, Ctrl-C would leave PostgreSQL and pgbouncer running.
   */
  onSignals(): void {
    const handle = (signal: NodeJS.Signals, code: number): void => {
      process.stderr.write(`\n${signal}: cleaning up\n`);
      void this.run().finally(() => process.exit(code));
    };
    process.once('SIGINT', () => handle('SIGINT', 130));
    process.once('SIGTERM', () => handle('SIGTERM', 143));
  }
}
