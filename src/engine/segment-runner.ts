import type pg from 'pg';
import type { EngineIsolation } from '../catalog/index.js';
import type { Logger } from '../log/logger.js';
import { endedSegment, type FinishedSegment, withUnreported } from './finished-segment.js';
import { type BuiltInContext, BUILT_IN_LANGUAGE, runBuiltIn } from './run-built-in.js';
import { runWithExecutor, type SegmentRun } from './run-with-executor.js';
import type { SandboxUsers } from './sandbox/sandbox-users.js';
import { loadsThroughLogin, type SegmentCommitter } from './segment-committer.js';
import { SegmentDirectory } from './segment-directory.js';
import type { SegmentLogins } from './segment-logins/segment-logins.js';
import { SegmentReporter } from './segment-reporter.js';
import { sqlStateOf } from './sql-state.js';
import type { Executor, SegmentOutcome } from './segment-task.js';
import type { ClaimedSegment } from './sql/claim-segments.js';
import { forgetSegmentPid } from './sql/record-segment-pid.js';

export interface SegmentRunnerOptions {
  readonly pool: pg.Pool;
  readonly workerId: string;
  readonly logger: Logger;
  /** By procedure language; built-in types (TYPE 'name') are run apart. */
  readonly executors: ReadonlyMap<string, Executor>;
  readonly builtIns: BuiltInContext;
  readonly committer: SegmentCommitter;
  /** Where segments' directories are made (EngineDirectory.segments). */
  readonly segmentsDirectory: string;
  /** Where the directory of a segment that failed or was killed is moved; without it, removed. */
  readonly keptDirectory: string | undefined;
  /** The uids programs run as; undefined: procgate cannot switch users. */
  readonly sandbox: SandboxUsers | undefined;
  /** How this engine runs users' code (see isolationOf). */
  readonly isolation: EngineIsolation;
  /** The programs' logins into the database, as the run's caller. */
  readonly logins: SegmentLogins;
}

/**
 * Runs one claimed segment from start to recorded end: a directory of its
 * own, the executor of its language (or its built-in type's module) with
 * a login into the database as the run's caller, live reports while it
 * runs, and its end committed. By the time a run has ended, no credential
 * of its programs works: the login goes before the end is recorded, or,
 * when the output goes in through it, it gets a password only the engine
 * knows and its other sessions end first (see OutputSession), and it goes
 * right after. A segment that cannot be run fails with the reason.
 */
export class SegmentRunner {
  constructor(private readonly options: SegmentRunnerOptions) {}

  async run(row: ClaimedSegment, signal: AbortSignal): Promise<void> {
    const log = this.options.logger.child({ run_id: row.run_id, segment: row.segment, attempt: row.attempt });
    log.info('segment started');
    const directory = await SegmentDirectory.make(this.options.segmentsDirectory);
    let state: SegmentOutcome['state'] | undefined;
    const reporter = new SegmentReporter(this.options.pool, this.options.workerId, row, log);
    const database = this.options.logins.forSegment(row, log);
    // A command's program always logs in: its login is made while the rest is got ready.
    if (row.language === 'command') database.login().catch(() => undefined);
    try {
      const finished = await this.execute({ row, directory: directory.path, signal, reporter, log, database })
        .catch(
          (error: unknown): FinishedSegment =>
            endedSegment('failed', `could not run the segment: ${(error as Error).message}`, sqlStateOf(error)),
        )
        .finally(() => forgetSegmentPid(this.options.pool, row));
      // Output to load goes in through the login, which takes the program's credential away first.
      const throughLogin = loadsThroughLogin(row, finished);
      if (!throughLogin) await database.close();
      const completed = await reporter
        .close()
        .then((unreported) => {
          const ended = withUnreported(finished, unreported);
          return this.options.committer.complete(row, ended, log, throughLogin ? database : undefined, signal);
        })
        .finally(() => (throughLogin ? database.close() : undefined));
      state = completed === false ? undefined : completed.state;
      if (completed !== false) log.info({ state: completed.state, exit_code: completed.exitCode }, 'segment finished');
      else log.warn({ state: finished.outcome.state }, 'segment finished after losing its lease: its end was not recorded');
    } finally {
      await directory.release(state === 'succeeded' ? undefined : this.options.keptDirectory, log);
    }
  }

  private execute(run: SegmentRun): Promise<FinishedSegment> {
    const { row } = run;
    if (row.language === BUILT_IN_LANGUAGE) return runBuiltIn(row, this.options.builtIns, run.signal, run.reporter);
    const executor = this.options.executors.get(row.language);
    if (executor === undefined) return Promise.reject(new Error(`no executor for language "${row.language}"`));
    const { pool, workerId, sandbox, isolation } = this.options;
    return runWithExecutor(executor, run, pool, workerId, { sandbox, isolation });
  }
}
