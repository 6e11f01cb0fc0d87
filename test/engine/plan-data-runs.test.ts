import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { planDataRuns } from '../../src/engine/run-planner.js';
import { silentLogger } from '../../src/log/logger.js';

const RUN = {
  run_id: '00000000-0000-0000-0000-000000000001',
  submitted_by: 'alice',
  input_queries: [{ name: 'input', query: 'SELECT 1 AS x', placeholders: {}, partition_by: [] }],
  output_tables: [],
  options: {},
  returns: null,
  execution_mode: 'distributed',
};

/**
 * A pool whose one queued data run fails to stage with `failure`: the
 * planner's statements up to staging succeed, the caller's first fails.
 */
function poolFailingWith(failure: Error): { pool: pg.Pool; statements: string[] } {
  const statements: string[] = [];
  let handedOut = false;
  const client = {
    query: (text: string) => {
      statements.push(text);
      if (['BEGIN', 'COMMIT', 'ROLLBACK'].includes(text)) return Promise.resolve({ rows: [] });
      if (text.includes('FOR UPDATE OF r SKIP LOCKED')) {
        const rows = handedOut ? [] : [RUN];
        handedOut = true;
        return Promise.resolve({ rows });
      }
      return Promise.reject(failure);
    },
    escapeIdentifier: (name: string) => `"${name}"`,
    escapeLiteral: (value: string) => `'${value}'`,
    release: () => undefined,
  };
  const pool = {
    query: (text: string) => {
      statements.push(text);
      return Promise.resolve({ rows: text.includes('EXISTS') ? [{ waiting: true }] : [] });
    },
    connect: () => Promise.resolve(client),
  };
  return { pool: pool as unknown as pg.Pool, statements };
}

describe('planning a run with table data', () => {
  it('fails the run when PostgreSQL refuses its input', async () => {
    const refused = Object.assign(new Error('permission denied for table secrets'), { code: '42501' });
    const { pool, statements } = poolFailingWith(refused);
    await expect(planDataRuns(pool, 2, 1, silentLogger())).resolves.toBe(0);
    expect(statements.filter((text) => text.includes('engine_fail_planning'))).toHaveLength(1);
  });

  it('leaves the run queued when the connection is lost (a Node error code, not a SQLSTATE)', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' });
    const { pool, statements } = poolFailingWith(reset);
    await expect(planDataRuns(pool, 2, 1, silentLogger())).rejects.toBe(reset);
    expect(statements.filter((text) => text.includes('engine_fail_planning'))).toEqual([]);
  });
});
