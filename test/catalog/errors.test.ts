import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogDatabase, createCatalogDatabase, expectSqlError } from './catalog-fixture.js';

const UNDEFINED_FUNCTION = '42883';
const DUPLICATE_FUNCTION = '42723';
const INVALID_PARAMETER_VALUE = '22023';
const UNDEFINED_OBJECT = '42704';

let catalog: CatalogDatabase;
let sql: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_errors');
  sql = catalog.admin;
  // p(docs TABLE, n integer, flag boolean DEFAULT false), distributed.
  await sql.query(
    `SELECT * FROM procgate.create_procedure(name => 'p', language => 'javascript',
       parameters => ARRAY[procgate.param('docs', NULL, true, false, NULL),
                           procgate.param('n', 'integer', false, false, NULL),
                           procgate.param('flag', 'boolean', false, true, 'false')])`,
  );
  await sql.query(
    "SELECT * FROM procgate.create_procedure(name => 'free', language => 'javascript')",
  );
});

afterAll(async () => {
  await catalog.close();
});

const docs = "ARRAY[procgate.table_arg('docs', NULL, 'SELECT 1', NULL, NULL)]";

/** EXECUTE of p with these scalar args (SQL array elements), its table argument and options. */
function executeP(args: string, tables = docs, options = 'NULL'): string {
  return `SELECT * FROM procgate.execute('p', ARRAY[${args}]::procgate.arg_value[], ${tables}, NULL, ${options})`;
}

function createWith(extra: string, name = 'bad'): string {
  return `SELECT * FROM procgate.create_procedure(name => '${name}', language => 'javascript', ${extra})`;
}

describe('unknown procedures: 42883', () => {
  it.each([
    ["SELECT * FROM procgate.execute('nope')"],
    ["CALL procgate.call_and_wait('nope')"],
    ["SELECT * FROM procgate.show_procedure('nope')"],
    ["SELECT * FROM procgate.drop_procedure('nope')"],
    ["SELECT * FROM procgate.grant_execute('nope', 'public')"],
    ["SELECT * FROM procgate.revoke_execute('nope', 'public')"],
    ["SELECT * FROM procgate.kill_runs('nope', NULL)"],
  ])('%s', async (statement) => {
    await expectSqlError(sql, statement, UNDEFINED_FUNCTION, 'procedure "nope" does not exist');
  });
});

