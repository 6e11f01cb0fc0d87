import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../log/logger.js';
import { ReconnectingListener } from '../postgres/reconnecting-listener.js';
import { CommandExecutor } from './executors/command-executor.js';
import { JavascriptExecutor } from './executors/javascript-executor.js';
import { planDataRuns } from './run-planner.js';
import { SegmentReporter } from './segment-reporter.js';
import {
  type DataFormat,
  type Executor,
  plainParams,
  type SegmentOutcome,
  StopReason,
  type TableFile,
} from './segment-task.js';
import { loadOutputFiles, outputFiles, shareOf, writeInputFiles } from './table-files.js';
import { TYPES } from './types/index.js';
import { checkParameters, withDefaults } from './types/procedure-type.js';
import { sqlStateOf } from './sql-state.js';
import { type ClaimedSegment, claimSegments } from './sql/claim-segments.js';
import { completeSegment } from './sql/complete-segment.js';
import { loadProcedureSetup } from './sql/load-procedure-setup.js';
import { queueStartupRuns } from './sql/queue-startup-runs.js';
import { recordSegmentPid } from './sql/record-segment-pid.js';
import { renewLeases } from './sql/renew-leases.js';
import { serverVersion } from './sql/server-version.js';
import { dropStagedTables, sweepSegments } from './sql/sweep-segments.js';

export interface EngineOptions {
  /** Segments this engine runs at once. */
  readonly slots: number;
  readonly logger: Logger;
  /** How this engine signs its claims; default host:pid:random. */
  readonly workerId?: string;
  /** A claimed segment is this engine's for this long without a heartbeat. */
  readonly leaseMs?: number;
  readonly heartbeatMs?: number;
  /** The safety poll for queued work, should a notification be missed. */
  readonly pollMs?: number;
  readonly sweepMs?: number;
  /** Between SIGTERM and SIGKILL (javascript: aborting the signal and terminating the thread) when a segment is stopped. */
  readonly killGraceMs?: number;
  /** Keep the directory of a segment that failed or was killed, for a look at what it left. */
  readonly keepFailedWorkdirs?: boolean;
  /** The directory TYPE 'import.csv' and 'export.csv' read and write; without it they fail. */
  readonly filesDir?: string | undefined;
}

/** A segment this engine is running. */
interface RunningSegment {
  readonly runId: string;
  readonly segment: number;
  readonly attempt: number;
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

/** What a segment's run left to record: its outcome, and the files its outputs are in. */
interface Finished {
  readonly outcome: SegmentOutcome;
  readonly outputs: readonly TableFile[];
  readonly format: DataFormat;
  readonly rowsIn: number | null;
  /** A built-in type writes its output rows itself, in the completion's transaction. */
  readonly load?: (client: pg.PoolClient) => Promise<number>;
}

/** Tries to record a segment's end, a heartbeat apart: about as long as a lease lasts. */
const COMPLETE_ATTEMPTS = 4;

/** The language of procedures of a built-in type (TYPE 'name'), run by TYPES' modules. */
const TYPE_LANGUAGE = 'type';

/** The channel EXECUTE and KILL notify, with the run id as payload. */
const RUNS_CHANNEL = 'procgate_runs';

/**
 * Runs queued segments. PostgreSQL is the coordinator: the engine claims
 * segments with a lease (any number of engines may share a database),
 * renews the lease while they run, commits each segment's end fenced by
 * its (worker, attempt), and sweeps segments whose worker was lost. A
 * LISTEN on `procgate_runs` wakes it the moment a run is submitted or
 * killed; a slow poll covers a missed notification.
 *
 * @example
 * const engine = new Engine({ slots: 4, logger });
 * await engine.start('postgres://procgate@localhost/procgate');
 * // ...
 * await engine.stop();
 */
export class Engine {
  readonly workerId: string;
  private readonly slots: number;
  private readonly logger: Logger;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly sweepMs: number;
  private readonly keepFailedWorkdirs: boolean;
  private readonly filesDir: string | undefined;
  private readonly executors: ReadonlyMap<string, Executor>;
  private readonly javascript: JavascriptExecutor;
  private readonly running = new Map<string, RunningSegment>();
  private pool: pg.Pool | undefined;
  private listener: ReconnectingListener | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private claiming: Promise<void> | undefined;
  private claimAgain = false;
  private checking: Promise<void> | undefined;
  private sweeping: Promise<void> | undefined;
  /** COPY's HEADER MATCH (PostgreSQL 15) checks the header of a csv output. */
  private headerMatch = false;

