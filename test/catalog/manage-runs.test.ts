import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogDatabase, createCatalogDatabase, createTrain, one, runOf } from './catalog-fixture.js';

let catalog: CatalogDatabase;
let sql: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_manage');
  sql = catalog.admin;
  await createTrain(sql);
});

afterAll(async () => {
  await catalog.close();
});

describe('kill, drop, grant and show', () => {
  /** Puts a run in `state` as the engine would. */
  async function forceState(runId: string, state: string): Promise<void> {
    await sql.query(
      `UPDATE procgate_internal.runs SET state = $2, started_at = now() - interval '1 minute',
         finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'killed') THEN now() END WHERE run_id = $1`,
      [runId, state],
    );
  }

  async function queue(name: string, tag?: string): Promise<string> {
    const options = tag === undefined ? 'NULL' : `ARRAY[procgate.arg('run_tag', NULL, '${tag}')]`;
    const row = await one(sql, `SELECT run_id FROM procgate.execute('${name}', options => ${options})`);
    return row.run_id as string;
  }

  it('kill_run kills a queued run, cancels a running one and leaves a finished one', async () => {
    await sql.query(
      "SELECT * FROM procgate.create_procedure(name => 'k1', language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
    );
    const [queued, running, done] = [await queue('k1'), await queue('k1'), await queue('k1')];
    await forceState(running, 'running');
    await forceState(done, 'succeeded');
    expect((await sql.query('SELECT * FROM procgate.kill_run($1)', [queued])).rows).toEqual([
      { run_id: queued, state: 'killed' },
    ]);
    expect((await sql.query('SELECT * FROM procgate.kill_run($1)', [running])).rows).toEqual([
      { run_id: running, state: 'cancelling' },
    ]);
    expect((await sql.query('SELECT * FROM procgate.kill_run($1)', [done])).rows).toEqual([]);
    expect(await runOf(sql, queued)).toMatchObject({ state: 'killed', finished_at: expect.any(Date) });
    expect(await runOf(sql, running)).toMatchObject({ state: 'cancelling', finished_at: null });
  });

  it('kill_runs kills by procedure, by run tag, or everything', async () => {
    await sql.query(
      "SELECT * FROM procgate.create_procedure(name => 'k2', language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
    );
    await sql.query(
      "SELECT * FROM procgate.create_procedure(name => 'k3', language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
    );
    const a = await queue('k2', 'blue');
    const b = await queue('k3', 'blue');
    const c = await queue('k3', 'red');
    const byTag = await sql.query("SELECT * FROM procgate.kill_runs(NULL, 'blue') ORDER BY run_id");
    expect(byTag.rows).toEqual([a, b].sort().map((run_id) => ({ run_id, state: 'killed' })));
    const byProcedure = await sql.query("SELECT * FROM procgate.kill_runs('k3', NULL)");
    expect(byProcedure.rows).toEqual([{ run_id: c, state: 'killed' }]);
    const d = await queue('k2');
    const all = await sql.query('SELECT * FROM procgate.kill_runs()');
    expect(all.rows).toContainEqual({ run_id: d, state: 'killed' });
    expect(await one(sql, "SELECT count(*)::int AS n FROM procgate.runs WHERE state = 'queued'")).toEqual({
      n: 0,
    });
  });

  it('drop_procedure kills its runs, deletes it and its files, and keeps the run history', async () => {
    await sql.query(
      `SELECT * FROM procgate.create_procedure(name => 'dropme', language => 'javascript',
         files => ARRAY[procgate.file('dropped/file.txt', 'x')])`,
    );
    const queued = await queue('dropme');
    const running = await queue('dropme');
    await forceState(running, 'running');
    const dropped = await sql.query("SELECT * FROM procgate.drop_procedure('dropme')");
    expect(dropped.rows).toEqual([{ procedure: 'dropme', runs_killed: 2 }]);
    expect(await runOf(sql, queued)).toMatchObject({ procedure: 'dropme', state: 'killed' });
    expect(await runOf(sql, running)).toMatchObject({ procedure: 'dropme', state: 'cancelling' });
    expect((await sql.query("SELECT * FROM procgate.procedures WHERE name = 'dropme'")).rows).toEqual([]);
    const files = await sql.query(
      "SELECT FROM procgate_internal.procedure_files WHERE path = 'dropped/file.txt'",
    );
    expect(files.rowCount).toBe(0);
    expect((await sql.query("SELECT * FROM procgate.drop_procedure('dropme', true)")).rows).toEqual([]);
  });

  it('grant_execute and revoke_execute record the grantee', async () => {
    await sql.query(
      "SELECT * FROM procgate.create_procedure(name => 'g1', language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
    );
    expect((await sql.query("SELECT * FROM procgate.grant_execute('g1', 'procgate_admin')")).rows).toEqual([
      { procedure: 'g1', role: 'procgate_admin' },
    ]);
    await sql.query("SELECT * FROM procgate.grant_execute('g1', 'PUBLIC')");
    await sql.query("SELECT * FROM procgate.grant_execute('g1', 'public')");
    const roles = () => one(sql, "SELECT execute_roles FROM procgate_internal.procedures WHERE name = 'g1'");
    expect((await roles()).execute_roles).toEqual(['procgate_admin', 'public']);
    expect((await sql.query("SELECT * FROM procgate.revoke_execute('g1', 'procgate_admin')")).rows).toEqual([
      { procedure: 'g1', role: 'procgate_admin' },
    ]);
    expect((await roles()).execute_roles).toEqual(['public']);
  });

  it('show_procedures, show_procedure and show_procedure_status return view rows', async () => {
    const names = (await sql.query('SELECT name FROM procgate.show_procedures()')).rows.map((r) => r.name);
    expect(names).toEqual([...names].sort());
    expect(names).toContain('train');
    expect(await one(sql, "SELECT name, type FROM procgate.show_procedure('train')")).toEqual({
      name: 'train',
      type: null,
    });
    const tagged = await queue('train', 'shown');
    expect(
      (await sql.query("SELECT run_id FROM procgate.show_procedure_status(NULL, 'shown')")).rows,
    ).toEqual([{ run_id: tagged }]);
    expect(await one(sql, 'SELECT run_id, state FROM procgate.show_procedure_status($1)', [tagged])).toEqual({
      run_id: tagged,
      state: 'queued',
    });
    const all = await sql.query('SELECT started FROM procgate.show_procedure_status()');
    expect(all.rows.length).toBeGreaterThan(1);
  });

  it('show_procedures and show_procedure_status keep to a compact set of columns, times to the second', async () => {
    const shown = await sql.query("SELECT * FROM procgate.show_procedures() WHERE name = 'train'");
    expect(shown.fields.map((field) => field.name)).toEqual(['name', 'kind', 'mode', 'owner', 'created']);
    const full = await one(sql, "SELECT language, execution_mode, owner, date_trunc('second', created_at) AS created FROM procgate.procedures WHERE name = 'train'");
    expect(shown.rows).toEqual([
      { name: 'train', kind: full.language, mode: full.execution_mode, owner: full.owner, created: full.created },
    ]);
    await sql.query(
      "SELECT * FROM procgate.create_procedure(name => 'typed', language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
    );
    expect(await one(sql, "SELECT kind, mode FROM procgate.show_procedures() WHERE name = 'typed'")).toEqual({
      kind: 'sql',
      mode: 'distributed',
    });

    const runId = await queue('train', 'compact');
    await sql.query(
      `UPDATE procgate_internal.runs SET state = 'failed', progress = 0.5, error = 'boom',
         started_at = '2026-01-02 03:04:05.678+00', finished_at = '2026-01-02 03:04:07.9+00' WHERE run_id = $1`,
      [runId],
    );
    const status = await sql.query("SELECT * FROM procgate.show_procedure_status(run_tag => 'compact')");
    expect(status.fields.map((field) => field.name)).toEqual([
      'run_id',
      'procedure',
      'state',
      'progress',
      'started',
      'duration',
      'error',
    ]);
    expect(
      await one(sql, "SELECT started = '2026-01-02 03:04:05+00' AS started, duration::text AS duration, progress::float8 AS progress, error FROM procgate.show_procedure_status($1)", [runId]),
    ).toEqual({ started: true, duration: '00:00:02.222', progress: 0.5, error: 'boom' });
  });
});

