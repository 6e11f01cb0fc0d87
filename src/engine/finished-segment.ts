import type pg from 'pg';
import type { SegmentFigures } from './sql/report-segment.js';
import type { DataFormat, SegmentOutcome, SegmentState, TableFile } from './segment-task.js';

/** What running a segment left to record: its outcome, and the files its outputs are in. */
export interface FinishedSegment {
  readonly outcome: SegmentOutcome;
  readonly outputs: readonly TableFile[];
  readonly format: DataFormat;
  /** Rows read; null: as reported while it ran. */
  readonly rowsIn: number | null;
  /** Rows a built-in type wrote itself, outside `load`; null: as reported while it ran. */
  readonly rowsOut?: number | null;
  /** How far a segment that did not succeed got; undefined: as reported while it ran. */
  readonly progress?: number;
  /** It had nothing to do (a training run's other segments): no share of the run's work. */
  readonly idle?: boolean;
  /** A built-in type writes its output rows itself, in the completion's transaction. */
  readonly load?: (client: pg.PoolClient) => Promise<number>;
}

/**
 * The segment's end with the figures its reporter had not written yet: the
 * completion records them, so a segment that fails keeps the rows and the
 * progress it reached.
 */
export function withUnreported(finished: FinishedSegment, unreported: SegmentFigures | undefined): FinishedSegment {
  if (unreported === undefined) return finished;
  const rowsOut = finished.rowsOut ?? unreported.rowsOut;
  const progress = finished.progress ?? unreported.progress;
  return {
    ...finished,
    rowsIn: finished.rowsIn ?? unreported.rowsIn ?? null,
    ...(rowsOut === undefined ? {} : { rowsOut }),
    ...(progress === undefined ? {} : { progress }),
  };
}

/** A segment that ended with a message and no output to load: it failed, or was killed. */
export function endedSegment(state: SegmentState, message: string, errorCode: string | null = null): FinishedSegment {
  return {
    outcome: { state, exitCode: null, message, errorCode, results: null, output: [] },
    outputs: [],
    format: 'csv',
    rowsIn: null,
  };
}
