import type { RunOutputTable, RunSegmentsTable } from '../../catalog/index.js';
import type { SegmentClaim } from './claim-segments.js';
import type { Queryable } from './queryable.js';
import type { RowOf } from './row-of.js';

type Segment = RowOf<RunSegmentsTable>;

/** How a segment ended, as engine_complete records it. */
export interface SegmentEnd {
  readonly state: Exclude<Segment['state'], 'queued' | 'running' | 'cancelling'>;
  readonly exit_code: Segment['exit_code'];
  readonly message: Segment['message'];
  /** Stored as jsonb; null or undefined: none. */
  readonly results: unknown;
  /** The last lines of each stream, for run_output. */
  readonly output: ReadonlyArray<Pick<RowOf<RunOutputTable>, 'stream' | 'line'> & { readonly line_no: number }>;
  readonly rows_in: number | null;
  readonly rows_out: number | null;
  readonly error_code: Segment['error_code'];
  /** It had nothing to do: no share of the run's work (see engine_run_progress). */
  readonly idle: boolean;
  /** How far a segment that did not succeed got; null: as reported (a succeeded one is done). */
  readonly progress: number | null;
}

/**
 * engine_complete: records a segment's end if `worker` still holds its
 * claim, and returns whether it did. Inside the transaction that loaded the
 * segment's output rows, false means: roll back.
 */
export async function completeSegment(
  db: Queryable,
  worker: string,
  claim: SegmentClaim,
  end: SegmentEnd,
): Promise<boolean> {
  const { rows } = await db.query<{ completed: boolean }>(
    'SELECT procgate_internal.engine_complete($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) AS completed',
    completionArguments(worker, claim, end),
  );
  return rows[0]?.completed === true;
}

/** One segment's end in a batch: its claim fences it. */
export interface ClaimedEnd {
  readonly claim: SegmentClaim;
  readonly end: SegmentEnd;
}

/**
 * engine_complete_batch: records the ends of segments with nothing to
 * load in one transaction, each fenced by its own claim, and returns the
 * claims it recorded (one missing lost its lease). A prepared statement.
 */
export async function completeSegments(
  db: Queryable,
  worker: string,
  ends: readonly ClaimedEnd[],
): Promise<SegmentClaim[]> {
  const { rows } = await db.query<SegmentClaim>({
    name: 'procgate_engine_complete_batch',
    text: 'SELECT * FROM procgate_internal.engine_complete_batch($1, $2::jsonb)',
    values: [
      worker,
      JSON.stringify(
        ends.map(({ claim, end }) => ({
          run_id: claim.run_id,
          segment: claim.segment,
          attempt: claim.attempt,
          state: end.state,
          exit_code: end.exit_code,
          message: end.message,
          results: end.results ?? null,
          output: end.output,
          rows_in: end.rows_in,
          rows_out: end.rows_out,
          error_code: end.error_code,
          idle: end.idle,
          progress: end.progress,
        })),
      ),
    ],
  });
  return rows;
}

/** The 14 arguments of a completion (engine_complete, procgate.complete_segment_output), in their order. */
export function completionArguments(worker: string, claim: SegmentClaim, end: SegmentEnd): unknown[] {
  return [
    worker,
    claim.run_id,
    claim.segment,
    claim.attempt,
    end.state,
    end.exit_code,
    end.message,
    end.results === null || end.results === undefined ? null : JSON.stringify(end.results),
    JSON.stringify(end.output),
    end.rows_in,
    end.rows_out,
    end.error_code,
    end.idle,
    end.progress,
  ];
}
