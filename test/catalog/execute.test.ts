import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CatalogDatabase,
  createCatalogDatabase,
  createTrain,
  createWordCount,
  one,
  runOf,
} from './catalog-fixture.js';

let catalog: CatalogDatabase;
let sql: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_execute');
  sql = catalog.admin;
  await createTrain(sql);
});

afterAll(async () => {
  await catalog.close();
});

describe('procgate.execute', () => {
  it('queues a run with typed parameters merged over the defaults', async () => {
    await createWordCount(sql, 'wc_exec');
    const started = await one(
      sql,
      `SELECT * FROM procgate.execute('wc_exec',
         ARRAY[procgate.arg('min_len', NULL, '7'), procgate.arg('tags', NULL, ARRAY[1, 2])],
         ARRAY[procgate.table_arg(NULL, 1, 'SELECT id, body FROM docs WHERE lang = $1',
                                  '{"1": {"value": "en", "type": "text"}}', ARRAY['lang'])],
         ARRAY['word_counts'],
         ARRAY[procgate.arg('run_tag', NULL, 'nightly'), procgate.arg('timeout', NULL, 90),
               procgate.arg('retries', NULL, 0), procgate.arg('segments', NULL, 4),
               procgate.arg('execute_at_startup', NULL, false),
               procgate.arg('execute_at_startup_as', NULL, 'procgate')])`,
    );
    expect(started).toEqual({
      run_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      procedure: 'wc_exec',
      state: 'queued',
      run_tag: 'nightly',
      created_at: expect.any(Date),
    });
    const run = await runOf(sql, started.run_id as string);
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
        execute_at_startup: { value: false, type: 'boolean' },
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
    await createWordCount(sql, 'wc_positional');
    const started = await one(
      sql,
      `SELECT run_id FROM procgate.execute('wc_positional',
         ARRAY[procgate.arg(NULL, 2, 5), procgate.arg(NULL, 3, ARRAY['x']), procgate.arg('since', NULL, '2020-01-01'::date)],
         ARRAY[procgate.table_arg(NULL, 1, 'SELECT * FROM docs', NULL, NULL)])`,
    );
    const run = await runOf(sql, started.run_id as string);
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
    const run = await runOf(sql, started.run_id as string);
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
    await createWordCount(sql, 'wc_nondist', 'nondistributed');
    const started = await one(
      sql,
      `SELECT run_id FROM procgate.execute('wc_nondist', ARRAY[procgate.arg('tags', NULL, '{a}')],
         ARRAY[procgate.table_arg('anything', NULL, 'SELECT 1', NULL, NULL)], ARRAY['out_a', 'out_b'])`,
    );
    const run = await runOf(sql, started.run_id as string);
    expect(run.input_queries).toEqual([
      { name: 'anything', query: 'SELECT 1', placeholders: {}, partition_by: [] },
    ]);
    expect(run.output_tables).toEqual(['out_a', 'out_b']);
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
      "SELECT * FROM procgate.create_procedure(name => 'notified', language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
    );
    await sql.query("SELECT * FROM procgate.grant_execute('notified', 'public')");
    await sql.query("SELECT * FROM procgate.revoke_execute('notified', 'public')");
    await sql.query("SELECT * FROM procgate.drop_procedure('notified')");
    await listener.query('SELECT 1');
    expect(heard).toEqual([`procgate_runs:${run.run_id}`, ...Array(4).fill('procgate_catalog:notified')]);
  });
});
