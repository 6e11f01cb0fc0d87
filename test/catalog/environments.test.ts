import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/catalog/catalog-types.js';
import { useProxiedDatabase } from '../support/test-database.js';
import {
  type CatalogDatabase,
  createCatalogDatabase,
  createLoginRole,
  dropRoles,
  expectSqlError,
  type LoginRole,
  one,
} from './catalog-fixture.js';

const INVALID_PARAMETER_VALUE = '22023';
const INSUFFICIENT_PRIVILEGE = '42501';
const UNDEFINED_OBJECT = '42704';
const DUPLICATE_OBJECT = '42710';
const DEPENDENT_OBJECTS_STILL_EXIST = '2BP01';

let catalog: CatalogDatabase;
let admin: pg.Client;
let developer: LoginRole;
let manager: LoginRole;
let reader: LoginRole;
let asDeveloper: pg.Client;
let asManager: pg.Client;
let asReader: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_environments');
  admin = catalog.admin;
  developer = await createLoginRole(admin, 'envdev');
  manager = await createLoginRole(admin, 'envadm');
  reader = await createLoginRole(admin, 'envread');
  await admin.query(`GRANT procgate_developer TO ${developer.name}`);
  await admin.query(`GRANT procgate_admin TO ${manager.name}`);
  asDeveloper = await catalog.connect(developer);
  asManager = await catalog.connect(manager);
  asReader = await catalog.connect(reader);
});

afterAll(async () => {
  await catalog.close();
  await dropRoles([developer, manager, reader]);
});

/** A built-in-type procedure (no privileges needed) with `WITH (set_environment = env)`. */
function createProcedure(name: string, env: string, orReplace = false): string {
  return `SELECT * FROM procgate.create_procedure(name => '${name}', or_replace => ${orReplace},
            language => 'type', type_name => 'transform',
            options => ARRAY[procgate.arg('set_environment', NULL, '${env}')])`;
}

async function procedureId(name: string): Promise<string> {
  const row = await one(admin, 'SELECT id FROM procgate_internal.procedures WHERE name = $1', [name]);
  return row.id as string;
}

