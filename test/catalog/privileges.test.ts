import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CatalogDatabase,
  createCatalogDatabase,
  createLoginRole,
  dropRoles,
  expectSqlError,
  type LoginRole,
  one,
} from './catalog-fixture.js';

const INSUFFICIENT_PRIVILEGE = '42501';

let catalog: CatalogDatabase;
let admin: pg.Client;
let alice: LoginRole;
let bob: LoginRole;
let team: LoginRole;
let asAlice: pg.Client;
let asBob: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_privileges');
  admin = catalog.admin;
  alice = await createLoginRole(admin, 'alice');
  bob = await createLoginRole(admin, 'bob');
  team = await createLoginRole(admin, 'team');
  await admin.query(`GRANT ${team.name} TO ${bob.name}`);
  asAlice = await catalog.connect(alice);
  asBob = await catalog.connect(bob);
  await asAlice.query(
    "SELECT * FROM procgate.create_procedure(name => 'shared', language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
  );
});

afterAll(async () => {
  await catalog.close();
  await dropRoles([alice, bob, team]);
});

async function execute(client: pg.Client, name: string): Promise<string> {
  const row = await one(client, 'SELECT run_id FROM procgate.execute($1)', [name]);
  return row.run_id as string;
}

describe('creating procedures', () => {
  it('needs procgate_developer for languages command and javascript, not for built-in types', async () => {
    await expectSqlError(
      asAlice,
      "SELECT * FROM procgate.create_procedure(name => 'cmd', language => 'command', command => 'true')",
      INSUFFICIENT_PRIVILEGE,
      'permission denied to create procedure "cmd" of language command',
    );
    await expectSqlError(
      asAlice,
      "SELECT * FROM procgate.create_procedure(name => 'js', language => 'javascript')",
      INSUFFICIENT_PRIVILEGE,
      'permission denied to create procedure "js" of language javascript',
    );
    await admin.query(`GRANT procgate_developer TO ${alice.name}`);
    const created = await one(
      asAlice,
      "SELECT * FROM procgate.create_procedure(name => 'cmd', language => 'command', command => 'true')",
    );
    expect(created).toMatchObject({ name: 'cmd', owner: alice.name });
    await admin.query(`REVOKE procgate_developer FROM ${alice.name}`);
  });

  it('records the caller as owner', async () => {
    expect(await one(asAlice, "SELECT owner FROM procgate.procedures WHERE name = 'shared'")).toEqual({
      owner: alice.name,
    });
  });

  it('lets only the owner or an admin replace, drop or grant a procedure', async () => {
    await expectSqlError(
      asBob,
      "SELECT * FROM procgate.create_procedure(name => 'shared', or_replace => true, language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
      INSUFFICIENT_PRIVILEGE,
      'must be owner of procedure "shared"',
    );
    await expectSqlError(
      asBob,
      "SELECT * FROM procgate.drop_procedure('shared')",
      INSUFFICIENT_PRIVILEGE,
      'must be owner of procedure "shared"',
    );
    await expectSqlError(
      asBob,
      `SELECT * FROM procgate.grant_execute('shared', '${bob.name}')`,
      INSUFFICIENT_PRIVILEGE,
      'must be owner of procedure "shared"',
    );
    await expectSqlError(
      asBob,
      "SELECT * FROM procgate.revoke_execute('shared', 'public')",
      INSUFFICIENT_PRIVILEGE,
    );
    await admin.query(
      "SELECT * FROM procgate.create_procedure(name => 'admins', language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
    );
    await admin.query(`SELECT * FROM procgate.grant_execute('admins', '${bob.name}')`);
    await asAlice.query(
      "SELECT * FROM procgate.create_procedure(name => 'doomed', language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
    );
    expect((await admin.query("SELECT * FROM procgate.drop_procedure('doomed')")).rows).toEqual([
      { procedure: 'doomed', runs_killed: 0 },
    ]);
  });
});

