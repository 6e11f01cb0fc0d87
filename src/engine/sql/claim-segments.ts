import type { ProceduresTable, RunSegmentsTable, RunsTable } from '../../catalog/index.js';
import type { PlannedInput, ResolvedOutput } from '../planned-tables.js';
import type { Queryable } from './queryable.js';
import type { RowOf } from './row-of.js';

type Run = RowOf<RunsTable>;
type Procedure = RowOf<ProceduresTable>;

/** One claim of a segment: it fences every later write of the segment (report, pid, completion). */
export type SegmentClaim = Pick<RowOf<RunSegmentsTable>, 'run_id' | 'segment' | 'attempt'>;

/** A claimed segment with all it takes to run it: a row of engine_claim. */
export type ClaimedSegment = SegmentClaim &
  Pick<Run, 'params' | 'options' | 'submitted_by'> &
  Pick<Procedure, 'language' | 'command' | 'args' | 'type_name'> & {
    /** The run's segments_total, known once it is claimed. */
    readonly segment_count: NonNullable<Run['segments_total']>;
    readonly procedure_id: Procedure['id'];
    /** The `timeout` option in milliseconds (bigint, so a string); null: no limit. */
    readonly timeout_ms: string | null;
    /** The `max_output_lines` option, 100 unless given. */
    readonly max_output_lines: number;
    /** runs.staged_inputs, `[]` for a run without table data. */
    readonly staged_inputs: PlannedInput[];
    /** runs.resolved_outputs, `[]` for a run without INTO tables. */
    readonly resolved_outputs: ResolvedOutput[];
    /** The version of the procedure's files and environment: it changes whenever either does. */
    readonly setup_key: string;
  };

/**
 * engine_claim: a batch of up to `max` queued segments of procedures in
 * `languages`, leased to `worker` for `leaseMs`, and up to `queued` more
 * of one-segment runs to queue locally. A prepared statement: it runs on
 * every round.
 */
export async function claimSegments(
  db: Queryable,
  worker: string,
  max: number,
  leaseMs: number,
  languages: readonly string[],
  queued = 0,
): Promise<ClaimedSegment[]> {
  const { rows } = await db.query<ClaimedSegment>({
    name: 'procgate_engine_claim',
    text: 'SELECT * FROM procgate_internal.engine_claim($1, $2, $3::interval, $4, $5)',
    values: [worker, max, `${String(leaseMs)} milliseconds`, languages, queued],
  });
  return rows;
}

/**
 * engine_release: hands back claimed segments `worker` never started, so
 * other engines take them at the attempt they had; returns how many went back.
 */
export async function releaseSegments(db: Queryable, worker: string, claims: readonly SegmentClaim[]): Promise<number> {
  if (claims.length === 0) return 0;
  const { rows } = await db.query<{ released: number }>(
    'SELECT procgate_internal.engine_release($1, $2::uuid[], $3::int[], $4::int[]) AS released',
    [
      worker,
      claims.map((claim) => claim.run_id),
      claims.map((claim) => claim.segment),
      claims.map((claim) => claim.attempt),
    ],
  );
  return rows[0]?.released ?? 0;
}