describe('CREATE PROCEDURE', () => {
  it('refuses a duplicate without OR REPLACE: 42723', async () => {
    await expectSqlError(
      sql,
      createWith("execution_mode => 'distributed'", 'p'),
      DUPLICATE_FUNCTION,
      'procedure "p" already exists',
    );
  });

  it('refuses the name of a native PostgreSQL procedure: 42723', async () => {
    await sql.query('CREATE PROCEDURE public.native_proc(a int) LANGUAGE sql AS $$ SELECT 1 $$');
    await expectSqlError(
      sql,
      createWith("execution_mode => 'distributed'", 'native_proc'),
      DUPLICATE_FUNCTION,
      'procedure "native_proc" clashes with the PostgreSQL procedure public.native_proc(integer)',
    );
  });

  it.each([
    [
      "language => 'plpgsql'",
      'invalid language "plpgsql" for procedure "bad": must be command, javascript or type',
    ],
    ["language => 'command'", 'procedure "bad": language command needs a COMMAND'],
    ["language => 'type'", 'procedure "bad": language type needs a TYPE'],
    [
      "language => 'type', type_name => 'transform', command => 'x'",
      'procedure "bad": COMMAND is only for language command',
    ],
    [
      "language => 'type', type_name => 'transform', args => ARRAY['a']",
      'procedure "bad": ARGS are only for language command',
    ],
    [
      "language => 'command', command => 'x', args => ARRAY['a', NULL]",
      'procedure "bad": ARGS must not contain NULL',
    ],
    [
      "language => 'type', type_name => 'transform', execution_mode => 'sideways'",
      'invalid execution mode "sideways" for procedure "bad": must be distributed or nondistributed',
    ],
  ])('checks what runs: %s', async (args, message) => {
    await expectSqlError(
      sql,
      `SELECT * FROM procgate.create_procedure(name => 'bad', ${args})`,
      INVALID_PARAMETER_VALUE,
      message,
    );
  });

  it.each([
    [
      "procgate.param('a', 'int', false, false, NULL), procgate.param('a', 'text', false, false, NULL)",
      'parameter "a" of procedure "bad" is declared more than once',
    ],
    ["procgate.param('a', NULL, false, false, NULL)", 'parameter "a" of procedure "bad" has no type'],
    [
      "procgate.param('t', NULL, true, true, 'null')",
      'table parameter "t" of procedure "bad" cannot have a default',
    ],
    ["procgate.param('', 'int', false, false, NULL)", 'parameter 1 of procedure "bad" has no name'],
    [
      "procgate.param('run_on_creation', 'int', false, false, NULL)",
      'parameter "run_on_creation" of procedure "bad" has the name of a procedure option',
    ],
    [
      "procgate.param('n', 'int', false, true, to_jsonb('seven'::text))",
      'invalid value for the default of parameter "n" of procedure "bad": invalid input syntax for type integer: "seven"',
    ],
  ])('checks declared parameters: %s', async (params, message) => {
    await expectSqlError(sql, createWith(`parameters => ARRAY[${params}]`), INVALID_PARAMETER_VALUE, message);
  });

  it.each([
    ["procgate.arg('nope', NULL, 1)", 'procedure "bad" has no parameter "nope"'],
    ["procgate.arg('t', NULL, 1)", 'parameter "t" of procedure "bad" is a table parameter'],
    [
      "procgate.arg('n', NULL, 'x')",
      'invalid value for parameter "n" of procedure "bad": invalid input syntax for type integer: "x"',
    ],
  ])('checks WITH values of a declared procedure: %s', async (option, message) => {
    const params =
      "ARRAY[procgate.param('t', NULL, true, false, NULL), procgate.param('n', 'int', false, false, NULL)]";
    await expectSqlError(
      sql,
      createWith(`parameters => ${params}, options => ARRAY[${option}]`),
      INVALID_PARAMETER_VALUE,
      message,
    );
  });

  it.each([
    [
      "procgate.arg('max_concurrency_per_node', NULL, -1)",
      'invalid value for option "max_concurrency_per_node": must be a non-negative integer',
    ],
    [
      "procgate.arg('max_concurrency_per_node', NULL, 'many')",
      'invalid value for option "max_concurrency_per_node": must be a non-negative integer',
    ],
    [
      "procgate.arg('run_on_creation', NULL, 'maybe')",
      'invalid value for option "run_on_creation": must be a boolean',
    ],
    [
      "procgate.arg('set_environment', NULL, ARRAY[1])",
      'invalid value for option "set_environment": must be a text',
    ],
    ["procgate.arg('a', NULL, 1), procgate.arg('a', NULL, 2)", 'option "a" is given more than once'],
    ['procgate.arg(NULL, 1, 1)', 'options must be named'],
  ])('checks procedure options: %s', async (options, message) => {
    await expectSqlError(sql, createWith(`options => ARRAY[${options}]`), INVALID_PARAMETER_VALUE, message);
  });

  it.each([
    ['', 'invalid file path "": the path is empty'],
    ['/etc/passwd', 'invalid file path "/etc/passwd": absolute paths are not allowed'],
    ['../x', `invalid file path "../x": the path leads outside the procedure's directory`],
    ['a/../../x', `invalid file path "a/../../x": the path leads outside the procedure's directory`],
    ['a\\b', 'invalid file path "a\\b": backslashes are not allowed'],
    ['a\nb', 'invalid file path "a\nb": control characters are not allowed'],
    ['.', 'invalid file path ".": the path names no file'],
    ['a/..', 'invalid file path "a/..": the path names no file'],
  ])('refuses the FILES path %j', async (path, message) => {
    await expectSqlError(
      sql,
      createWith('files => ARRAY[procgate.file($1, $2::text)]'),
      INVALID_PARAMETER_VALUE,
      message,
      [path, 'content'],
    );
  });

  it('cannot even receive a NUL byte in a path: PostgreSQL text refuses it first', async () => {
    await expectSqlError(sql, createWith("files => ARRAY[procgate.file(E'a\\000b', 'x')]"), '22021');
  });

  it('refuses the same file twice after normalisation, and a file without content', async () => {
    await expectSqlError(
      sql,
      createWith("files => ARRAY[procgate.file('a/b.py', 'x'), procgate.file('./a//b.py', 'y')]"),
      INVALID_PARAMETER_VALUE,
      'file "a/b.py" of procedure "bad" is given more than once',
    );
    await expectSqlError(
      sql,
      createWith('files => ARRAY[procgate.file($1, NULL::bytea)]'),
      INVALID_PARAMETER_VALUE,
      'file "a.py" of procedure "bad" has no content',
      ['a.py'],
    );
  });

  it('refuses a RETURNS TABLE column declared twice', async () => {
    await expectSqlError(
      sql,
      createWith("returns => ARRAY[procgate.column('a', 'int'), procgate.column('a', 'text')]"),
      INVALID_PARAMETER_VALUE,
      'column "a" of RETURNS TABLE of procedure "bad" is declared more than once',
    );
  });

  it('stores nothing when it fails', async () => {
    const count = await sql.query("SELECT FROM procgate_internal.procedures WHERE name = 'bad'");
    expect(count.rowCount).toBe(0);
  });
});

