import type { Queryable } from './queryable.js';

/** engine_sweep: fails segments whose lease expired and finishes killed runs with nothing running; returns the runs swept. */
export async function sweepSegments(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ swept: number }>('SELECT procgate_internal.engine_sweep() AS swept');
  return rows[0]?.swept ?? 0;
}

/** engine_drop_staged: drops the staging tables of finished runs; returns how many. */
export async function dropStagedTables(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ engine_drop_staged: number }>('SELECT procgate_internal.engine_drop_staged()');
  return rows[0]?.engine_drop_staged ?? 0;
}

/**
 * engine_plan_runs: gives runs queued without segments (EXECUTE plans a run
 * without table data itself since schema version 14) their segments, and
 * fails those whose procedure is gone; returns how many it planned.
 */
export async function planQueuedRuns(db: Queryable, max = 100): Promise<number> {
  const { rows } = await db.query<{ planned: number }>('SELECT procgate_internal.engine_plan_runs($1) AS planned', [max]);
  return rows[0]?.planned ?? 0;
}
