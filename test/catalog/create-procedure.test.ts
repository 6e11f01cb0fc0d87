import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogDatabase, createCatalogDatabase, createWordCount, one } from './catalog-fixture.js';

let catalog: CatalogDatabase;
let sql: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_create');
  sql = catalog.admin;
});

afterAll(async () => {
  await catalog.close();
});

describe('procgate.create_procedure', () => {
  it('stores a command procedure and returns its procgate.procedures row', async () => {
    const row = await createWordCount(sql, 'wc_create');
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
      `SELECT * FROM procgate.create_procedure(name => 'train', language => 'type', type_name => 'sql',
         options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])`,
    );
    expect(typed).toMatchObject({
      name: 'train',
      type: 'sql',
      language: 'type',
      command: null,
      args: [],
      files: [],
      parameters: null,
      options: { statements: { value: ['SELECT 1'], type: 'text[]' } },
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
      `SELECT * FROM procgate.create_procedure(name => 'with_defaults', language => 'javascript',
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
    const before = await createWordCount(sql, 'wc_replace');
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
      `SELECT * FROM procgate.create_procedure(name => 'at_once', language => 'javascript',
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
