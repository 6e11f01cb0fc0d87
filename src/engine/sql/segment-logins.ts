import type pg from 'pg';
import type { SegmentClaim } from './claim-segments.js';
import type { Queryable } from './queryable.js';

/** A segment's login that the sweep drops: its segment's claim and the role's name. */
export type StaleLogin = SegmentClaim & { readonly role: string };

/**
 * engine_segment_login_create: the login of a segment this worker runs at
 * this attempt, with the password whose SCRAM verifier is given; returns
 * the role's name. Fails (55000) when the claim is no longer the worker's.
 */
export async function createSegmentLogin(
  db: Queryable,
  worker: string,
  claim: SegmentClaim,
  verifier: string,
): Promise<string> {
  const { rows } = await db.query<{ role: string }>(
    'SELECT procgate_internal.engine_segment_login_create($1, $2, $3, $4, $5) AS role',
    [worker, claim.run_id, claim.segment, claim.attempt, verifier],
  );
  const role = rows[0]?.role;
  if (role === undefined) throw new Error('engine_segment_login_create returned no role');
  return role;
}

/**
 * engine_segment_login_drop: no new session, the sessions ended, the role
 * dropped (a procedure that commits: on the pool, never inside a
 * transaction). Returns why the role could not be dropped (it is then left
 * without LOGIN, for the sweep), or null.
 */
export async function dropSegmentLogin(pool: pg.Pool, claim: SegmentClaim): Promise<string | null> {
  const { rows } = await pool.query<{ failure: string | null }>(
    'CALL procgate_internal.engine_segment_login_drop($1, $2, $3)',
    [claim.run_id, claim.segment, claim.attempt],
  );
  return rows[0]?.failure ?? null;
}

/**
 * engine_segment_logins_drop: engine_segment_login_drop for several
 * segments, with two commits for all. Returns, for each segment given,
 * why its role could not be dropped, or null.
 */
export async function dropSegmentLogins(pool: pg.Pool, claims: readonly SegmentClaim[]): Promise<(string | null)[]> {
  const { rows } = await pool.query<{ failures: (string | null)[] | null }>(
    'CALL procgate_internal.engine_segment_logins_drop($1, $2, $3)',
    [claims.map((c) => c.run_id), claims.map((c) => c.segment), claims.map((c) => c.attempt)],
  );
  const failures = rows[0]?.failures ?? [];
  return claims.map((_, i) => failures[i] ?? null);
}

/** engine_segment_logins_stale: logins whose segment no longer runs at their attempt; a failed drop after `retryMs`. */
export async function staleSegmentLogins(db: Queryable, retryMs: number): Promise<StaleLogin[]> {
  const { rows } = await db.query<StaleLogin>(
    'SELECT * FROM procgate_internal.engine_segment_logins_stale($1::interval)',
    [`${String(retryMs)} milliseconds`],
  );
  return rows;
}