describe('EXECUTE PROCEDURE arguments: 22023 naming the parameter', () => {
  it.each([
    ["procgate.arg('n', NULL, 1), procgate.arg('nope', NULL, 1)", 'procedure "p" has no parameter "nope"'],
    ['', 'missing value for parameter "n" of procedure "p"'],
    [
      "procgate.arg('n', NULL, 1), procgate.arg('docs', NULL, 1)",
      'parameter "docs" of procedure "p" is a table parameter',
    ],
    ['procgate.arg(NULL, 1, 1)', 'parameter "docs" of procedure "p" is a table parameter'],
    [
      "procgate.arg(NULL, 2, 1), procgate.arg('n', NULL, 2)",
      'parameter "n" of procedure "p" is given more than once',
    ],
    ['procgate.arg(NULL, 4, 1)', 'positional argument 4 but procedure "p" declares 3 parameters'],
    ['procgate.arg(NULL, 0, 1)', 'positional argument 0 but procedure "p" declares 3 parameters'],
    [
      "procgate.arg('n', NULL, 'abc')",
      'invalid value for parameter "n" of procedure "p": invalid input syntax for type integer: "abc"',
    ],
    [
      "procgate.arg('n', NULL, 1.5)",
      'invalid value for parameter "n" of procedure "p": invalid input syntax for type integer: "1.5"',
    ],
    [
      "procgate.arg('n', NULL, 1), procgate.arg('flag', NULL, 'perhaps')",
      /^invalid value for parameter "flag" of procedure "p": invalid input syntax for type boolean/,
    ],
    [
      "ROW('n', 2, '1', 'int')::procgate.arg_value",
      'an argument of procedure "p" needs either a name or a position',
    ],
  ])('%s', async (args, message) => {
    await expectSqlError(sql, executeP(args), INVALID_PARAMETER_VALUE, message);
  });

  it('checks TABLE arguments of a distributed procedure', async () => {
    const n = "procgate.arg('n', NULL, 1)";
    await expectSqlError(
      sql,
      executeP(n, 'NULL'),
      INVALID_PARAMETER_VALUE,
      'missing value for parameter "docs" of procedure "p"',
    );
    await expectSqlError(
      sql,
      executeP(n, "ARRAY[procgate.table_arg('n', NULL, 'SELECT 1', NULL, NULL)]"),
      INVALID_PARAMETER_VALUE,
      'parameter "n" of procedure "p" is not a table parameter',
    );
    await expectSqlError(
      sql,
      executeP(
        n,
        "ARRAY[procgate.table_arg('docs', NULL, 'SELECT 1', NULL, NULL), procgate.table_arg(NULL, 1, 'SELECT 2', NULL, NULL)]",
      ),
      INVALID_PARAMETER_VALUE,
      'parameter "docs" of procedure "p" is given more than once',
    );
    await expectSqlError(
      sql,
      executeP(n, "ARRAY[procgate.table_arg('docs', NULL, '', NULL, NULL)]"),
      INVALID_PARAMETER_VALUE,
      'TABLE argument docs of procedure "p" has no query',
    );
    await expectSqlError(
      sql,
      executeP(n, "ARRAY[procgate.table_arg('docs', NULL, 'SELECT 1', '[1]', NULL)]"),
      INVALID_PARAMETER_VALUE,
      'placeholders of TABLE argument docs of procedure "p" must be a JSON object',
    );
  });

  it('refuses positional arguments of a free-form procedure', async () => {
    await expectSqlError(
      sql,
      "SELECT * FROM procgate.execute('free', ARRAY[procgate.arg(NULL, 1, 5)])",
      INVALID_PARAMETER_VALUE,
      'positional argument 1 of procedure "free": positional arguments need a parameter list',
    );
  });

  it('refuses an empty INTO table name', async () => {
    await expectSqlError(
      sql,
      `SELECT * FROM procgate.execute('free', "into" => ARRAY['ok', ''])`,
      INVALID_PARAMETER_VALUE,
      'INTO of procedure "free" names an empty table',
    );
  });
});

