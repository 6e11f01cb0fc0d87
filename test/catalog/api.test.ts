import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogDatabase, createCatalogDatabase, one } from './catalog-fixture.js';

let catalog: CatalogDatabase;
let sql: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_api');
  sql = catalog.admin;
});

afterAll(async () => {
  await catalog.close();
});

/** A declared procedure: docs TABLE, min_len integer DEFAULT 2, tags text[], since timestamptz DEFAULT. */
async function createWordCount(name: string, mode = 'distributed'): Promise<Record<string, unknown>> {
  return one(
    sql,
    `SELECT * FROM procgate.create_procedure(
       $1, false, 'command', NULL, 'python3', ARRAY['wc.py', '--fast'], $2,
       ARRAY[procgate.param('docs', NULL, true, false, NULL),
             procgate.param('min_len', 'integer', false, true, to_jsonb(2)),
             procgate.param('tags', 'text[]', false, false, NULL),
             procgate.param('since', 'timestamptz', false, true, to_jsonb('2024-01-02 03:04:05+00'::timestamptz))],
       ARRAY[procgate.file('wc.py', 'print(1)'), procgate.file('./lib//util.py', '\\x010203'::bytea)],
       ARRAY[procgate.column('word', 'text'), procgate.column('n', 'bigint')],
       ARRAY[procgate.arg('max_concurrency_per_node', NULL, 2), procgate.arg('set_environment', NULL, 'py311')])`,
    [name, mode],
  );
}

async function runOf(runId: string): Promise<Record<string, unknown>> {
  return one(sql, 'SELECT * FROM procgate.runs WHERE run_id = $1', [runId]);
}

describe('procgate.create_procedure', () => {
  it('stores a command procedure and returns its procgate.procedures row', async () => {
    const row = await createWordCount('wc_create');
    expect(row).toEqual({
      name: 'wc_create',
      type: null,
      language: 'command',
      command: 'python3',
      args: ['wc.py', '--fast'],
      execution_mode: 'distributed',
      files: [
        { path: 'lib/util.py', size: 3 },
        { path: 'wc.py', size: 8 },
      ],
      parameters: [
        { name: 'docs', type: null, table: true },
        { name: 'min_len', type: 'integer', table: false, default: 2 },
        { name: 'tags', type: 'text[]', table: false },
        {
          name: 'since',
          type: 'timestamp with time zone',
          table: false,
          default: '2024-01-02T03:04:05+00:00',
        },
      ],
      options: {
        max_concurrency_per_node: { value: 2, type: 'integer' },
        set_environment: { value: 'py311', type: 'text' },
      },
      owner: 'procgate',
      created_at: expect.any(Date),
    });
    const files = await sql.query(
      `SELECT f.path, f.content FROM procgate_internal.procedure_files f
         JOIN procgate_internal.procedures p ON p.id = f.procedure_id WHERE p.name = 'wc_create' ORDER BY 1`,
    );
    expect(files.rows).toEqual([
      { path: 'lib/util.py', content: Buffer.from([1, 2, 3]) },
      { path: 'wc.py', content: Buffer.from('print(1)') },
    ]);
    const returns = await one(
      sql,
      "SELECT returns FROM procgate_internal.procedures WHERE name = 'wc_create'",
    );
    expect(returns.returns).toEqual([
      { name: 'word', type: 'text' },
      { name: 'n', type: 'bigint' },
    ]);
  });

  it('stores type and javascript procedures, free-form ones with WITH values as defaults', async () => {
    const typed = await one(
      sql,
      `SELECT * FROM procgate.create_procedure(name => 'train', language => 'type', type_name => 'classifier.train',
         options => ARRAY[procgate.arg('algorithm', NULL, 'glz'), procgate.arg('epochs', NULL, 10)])`,
    );
    expect(typed).toMatchObject({
      name: 'train',
      type: 'classifier.train',
      language: 'type',
      command: null,
      args: [],
      files: [],
      parameters: null,
      options: { algorithm: { value: 'glz', type: 'text' }, epochs: { value: 10, type: 'integer' } },
    });
    const js = await one(
      sql,
      `SELECT * FROM procgate.create_procedure(name => 'js_proc', language => 'javascript',
         execution_mode => 'NONDISTRIBUTED', parameters => ARRAY[]::procgate.param_def[],
         files => ARRAY[procgate.file('main.js', 'export default () => 1')])`,
    );
    expect(js).toMatchObject({ language: 'javascript', execution_mode: 'nondistributed', parameters: [] });
  });

  it('turns WITH values naming declared parameters into their defaults, converted to the declared type', async () => {
    const row = await one(
      sql,
      `SELECT * FROM procgate.create_procedure(name => 'with_defaults', language => 'type', type_name => 't',
         parameters => ARRAY[procgate.param('n', 'bigint', false, true, to_jsonb(1)),
                             procgate.param('ratio', 'numeric', false, false, NULL)],
         options => ARRAY[procgate.arg('n', NULL, '42'), procgate.arg('ratio', NULL, 0.5)])`,
    );
    expect(row.parameters).toEqual([
      { name: 'n', type: 'bigint', table: false, default: 42 },
      { name: 'ratio', type: 'numeric', table: false, default: 0.5 },
    ]);
    expect(row.options).toEqual({});
  });

  it('replaces a procedure, keeping its owner, grants and creation time', async () => {
    const before = await createWordCount('wc_replace');
    await sql.query("SELECT * FROM procgate.grant_execute('wc_replace', 'public')");
    const after = await one(
      sql,
      `SELECT * FROM procgate.create_procedure(name => 'wc_replace', or_replace => true, language => 'command',
         command => 'ruby', files => ARRAY[procgate.file('wc.rb', 'puts 1')])`,
    );
    expect(after).toMatchObject({
      command: 'ruby',
      args: [],
      files: [{ path: 'wc.rb', size: 6 }],
      parameters: null,
      options: {},
      created_at: before.created_at,
    });
    const stored = await one(
      sql,
      "SELECT execute_roles FROM procgate_internal.procedures WHERE name = 'wc_replace'",
    );
    expect(stored.execute_roles).toEqual(['public']);
  });

  it('starts a run with the defaults when run_on_creation is true', async () => {
    await sql.query(
      `SELECT * FROM procgate.create_procedure(name => 'at_once', language => 'type', type_name => 't',
         options => ARRAY[procgate.arg('run_on_creation', NULL, true), procgate.arg('k', NULL, 'v')])`,
    );
    const runs = await sql.query(
      "SELECT state, params, options FROM procgate.runs WHERE procedure = 'at_once'",
    );
    expect(runs.rows).toEqual([
      {
        state: 'queued',
        params: { k: { value: 'v', type: 'text' } },
        options: { max_output_lines: { value: 100, type: 'integer' } },
      },
    ]);
  });
});

