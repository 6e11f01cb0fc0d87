import type pg from 'pg';
import { endedSegment, type FinishedSegment } from './finished-segment.js';
import { checkParameters, type OutputColumn, type ProcedureType, withDefaults } from './procedure-type.js';
import { isRunError, RunError } from './run-error.js';
import { rowFigures, type SegmentReporter } from './segment-reporter.js';
import { plainParams, StopReason } from './segment-task.js';
import { sqlStateOf } from './sql-state.js';
import type { ClaimedSegment } from './sql/claim-segments.js';
import type { DataRun } from './sql/lock-data-run.js';
import { shareOf } from './input-files.js';
import { isStaged } from './planned-tables.js';
import { timedOut } from './timed-out.js';

/** The language of procedures of a built-in type (TYPE 'name'), run by BuiltInContext.procedureTypes. */
export const BUILT_IN_LANGUAGE = 'type';

/** What a built-in type's module is given besides the segment. */
export interface BuiltInContext {
  readonly pool: pg.Pool;
  /** The directory TYPE 'import.csv' and 'export.csv' read and write; without it they fail. */
  readonly filesDir: string | undefined;
  /** The built-in types by name (EngineOptions.procedureTypes). */
  readonly procedureTypes: ReadonlyMap<string, ProcedureType>;
}

/**
 * The columns a built-in type gives for a run's missing INTO table
 * (ProcedureType.outputColumns), or undefined. Its failure fails the run
 * (planning fails it): one without a SQLSTATE, a file it could not read,
 * as a RunError with its message.
 */
export async function builtInOutputColumns(
  context: BuiltInContext,
  client: pg.ClientBase,
  run: DataRun,
  position: number,
): Promise<readonly OutputColumn[] | undefined> {
  const type = run.type_name === null ? undefined : context.procedureTypes.get(run.type_name);
  if (type?.outputColumns === undefined) return undefined;
  const params = withDefaults(type, plainParams(run.params));
  try {
    return await type.outputColumns({ params, position, client, filesDir: context.filesDir });
  } catch (error) {
    if (isRunError(error)) throw error;
    throw new RunError((error as Error).message, undefined, { cause: error });
  }
}

/**
 * Runs a segment of a built-in type (TYPE 'name'): its module runs it
 * inside PostgreSQL; parameters that do not fit the type fail the run.
 */
export async function runBuiltIn(
  row: ClaimedSegment,
  context: BuiltInContext,
  signal: AbortSignal,
  reporter: SegmentReporter,
): Promise<FinishedSegment> {
  // The run's timeout stops a built-in type as it stops a program: through the signal it watches.
  const timeout = row.timeout_ms === null ? undefined : AbortSignal.timeout(Number(row.timeout_ms));
  const stop = timeout === undefined ? signal : AbortSignal.any([signal, timeout]);
  const stopped = (): FinishedSegment => {
    if (signal.aborted) {
      return signal.reason === StopReason.killed ? endedSegment('killed', 'killed') : endedSegment('failed', 'engine stopped');
    }
    const ending = timedOut(Number(row.timeout_ms));
    return endedSegment(ending.state, ending.message ?? '', ending.errorCode);
  };
  const type = row.type_name === null ? undefined : context.procedureTypes.get(row.type_name);
  if (type === undefined) return endedSegment('failed', `unknown procedure type "${String(row.type_name)}"`);
  const given = plainParams(row.params);
  try {
    checkParameters(type, given, row.staged_inputs.map((input) => input.name));
    const params = withDefaults(type, given);
    const outcome = await type.run({
      runId: row.run_id,
      segment: row.segment,
      segmentCount: row.segment_count,
      params,
      pool: context.pool,
      role: row.submitted_by,
      // Built-in types' inputs are always staged (run-planner.ts).
      inputs: row.staged_inputs.filter(isStaged),
      outputs: row.resolved_outputs,
      shareOf: (input) => shareOf(input, row.segment, row.segment_count),
      report: (event) => {
        if (event.kind === 'progress') reporter.report({ progress: event.fraction });
        else if (event.kind === 'rows') reporter.report(rowFigures(event));
      },
      signal: stop,
      filesDir: context.filesDir,
    });
    if (stop.aborted) return stopped();
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
      rowsOut: outcome.rowsOut ?? null,
      idle: outcome.idle === true,
      ...(outcome.load === undefined ? {} : { load: outcome.load }),
    };
  } catch (error) {
    if (stop.aborted) return stopped();
    return endedSegment('failed', (error as Error).message, sqlStateOf(error));
  }
}
