import type pg from 'pg';
import type { SegmentClaim } from './claim-segments.js';
import { completionArguments, type SegmentEnd } from './complete-segment.js';
import type { Queryable } from './queryable.js';

/**
 * engine_output_login: gives the segment's login a fresh password (its SCRAM
 * verifier) that only the engine knows; returns the role, or null when the
 * claim is no longer the worker's. Commits on its own (call it on the pool).
 */
export async function takeOutputLogin(
  db: Queryable,
  worker: string,
  claim: SegmentClaim,
  verifier: string,
): Promise<string | null> {
  const { rows } = await db.query<{ role: string | null }>(
    'SELECT procgate_internal.engine_output_login($1, $2, $3, $4, $5) AS role',
    [worker, claim.run_id, claim.segment, claim.attempt, verifier],
  );
  return rows[0]?.role ?? null;
}

/**
 * engine_output_committer: records `pid`, the backend of the engine's own
 * session of the login, as the one that may complete the segment, and ends
 * the login's other sessions. False when the claim was lost.
 */
export async function recordOutputCommitter(
  db: Queryable,
  worker: string,
  claim: SegmentClaim,
  pid: number,
): Promise<boolean> {
  const { rows } = await db.query<{ recorded: boolean }>(
    'SELECT procgate_internal.engine_output_committer($1, $2, $3, $4, $5) AS recorded',
    [worker, claim.run_id, claim.segment, claim.attempt, pid],
  );
  return rows[0]?.recorded === true;
}

/**
 * procgate.complete_segment_output: engine_complete from the session
 * recorded by recordOutputCommitter, inside its transaction that loaded
 * the output rows; false means: roll back.
 */
export async function completeOutputSegment(
  session: pg.ClientBase,
  worker: string,
  claim: SegmentClaim,
  end: SegmentEnd,
): Promise<boolean> {
  const { rows } = await session.query<{ completed: boolean }>(
    'SELECT procgate.complete_segment_output($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) AS completed',
    completionArguments(worker, claim, end),
  );
  return rows[0]?.completed === true;
}
