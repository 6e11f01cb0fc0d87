import type pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { CompletionBatcher } from './completion-batcher.js';
import type { FinishedSegment } from './finished-segment.js';
import { isRunError } from './run-error.js';
import { type SegmentOutcome, StopReason } from './segment-task.js';
import { sqlStateOf } from './sql-state.js';
import { storableJson, storableText } from './storable-text.js';
import type { ClaimedSegment } from './sql/claim-segments.js';
import { completeSegment, type SegmentEnd } from './sql/complete-segment.js';
import { completeOutputSegment } from './sql/output-commit.js';
import { loadOutputFiles } from './output-files.js';
import { OutputSession } from './output-session.js';
import type { SegmentDatabase } from './segment-database.js';

export interface SegmentCommitterOptions {
  readonly pool: pg.Pool;
  readonly workerId: string;
  /** Between attempts to record a segment's end. */
  readonly retryMs: number;
  /** COPY's HEADER MATCH (PostgreSQL 15) checks the header of a csv output. */
  readonly headerMatch: boolean;
  /** Records ends with nothing to load in batches; without it, each in a statement of its own. */
  readonly completions?: CompletionBatcher;
  /** The TLS settings of the engine's connection, for its sessions of segments' logins (see sslOf). */
  readonly ssl?: pg.ClientConfig['ssl'];
}

/** Tries to record a segment's end, a heartbeat apart: about as long as a lease lasts. */
const COMPLETE_ATTEMPTS = 4;

/**
 * Records the end of segments: the output rows loaded into the INTO tables
 * and the segment's end in one transaction, fenced by the claim, so a
 * segment whose lease was lost (a zombie) never writes a row.
 */
export class SegmentCommitter {
  constructor(private readonly options: SegmentCommitterOptions) {}

