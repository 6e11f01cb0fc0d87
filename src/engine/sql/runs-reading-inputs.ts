import type { Queryable } from './queryable.js';

/**
 * Of `runIds`, the runs that may still read their TABLE inputs: a segment
 * is queued, or runs without a recorded process id (a program starts only
 * once its inputs are read; an executor that records none keeps its run
 * here until the run ends). A run that ended, or is gone, reads no more.
 */
export async function runsReadingInputs(db: Queryable, runIds: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ run_id: string }>(
    `SELECT r.run_id FROM procgate_internal.runs r
      WHERE r.run_id = ANY ($1::uuid[])
        AND EXISTS (SELECT FROM procgate_internal.run_segments s
                     WHERE s.run_id = r.run_id AND (s.state = 'queued' OR (s.state = 'running' AND s.pid IS NULL)))`,
    [runIds],
  );
  return new Set(rows.map((row) => row.run_id));
}
