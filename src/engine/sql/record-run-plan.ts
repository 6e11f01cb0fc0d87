import type pg from 'pg';
import type { RunsTable } from '../../catalog/index.js';
import type { PlannedInput, ResolvedOutput } from '../planned-tables.js';
import type { Queryable } from './queryable.js';
import type { RowOf } from './row-of.js';

type Run = RowOf<RunsTable>;

/** engine_plan_data_run: gives a run with table data its segments once its inputs are planned (staged or read directly). */
export async function recordRunPlan(
  client: pg.ClientBase,
  runId: Run['run_id'],
  segments: NonNullable<Run['segments_total']>,
  staged: readonly PlannedInput[],
  outputs: readonly ResolvedOutput[],
): Promise<void> {
  await client.query('SELECT procgate_internal.engine_plan_data_run($1, $2, $3, $4)', [
    runId,
    segments,
    JSON.stringify(staged),
    JSON.stringify(outputs),
  ]);
}

/** engine_fail_planning: a run whose inputs or outputs could not be prepared fails before any segment. */
export async function failRunPlanning(
  db: Queryable,
  runId: Run['run_id'],
  error: NonNullable<Run['error']>,
  errorCode: Run['error_code'],
): Promise<void> {
  await db.query('SELECT procgate_internal.engine_fail_planning($1, $2, $3)', [runId, error, errorCode]);
}
