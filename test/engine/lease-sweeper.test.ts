import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPES } from '../../src/builtins/index.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log/logger.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_lease', { statements: true });
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client(t.db.direct);
  await client.connect();
  await client.query(`
    SELECT * FROM procgate.create_procedure(name => 'napper', language => 'command', command => 'sleep',
                                            args => ARRAY['30'], execution_mode => 'nondistributed')`);
});

afterAll(async () => {
  await client.end();
});

/** A run claimed by a worker that then vanished: its lease is already over. */
async function runOfLostWorker(procedure = 'napper', retries = 0): Promise<string> {
  await client.query('BEGIN');
  const { rows } = await client.query<{ run_id: string }>(
    `SELECT run_id FROM procgate.execute($1, options => ARRAY[procgate.arg('retries', NULL, $2::int)])`,
    [procedure, retries],
  );
  const claimed = await client.query(
    `SELECT * FROM procgate_internal.engine_claim('ghost', 1, interval '-1 second', ARRAY['command'])`,
  );
  await client.query('COMMIT');
  expect(claimed.rowCount).toBe(1);
  const runId = rows[0]?.run_id;
  if (runId === undefined) throw new Error('no run');
  return runId;
}

describe('leases', () => {
  it('fails a segment whose lease expired with "worker lost"', async () => {
    const runId = await runOfLostWorker();
    const engine = new Engine({ slots: 1, logger: silentLogger(), sweepMs: 100, procedureTypes: TYPES });
    await engine.start(t.db.direct);
    try {
      const { rows } = await eventually(
        () => client.query('SELECT state, error, segments_failed FROM procgate.runs WHERE run_id = $1', [runId]),
        (r) => r.rows[0]?.state !== 'running',
      );
      expect(rows).toEqual([{ state: 'failed', error: 'worker lost', segments_failed: 1 }]);
      const segment = await client.query(
        'SELECT state, message, worker, attempt FROM procgate.run_segments WHERE run_id = $1',
        [runId],
      );
      expect(segment.rows).toEqual([{ state: 'failed', message: 'worker lost', worker: 'ghost', attempt: 1 }]);
    } finally {
      await engine.stop();
    }
  });

  it('retries a lost segment while the retries option allows, then fails it', async () => {
    await client.query(`
      SELECT * FROM procgate.create_procedure(name => 'quick', language => 'command', command => 'sh',
                                              args => ARRAY['-c', 'echo done'], execution_mode => 'nondistributed')`);
    // Lost once with retries = 1: a live engine takes the second attempt and finishes it.
    const retried = await runOfLostWorker('quick', 1);
    const engine = new Engine({ slots: 1, logger: silentLogger(), sweepMs: 100, procedureTypes: TYPES });
    await engine.start(t.db.direct);
    try {
      const { rows } = await eventually(
        () => client.query('SELECT state, error FROM procgate.runs WHERE run_id = $1', [retried]),
        (r) => ['succeeded', 'failed'].includes(r.rows[0]?.state),
      );
      expect(rows).toEqual([{ state: 'succeeded', error: null }]);
      const segment = await client.query('SELECT worker, attempt FROM procgate.run_segments WHERE run_id = $1', [
        retried,
      ]);
      expect(segment.rows).toEqual([{ worker: engine.workerId, attempt: 2 }]);
    } finally {
      await engine.stop();
    }

    // Lost on every attempt: after retries + 1 attempts it fails.
    const exhausted = await runOfLostWorker('napper', 1);
    await client.query('SELECT procgate_internal.engine_sweep()');
    const requeued = await client.query('SELECT state, message FROM procgate.run_segments WHERE run_id = $1', [
      exhausted,
    ]);
    expect(requeued.rows).toEqual([{ state: 'queued', message: 'worker lost during attempt 1; retrying' }]);
    const again = await client.query(
      `SELECT attempt FROM procgate_internal.engine_claim('ghost', 1, interval '-1 second', ARRAY['command'])`,
    );
    expect(again.rows).toEqual([{ attempt: 2 }]);
    await client.query('SELECT procgate_internal.engine_sweep()');
    const failed = await client.query('SELECT state, error FROM procgate.runs WHERE run_id = $1', [exhausted]);
    expect(failed.rows).toEqual([{ state: 'failed', error: 'worker lost' }]);
  });

  it('refuses the completion of a worker that no longer holds the lease', async () => {
    const runId = await runOfLostWorker();
    const complete = (worker: string, attempt: number) =>
      client.query<{ ok: boolean }>(
        `SELECT procgate_internal.engine_complete($1, $2, 0, $3, 'succeeded', 0, NULL, NULL,
           '[{"stream": "stdout", "line_no": 1, "line": "zombie"}]') AS ok`,
        [worker, runId, attempt],
      );
    expect((await complete('ghost', 1)).rows).toEqual([{ ok: false }]);
    expect((await complete('someone-else', 1)).rows).toEqual([{ ok: false }]);
    const state = await client.query('SELECT state FROM procgate.runs WHERE run_id = $1', [runId]);
    expect(state.rows).toEqual([{ state: 'running' }]);
    const lines = await client.query('SELECT * FROM procgate.run_output WHERE run_id = $1', [runId]);
    expect(lines.rowCount).toBe(0);
    await client.query('SELECT procgate_internal.engine_sweep()');
  });

  it('renews the leases of running segments, and stops them when the engine stops', async () => {
    const engine = new Engine({
      slots: 1,
      logger: silentLogger(),
      killGraceMs: 200,
      leaseMs: 600,
      heartbeatMs: 150,
      procedureTypes: TYPES,
    });
    await engine.start(t.db.direct);
    const { rows } = await client.query<{ run_id: string }>(`SELECT run_id FROM procgate.execute('napper')`);
    const runId = rows[0]?.run_id;
    await eventually(
      () => client.query('SELECT pid FROM procgate.run_segments WHERE run_id = $1', [runId]),
      (r) => r.rows[0]?.pid != null,
    );
    // Past the first lease: still running, on a renewed lease.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const leased = await client.query(
      `SELECT s.state, s.lease_until > clock_timestamp() AS leased, r.heartbeat_at > clock_timestamp() - interval '1 s' AS beating
         FROM procgate_internal.run_segments s JOIN procgate_internal.runs r USING (run_id) WHERE run_id = $1`,
      [runId],
    );
    expect(leased.rows).toEqual([{ state: 'running', leased: true, beating: true }]);
    await engine.stop();
    const run = await client.query('SELECT state, error FROM procgate.runs WHERE run_id = $1', [runId]);
    expect(run.rows).toEqual([{ state: 'failed', error: 'engine stopped' }]);
  });

  it('keeps the engine functions from PUBLIC', async () => {
    const { rows } = await client.query<{ fn: string }>(`
      SELECT p.oid::regprocedure::text AS fn FROM pg_proc p
       WHERE p.pronamespace = 'procgate_internal'::regnamespace AND p.proname LIKE 'engine\\_%'
         AND has_function_privilege('public', p.oid, 'EXECUTE')`);
    expect(rows).toEqual([]);
  });
});