describe('the procgate views', () => {
  async function columns(view: string): Promise<string[]> {
    const result = await sql.query(
      `SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) AS col
         FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 ORDER BY a.attnum`,
      [view],
    );
    return result.rows.map((r) => r.col);
  }

  it('have exactly the columns users and BI tools rely on, with types BI tools can chart', async () => {
    expect(await columns('procgate.procedures')).toEqual([
      'name text',
      'type text',
      'language text',
      'command text',
      'args text[]',
      'execution_mode text',
      'files jsonb',
      'parameters jsonb',
      'options jsonb',
      'owner name',
      'created_at timestamp with time zone',
    ]);
    expect(await columns('procgate.runs')).toEqual([
      'run_id uuid',
      'procedure text',
      'state text',
      'run_tag text',
      'params jsonb',
      'input_queries jsonb',
      'output_tables text[]',
      'options jsonb',
      'submitted_by name',
      'created_at timestamp with time zone',
      'started_at timestamp with time zone',
      'finished_at timestamp with time zone',
      'duration interval',
      'progress numeric',
      'segments_total integer',
      'segments_succeeded integer',
      'segments_failed integer',
      'rows_in bigint',
      'rows_out bigint',
      'error text',
      'results jsonb',
      'worker text',
      'heartbeat_at timestamp with time zone',
    ]);
    expect(await columns('procgate.run_segments')).toEqual([
      'run_id uuid',
      'segment integer',
      'state text',
      'worker text',
      'pid integer',
      'attempt integer',
      'started_at timestamp with time zone',
      'finished_at timestamp with time zone',
      'exit_code integer',
      'rows_in bigint',
      'rows_out bigint',
      'progress numeric',
      'message text',
      'results jsonb',
    ]);
    expect(await columns('procgate.run_output')).toEqual([
      'run_id uuid',
      'segment integer',
      'stream text',
      'line_no bigint',
      'line text',
      'at timestamp with time zone',
    ]);
  });

  it('compute duration from start to finish, or to now while running', async () => {
    const run = await one(sql, "SELECT run_id FROM procgate.execute('train')");
    await sql.query(
      `UPDATE procgate_internal.runs SET state = 'succeeded', started_at = '2024-01-01 00:00:00+00',
         finished_at = '2024-01-01 00:02:03.5+00' WHERE run_id = $1`,
      [run.run_id],
    );
    expect(
      await one(sql, 'SELECT duration::text AS d FROM procgate.runs WHERE run_id = $1', [run.run_id]),
    ).toEqual({
      d: '00:02:03.5',
    });
  });

  it('show segments and output lines of a run', async () => {
    const run = await one(sql, "SELECT run_id FROM procgate.execute('train')");
    // EXECUTE gave the run its one segment; here it runs.
    await sql.query(
      "UPDATE procgate_internal.run_segments SET state = 'running', progress = 0.25 WHERE run_id = $1 AND segment = 0",
      [run.run_id],
    );
    await sql.query(
      "INSERT INTO procgate_internal.run_output (run_id, segment, stream, line_no, line) VALUES ($1, 0, 'stdout', 1, 'hello')",
      [run.run_id],
    );
    expect(
      await one(sql, 'SELECT segment, state, progress FROM procgate.run_segments WHERE run_id = $1', [
        run.run_id,
      ]),
    ).toEqual({
      segment: 0,
      state: 'running',
      progress: '0.25',
    });
    expect(
      await one(sql, 'SELECT stream, line_no, line FROM procgate.run_output WHERE run_id = $1', [run.run_id]),
    ).toEqual({
      stream: 'stdout',
      line_no: '1',
      line: 'hello',
    });
  });
});
