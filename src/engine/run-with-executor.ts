import type pg from 'pg';
import type { EngineIsolation } from '../catalog/index.js';
import type { Logger } from '../log/logger.js';
import type { FinishedSegment } from './finished-segment.js';
import { refusedByIsolation } from './sandbox/isolation.js';
import type { SandboxUsers } from './sandbox/sandbox-users.js';
import type { SegmentDatabase } from './segment-database.js';
import { rowFigures, type SegmentReporter } from './segment-reporter.js';
import type { Executor, TableFile } from './segment-task.js';
import type { ClaimedSegment } from './sql/claim-segments.js';
import { procedureSetupOf } from './sql/load-procedure-setup.js';
import { recordSegmentPid } from './sql/record-segment-pid.js';
import { writeInputFiles } from './input-files.js';
import { outputFiles } from './output-files.js';
import { segmentDataFormat } from './segment-data-format.js';

/** A segment to run in a directory of its own, and where its figures go. */
export interface SegmentRun {
  readonly row: ClaimedSegment;
  readonly directory: string;
  readonly signal: AbortSignal;
  readonly reporter: SegmentReporter;
  readonly log: Logger;
  /** The segment's login into the database as the run's caller. */
  readonly database?: SegmentDatabase;
}

/** Whom users' code runs as on this engine. */
export interface CodeIsolation {
  /** The uids programs run as; undefined: procgate's own user. */
  readonly sandbox: SandboxUsers | undefined;
  readonly isolation: EngineIsolation;
}

/**
 * Runs a segment with an executor (command, javascript): checks that
 * this engine may run the procedure's code (see refusedByIsolation),
 * loads the procedure's files and environment, writes the segment's
 * share of each TABLE input to a file (from its staging table, or from its
 * source as the caller: see input-files.ts), runs it, and says where its
 * outputs are.
 */
export async function runWithExecutor(
  executor: Executor,
  { row, directory, signal, reporter, log, database }: SegmentRun,
  pool: pg.Pool,
  workerId: string,
  { sandbox, isolation }: CodeIsolation,
): Promise<FinishedSegment> {
  if (row.command === null && row.language === 'command') throw new Error('a command procedure without a command');
  const refused = await refusedByIsolation(pool, isolation, row);
  if (refused !== undefined) return refused;
  const { environment: registered, files } = await procedureSetupOf(pool, row);
  const format = await segmentDataFormat(pool, executor, row);
  let inputs: TableFile[] = [];
  let rowsIn: number | null = null;
  if (row.staged_inputs.length > 0) {
    const written = await writeInputFiles(
      { pool, database },
      row.staged_inputs,
      row.segment,
      row.segment_count,
      directory,
      (columns) => executor.fileFormat?.(columns) ?? format,
      signal,
    );
    inputs = written.files;
    rowsIn = written.rows;
    reporter.report({ rowsIn });
  }
  const outputs = outputFiles(
    row.resolved_outputs,
    directory,
    (columns) => executor.fileFormat?.(columns) ?? format,
  );
  const outcome = await executor.run({
    runId: row.run_id,
    segment: row.segment,
    segmentCount: row.segment_count,
    attempt: row.attempt,
    directory,
    inputs,
    outputs,
    dataFormat: format,
    environment:
      registered === null ? undefined : { variables: registered.variables, pathPrefix: registered.path_prefix },
    report: (event) => {
      if (event.kind === 'progress') reporter.report({ progress: event.fraction });
      else if (event.kind === 'message') reporter.report({ message: event.text });
      else if (event.kind === 'rows') reporter.report(rowFigures(event));
      else reporter.report({ results: { [event.key]: event.value } });
    },
    command: row.command ?? '',
    args: row.args,
    files,
    params: row.params,
    timeoutMs: row.timeout_ms === null ? undefined : Number(row.timeout_ms),
    maxOutputLines: row.max_output_lines,
    signal,
    sandbox,
    database,
    caller: row.submitted_by,
    onStart: (pid) => {
      log.debug({ pid }, 'segment process started');
      recordSegmentPid(pool, workerId, row, pid).catch((error: unknown) =>
        log.warn({ err: error }, 'could not record the segment process id'),
      );
    },
  });
  return { outcome, outputs, format, rowsIn };
}