  constructor(options: EngineOptions) {
    if (!Number.isInteger(options.slots) || options.slots < 1) throw new RangeError('slots must be a positive integer');
    this.slots = options.slots;
    this.logger = options.logger.child({ component: 'engine' });
    this.workerId = options.workerId ?? `${hostname()}:${String(process.pid)}:${randomBytes(3).toString('hex')}`;
    this.leaseMs = options.leaseMs ?? 10_000;
    this.heartbeatMs = options.heartbeatMs ?? 2_000;
    this.pollMs = options.pollMs ?? 2_000;
    this.sweepMs = options.sweepMs ?? 2_000;
    this.keepFailedWorkdirs = options.keepFailedWorkdirs ?? false;
    this.filesDir = options.filesDir;
    const command = new CommandExecutor({ logger: this.logger, killGraceMs: options.killGraceMs });
    const javascript = new JavascriptExecutor({
      logger: this.logger,
      killGraceMs: options.killGraceMs,
      poolSize: this.slots,
    });
    this.javascript = javascript;
    this.executors = new Map<string, Executor>([
      [command.language, command],
      [javascript.language, javascript],
    ]);
  }

  /** Connects, listens for runs and starts claiming. */
  async start(connection: string | pg.ClientConfig): Promise<void> {
    const config: pg.ClientConfig =
      typeof connection === 'string' ? { connectionString: connection } : { ...connection };
    // Each running segment may hold a connection while its data moves, besides claims, heartbeats and sweeps.
    const pool = new pg.Pool({
      ...config,
      application_name: 'procgate engine',
      max: this.slots + 4,
      // A machine that vanishes mid-transaction must not hold its locks (a run row, the
      // planner's) for ever: TCP keepalives notice a dead peer, and PostgreSQL ends a
      // transaction this engine left idle far longer than any lease.
      keepAlive: true,
      options: `-c idle_in_transaction_session_timeout=${String(Math.max(60_000, this.leaseMs * 6))}`,
    });
    pool.on('error', (error) => this.logger.warn({ err: error }, 'engine connection lost'));
    let listener: ReconnectingListener;
    try {
      // A lost connection is opened again; a round of claims, heartbeat and sweep then
      // makes up for notifications missed meanwhile, and the safety poll covers the gap.
      listener = await ReconnectingListener.open({
        config: { ...config, application_name: 'procgate engine listener', keepAlive: true },
        channel: RUNS_CHANNEL,
        logger: this.logger,
        onNotification: (payload) => this.onNotification(payload),
        onReconnect: () => this.onNotification(),
      });
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    this.pool = pool;
    this.listener = listener;
    this.headerMatch = (await serverVersion(pool)) >= 150_000;
    this.timers = [
      setInterval(() => this.wake(), this.pollMs),
      setInterval(() => void this.heartbeat(), this.heartbeatMs),
      setInterval(() => void this.sweep(), this.sweepMs),
    ];
    this.logger.info({ worker: this.workerId, slots: this.slots }, 'engine started');
    // Runs registered with execute_at_startup: each engine start queues one of each.
    try {
      const startup = await queueStartupRuns(pool, this.workerId);
      this.logger.info({ worker: this.workerId, runs: startup.length }, 'startup runs queued');
    } catch (error) {
      this.logger.error({ err: error }, 'could not queue startup runs');
    }
    void this.sweep();
    this.wake();
  }

  /**
   * Stops claiming, stops the running segments (they fail with "engine
   * stopped", so no run is left running) and closes the connections.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.claiming;
    for (const segment of this.running.values()) segment.abort.abort(StopReason.engineStopped);
    await Promise.allSettled([...this.running.values()].map((segment) => segment.done));
    await Promise.allSettled([this.checking, this.sweeping]);
    await Promise.allSettled([this.listener?.close(), this.pool?.end(), this.javascript.close()]);
    this.logger.info({ worker: this.workerId }, 'engine stopped');
  }

  /**
   * A run was submitted (or planned, or retried): look for work. A run was
   * killed (`kill:` payload, or none after a reconnect): first stop what
   * runs of it here and sweep, then look for work.
   */
  private onNotification(payload?: string): void {
    if (payload === undefined || payload.startsWith('kill:')) {
      if (this.running.size > 0) void this.heartbeat();
      void this.sweep();
    }
    this.wake();
  }

  /** Claims work for free slots; calls arriving meanwhile cause one more round. */
  private wake(): void {
    if (this.stopping) return;
    if (this.claiming !== undefined) {
      this.claimAgain = true;
      return;
    }
    this.claiming = this.claimRounds().finally(() => {
      this.claiming = undefined;
    });
  }

  private async claimRounds(): Promise<void> {
    do {
      this.claimAgain = false;
      try {
        await this.claimOnce();
      } catch (error) {
        this.logger.error({ err: error }, 'could not claim segments');
        return;
      }
    } while (this.claimAgain && !this.stopping);
  }

  private async claimOnce(): Promise<void> {
    const free = this.slots - this.running.size;
    if (free <= 0 || this.pool === undefined) return;
    await planDataRuns(this.pool, this.slots, free, this.logger);
    const rows = await claimSegments(this.pool, this.workerId, free, this.leaseMs, [
      ...this.executors.keys(),
      TYPE_LANGUAGE,
    ]);
    for (const row of rows) this.begin(row);
    // A full batch may mean more is waiting.
    if (rows.length === free) this.claimAgain = true;
  }

  private begin(row: ClaimedSegment): void {
    const abort = new AbortController();
    const key = segmentKey(row.run_id, row.segment);
    const done = this.runSegment(row, abort.signal)
      .catch((error: unknown) => {
        this.logger.error({ err: error, run_id: row.run_id, segment: row.segment }, 'segment could not be finished');
      })
      .finally(() => {
        this.running.delete(key);
        this.wake();
      });
    this.running.set(key, { runId: row.run_id, segment: row.segment, attempt: row.attempt, abort, done });
  }

  private async runSegment(row: ClaimedSegment, signal: AbortSignal): Promise<void> {
    const log = this.logger.child({ run_id: row.run_id, segment: row.segment, attempt: row.attempt });
    log.info('segment started');
    const directory = await mkdtemp(path.join(tmpdir(), 'procgate-segment-'));
    let state: SegmentOutcome['state'] | undefined;
    const reporter = new SegmentReporter(this.requirePool(), this.workerId, row, log);
    try {
      const finished = await this.execute(row, directory, signal, reporter, log).catch(
        (error: unknown): Finished => ({
          outcome: {
            state: 'failed',
            exitCode: null,
            message: `could not run the segment: ${(error as Error).message}`,
            results: null,
            output: [],
          },
          outputs: [],
          format: 'csv',
          rowsIn: null,
        }),
      );
      await reporter.close();
      const completed = await this.complete(row, finished, log);
      state = completed === false ? undefined : completed.state;
      if (completed !== false) log.info({ state: completed.state, exit_code: completed.exitCode }, 'segment finished');
      else log.warn({ state: finished.outcome.state }, 'segment finished after losing its lease: its end was not recorded');
    } finally {
      if (this.keepFailedWorkdirs && state !== 'succeeded') {
        log.info({ dir: directory }, 'kept the directory of a segment that did not succeed');
      } else {
        await rm(directory, { recursive: true, force: true }).catch((error: unknown) => {
          log.warn({ err: error, dir: directory }, 'could not remove a segment directory');
        });
      }
    }
  }

  /**
   * Records a segment's end; a failed attempt (PostgreSQL restarting, a
   * lost connection) is retried while the lease may still hold. If it never
   * succeeds the segment is no longer renewed, so the sweeper fails it.
   * Returns the outcome recorded (a succeeded segment whose output could not
   * be loaded is recorded failed), or false when the lease was lost.
   */
  private async complete(row: ClaimedSegment, finished: Finished, log: Logger): Promise<SegmentOutcome | false> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.commitSegment(row, finished);
      } catch (error) {
        if (attempt >= COMPLETE_ATTEMPTS) throw error;
        log.warn({ err: error, attempt }, 'could not record the end of a segment; trying again');
        await new Promise((resolve) => setTimeout(resolve, this.heartbeatMs));
      }
    }
  }

  /**
   * One transaction: the output rows loaded into the INTO tables (as the
   * caller), then the segment's end, fenced by (worker, attempt). Lost the
   * lease: everything rolls back, so a zombie never writes a row.
   */
  private async commitSegment(row: ClaimedSegment, finished: Finished): Promise<SegmentOutcome | false> {
    const pool = this.requirePool();
    if (finished.outcome.state !== 'succeeded' || (row.resolved_outputs.length === 0 && finished.load === undefined)) {
      // Nothing to load: the completion alone, in one round trip.
      const completed = await this.recordEnd(pool, row, finished.outcome, finished.rowsIn, null);
      return completed ? finished.outcome : false;
    }
    const client = await pool.connect();
    let outcome = finished.outcome;
    let rowsOut: number;
    try {
      await client.query('BEGIN');
      await client.query('SAVEPOINT outputs');
      try {
        rowsOut =
          finished.load === undefined
            ? await loadOutputFiles(
                client,
                row.submitted_by,
                row.resolved_outputs,
                finished.outputs,
                finished.format,
                this.headerMatch,
              )
            : await finished.load(client);
        await client.query('RELEASE SAVEPOINT outputs');
      } catch (error) {
        if (!isRunError(error)) throw error;
        await client.query('ROLLBACK TO SAVEPOINT outputs');
        outcome = {
          ...outcome,
          state: 'failed',
          message: `could not load the output: ${describeError(error)}`,
          errorCode: sqlStateOf(error),
        };
        rowsOut = 0;
      }
      const rowsIn = finished.load === undefined ? finished.rowsIn : rowsOut;
      if (!(await this.recordEnd(client, row, outcome, rowsIn, rowsOut))) {
        await client.query('ROLLBACK');
        return false;
      }
      await client.query('COMMIT');
      return outcome;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** engine_complete: true when the segment was still this engine's at this attempt. */
  private recordEnd(
    client: pg.Pool | pg.PoolClient,
    row: ClaimedSegment,
    outcome: SegmentOutcome,
    rowsIn: number | null,
    rowsOut: number | null,
  ): Promise<boolean> {
    return completeSegment(client, this.workerId, row, {
      state: outcome.state,
      exit_code: outcome.exitCode,
      message: outcome.message,
      results: outcome.results,
      output: outcome.output,
      rows_in: rowsIn,
      rows_out: rowsOut,
      error_code: outcome.state === 'failed' ? (outcome.errorCode ?? null) : null,
    });
  }

  private async execute(
    row: ClaimedSegment,
    directory: string,
    signal: AbortSignal,
    reporter: SegmentReporter,
    log: Logger,
  ): Promise<Finished> {
    if (row.language === TYPE_LANGUAGE) return this.runType(row, signal, reporter);
    const executor = this.executors.get(row.language);
    if (executor === undefined) throw new Error(`no executor for language "${row.language}"`);
    if (row.command === null && row.language === 'command') throw new Error('a command procedure without a command');
    const pool = this.requirePool();
    const { environment: registered, files } = await loadProcedureSetup(pool, row.procedure_id);
    let inputs: TableFile[] = [];
    let rowsIn: number | null = null;
    if (row.staged_inputs.length > 0) {
      const client = await pool.connect();
      try {
        const written = await writeInputFiles(
          client,
          row.staged_inputs,
          row.segment,
          row.segment_count,
          directory,
          executor.dataFormat,
        );
        inputs = written.files;
        rowsIn = written.rows;
      } finally {
        client.release();
      }
      reporter.report({ rowsIn });
    }
    const outputs = outputFiles(row.resolved_outputs, directory, executor.dataFormat);
    const outcome = await executor.run({
      runId: row.run_id,
      segment: row.segment,
      segmentCount: row.segment_count,
      attempt: row.attempt,
      directory,
      inputs,
      outputs,
      environment:
        registered === null ? undefined : { variables: registered.variables, pathPrefix: registered.path_prefix },
      report: (event) => {
        if (event.kind === 'progress') reporter.report({ progress: event.fraction });
        else if (event.kind === 'message') reporter.report({ message: event.text });
        else reporter.report({ results: { [event.key]: event.value } });
      },
      command: row.command ?? '',
      args: row.args,
      files,
      params: row.params,
      timeoutMs: row.timeout_ms === null ? undefined : Number(row.timeout_ms),
      maxOutputLines: row.max_output_lines,
      signal,
      onStart: (pid) => {
        log.debug({ pid }, 'segment process started');
        recordSegmentPid(pool, this.workerId, row, pid).catch((error: unknown) => log.warn({ err: error }, 'could not record the segment process id'));
      },
    });
    return { outcome, outputs, format: executor.dataFormat, rowsIn };
  }

  /**
   * A segment of a built-in type (TYPE 'name'): its module runs it inside
   * PostgreSQL; parameters that do not fit the type fail the run.
   */
  private async runType(row: ClaimedSegment, signal: AbortSignal, reporter: SegmentReporter): Promise<Finished> {
    const ended = (state: SegmentOutcome['state'], message: string, errorCode: string | null = null): Finished => ({
      outcome: { state, exitCode: null, message, errorCode, results: null, output: [] },
      outputs: [],
      format: 'csv',
      rowsIn: null,
    });
    const failed = (message: string, errorCode: string | null = null): Finished => ended('failed', message, errorCode);
    const type = row.type_name === null ? undefined : TYPES.get(row.type_name);
    if (type === undefined) return failed(`unknown procedure type "${String(row.type_name)}"`);
    const given = plainParams(row.params);
    try {
      checkParameters(type, given, row.staged_inputs.map((input) => input.name));
      const params = withDefaults(type, given);
      const outcome = await type.run({
        runId: row.run_id,
        segment: row.segment,
        segmentCount: row.segment_count,
        params,
        pool: this.requirePool(),
        role: row.submitted_by,
        inputs: row.staged_inputs,
        outputs: row.resolved_outputs,
        shareOf: (input) => shareOf(input, row.segment, row.segment_count),
        report: (event) => {
          if (event.kind === 'progress') reporter.report({ progress: event.fraction });
        },
        signal,
        filesDir: this.filesDir,
      });
      if (signal.aborted) {
        return signal.reason === StopReason.killed ? ended('killed', 'killed') : failed('engine stopped');
      }
      return {
        outcome: {
          state: 'succeeded',
          exitCode: null,
          message: null,
          results: outcome.results ?? null,
          output: outcome.output ?? [],
        },
        outputs: [],
        format: 'csv',
        rowsIn: outcome.rowsIn ?? null,
        ...(outcome.load === undefined ? {} : { load: outcome.load }),
      };
    } catch (error) {
      if (signal.aborted) {
        return signal.reason === StopReason.killed ? ended('killed', 'killed') : failed('engine stopped');
      }
      return failed((error as Error).message, sqlStateOf(error));
    }
  }

  /**
   * Renews the leases of the segments still running here and stops those
   * whose run was killed; one call at a time.
   */
  private heartbeat(): Promise<void> {
    if (this.checking !== undefined) return this.checking;
    const pool = this.pool;
    if (this.stopping || pool === undefined) return Promise.resolve();
    this.checking = (async () => {
      try {
        const held = [...this.running.values()];
        const rows = await renewLeases(
          pool,
          this.workerId,
          this.leaseMs,
          held.map((segment) => ({ run_id: segment.runId, segment: segment.segment, attempt: segment.attempt })),
        );
        for (const row of rows) {
          const segment = this.running.get(segmentKey(row.run_id, row.segment));
          if (segment === undefined || segment.attempt !== row.attempt || segment.abort.signal.aborted) continue;
          this.logger.info({ run_id: row.run_id, segment: row.segment }, 'killing segment');
          segment.abort.abort(StopReason.killed);
        }
      } catch (error) {
        this.logger.error({ err: error }, 'heartbeat failed');
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  /** Fails segments whose lease expired and finishes killed runs with nothing running; one at a time. */
  private sweep(): Promise<void> {
    if (this.sweeping !== undefined) return this.sweeping;
    const pool = this.pool;
    if (this.stopping || pool === undefined) return Promise.resolve();
    this.sweeping = (async () => {
      try {
        const swept = await sweepSegments(pool);
        if (swept > 0) this.logger.info({ runs: swept }, 'swept runs with lost or cancelled segments');
        await dropStagedTables(pool);
      } catch (error) {
        this.logger.error({ err: error }, 'sweep failed');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  private requirePool(): pg.Pool {
    if (this.pool === undefined) throw new Error('the engine is not started');
    return this.pool;
  }
}

/** An error that belongs to the run (PostgreSQL refused its data), not to the engine's connection. */
function isRunError(error: unknown): error is Error & { where?: string } {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.length === 5 && !code.startsWith('08') && !code.startsWith('57P');
}

/** PostgreSQL's message, with where it happened (the COPY line) when it says. */
function describeError(error: Error & { where?: string }): string {
  return error.where === undefined ? error.message : `${error.message} (${error.where})`;
}

function segmentKey(runId: string, segment: number): string {
  return `${runId}/${String(segment)}`;
}
