import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

/**
 * TABLE inputs read straight from their sources: every segment of a run
 * reads its share under the snapshot the planning engine exported, in the
 * segment's own login (as the caller), with no staging table; and the
 * cases that are still staged.
 */

const t = useProxiedDatabase('engine_direct_inputs', { statements: true });

interface RunRow {
  run_id: string;
  state: string;
  error: string | null;
  error_code: string | null;
  rows_in: string;
  rows_out: string;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished, query } = fixture;

/** Copies input i's CSV to output i's file. */
const COPY = `
import json, os, shutil
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
for source, target in zip(control['inputs'], control['outputs']):
    shutil.copyfile(source['path'], target['path'])
`;

/** session_user in a TABLE query: a segment's login (procgate_<run>_<segment>_<attempt>) reads directly; the engine stages. */
const LOGIN = /^procgate_[0-9a-f]{32}_\d+_\d+$/;

/** A session of its own that holds the locks the tests gate segments' reads with. */
let gate: pg.Client;

beforeAll(async () => {
  await fixture.client.query(`
    CREATE TABLE source AS
      SELECT g AS id, 'v' || g AS v, g % 5 AS k FROM generate_series(1, 3000) g`);
  await fixture.client.query('CREATE TABLE source_before AS SELECT * FROM source');
  // CREATE TABLE AS extends the table ahead of its rows: shares of empty blocks would read nothing.
  await fixture.client.query('VACUUM source');
  await fixture.client.query(
    `CREATE FUNCTION wait_for_gate() RETURNS int LANGUAGE plpgsql VOLATILE
       AS $fn$ BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN 1; END $fn$`,
  );
  gate = new pg.Client(t.db.direct);
  await gate.connect();
  await fixture.client.query(
    `CREATE PROCEDURE copy_rows LANGUAGE command COMMAND 'python3' ARGS ('copy.py') FILES ('copy.py' = $1)`,
    [COPY],
  );
});

afterAll(async () => {
  await gate.end();
});

/** Sessions waiting for the gate's advisory lock. */
async function readersAtGate(): Promise<number> {
  const [row] = await query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted`,
  );
  return row!.n;
}

/** Rows of query `a` not in query `b` and of `b` not in `a`, as many times as they appear. */
async function difference(a: string, b: string): Promise<{ missing: number; extra: number }> {
  const [row] = await query<{ missing: number; extra: number }>(
    `SELECT (SELECT count(*) FROM (${a} EXCEPT ALL ${b}) d)::int AS missing,
            (SELECT count(*) FROM (${b} EXCEPT ALL ${a}) d)::int AS extra`,
  );
  return row!;
}

async function readers(table: string): Promise<string[]> {
  const rows = await query<{ reader: string }>(`SELECT DISTINCT reader FROM ${table}`);
  return rows.map((row) => row.reader);
}

async function heldSnapshots(): Promise<number> {
  const [row] = await query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'procgate input snapshot' AND state = 'idle in transaction'`,
  );
  return row!.n;
}