describe('EXECUTE PROCEDURE options: 22023 naming the option', () => {
  it.each([
    [
      "procgate.arg('max_output_lines', NULL, 0)",
      'invalid value for option "max_output_lines": must be a positive integer',
    ],
    [
      "procgate.arg('max_output_lines', NULL, 'lots')",
      'invalid value for option "max_output_lines": must be a positive integer',
    ],
    ["procgate.arg('segments', NULL, 0)", 'invalid value for option "segments": must be a positive integer'],
    [
      "procgate.arg('retries', NULL, -1)",
      'invalid value for option "retries": must be a non-negative integer',
    ],
    [
      "procgate.arg('timeout', NULL, 'soon')",
      'invalid value for option "timeout": must be a positive interval or number of seconds',
    ],
    [
      "procgate.arg('timeout', NULL, -5)",
      'invalid value for option "timeout": must be a positive interval or number of seconds',
    ],
    [
      "procgate.arg('execute_at_startup', NULL, 'perhaps')",
      'invalid value for option "execute_at_startup": must be a boolean',
    ],
    [
      "procgate.arg('execute_at_startup_as', NULL, 'no_such_role_x')",
      'invalid value for option "execute_at_startup_as": role "no_such_role_x" does not exist',
    ],
    ["procgate.arg('run_tag', NULL, NULL)", 'invalid value for option "run_tag": must be a text'],
    ["procgate.arg('colour', NULL, 'red')", 'unknown option "colour" for EXECUTE PROCEDURE'],
    [
      "procgate.arg('run_tag', NULL, 'a'), procgate.arg('run_tag', NULL, 'b')",
      'option "run_tag" is given more than once',
    ],
  ])('%s', async (options, message) => {
    await expectSqlError(
      sql,
      `SELECT * FROM procgate.execute('free', options => ARRAY[${options}])`,
      INVALID_PARAMETER_VALUE,
      message,
    );
  });

  it('accepts an interval timeout', async () => {
    const run = await sql.query(
      "SELECT run_id FROM procgate.execute('free', options => ARRAY[procgate.arg('timeout', NULL, interval '2 hours')])",
    );
    expect(run.rowCount).toBe(1);
  });
});

