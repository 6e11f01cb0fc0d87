import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { FinishedSegment } from '../../src/engine/finished-segment.js';
import { SegmentCommitter } from '../../src/engine/segment-committer.js';
import type { ClaimedSegment } from '../../src/engine/sql/claim-segments.js';
import { silentLogger } from '../../src/log/logger.js';

const ROW = {
  run_id: '00000000-0000-0000-0000-000000000002',
  segment: 0,
  attempt: 1,
  submitted_by: 'alice',
  resolved_outputs: [],
} as unknown as ClaimedSegment;

/** A pool whose statements all succeed; it keeps the completions it was asked to record. */
function recordingPool(): { pool: pg.Pool; completions: unknown[][] } {
  const completions: unknown[][] = [];
  const query = (text: string, values: unknown[] = []) => {
    if (!text.includes('engine_complete')) return Promise.resolve({ rows: [] });
    completions.push(values);
    return Promise.resolve({ rows: [{ completed: true }] });
  };
  const client = { query, release: () => undefined };
  const pool = { query, connect: () => Promise.resolve(client) };
  return { pool: pool as unknown as pg.Pool, completions };
}

/** A succeeded segment of a built-in type whose output rows fail to load with `failure`. */
function failingToLoad(failure: Error): FinishedSegment {
  return {
    outcome: { state: 'succeeded', exitCode: null, message: null, results: null, output: [] },
    outputs: [],
    format: 'csv',
    rowsIn: null,
    load: () => Promise.reject(failure),
  };
}

describe('recording the end of a segment', () => {
  it('fails the segment when PostgreSQL refuses its output rows', async () => {
    const { pool, completions } = recordingPool();
    const committer = new SegmentCommitter({ pool, workerId: 'w', retryMs: 1, headerMatch: true });
    const refused = Object.assign(new Error('value too long for type character varying(3)'), { code: '22001' });
    const outcome = await committer.complete(ROW, failingToLoad(refused), silentLogger());
    expect(outcome).toMatchObject({ state: 'failed', errorCode: '22001' });
    expect(completions).toHaveLength(1);
  });

  it('records nothing when the connection breaks while loading (EPIPE, a Node error code)', async () => {
    const { pool, completions } = recordingPool();
    const committer = new SegmentCommitter({ pool, workerId: 'w', retryMs: 1, headerMatch: true });
    const broken = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });
    await expect(committer.complete(ROW, failingToLoad(broken), silentLogger())).rejects.toBe(broken);
    expect(completions).toEqual([]);
  });
});
