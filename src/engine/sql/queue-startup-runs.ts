import type { RunsTable } from '../../catalog/index.js';
import type { Queryable } from './queryable.js';
import type { RowOf } from './row-of.js';

/** engine_startup: queues a run of each execute_at_startup registration; returns their ids. */
export async function queueStartupRuns(db: Queryable, worker: string): Promise<Array<RowOf<RunsTable>['run_id']>> {
  const { rows } = await db.query<{ engine_startup: RowOf<RunsTable>['run_id'] }>(
    'SELECT * FROM procgate_internal.engine_startup($1)',
    [worker],
  );
  return rows.map((row) => row.engine_startup);
}