describe('procgate.execute', () => {
  it('queues a run with typed parameters merged over the defaults', async () => {
    await createWordCount('wc_exec');
    const started = await one(
      sql,
      `SELECT * FROM procgate.execute('wc_exec',
         ARRAY[procgate.arg('min_len', NULL, '7'), procgate.arg('tags', NULL, ARRAY[1, 2])],
         ARRAY[procgate.table_arg(NULL, 1, 'SELECT id, body FROM docs WHERE lang = $1',
                                  '{"1": {"value": "en", "type": "text"}}', ARRAY['lang'])],
         ARRAY['word_counts'],
         ARRAY[procgate.arg('run_tag', NULL, 'nightly'), procgate.arg('timeout', NULL, 90),
               procgate.arg('retries', NULL, 0), procgate.arg('segments', NULL, 4),
               procgate.arg('execute_at_startup', NULL, true),
               procgate.arg('execute_at_startup_as', NULL, 'procgate')])`,
    );
    expect(started).toEqual({
      run_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      procedure: 'wc_exec',
      state: 'queued',
      run_tag: 'nightly',
      created_at: expect.any(Date),
    });
    const run = await runOf(started.run_id as string);
    expect(run).toMatchObject({
      procedure: 'wc_exec',
      state: 'queued',
      run_tag: 'nightly',
      params: {
        min_len: { value: 7, type: 'integer' },
        tags: { value: ['1', '2'], type: 'text[]' },
        since: { value: '2024-01-02T03:04:05+00:00', type: 'timestamp with time zone' },
      },
      input_queries: [
        {
          name: 'docs',
          query: 'SELECT id, body FROM docs WHERE lang = $1',
          placeholders: { '1': { value: 'en', type: 'text' } },
          partition_by: ['lang'],
        },
      ],
      output_tables: ['word_counts'],
      options: {
        run_tag: { value: 'nightly', type: 'text' },
        timeout: { value: '00:01:30', type: 'interval' },
        retries: { value: 0, type: 'integer' },
        segments: { value: 4, type: 'integer' },
        execute_at_startup: { value: true, type: 'boolean' },
        execute_at_startup_as: { value: 'procgate', type: 'text' },
        max_output_lines: { value: 100, type: 'integer' },
      },
      submitted_by: 'procgate',
      started_at: null,
      finished_at: null,
      duration: null,
      progress: '0',
      segments_total: null,
      segments_succeeded: 0,
      segments_failed: 0,
      rows_in: '0',
      rows_out: '0',
      error: null,
      results: null,
      worker: null,
      heartbeat_at: null,
    });
  });

  it('maps positional arguments onto the declared parameters in order', async () => {
    await createWordCount('wc_positional');
    const started = await one(
      sql,
      `SELECT run_id FROM procgate.execute('wc_positional',
         ARRAY[procgate.arg(NULL, 2, 5), procgate.arg(NULL, 3, ARRAY['x']), procgate.arg('since', NULL, '2020-01-01'::date)],
         ARRAY[procgate.table_arg(NULL, 1, 'SELECT * FROM docs', NULL, NULL)])`,
    );
    const run = await runOf(started.run_id as string);
    expect(run.params).toEqual({
      min_len: { value: 5, type: 'integer' },
      tags: { value: ['x'], type: 'text[]' },
      since: { value: expect.stringMatching(/^2020-01-01T00:00:00/), type: 'timestamp with time zone' },
    });
    expect(run.input_queries).toEqual([
      { name: 'docs', query: 'SELECT * FROM docs', placeholders: {}, partition_by: [] },
    ]);
  });

  it('keeps free-form arguments in their own types, over the WITH defaults', async () => {
    const started = await one(
      sql,
      `SELECT run_id FROM procgate.execute('train', ARRAY[
         procgate.arg('epochs', NULL, 20::bigint), procgate.arg('lr', NULL, 0.01),
         procgate.arg('at', NULL, '2024-05-06 07:08:09+00'::timestamptz), procgate.arg('blob', NULL, '\\xff00'::bytea),
         procgate.arg('note', NULL, NULL), procgate.arg('conf', NULL, '{"a": [1]}'::jsonb)])`,
    );
    const run = await runOf(started.run_id as string);
    expect(run.params).toEqual({
      algorithm: { value: 'glz', type: 'text' },
      epochs: { value: 20, type: 'bigint' },
      lr: { value: 0.01, type: 'numeric' },
      at: { value: '2024-05-06T07:08:09+00:00', type: 'timestamp with time zone' },
      blob: { value: '\\xff00', type: 'bytea' },
      note: { value: null, type: 'text' },
      conf: { value: { a: [1] }, type: 'jsonb' },
    });
  });

  it('stores TABLE arguments and INTO of a nondistributed procedure as given', async () => {
    await createWordCount('wc_nondist', 'nondistributed');
    const started = await one(
      sql,
      `SELECT run_id FROM procgate.execute('wc_nondist', ARRAY[procgate.arg('tags', NULL, '{a}')],
         ARRAY[procgate.table_arg('anything', NULL, 'SELECT 1', NULL, NULL)], ARRAY['out_a', 'out_b'])`,
    );
    const run = await runOf(started.run_id as string);
    expect(run.input_queries).toEqual([
      { name: 'anything', query: 'SELECT 1', placeholders: {}, partition_by: [] },
    ]);
    expect(run.output_tables).toEqual(['out_a', 'out_b']);
  });

  it('has procgate.call with the same signature and, until the engine exists, the same effect', async () => {
    const started = await one(
      sql,
      "SELECT * FROM procgate.call('train', options => ARRAY[procgate.arg('run_tag', NULL, 'c')])",
    );
    expect(started).toMatchObject({ procedure: 'train', state: 'queued', run_tag: 'c' });
  });

  it('leaves no run behind when the transaction rolls back', async () => {
    const before = await one(
      sql,
      "SELECT count(*)::int AS n FROM procgate_internal.runs WHERE procedure = 'train'",
    );
    await sql.query('BEGIN');
    await sql.query("SELECT * FROM procgate.execute('train')");
    await sql.query('ROLLBACK');
    const after = await one(
      sql,
      "SELECT count(*)::int AS n FROM procgate_internal.runs WHERE procedure = 'train'",
    );
    expect(after.n).toBe(before.n);
  });

  it('notifies procgate_runs at commit, and not for a rolled-back run', async () => {
    const listener = await catalog.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(`${n.channel}:${n.payload}`));
    await listener.query('LISTEN procgate_runs; LISTEN procgate_catalog');
    await sql.query('BEGIN');
    await sql.query("SELECT * FROM procgate.execute('train')");
    await sql.query('ROLLBACK');
    await sql.query('BEGIN');
    const run = await one(sql, "SELECT run_id FROM procgate.execute('train')");
    expect(heard).toEqual([]);
    await sql.query('COMMIT');
    await sql.query(
      "SELECT * FROM procgate.create_procedure(name => 'notified', language => 'type', type_name => 't')",
    );
    await sql.query("SELECT * FROM procgate.grant_execute('notified', 'public')");
    await sql.query("SELECT * FROM procgate.revoke_execute('notified', 'public')");
    await sql.query("SELECT * FROM procgate.drop_procedure('notified')");
    await listener.query('SELECT 1');
    expect(heard).toEqual([`procgate_runs:${run.run_id}`, ...Array(4).fill('procgate_catalog:notified')]);
  });
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
      "SELECT * FROM procgate.create_procedure(name => 'k1', language => 'type', type_name => 't')",
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
    expect(await runOf(queued)).toMatchObject({ state: 'killed', finished_at: expect.any(Date) });
    expect(await runOf(running)).toMatchObject({ state: 'cancelling', finished_at: null });
  });

  it('kill_runs kills by procedure, by run tag, or everything', async () => {
    await sql.query(
      "SELECT * FROM procgate.create_procedure(name => 'k2', language => 'type', type_name => 't')",
    );
    await sql.query(
      "SELECT * FROM procgate.create_procedure(name => 'k3', language => 'type', type_name => 't')",
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
      `SELECT * FROM procgate.create_procedure(name => 'dropme', language => 'type', type_name => 't',
         files => ARRAY[procgate.file('dropped/file.txt', 'x')])`,
    );
    const queued = await queue('dropme');
    const running = await queue('dropme');
    await forceState(running, 'running');
    const dropped = await sql.query("SELECT * FROM procgate.drop_procedure('dropme')");
    expect(dropped.rows).toEqual([{ procedure: 'dropme', runs_killed: 2 }]);
    expect(await runOf(queued)).toMatchObject({ procedure: 'dropme', state: 'killed' });
    expect(await runOf(running)).toMatchObject({ procedure: 'dropme', state: 'cancelling' });
    expect((await sql.query("SELECT * FROM procgate.procedures WHERE name = 'dropme'")).rows).toEqual([]);
    const files = await sql.query(
      "SELECT FROM procgate_internal.procedure_files WHERE path = 'dropped/file.txt'",
    );
    expect(files.rowCount).toBe(0);
    expect((await sql.query("SELECT * FROM procgate.drop_procedure('dropme', true)")).rows).toEqual([]);
  });

  it('grant_execute and revoke_execute record the grantee', async () => {
    await sql.query(
      "SELECT * FROM procgate.create_procedure(name => 'g1', language => 'type', type_name => 't')",
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
      type: 'classifier.train',
    });
    const tagged = await queue('train', 'shown');
    expect(
      (await sql.query("SELECT run_id FROM procgate.show_procedure_status(NULL, 'shown')")).rows,
    ).toEqual([{ run_id: tagged }]);
    expect(await one(sql, 'SELECT run_id, state FROM procgate.show_procedure_status($1)', [tagged])).toEqual({
      run_id: tagged,
      state: 'queued',
    });
    const all = await sql.query('SELECT created_at FROM procgate.show_procedure_status()');
    expect(all.rows.length).toBeGreaterThan(1);
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

  it('have exactly the columns DESIGN.md lists, with types BI tools can chart', async () => {
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
    await sql.query(
      "INSERT INTO procgate_internal.run_segments (run_id, segment, state, progress) VALUES ($1, 0, 'running', 0.25)",
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
