import type pg from 'pg';
import type { ClaimedSegment } from './claim-segments.js';

/**
 * engine_claim_planned: every segment of the run this transaction has just
 * planned, claimed for `worker` with a lease of `leaseMs` (a run whose
 * segments read under this engine's snapshot runs here only).
 */
export async function claimPlannedRun(
  client: pg.ClientBase,
  worker: string,
  runId: string,
  leaseMs: number,
): Promise<ClaimedSegment[]> {
  const { rows } = await client.query<ClaimedSegment>(
    'SELECT * FROM procgate_internal.engine_claim_planned($1, $2, $3::interval)',
    [worker, runId, `${String(leaseMs)} milliseconds`],
  );
  return rows;
}