describe('unknown runs and roles: 42704', () => {
  it('show_procedure_status of an unknown run; kill_run of one lists nothing (as Kinetica)', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    expect((await sql.query('SELECT * FROM procgate.kill_run($1)', [id])).rows).toEqual([]);
    await expectSqlError(
      sql,
      'SELECT * FROM procgate.show_procedure_status($1)',
      UNDEFINED_OBJECT,
      `run "${id}" does not exist`,
      [id],
    );
  });

  it('grant_execute to an unknown role', async () => {
    await expectSqlError(
      sql,
      "SELECT * FROM procgate.grant_execute('p', 'no_such_role_x')",
      UNDEFINED_OBJECT,
      'role "no_such_role_x" does not exist',
    );
  });
});

describe('built-in types: parameters checked at CREATE and EXECUTE', () => {
  const create = (name: string, type: string, options = ''): string =>
    `SELECT * FROM procgate.create_procedure(name => '${name}', language => 'type', type_name => '${type}'${
      options === '' ? '' : `, options => ARRAY[${options}]`
    })`;

  it('refuses an unknown type (42704), naming the types there are', async () => {
    const error = await expectSqlError(
      sql,
      create('no_type', 'clasifier.train'),
      UNDEFINED_OBJECT,
      'procedure type "clasifier.train" does not exist',
    );
    expect(error.hint).toMatch(/sql, .*transform/);
  });

  it('refuses a WITH default the type does not take, or of the wrong kind (22023)', async () => {
    await expectSqlError(
      sql,
      create('bad_default', 'sql', "procgate.arg('statement', NULL, ARRAY['SELECT 1'])"),
      INVALID_PARAMETER_VALUE,
      'type "sql" has no parameter "statement"',
    );
    await expectSqlError(
      sql,
      create('bad_kind', 'sql', "procgate.arg('statements', NULL, 42)"),
      INVALID_PARAMETER_VALUE,
      'parameter "statements" of type "sql" must be text[]',
    );
    await expectSqlError(
      sql,
      create('bad_table', 'transform', "procgate.arg('input', NULL, 'readings')"),
      INVALID_PARAMETER_VALUE,
      'parameter "input" of type "transform" is a table parameter',
    );
  });

  it('refuses at EXECUTE an argument the type does not take, a missing required one, a wrong kind (22023)', async () => {
    await sql.query(create('typed_sql', 'sql'));
    await expectSqlError(
      sql,
      "SELECT * FROM procgate.execute('typed_sql')",
      INVALID_PARAMETER_VALUE,
      'type "sql" needs parameter "statements"',
    );
    await expectSqlError(
      sql,
      "SELECT * FROM procgate.execute('typed_sql', args => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1']), procgate.arg('extra', NULL, 1)])",
      INVALID_PARAMETER_VALUE,
      'type "sql" has no parameter "extra"',
    );
    await expectSqlError(
      sql,
      "SELECT * FROM procgate.execute('typed_sql', args => ARRAY[procgate.arg('statements', NULL, 'SELECT 1')])",
      INVALID_PARAMETER_VALUE,
      'parameter "statements" of type "sql" must be text[]',
    );
    await sql.query(create('typed_transform', 'transform'));
    await expectSqlError(
      sql,
      "SELECT * FROM procgate.execute('typed_transform', tables => ARRAY[procgate.table_arg('rows', NULL, 'SELECT 1', NULL, NULL)])",
      INVALID_PARAMETER_VALUE,
      'type "transform" has no parameter "rows"',
    );
    const run = await sql.query(
      "SELECT * FROM procgate.execute('typed_sql', args => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
    );
    expect(run.rowCount).toBe(1);
  });

  it('lists the types with their parameters in procgate.procedure_types', async () => {
    const { rows } = await sql.query<{ name: string; parameters: Array<{ name: string; kind: string }> }>(
      "SELECT name, parameters FROM procgate.procedure_types WHERE name IN ('sql', 'transform') ORDER BY name",
    );
    expect(rows.map((row) => [row.name, row.parameters.map((p) => `${p.name}:${p.kind}`)])).toEqual([
      ['sql', ['statements:text[]']],
      ['transform', ['input:table']],
    ]);
  });
});