describe('procgate.create_environment', () => {
  it('registers an environment and shows it in procgate.environments', async () => {
    const row = await one(
      admin,
      `SELECT * FROM procgate.create_environment('py', '{"VIRTUAL_ENV": "/opt/venv", "LANG": "C.UTF-8"}',
         ARRAY['/opt/venv/bin', '/opt/tools/bin'])`,
    );
    expect(row).toEqual({
      name: 'py',
      variables: { VIRTUAL_ENV: '/opt/venv', LANG: 'C.UTF-8' },
      path_prefix: ['/opt/venv/bin', '/opt/tools/bin'],
      owner: 'procgate',
      created_at: expect.any(Date),
    });
    expect(await one(admin, "SELECT * FROM procgate.environments WHERE name = 'py'")).toEqual(row);
  });

  it('defaults to no variables and no PATH prefix', async () => {
    expect(await one(admin, "SELECT * FROM procgate.create_environment('bare')")).toMatchObject({
      name: 'bare',
      variables: {},
      path_prefix: [],
    });
    expect(
      await one(admin, "SELECT * FROM procgate.create_environment('nulls', NULL, NULL)"),
    ).toMatchObject({ variables: {}, path_prefix: [] });
  });

  it('refuses a duplicate with 42710 and replaces with or_replace, keeping owner and created_at', async () => {
    const before = await one(
      asManager,
      `SELECT * FROM procgate.create_environment('replaced', '{"A": "1"}', ARRAY['/a'])`,
    );
    const error = await expectSqlError(
      admin,
      "SELECT * FROM procgate.create_environment('replaced')",
      DUPLICATE_OBJECT,
      'environment "replaced" already exists',
    );
    expect(error.hint).toBe('Use or_replace => true to replace it.');
    const after = await one(
      admin,
      `SELECT * FROM procgate.create_environment('replaced', '{"B": "2"}', ARRAY['/b', '/c'], or_replace => true)`,
    );
    expect(after).toEqual({
      name: 'replaced',
      variables: { B: '2' },
      path_prefix: ['/b', '/c'],
      owner: manager.name,
      created_at: before.created_at,
    });
  });

  it.each([
    ["''", "'{}'", "'{}'", 'an environment needs a name'],
    ['NULL', "'{}'", "'{}'", 'an environment needs a name'],
    ["'e'", `'["A"]'`, "'{}'", 'variables of environment "e" must be a JSON object of strings, not array'],
    ["'e'", `'"A=1"'`, "'{}'", 'variables of environment "e" must be a JSON object of strings, not string'],
    ["'e'", `'{"1A": "x"}'`, "'{}'", 'invalid variable name "1A" in environment "e"'],
    ["'e'", `'{"A-B": "x"}'`, "'{}'", 'invalid variable name "A-B" in environment "e"'],
    ["'e'", `'{"": "x"}'`, "'{}'", 'invalid variable name "" in environment "e"'],
    ["'e'", `'{"A B": "x"}'`, "'{}'", 'invalid variable name "A B" in environment "e"'],
    ["'e'", `'{"PATH": "/bin"}'`, "'{}'", 'variable "PATH" of environment "e" is not allowed'],
    ["'e'", `'{"PGPASSWORD": "x"}'`, "'{}'", 'variable "PGPASSWORD" of environment "e" is reserved'],
    ["'e'", `'{"PG": "x"}'`, "'{}'", 'variable "PG" of environment "e" is reserved'],
    ["'e'", `'{"PROCGATE_RUN_ID": "x"}'`, "'{}'", 'variable "PROCGATE_RUN_ID" of environment "e" is reserved'],
    ["'e'", `'{"N": 1}'`, "'{}'", 'value of variable "N" of environment "e" must be a string, not number'],
    ["'e'", `'{"N": null}'`, "'{}'", 'value of variable "N" of environment "e" must be a string, not null'],
    ["'e'", `'{"N": ["a"]}'`, "'{}'", 'value of variable "N" of environment "e" must be a string, not array'],
    ["'e'", "'{}'", "ARRAY['bin']", 'path_prefix entry "bin" of environment "e" is not an absolute directory'],
    ["'e'", "'{}'", "ARRAY['/ok', './bin']", 'path_prefix entry "./bin" of environment "e" is not an absolute directory'],
    ["'e'", "'{}'", "ARRAY['']", 'path_prefix entry "" of environment "e" is not an absolute directory'],
    ["'e'", "'{}'", "ARRAY['/a:/b']", 'path_prefix entry "/a:/b" of environment "e" contains ":", the PATH separator'],
    ["'e'", "'{}'", "ARRAY[E'/a\\nb']", /^path_prefix entry "\/a\nb" of environment "e" contains control characters$/],
    ["'e'", "'{}'", "ARRAY['/a', NULL]", 'path_prefix of environment "e" must not contain NULL'],
  ])('checks name %s, variables %s, path_prefix %s', async (name, variables, pathPrefix, message) => {
    await expectSqlError(
      admin,
      `SELECT * FROM procgate.create_environment(${name}, ${variables}, ${pathPrefix})`,
      INVALID_PARAMETER_VALUE,
      message,
    );
  });

  it('allows lower-case and underscore names that the engine keeps', async () => {
    expect(
      await one(
        admin,
        `SELECT variables FROM procgate.create_environment('names', '{"_x": "", "pg_like": "y", "Path": "z"}')`,
      ),
    ).toEqual({ variables: { _x: '', pg_like: 'y', Path: 'z' } });
  });
});

describe('kysely', () => {
  it('reads procgate.environments typed', async () => {
    await admin.query(`SELECT procgate.create_environment('typed', '{"K": "v"}', ARRAY['/k'])`);
    const kysely = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ ...catalog.db.direct, max: 1 }) }),
    });
    try {
      const row = await kysely
        .selectFrom('procgate.environments')
        .select(['name', 'variables', 'path_prefix', 'owner', 'created_at'])
        .where('name', '=', 'typed')
        .executeTakeFirstOrThrow();
      expect(row).toEqual({
        name: 'typed',
        variables: { K: 'v' },
        path_prefix: ['/k'],
        owner: 'procgate',
        created_at: expect.any(Date),
      });
      const variables: Readonly<Record<string, string>> = row.variables;
      expect(variables['K']).toBe('v');
    } finally {
      await kysely.destroy();
    }
  });
});