describe('executing procedures', () => {
  it('needs EXECUTE: owner, grantee, member of a grantee, or PUBLIC', async () => {
    const denied = 'permission denied for procedure "shared"';
    await expectSqlError(asBob, "SELECT * FROM procgate.execute('shared')", INSUFFICIENT_PRIVILEGE, denied);
    await expectSqlError(asBob, "CALL procgate.call_and_wait('shared')", INSUFFICIENT_PRIVILEGE, denied);
    await asAlice.query(`SELECT * FROM procgate.grant_execute('shared', '${bob.name}')`);
    await execute(asBob, 'shared');
    await asAlice.query(`SELECT * FROM procgate.revoke_execute('shared', '${bob.name}')`);
    await expectSqlError(asBob, "SELECT * FROM procgate.execute('shared')", INSUFFICIENT_PRIVILEGE, denied);
    await asAlice.query(`SELECT * FROM procgate.grant_execute('shared', '${team.name}')`);
    await execute(asBob, 'shared');
    await asAlice.query(`SELECT * FROM procgate.revoke_execute('shared', '${team.name}')`);
    await asAlice.query("SELECT * FROM procgate.grant_execute('shared', 'public')");
    await execute(asBob, 'shared');
  });

  it('records the caller as submitter, also after SET ROLE', async () => {
    const mine = await execute(asBob, 'shared');
    expect(await one(asBob, 'SELECT submitted_by FROM procgate.runs WHERE run_id = $1', [mine])).toEqual({
      submitted_by: bob.name,
    });
    await asBob.query(`SET ROLE ${team.name}`);
    const teams = await execute(asBob, 'shared');
    expect(await one(asBob, 'SELECT submitted_by FROM procgate.runs WHERE run_id = $1', [teams])).toEqual({
      submitted_by: team.name,
    });
    await asBob.query('RESET ROLE');
  });

  it('refuses execute_at_startup_as a role the caller cannot become', async () => {
    await expectSqlError(
      asBob,
      `SELECT * FROM procgate.execute('shared', options => ARRAY[procgate.arg('execute_at_startup_as', NULL, '${alice.name}')])`,
      INSUFFICIENT_PRIVILEGE,
      `permission denied to execute as role "${alice.name}"`,
    );
  });
});

describe('run visibility and kills', () => {
  let aliceRun: string;
  let bobRun: string;

  beforeAll(async () => {
    aliceRun = await execute(asAlice, 'shared');
    bobRun = await execute(asBob, 'shared');
    for (const run of [aliceRun, bobRun]) {
      // EXECUTE gives a run without table data its segment; this one stays queued (no engine here).
      await admin.query(
        'INSERT INTO procgate_internal.run_segments (run_id, segment) VALUES ($1, 0) ON CONFLICT DO NOTHING',
        [run],
      );
      await admin.query(
        "INSERT INTO procgate_internal.run_output (run_id, stream, line_no, line) VALUES ($1, 'stderr', 1, 'x')",
        [run],
      );
    }
  });

  async function visible(client: pg.Client, relation: string): Promise<Set<string>> {
    const rows = await client.query(`SELECT DISTINCT run_id FROM ${relation}`);
    return new Set(rows.rows.map((r) => r.run_id as string));
  }

  it('shows a role only the runs, segments and output it submitted', async () => {
    for (const relation of ['procgate.runs', 'procgate.run_segments', 'procgate.run_output']) {
      const alices = await visible(asAlice, relation);
      expect(alices.has(aliceRun), relation).toBe(true);
      expect(alices.has(bobRun), relation).toBe(false);
      const bobs = await visible(asBob, relation);
      expect(bobs.has(bobRun), relation).toBe(true);
      expect(bobs.has(aliceRun), relation).toBe(false);
      expect(
        [...bobs].every((id) => !alices.has(id)),
        relation,
      ).toBe(true);
    }
    const statuses = await asAlice.query('SELECT run_id FROM procgate.show_procedure_status()');
    expect(new Set(statuses.rows.map((r) => r.run_id as string))).toEqual(await visible(asAlice, 'procgate.runs'));
    expect(statuses.rows.map((r) => r.run_id)).not.toContain(bobRun);
    await expectSqlError(asAlice, 'SELECT * FROM procgate.show_procedure_status($1)', '42704', undefined, [
      bobRun,
    ]);
  });

  it('keeps leaky conditions of the reader behind the row filter', async () => {
    // A function in the reader's WHERE must not see rows the view hides.
    await admin.query(`GRANT CREATE ON SCHEMA public TO ${alice.name}`);
    await asAlice.query(
      `CREATE FUNCTION public.peek(id uuid, who name) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
       $$ BEGIN RAISE NOTICE 'saw % of %', id, who; RETURN true; END $$`,
    );
    const seen: string[] = [];
    const listen = (notice: { message?: string }) => seen.push(notice.message ?? '');
    asAlice.on('notice', listen);
    await asAlice.query('SELECT * FROM procgate.runs r WHERE public.peek(r.run_id, r.submitted_by)');
    asAlice.off('notice', listen);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((message) => message.endsWith(`of ${alice.name}`))).toBe(true);
  });

  it('lets only the submitter or an admin kill a run', async () => {
    await expectSqlError(
      asBob,
      'SELECT * FROM procgate.kill_run($1)',
      INSUFFICIENT_PRIVILEGE,
      `permission denied to kill run "${aliceRun}"`,
      [aliceRun],
    );
    const killed = await asBob.query('SELECT * FROM procgate.kill_runs()');
    expect(killed.rows.map((r) => r.run_id)).toContain(bobRun);
    expect(killed.rows.map((r) => r.run_id)).not.toContain(aliceRun);
    expect(await one(admin, 'SELECT state FROM procgate.runs WHERE run_id = $1', [aliceRun])).toEqual({
      state: 'queued',
    });
  });

  it('shows and kills every run for procgate_admin and superusers', async () => {
    expect((await visible(admin, 'procgate.runs')).has(aliceRun)).toBe(true);
    await admin.query(`GRANT procgate_admin TO ${bob.name}`);
    try {
      expect((await visible(asBob, 'procgate.runs')).has(aliceRun)).toBe(true);
      expect((await asBob.query('SELECT * FROM procgate.kill_run($1)', [aliceRun])).rows).toEqual([
        { run_id: aliceRun, state: 'killed' },
      ]);
    } finally {
      await admin.query(`REVOKE procgate_admin FROM ${bob.name}`);
    }
  });
});

