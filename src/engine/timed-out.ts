import { SqlState } from '../errors/sqlstate.js';
import type { SegmentOutcome } from './segment-task.js';

/**
 * How a segment stopped at its run's `timeout` ends, whatever ran it:
 * failed, with PostgreSQL's SQLSTATE for a statement stopped at its
 * statement_timeout (57014), so the run and CALL report a timeout, not a
 * failed program.
 */
export function timedOut(
  timeoutMs: number | undefined,
  exitCode: number | null = null,
): Omit<SegmentOutcome, 'results' | 'output'> {
  return {
    state: 'failed',
    exitCode,
    message: `timed out after ${String((timeoutMs ?? 0) / 1000)} s`,
    errorCode: SqlState.queryCanceled,
  };
}
