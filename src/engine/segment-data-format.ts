import type pg from 'pg';
import type { DataFormat, Executor } from './segment-task.js';
import type { ClaimedSegment } from './sql/claim-segments.js';

/**
 * The format of a segment's table files: a command procedure's
 * `data_format` option ('csv' or 'binary', checked at CREATE), else its
 * executor's own. Asked only of a segment with table data: a segment
 * without costs no round trip.
 */
export async function segmentDataFormat(pool: pg.Pool, executor: Executor, row: ClaimedSegment): Promise<DataFormat> {
  if (row.language !== 'command' || (row.staged_inputs.length === 0 && row.resolved_outputs.length === 0)) {
    return executor.dataFormat;
  }
  const { rows } = await pool.query<{ format: DataFormat | null }>(
    'SELECT procgate_internal.engine_data_format($1) AS format',
    [row.procedure_id],
  );
  return rows[0]?.format ?? executor.dataFormat;
}