describe('direct access', () => {
  it.each([
    ['procgate.procedures', "INSERT INTO procgate.procedures (name) VALUES ('x')"],
    ['procgate.runs', "UPDATE procgate.runs SET state = 'succeeded'"],
    ['procgate.runs', 'DELETE FROM procgate.runs'],
    ['procgate.run_segments', 'DELETE FROM procgate.run_segments'],
    ['procgate.run_output', "UPDATE procgate.run_output SET line = 'y'"],
    ['procgate_internal.runs', 'SELECT * FROM procgate_internal.runs'],
    ['procgate_internal.runs', "UPDATE procgate_internal.runs SET state = 'succeeded'"],
    [
      'procgate_internal.procedures',
      "INSERT INTO procgate_internal.procedures (name, language, owner) VALUES ('x', 'type', 'x')",
    ],
    ['procgate_internal.procedure_files', 'DELETE FROM procgate_internal.procedure_files'],
    ['procgate_internal.run_segments', 'DELETE FROM procgate_internal.run_segments'],
    ['procgate_internal.run_output', 'DELETE FROM procgate_internal.run_output'],
    ['procgate_internal.schema_migrations', 'DELETE FROM procgate_internal.schema_migrations'],
  ])('is refused on %s: %s', async (_relation, statement) => {
    await expectSqlError(asAlice, statement, INSUFFICIENT_PRIVILEGE);
  });

  it('is refused on the views even for a superuser', async () => {
    await expectSqlError(
      admin,
      "UPDATE procgate.runs SET state = 'succeeded'",
      INSUFFICIENT_PRIVILEGE,
      'procgate.runs is read-only',
    );
    await expectSqlError(
      admin,
      'DELETE FROM procgate.procedures',
      INSUFFICIENT_PRIVILEGE,
      'procgate.procedures is read-only',
    );
    await expectSqlError(
      admin,
      "INSERT INTO procgate.run_output (run_id, stream, line_no, line) VALUES (gen_random_uuid(), 'stdout', 1, 'x')",
      INSUFFICIENT_PRIVILEGE,
      'procgate.run_output is read-only',
    );
  });

  it.each([
    ["SELECT * FROM procgate_internal.api_execute(current_user, 'shared', '{}', NULL, NULL, NULL)"],
    ["SELECT procgate_internal.cast_to('1', 'int', 'int', 'x')"],
    ['SELECT procgate_internal.kill_runs_by_id(ARRAY[gen_random_uuid()])'],
    ['SELECT procgate_internal.is_admin(current_user)'],
  ])('is refused for internal functions: %s', async (statement) => {
    await expectSqlError(asAlice, statement, INSUFFICIENT_PRIVILEGE);
  });

  it('cannot forge the caller even with USAGE on procgate_internal', async () => {
    await admin.query(`GRANT USAGE ON SCHEMA procgate_internal TO ${alice.name}`);
    try {
      await expectSqlError(
        asAlice,
        `SELECT * FROM procgate_internal.api_execute('${bob.name}', 'shared', '{}', NULL, NULL, NULL)`,
        INSUFFICIENT_PRIVILEGE,
        `permission denied to act as role "${bob.name}"`,
      );
      await expectSqlError(
        asAlice,
        `SELECT procgate_internal.api_plan_inputs('${bob.name}', 'shared', NULL)`,
        INSUFFICIENT_PRIVILEGE,
        `permission denied to act as role "${bob.name}"`,
      );
      await expectSqlError(
        asAlice,
        `SELECT * FROM procgate_internal.api_create_procedure('procgate', 'forged', false, 'command', NULL, 'sh',
           NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
        INSUFFICIENT_PRIVILEGE,
        'permission denied to act as role "procgate"',
      );
      await expectSqlError(
        asAlice,
        'SELECT procgate_internal.is_admin(current_user)',
        INSUFFICIENT_PRIVILEGE,
      );
    } finally {
      await admin.query(`REVOKE USAGE ON SCHEMA procgate_internal FROM ${alice.name}`);
    }
  });
});
