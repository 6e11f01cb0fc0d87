import type { SegmentClaim } from './claim-segments.js';
import type { Queryable } from './queryable.js';

/**
 * engine_heartbeat: renews for `leaseMs` the leases of the segments
 * `worker` holds, and returns those whose run no longer runs (killed, or
 * finished without them): the worker stops them.
 */
export async function renewLeases(
  db: Queryable,
  worker: string,
  leaseMs: number,
  held: readonly SegmentClaim[],
): Promise<SegmentClaim[]> {
  const { rows } = await db.query<SegmentClaim>(
    'SELECT * FROM procgate_internal.engine_heartbeat($1, $2::interval, $3::uuid[], $4::int[], $5::int[])',
    [
      worker,
      `${String(leaseMs)} milliseconds`,
      held.map((segment) => segment.run_id),
      held.map((segment) => segment.segment),
      held.map((segment) => segment.attempt),
    ],
  );
  return rows;
}
