import type pg from 'pg';
import type { DataFormat, SegmentOutcome, SegmentState, TableFile } from './segment-task.js';

/** What running a segment left to record: its outcome, and the files its outputs are in. */
export interface FinishedSegment {
  readonly outcome: SegmentOutcome;
  readonly outputs: readonly TableFile[];
  readonly format: DataFormat;
  readonly rowsIn: number | null;
  /** A built-in type writes its output rows itself, in the completion's transaction. */
  readonly load?: (client: pg.PoolClient) => Promise<number>;
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