describe('TABLE inputs read directly under the run\'s snapshot', () => {
  it('gives every segment the rows of one snapshot: changes made after planning reach no segment', async () => {
    await using restore = {
      [Symbol.asyncDispose]: async () => {
        await gate.query('SELECT pg_advisory_unlock_all()');
        await fixture.client.query('TRUNCATE source; INSERT INTO source TABLE source_before');
        await fixture.client.query('VACUUM source');
      },
    };
    void restore;
    // Each segment's read stops at its first row until the gate opens.
    await gate.query('SELECT pg_advisory_lock(4242)');
    const runId = await execute(
      `EXECUTE PROCEDURE copy_rows(rows => TABLE (SELECT id, v, k, wait_for_gate() AS g FROM source)) INTO one_snapshot
         WITH (segments = 3)`,
    );
    const waiting = await eventually(readersAtGate, (n) => n === 3, 10_000);
    expect(waiting).toBe(3);
    const [planned] = await query<{ kinds: string[] }>(
      `SELECT array_agg(i ->> 'kind') AS kinds FROM procgate_internal.runs r, jsonb_array_elements(r.staged_inputs) i WHERE r.run_id = $1`,
      [runId],
    );
    expect(planned).toEqual({ kinds: ['direct'] });
    expect(await query(`SELECT tablename FROM pg_tables WHERE schemaname = 'procgate_staging'`)).toEqual([]);
    // Every segment has begun reading; they read on after these changes.
    await fixture.client.query(`INSERT INTO source SELECT g, 'new' || g, 0 FROM generate_series(3001, 3500) g`);
    await fixture.client.query(`UPDATE source SET v = 'changed' WHERE id % 7 = 0`);
    await fixture.client.query('DELETE FROM source WHERE id % 11 = 0');
    await gate.query('SELECT pg_advisory_unlock(4242)');
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', rows_in: '3000', rows_out: '3000' });
    expect(await difference('SELECT id, v, k FROM one_snapshot', 'TABLE source_before')).toEqual({ missing: 0, extra: 0 });
    // Once no segment is left to read, the snapshot goes.
    expect(await eventually(heldSnapshots, (n) => n === 0, 10_000)).toBe(0);
  });

  it('reads as the caller, through the segment\'s own login', async () => {
    await fixture.client.query(`CREATE ROLE direct_reader`);
    await fixture.client.query('GRANT procgate_developer TO direct_reader');
    await fixture.client.query('GRANT EXECUTE ON PROCEDURE copy_rows TO direct_reader');
    await fixture.client.query('GRANT CREATE ON SCHEMA public TO direct_reader');
    await fixture.client.query('CREATE TABLE secret (x int)');
    await fixture.client.query(`CREATE FUNCTION who() RETURNS text LANGUAGE sql STABLE AS 'SELECT current_user::text'`);
    await fixture.client.query('SET ROLE direct_reader');
    try {
      // Refused as the caller when EXECUTE checks the query.
      await expect(
        fixture.client.query('EXECUTE PROCEDURE copy_rows(rows => TABLE (secret)) INTO stolen WITH (segments = 2)'),
      ).rejects.toMatchObject({ code: '42501' });
    } finally {
      await fixture.client.query('RESET ROLE');
    }
    await fixture.client.query('GRANT SELECT ON source TO direct_reader');
    await fixture.client.query('SET ROLE direct_reader');
    let runId: string;
    try {
      runId = await execute(
        `EXECUTE PROCEDURE copy_rows(rows => TABLE (SELECT id, who() AS who, session_user::text AS reader FROM source))
           INTO read_as_caller WITH (segments = 2)`,
      );
    } finally {
      await fixture.client.query('RESET ROLE');
    }
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', rows_out: '3000' });
    expect(await query('SELECT DISTINCT who FROM read_as_caller')).toEqual([{ who: 'direct_reader' }]);
    const logins = await readers('read_as_caller');
    expect(logins.length).toBeGreaterThan(0);
    for (const login of logins) expect(login).toMatch(LOGIN);
  });

  it('writes $n placeholders into the query as typed literals', async () => {
    const { rows } = await fixture.client.query<{ run_id: string }>(
      `EXECUTE PROCEDURE copy_rows(rows => TABLE (
         SELECT id, v, session_user::text AS reader FROM source WHERE id BETWEEN $1 AND $2 AND v <> $3 AND $4::date < '2030-01-01'))
         INTO placeholders WITH (segments = 2)`,
      [10, 19, 'v12', '2026-12-03'],
    );
    expect(await finished(rows[0]!.run_id)).toMatchObject({ state: 'succeeded', rows_out: '9' });
    expect(await query('SELECT min(id) AS lo, max(id) AS hi, bool_or(id = 12) AS twelve FROM placeholders')).toEqual([
      { lo: 10, hi: 19, twelve: false },
    ]);
    for (const reader of await readers('placeholders')) expect(reader).toMatch(LOGIN);
  });

  it('reads a query that is no plain scan whole in a run of one segment', async () => {
    const runId = await execute(
      `EXECUTE PROCEDURE copy_rows(rows => TABLE (
         SELECT k, count(*)::int AS n, session_user::text AS reader FROM source a JOIN source b USING (id, v, k) GROUP BY k))
         INTO grouped WITH (segments = 1)`,
    );
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', rows_out: '5' });
    expect(await query('SELECT sum(n)::int AS n FROM grouped')).toEqual([{ n: 3000 }]);
    expect(await readers('grouped')).toEqual([expect.stringMatching(LOGIN)]);
  });

  it('fails the segments whose snapshot is gone with 55000, at once', async () => {
    // The segments cannot make their logins (so cannot import the snapshot) while this lock is held.
    await gate.query('BEGIN');
    await gate.query('LOCK TABLE procgate_internal.segment_logins IN EXCLUSIVE MODE');
    let runId: string;
    try {
      runId = await execute('EXECUTE PROCEDURE copy_rows(rows => TABLE (source)) INTO gone WITH (segments = 2)');
      await eventually(heldSnapshots, (n) => n === 1, 10_000);
      // As if the engine that planned the run had lost its holder's session.
      await fixture.client.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'procgate input snapshot'`,
      );
    } finally {
      await gate.query('COMMIT');
    }
    const row = await finished(runId);
    expect(row.state).toBe('failed');
    expect(row.error).toMatch(/snapshot of the run's TABLE inputs is gone/);
    expect(await query('SELECT procgate.run_error_code($1) AS code', [runId])).toEqual([{ code: '55000' }]);
    expect(await query(`SELECT DISTINCT state FROM procgate.run_segments WHERE run_id = $1`, [runId])).toEqual([
      { state: 'failed' },
    ]);
  });
});

describe('TABLE inputs still staged', () => {
  it('stages with retries, PARTITION BY, and a query of several segments that is no plain scan; then drops the tables', async () => {
    const staged = [
      `TABLE (SELECT id, session_user::text AS reader FROM source)) INTO with_retries WITH (segments = 2, retries = 1)`,
      `TABLE (SELECT id, k, session_user::text AS reader FROM source) PARTITION BY k) INTO partitioned`,
      `TABLE (SELECT a.id, session_user::text AS reader FROM source a JOIN source b USING (id))) INTO joined WITH (segments = 2)`,
      `TABLE (SELECT id, session_user::text AS reader FROM source ORDER BY id LIMIT 100)) INTO limited WITH (segments = 2)`,
    ];
    for (const argument of staged) {
      const runId = await execute(`EXECUTE PROCEDURE copy_rows(rows => ${argument}`);
      const row = await finished(runId);
      expect(row.state, argument).toBe('succeeded');
      const into = /INTO (\w+)/.exec(argument)![1]!;
      const [reader] = await readers(into);
      expect(reader, argument).not.toMatch(LOGIN);
    }
    expect(await query('SELECT count(*)::int AS n FROM limited')).toEqual([{ n: 100 }]);
    expect(await query('SELECT count(*)::int AS n FROM with_retries')).toEqual([{ n: 3000 }]);
    const left = await eventually(
      () => query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'procgate_staging'`),
      (rows) => rows[0]?.n === 0,
      8000,
    );
    expect(left).toEqual([{ n: 0 }]);
  });
});