  /**
   * Records a segment's end; a failed attempt (PostgreSQL restarting, a
   * lost connection) is retried while the lease may still hold. If it never
   * succeeds the segment is no longer renewed, so the sweeper fails it.
   * Returns the outcome recorded (a succeeded segment whose output could not
   * be loaded is recorded failed), or false when the lease was lost.
   */
  async complete(
    row: ClaimedSegment,
    finished: FinishedSegment,
    log: Logger,
    database?: SegmentDatabase,
    signal?: AbortSignal,
  ): Promise<SegmentOutcome | false> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.commit(row, finished, database, signal);
      } catch (error) {
        if (attempt >= COMPLETE_ATTEMPTS) throw error;
        log.warn({ err: error, attempt }, 'could not record the end of a segment; trying again');
        await new Promise((resolve) => setTimeout(resolve, this.options.retryMs));
      }
    }
  }

  /**
   * The segment's end alone when there is nothing to load; else the rows
   * loaded and the end recorded in one transaction (see loadAndRecord): an
   * executor's output files through the segment's login, a built-in type's
   * rows on the engine's connection.
   */
  private async commit(
    row: ClaimedSegment,
    finished: FinishedSegment,
    database: SegmentDatabase | undefined,
    signal: AbortSignal | undefined,
  ): Promise<SegmentOutcome | false> {
    const { pool } = this.options;
    if (finished.outcome.state !== 'succeeded' || (row.resolved_outputs.length === 0 && finished.load === undefined)) {
      // Nothing to load: the completion alone, batched with other segments' when a batcher is given.
      const { outcome, rowsIn, rowsOut } = finished;
      const { completions } = this.options;
      const completed =
        completions === undefined
          ? await this.recordEnd(pool, row, finished, outcome, rowsIn, rowsOut ?? null)
          : await completions.complete(row, segmentEnd(finished, outcome, rowsIn, rowsOut ?? null));
      return completed ? finished.outcome : false;
    }
    if (loadsThroughLogin(row, finished)) return this.commitAsLogin(row, finished, database, signal);
    const load = finished.load ?? (() => Promise.resolve(0));
    const client = await pool.connect();
    try {
      return await this.loadAndRecord(client, finished, load, (outcome, rowsIn, rowsOut) =>
        this.recordEnd(client, row, finished, outcome, rowsIn, rowsOut),
      );
    } finally {
      client.release();
    }
  }

  /**
   * An executor's output files, COPY'd into the INTO tables in the
   * engine's own session of the segment's login (see OutputSession), and
   * the segment's end recorded there, in the same transaction.
   */
  private async commitAsLogin(
    row: ClaimedSegment,
    finished: FinishedSegment,
    database: SegmentDatabase | undefined,
    signal: AbortSignal | undefined,
  ): Promise<SegmentOutcome | false> {
    if (database === undefined) throw new Error('a segment with output files to load needs its database login');
    const { pool, workerId, ssl, headerMatch } = this.options;
    const session = await OutputSession.open(pool, workerId, row, database, ssl);
    if (session === undefined) return false;
    const { client } = session;
    // A kill while the rows go in (a trigger of the INTO table may wait on a lock) cancels the load at once:
    // the segment then ends killed, none of its rows kept.
    let killed = false;
    const onAbort = (): void => {
      if (signal?.reason !== StopReason.killed) return;
      killed = true;
      pool.query('SELECT pg_catalog.pg_cancel_backend($1)', [session.pid]).catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.loadAndRecord(
        client,
        finished,
        () => loadOutputFiles(client, row.resolved_outputs, finished.outputs, finished.format, headerMatch),
        (outcome, rowsIn, rowsOut) =>
          completeOutputSegment(
            client,
            workerId,
            row,
            segmentEnd(finished, killed ? { ...outcome, state: 'killed', message: 'killed', errorCode: null } : outcome, rowsIn, killed ? 0 : rowsOut),
          ),
      );
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await session.close();
    }
  }

  /**
   * One transaction: the output rows loaded, then the segment's end, fenced
   * by (worker, attempt). Rows PostgreSQL refuses fail the segment; lost
   * the lease: everything rolls back, so a zombie never writes a row.
   */
  private async loadAndRecord(
    client: pg.ClientBase,
    finished: FinishedSegment,
    load: (client: pg.PoolClient) => Promise<number>,
    record: (outcome: SegmentOutcome, rowsIn: number | null, rowsOut: number) => Promise<boolean>,
  ): Promise<SegmentOutcome | false> {
    let outcome = finished.outcome;
    let rowsOut: number;
    try {
      await client.query('BEGIN');
      await client.query('SAVEPOINT outputs');
      try {
        rowsOut = await load(client as pg.PoolClient);
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
      // A built-in type that writes what it read (transform, model.apply) need not count its reads apart.
      const rowsIn = finished.rowsIn ?? (finished.load === undefined || outcome.state !== 'succeeded' ? null : rowsOut);
      if (!(await record(outcome, rowsIn, rowsOut))) {
        await client.query('ROLLBACK');
        return false;
      }
      await client.query('COMMIT');
      return outcome;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** engine_complete: true when the segment was still this engine's at this attempt. */
  private recordEnd(
    client: pg.Pool | pg.PoolClient,
    row: ClaimedSegment,
    finished: FinishedSegment,
    outcome: SegmentOutcome,
    rowsIn: number | null,
    rowsOut: number | null,
  ): Promise<boolean> {
    return completeSegment(client, this.options.workerId, row, segmentEnd(finished, outcome, rowsIn, rowsOut));
  }
}

/**
 * Whether the segment's output files go into its INTO tables through its
 * login (see OutputSession), which must then outlive the commit.
 */
export function loadsThroughLogin(row: ClaimedSegment, finished: FinishedSegment): boolean {
  return finished.outcome.state === 'succeeded' && finished.load === undefined && row.resolved_outputs.length > 0;
}

/** The end engine_complete records. */
function segmentEnd(
  finished: FinishedSegment,
  outcome: SegmentOutcome,
  rowsIn: number | null,
  rowsOut: number | null,
): SegmentEnd {
  return {
    state: outcome.state,
    exit_code: outcome.exitCode,
    message: outcome.message == null ? outcome.message : storableText(outcome.message),
    results: storableJson(outcome.results) as SegmentEnd['results'],
    output: outcome.output.map((line) => ({ ...line, line: storableText(line.line) })),
    rows_in: rowsIn,
    rows_out: rowsOut,
    error_code: outcome.state === 'failed' ? (outcome.errorCode ?? null) : null,
    idle: finished.idle === true,
    progress: finished.progress ?? null,
  };
}

/** PostgreSQL's message, with where it happened (the COPY line) when it says. */
function describeError(error: Error & { readonly where?: string }): string {
  return error.where === undefined ? error.message : `${error.message} (${error.where})`;
}
