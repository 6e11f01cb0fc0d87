import type pg from 'pg';
import type { ProceduresTable, RunsTable } from '../../catalog/index.js';
import type { Queryable } from './queryable.js';
import type { RowOf } from './row-of.js';

/** A queued run with table data, and what planning it takes of its procedure. */
export type DataRun = Pick<
  RowOf<RunsTable>,
  'run_id' | 'submitted_by' | 'params' | 'input_queries' | 'output_tables' | 'options'
> &
  Pick<RowOf<ProceduresTable>, 'returns' | 'execution_mode' | 'type_name' | 'language'> & {
    /** The procedure's max_concurrency_per_node option; null: none. */
    readonly concurrency_cap: number | null;
  };

/** Queued distributed runs with table data that no engine has planned yet. */
const DATA_RUNS_WAITING = `
  SELECT r.run_id, r.submitted_by, r.params, r.input_queries, r.output_tables, r.options, p.returns, p.execution_mode,
         p.type_name, p.language, (p.options -> 'max_concurrency_per_node' ->> 'value')::int AS concurrency_cap
    FROM procgate_internal.runs r
    JOIN procgate_internal.procedures p ON p.id = r.procedure_id
   WHERE r.state = 'queued' AND r.segments_total IS NULL AND r.has_table_data
     AND (p.execution_mode = 'distributed' OR p.language = 'type')`;

/** Whether any run waits to be planned: the common case, none, costs one cheap look. */
export async function dataRunWaiting(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ waiting: boolean }>(`SELECT EXISTS (${DATA_RUNS_WAITING}) AS waiting`);
  return rows[0]?.waiting === true;
}

/** The oldest run waiting to be planned, locked for the client's transaction; one other engines have locked is skipped. */
export async function lockDataRun(client: pg.ClientBase): Promise<DataRun | undefined> {
  const { rows } = await client.query<DataRun>(
    `${DATA_RUNS_WAITING} ORDER BY r.created_at LIMIT 1 FOR UPDATE OF r SKIP LOCKED`,
  );
  return rows[0];
}
