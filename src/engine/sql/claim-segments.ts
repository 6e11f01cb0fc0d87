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
  };

/**
 * engine_claim: up to `max` queued segments of procedures in `languages`,
 * leased to `worker` for `leaseMs`; plans queued runs without table data first.
 */
export async function claimSegments(
  db: Queryable,
  worker: string,
  max: number,
  leaseMs: number,
  languages: readonly string[],
): Promise<ClaimedSegment[]> {
  const { rows } = await db.query<ClaimedSegment>(
    'SELECT * FROM procgate_internal.engine_claim($1, $2, $3::interval, $4)',
    [worker, max, `${String(leaseMs)} milliseconds`, languages],
  );
  return rows;
}