describe('procgate.drop_environment', () => {
  it('drops an environment, 42704 for an unknown one, a NOTICE with if_exists', async () => {
    await admin.query("SELECT procgate.create_environment('doomed')");
    expect((await admin.query("SELECT * FROM procgate.drop_environment('doomed')")).rows).toEqual([
      { environment: 'doomed' },
    ]);
    expect((await admin.query("SELECT * FROM procgate.environments WHERE name = 'doomed'")).rows).toEqual([]);
    await expectSqlError(
      admin,
      "SELECT * FROM procgate.drop_environment('doomed')",
      UNDEFINED_OBJECT,
      'environment "doomed" does not exist',
    );
    const notices: string[] = [];
    const onNotice = (notice: { message?: string }): void => {
      notices.push(notice.message ?? '');
    };
    admin.on('notice', onNotice);
    try {
      const result = await admin.query("SELECT * FROM procgate.drop_environment('doomed', if_exists => true)");
      expect(result.rows).toEqual([]);
    } finally {
      admin.off('notice', onNotice);
    }
    expect(notices).toEqual(['environment "doomed" does not exist, skipping']);
  });

  it('refuses with 2BP01 while procedures use it, naming them', async () => {
    await admin.query("SELECT procgate.create_environment('shared_env', '{\"A\": \"1\"}')");
    await admin.query(createProcedure('uses_b', 'shared_env'));
    await admin.query(createProcedure('uses_a', 'shared_env'));
    const error = await expectSqlError(
      admin,
      "SELECT * FROM procgate.drop_environment('shared_env')",
      DEPENDENT_OBJECTS_STILL_EXIST,
      'cannot drop environment "shared_env" because procedures use it: "uses_a", "uses_b"',
    );
    expect(error.detail).toBe(
      `procedure "uses_a" has set_environment = 'shared_env'\nprocedure "uses_b" has set_environment = 'shared_env'`,
    );
    expect(error.hint).toBe('Drop those procedures, or recreate them with another environment or none, first.');
    // if_exists does not make a used environment droppable.
    await expectSqlError(
      admin,
      "SELECT * FROM procgate.drop_environment('shared_env', if_exists => true)",
      DEPENDENT_OBJECTS_STILL_EXIST,
    );
    await admin.query("SELECT * FROM procgate.drop_procedure('uses_a')");
    await admin.query(
      "SELECT * FROM procgate.create_procedure(name => 'uses_b', or_replace => true, language => 'type', type_name => 'transform')",
    );
    expect((await admin.query("SELECT * FROM procgate.drop_environment('shared_env')")).rows).toEqual([
      { environment: 'shared_env' },
    ]);
  });

  it('waits for a CREATE PROCEDURE that uses the environment to commit, then refuses', async () => {
    await admin.query("SELECT procgate.create_environment('raced')");
    const creator = await catalog.connect();
    const dropper = await catalog.connect();
    await creator.query('BEGIN');
    await creator.query(createProcedure('racer', 'raced'));
    const dropping = expectSqlError(
      dropper,
      "SELECT * FROM procgate.drop_environment('raced')",
      DEPENDENT_OBJECTS_STILL_EXIST,
      'cannot drop environment "raced" because procedures use it: "racer"',
    );
    // The drop is waiting for the creator's lock on the environment.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await creator.query('COMMIT');
    await dropping;
  });

  it('makes a CREATE PROCEDURE waiting on a drop fail with 42704', async () => {
    await admin.query("SELECT procgate.create_environment('vanishing')");
    const dropper = await catalog.connect();
    const creator = await catalog.connect();
    await dropper.query('BEGIN');
    await dropper.query("SELECT * FROM procgate.drop_environment('vanishing')");
    const creating = expectSqlError(
      creator,
      createProcedure('late', 'vanishing'),
      UNDEFINED_OBJECT,
      'environment "vanishing" does not exist',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await dropper.query('COMMIT');
    await creating;
  });
});

describe('privileges', () => {
  it('lets only superusers and procgate_admin members create or drop environments', async () => {
    await expectSqlError(
      asDeveloper,
      "SELECT * FROM procgate.create_environment('mine')",
      INSUFFICIENT_PRIVILEGE,
      'permission denied to manage environment "mine"',
    );
    await expectSqlError(
      asReader,
      "SELECT * FROM procgate.create_environment('mine')",
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await one(asManager, "SELECT name, owner FROM procgate.create_environment('mine')")).toEqual({
      name: 'mine',
      owner: manager.name,
    });
    await expectSqlError(
      asDeveloper,
      "SELECT * FROM procgate.create_environment('mine', or_replace => true)",
      INSUFFICIENT_PRIVILEGE,
    );
    await expectSqlError(
      asDeveloper,
      "SELECT * FROM procgate.drop_environment('mine')",
      INSUFFICIENT_PRIVILEGE,
      'permission denied to manage environment "mine"',
    );
    // No hint about which environments exist before the privilege check.
    await expectSqlError(
      asDeveloper,
      "SELECT * FROM procgate.drop_environment('nonexistent')",
      INSUFFICIENT_PRIVILEGE,
    );
    expect((await asManager.query("SELECT * FROM procgate.drop_environment('mine')")).rows).toEqual([
      { environment: 'mine' },
    ]);
  });

  it('lets every role read procgate.environments and use an environment in its procedures', async () => {
    await admin.query("SELECT procgate.create_environment('public_env', '{\"X\": \"1\"}', ARRAY['/x'])");
    expect(await one(asReader, "SELECT * FROM procgate.environments WHERE name = 'public_env'")).toMatchObject({
      variables: { X: '1' },
      path_prefix: ['/x'],
    });
    expect(
      await one(
        asDeveloper,
        `SELECT options FROM procgate.create_procedure(name => 'dev_cmd', language => 'command', command => 'true',
           options => ARRAY[procgate.arg('set_environment', NULL, 'public_env')])`,
      ),
    ).toEqual({ options: { set_environment: { value: 'public_env', type: 'text' } } });
  });

  it('refuses writes to the view, the table and the engine function', async () => {
    await expectSqlError(
      admin,
      "DELETE FROM procgate.environments WHERE name = 'public_env'",
      INSUFFICIENT_PRIVILEGE,
      'procgate.environments is read-only',
    );
    await expectSqlError(
      asManager,
      "UPDATE procgate.environments SET path_prefix = '{}'",
      INSUFFICIENT_PRIVILEGE,
    );
    await expectSqlError(asReader, 'SELECT * FROM procgate_internal.environments', INSUFFICIENT_PRIVILEGE);
    await expectSqlError(
      asManager,
      "INSERT INTO procgate_internal.environments (name, owner) VALUES ('x', 'x')",
      INSUFFICIENT_PRIVILEGE,
    );
    await expectSqlError(
      asReader,
      "SELECT * FROM procgate_internal.api_create_environment(current_user, 'x', '{}', '{}', false)",
      INSUFFICIENT_PRIVILEGE,
    );
    await expectSqlError(asManager, 'SELECT procgate_internal.engine_environment(1)', INSUFFICIENT_PRIVILEGE);
  });

  it('cannot forge a procgate_admin caller', async () => {
    await admin.query(`GRANT USAGE ON SCHEMA procgate_internal TO ${developer.name}`);
    try {
      await expectSqlError(
        asDeveloper,
        `SELECT * FROM procgate_internal.api_create_environment('${manager.name}', 'forged', '{}', '{}', false)`,
        INSUFFICIENT_PRIVILEGE,
        `permission denied to act as role "${manager.name}"`,
      );
    } finally {
      await admin.query(`REVOKE USAGE ON SCHEMA procgate_internal FROM ${developer.name}`);
    }
  });
});

describe('set_environment on CREATE PROCEDURE', () => {
  it('refuses an unknown environment with 42704 and a hint', async () => {
    const error = await expectSqlError(
      admin,
      createProcedure('lost', 'nope'),
      UNDEFINED_OBJECT,
      'environment "nope" does not exist',
    );
    expect(error.hint).toMatch(/procgate\.create_environment/);
    expect((await admin.query("SELECT FROM procgate.procedures WHERE name = 'lost'")).rowCount).toBe(0);
    // Also for a declared procedure and on OR REPLACE.
    await expectSqlError(
      admin,
      `SELECT * FROM procgate.create_procedure(name => 'declared', language => 'type', type_name => 'transform',
         parameters => ARRAY[procgate.param('n', 'int', false, false, NULL)],
         options => ARRAY[procgate.arg('set_environment', NULL, 'nope')])`,
      UNDEFINED_OBJECT,
      'environment "nope" does not exist',
    );
    await admin.query("SELECT procgate.create_environment('first')");
    await admin.query(createProcedure('moving', 'first'));
    await expectSqlError(
      admin,
      createProcedure('moving', 'nope', true),
      UNDEFINED_OBJECT,
      'environment "nope" does not exist',
    );
  });

  it('is case-sensitive, as the names are stored', async () => {
    await admin.query("SELECT procgate.create_environment('CaseEnv')");
    await expectSqlError(admin, createProcedure('cased', 'caseenv'), UNDEFINED_OBJECT);
    expect(await one(admin, `SELECT options FROM (${createProcedure('cased', 'CaseEnv')}) c`)).toEqual({
      options: { set_environment: { value: 'CaseEnv', type: 'text' } },
    });
  });
});

describe('procgate_internal.engine_environment', () => {
  it("returns the procedure's variables and PATH prefix, NULL without an environment", async () => {
    await admin.query(
      `SELECT procgate.create_environment('venv', '{"VIRTUAL_ENV": "/opt/venv"}', ARRAY['/opt/venv/bin', '/usr/local/bin'])`,
    );
    await admin.query(createProcedure('in_venv', 'venv'));
    await admin.query(
      "SELECT * FROM procgate.create_procedure(name => 'plain', language => 'type', type_name => 'transform')",
    );
    const environmentOf = async (id: string): Promise<unknown> =>
      (await one(admin, 'SELECT procgate_internal.engine_environment($1) AS e', [id])).e;
    const venvId = await procedureId('in_venv');
    expect(await environmentOf(venvId)).toEqual({
      variables: { VIRTUAL_ENV: '/opt/venv' },
      path_prefix: ['/opt/venv/bin', '/usr/local/bin'],
    });
    expect(await environmentOf(await procedureId('plain'))).toBeNull();
    expect(await environmentOf('999999')).toBeNull();
    // A replaced environment is what the next segment gets.
    await admin.query("SELECT procgate.create_environment('venv', '{}', '{}', or_replace => true)");
    expect(await environmentOf(venvId)).toEqual({ variables: {}, path_prefix: [] });
  });

  it('is SECURITY DEFINER with a pinned search_path, and not executable by PUBLIC', async () => {
    const row = await one(
      admin,
      `SELECT p.prosecdef, p.proconfig, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
         FROM pg_proc p WHERE p.oid = 'procgate_internal.engine_environment(bigint)'::regprocedure`,
    );
    expect(row).toEqual({
      prosecdef: true,
      proconfig: ['search_path=pg_catalog, pg_temp'],
      public_execute: false,
    });
  });
});

describe('through the proxy', () => {
  const proxied = useProxiedDatabase('environments_proxy', { statements: true });

  it('refuses CREATE PROCEDURE WITH (set_environment) of an unknown name with 42704', async () => {
    const client = new pg.Client(proxied.proxy.config(proxied.db.name));
    await client.connect();
    try {
      const refused = await client
        .query("CREATE PROCEDURE in_env TYPE 'transform' WITH (set_environment = 'missing')")
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(refused).toBeInstanceOf(pg.DatabaseError);
      expect(refused).toMatchObject({
        code: UNDEFINED_OBJECT,
        message: 'environment "missing" does not exist',
        hint: expect.stringContaining('procgate.create_environment'),
      });
      await client.query(
        `SELECT procgate.create_environment('py', '{"VIRTUAL_ENV": "/opt/venv"}', ARRAY['/opt/venv/bin'])`,
      );
      const created = await client.query(
        "CREATE PROCEDURE in_env TYPE 'transform' WITH (set_environment = 'py')",
      );
      expect(created.rows[0]).toMatchObject({
        name: 'in_env',
        options: { set_environment: { value: 'py', type: 'text' } },
      });
      const refusedDrop = await client.query("SELECT * FROM procgate.drop_environment('py')").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refusedDrop).toMatchObject({ code: DEPENDENT_OBJECTS_STILL_EXIST });
    } finally {
      await client.end();
    }
  });
});
