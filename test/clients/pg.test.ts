import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createFilterProcedure, procgate, usePgClient, waitForRun } from './support/client-session.js';

const client = usePgClient();

/** A javascript procedure that writes the rows of its input whose score is at least min_score. */
const CREATE = createFilterProcedure('pg_client_filter');

describe('pg (node-postgres) through procgate serve', () => {
  it('creates a procedure in the simple protocol and executes it with $n parameters, a TABLE(select) one included', async () => {
    await client.query('CREATE TABLE pg_client_scores (name text, score int)');
    await client.query(
      "INSERT INTO pg_client_scores VALUES ('ada', 90), ('bob', 40), ('cy', 75), ('di', 10)",
    );
    await client.query(CREATE);
    // Extended protocol: the placeholders are in a TABLE query and in a plain argument.
    const { rows } = await client.query(
      `EXECUTE PROCEDURE pg_client_filter(
         scores => TABLE (SELECT name, score FROM pg_client_scores WHERE score > $1),
         min_score => $2)
       INTO pg_client_kept WITH (run_tag = 'pg-client')`,
      [20, 50],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ procedure: 'pg_client_filter', state: 'queued', run_tag: 'pg-client' });
    const run = await waitForRun(client, rows[0].run_id);
    expect(run.state).toBe('succeeded');
    const kept = await client.query('SELECT name, score FROM pg_client_kept ORDER BY name');
    expect(kept.rows).toEqual([
      { name: 'ada', score: 90 },
      { name: 'cy', score: 75 },
    ]);
    const params = await client.query('SELECT params, input_queries FROM procgate.runs WHERE run_id = $1', [
      rows[0].run_id,
    ]);
    expect(params.rows[0].params).toEqual({ min_score: { type: 'integer', value: 50 } });
    expect(params.rows[0].input_queries[0].placeholders).toEqual({ 1: { type: 'integer', value: 20 } });
  });

  it('executes a named prepared EXECUTE PROCEDURE again and again', async () => {
    const runIds: string[] = [];
    for (const minScore of [0, 80, 100]) {
      const { rows } = await client.query({
        name: 'pg_client_execute',
        text: 'EXECUTE PROCEDURE pg_client_filter(scores => TABLE (pg_client_scores), min_score => $1) INTO pg_client_named',
        values: [minScore],
      });
      runIds.push(rows[0].run_id);
    }
    const states = await Promise.all(runIds.map(async (runId) => (await waitForRun(client, runId)).state));
    expect(states).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const counted = await client.query('SELECT count(*)::int AS n FROM pg_client_named');
    // 4 rows at min 0, 1 at min 80, none at min 100.
    expect(counted.rows[0].n).toBe(5);
  });

  it('pipelines EXECUTE PROCEDURE with plain queries (pipeline mode), answered in order', async () => {
    // pipeline: true sends each query without waiting for the answers of those before it.
    const piped = new pg.Client({ connectionString: procgate().url, pipeline: true });
    await piped.connect();
    try {
      const [one, executed, procedures, shown] = await Promise.all([
        piped.query('SELECT 1 AS one'),
        piped.query(
          'EXECUTE PROCEDURE pg_client_filter(scores => TABLE (pg_client_scores), min_score => $1) INTO pg_client_piped',
          [60],
        ),
        piped.query('SELECT count(*)::int AS n FROM procgate.procedures WHERE name = $1', ['pg_client_filter']),
        piped.query('SHOW PROCEDURE pg_client_filter'),
      ]);
      expect(one.rows).toEqual([{ one: 1 }]);
      expect(executed.rows[0]).toMatchObject({ procedure: 'pg_client_filter', state: 'queued' });
      expect(procedures.rows).toEqual([{ n: 1 }]);
      expect(shown.rows[0]).toMatchObject({ name: 'pg_client_filter', language: 'javascript' });
      expect((await waitForRun(client, executed.rows[0].run_id)).state).toBe('succeeded');
    } finally {
      await piped.end();
    }
  });

  it('gets an ErrorResponse with SQLSTATE and position for a bad statement, and the session goes on', async () => {
    const error = await client
      .query('EXECUTE PROCEDURE pg_client_filter(scores => TABLE (pg_client_scores), nope => 1)')
      .then(
        () => undefined,
        (caught: pg.DatabaseError) => caught,
      );
    expect(error?.code).toBe('22023');
    expect(error?.message).toContain('nope');
    const syntax = await client.query('EXECUTE PROCEDURE pg_client_filter(scores => TABLE').then(
      () => undefined,
      (caught: pg.DatabaseError) => caught,
    );
    expect(syntax?.code).toBe('42601');
    expect(Number(syntax?.position)).toBeGreaterThan(0);
    expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });

  it('binds the run id of KILL RUN and SHOW PROCEDURE STATUS as $1', async () => {
    await client.query("CREATE PROCEDURE pg_client_nap LANGUAGE command COMMAND 'sleep' ARGS ('60')");
    const { rows } = await client.query('EXECUTE PROCEDURE pg_client_nap()');
    const runId: string = rows[0].run_id;
    const shown = await client.query('SHOW PROCEDURE STATUS $1', [runId]);
    expect(shown.rows).toEqual([expect.objectContaining({ run_id: runId, procedure: 'pg_client_nap' })]);
    const killed = await client.query('KILL RUN $1', [runId]);
    expect(killed.rows).toEqual([{ run_id: runId, state: expect.stringMatching(/^(killed|cancelling)$/) }]);
    expect((await waitForRun(client, runId)).state).toBe('killed');
  });

  it('follows a run in procgate.runs from another connection of a pool', async () => {
    const pool = new pg.Pool({ connectionString: procgate().url, max: 2 });
    try {
      const { rows } = await pool.query(
        'EXECUTE PROCEDURE pg_client_filter(scores => TABLE (pg_client_scores)) INTO pg_client_pool',
      );
      const watcher = await pool.connect();
      try {
        const run = await waitForRun(watcher as unknown as pg.Client, rows[0].run_id);
        expect(run).toMatchObject({ state: 'succeeded', rows_out: '4' });
      } finally {
        watcher.release();
      }
    } finally {
      await pool.end();
    }
  });
});
