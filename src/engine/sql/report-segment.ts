import type { RunSegmentsTable } from '../../catalog/index.js';
import type { SegmentClaim } from './claim-segments.js';
import type { Queryable } from './queryable.js';
import type { RowOf } from './row-of.js';

/** Live figures of a running segment; a figure left out stays as it was. */
export interface SegmentFigures {
  readonly progress?: number;
  readonly rowsIn?: number;
  readonly rowsOut?: number;
  readonly message?: NonNullable<RowOf<RunSegmentsTable>['message']>;
  /** Keys to merge into the segment's results. */
  readonly results?: Readonly<Record<string, unknown>>;
}

/** engine_report: a running segment's figures, fenced by its claim; false when the claim was lost. */
export async function reportSegment(
  db: Queryable,
  worker: string,
  claim: SegmentClaim,
  figures: SegmentFigures,
): Promise<boolean> {
  const { rows } = await db.query<{ engine_report: boolean }>(
    'SELECT procgate_internal.engine_report($1, $2, $3, $4, $5, $6, $7, $8, $9)',
    [
      worker,
      claim.run_id,
      claim.segment,
      claim.attempt,
      figures.progress ?? null,
      figures.rowsIn ?? null,
      figures.message ?? null,
      figures.results === undefined ? null : JSON.stringify(figures.results),
      figures.rowsOut ?? null,
    ],
  );
  return rows[0]?.engine_report === true;
}
