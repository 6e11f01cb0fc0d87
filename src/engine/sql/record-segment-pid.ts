import type { RunSegmentsTable } from '../../catalog/index.js';
import type { SegmentClaim } from './claim-segments.js';
import type { Queryable } from './queryable.js';
import type { RowOf } from './row-of.js';

/** engine_set_pid: the process id of a segment's child, fenced like a completion; false when the claim was lost. */
export async function recordSegmentPid(
  db: Queryable,
  worker: string,
  claim: SegmentClaim,
  pid: NonNullable<RowOf<RunSegmentsTable>['pid']>,
): Promise<boolean> {
  const { rows } = await db.query<{ engine_set_pid: boolean }>(
    'SELECT procgate_internal.engine_set_pid($1, $2, $3, $4, $5)',
    [worker, claim.run_id, claim.segment, claim.attempt, pid],
  );
  return rows[0]?.engine_set_pid === true;
}
