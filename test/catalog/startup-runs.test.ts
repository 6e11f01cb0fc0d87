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
const INVALID_PARAMETER_VALUE = '22023';

let catalog: CatalogDatabase;
let admin: pg.Client;
let alice: LoginRole;
let bob: LoginRole;
let team: LoginRole;
let asAlice: pg.Client;
let asBob: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_startup');
  admin = catalog.admin;
  alice = await createLoginRole(admin, 'alice');
  // alice's procedures are command procedures (a built-in type takes only its own parameters).
  await admin.query(`GRANT procgate_developer TO ${alice.name}`);
  bob = await createLoginRole(admin, 'bob');
  team = await createLoginRole(admin, 'team');
  await admin.query(`GRANT ${team.name} TO ${bob.name}`);
  asAlice = await catalog.connect(alice);
  asBob = await catalog.connect(bob);
});

afterAll(async () => {
  await catalog.close();
  await dropRoles([alice, bob, team]);
});

/** A procedure of alice's with n integer DEFAULT 1 and label text, executable by bob. */
async function createNightly(name: string): Promise<void> {
  await asAlice.query(
    `SELECT FROM procgate.create_procedure(name => $1, language => 'command', command => 'true',
       parameters => ARRAY[procgate.param('n', 'integer', false, true, to_jsonb(1)),
                           procgate.param('label', 'text', false, false, NULL)])`,
    [name],
  );
  await asAlice.query('SELECT FROM procgate.grant_execute($1, $2)', [name, bob.name]);
}

/** EXECUTE with execute_at_startup and `options` (SQL text of more procgate.arg values). */
function register(client: pg.Client, name: string, label: string, options = ''): Promise<Record<string, unknown>> {
  return one(
    client,
    `SELECT * FROM procgate.execute($1, ARRAY[procgate.arg('label', NULL, $2::text)], NULL, ARRAY['out_t'],
       ARRAY[procgate.arg('execute_at_startup', NULL, true)${options}])`,
    [name, label],
  );
}

async function startupRuns(client: pg.Client, name: string): Promise<Record<string, unknown>[]> {
  const { rows } = await client.query('SELECT * FROM procgate.startup_runs WHERE procedure = $1 ORDER BY id', [
    name,
  ]);
  return rows;
}

async function runCount(name: string): Promise<number> {
  const row = await one<{ n: number }>(admin, 'SELECT count(*)::int AS n FROM procgate_internal.runs WHERE procedure = $1', [
    name,
  ]);
  return row.n;
}

/** An engine start, as the engine calls it: the ids of the runs it made. */
async function engineStartup(): Promise<string[]> {
  const { rows } = await admin.query<{ id: string }>('SELECT id FROM procgate_internal.engine_startup($1) id', ['w1']);
  return rows.map((row) => row.id);
}

describe('EXECUTE PROCEDURE WITH (execute_at_startup = true)', () => {
  it('queues no run and keeps the invocation, evaluated, in procgate.startup_runs', async () => {
    await createNightly('boot1');
    const row = await one(
      asAlice,
      `SELECT * FROM procgate.execute('boot1', ARRAY[procgate.arg('label', NULL, 'a' || 'b')], NULL, ARRAY['out_t'],
         ARRAY[procgate.arg('execute_at_startup', NULL, true), procgate.arg('run_tag', NULL, 'boot')])`,
    );
    expect(row).toEqual({
      run_id: null,
      procedure: 'boot1',
      state: 'at startup',
      run_tag: 'boot',
      created_at: expect.any(Date),
    });
    expect(await runCount('boot1')).toBe(0);
    expect(await startupRuns(asAlice, 'boot1')).toEqual([
      {
        id: expect.stringMatching(/^\d+$/),
        procedure: 'boot1',
        run_tag: 'boot',
        params: { n: { value: 1, type: 'integer' }, label: { value: 'ab', type: 'text' } },
        input_queries: [],
        output_tables: ['out_t'],
        options: {
          execute_at_startup: { value: true, type: 'boolean' },
          run_tag: { value: 'boot', type: 'text' },
          max_output_lines: { value: 100, type: 'integer' },
        },
        submitted_by: alice.name,
        run_as: alice.name,
        created_at: row.created_at,
      },
    ]);
  });

  it('checks the invocation as for a run', async () => {
    await createNightly('boot2');
    await expectSqlError(
      asAlice,
      `SELECT * FROM procgate.execute('boot2', NULL, NULL, NULL, ARRAY[procgate.arg('execute_at_startup', NULL, true)])`,
      INVALID_PARAMETER_VALUE,
      'missing value for parameter "label" of procedure "boot2"',
    );
    await expectSqlError(
      asAlice,
      `SELECT * FROM procgate.execute('boot2', ARRAY[procgate.arg('label', NULL, 'x')], NULL, ARRAY[''],
         ARRAY[procgate.arg('execute_at_startup', NULL, true)])`,
      INVALID_PARAMETER_VALUE,
      'INTO of procedure "boot2" names an empty table',
    );
    expect(await startupRuns(admin, 'boot2')).toEqual([]);
  });

  it('replaces the caller’s own registration and leaves other roles’ alone, each seeing its own', async () => {
    await createNightly('boot3');
    await register(asAlice, 'boot3', 'first');
    const [first] = await startupRuns(asAlice, 'boot3');
    await register(asAlice, 'boot3', 'second');
    await register(asBob, 'boot3', 'bobs');
    const alices = await startupRuns(asAlice, 'boot3');
    expect(alices).toMatchObject([{ id: first!.id, params: { label: { value: 'second' } }, submitted_by: alice.name }]);
    expect(await startupRuns(asBob, 'boot3')).toMatchObject([
      { params: { label: { value: 'bobs' } }, submitted_by: bob.name },
    ]);
    expect((await startupRuns(admin, 'boot3')).map((r) => r.submitted_by)).toEqual([alice.name, bob.name]);
  });

  it('acts as execute_at_startup_as, which needs EXECUTE on the procedure too', async () => {
    await createNightly('boot4');
    await expectSqlError(
      asBob,
      `SELECT * FROM procgate.execute('boot4', ARRAY[procgate.arg('label', NULL, 'x')], NULL, NULL,
         ARRAY[procgate.arg('execute_at_startup', NULL, true), procgate.arg('execute_at_startup_as', NULL, '${team.name}')])`,
      INSUFFICIENT_PRIVILEGE,
      'permission denied for procedure "boot4"',
    );
    await asAlice.query('SELECT FROM procgate.grant_execute($1, $2)', ['boot4', team.name]);
    await register(asBob, 'boot4', 'as team', `, procgate.arg('execute_at_startup_as', NULL, '${team.name}')`);
    expect(await startupRuns(asBob, 'boot4')).toMatchObject([{ submitted_by: bob.name, run_as: team.name }]);
  });

  it('leaves nothing when the transaction rolls back', async () => {
    await createNightly('boot5');
    await asAlice.query('BEGIN');
    await register(asAlice, 'boot5', 'x');
    await asAlice.query('ROLLBACK');
    expect(await startupRuns(admin, 'boot5')).toEqual([]);
  });

  it('is refused to CALL (22023), which waits for a run, and leaves no registration', async () => {
    await createNightly('boot6');
    await expectSqlError(
      asAlice,
      `CALL procgate.call_and_wait('boot6', ARRAY[procgate.arg('label', NULL, 'x')],
         options => ARRAY[procgate.arg('execute_at_startup', NULL, true)])`,
      INVALID_PARAMETER_VALUE,
      'CALL cannot use option "execute_at_startup": CALL waits for its run',
    );
    expect(await startupRuns(admin, 'boot6')).toEqual([]);
    expect(await runCount('boot6')).toBe(0);
  });
});

describe('engine_startup', () => {
  it('queues a run of each registration, as its run_as role, at every call, and notifies procgate_runs', async () => {
    await createNightly('start1');
    await register(asAlice, 'start1', 'mine', ", procgate.arg('run_tag', NULL, 'boot'), procgate.arg('retries', NULL, 2)");
    await asAlice.query('SELECT FROM procgate.grant_execute($1, $2)', ['start1', team.name]);
    await register(asBob, 'start1', 'theirs', `, procgate.arg('execute_at_startup_as', NULL, '${team.name}')`);

    const listener = await catalog.connect();
    const notified: string[] = [];
    listener.on('notification', (message) => notified.push(message.payload ?? ''));
    await listener.query('LISTEN procgate_runs');
    const ids = await engineStartup();
    const { rows } = await admin.query(
      'SELECT * FROM procgate.runs WHERE run_id = ANY ($1) AND procedure = $2 ORDER BY submitted_by = $3 DESC',
      [ids, 'start1', alice.name],
    );
    expect(rows).toMatchObject([
      {
        state: 'queued',
        run_tag: 'boot',
        params: { n: { value: 1, type: 'integer' }, label: { value: 'mine', type: 'text' } },
        output_tables: ['out_t'],
        options: {
          run_tag: { value: 'boot', type: 'text' },
          retries: { value: 2, type: 'integer' },
          max_output_lines: { value: 100, type: 'integer' },
        },
        submitted_by: alice.name,
      },
      { state: 'queued', run_tag: null, params: { label: { value: 'theirs' } }, submitted_by: team.name },
    ]);
    for (const row of rows) expect(Object.keys(row.options as object)).not.toContain('execute_at_startup');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(notified).toEqual(expect.arrayContaining(rows.map((row) => row.run_id as string)));

    // Registrations stay: the next start queues them again.
    const again = await engineStartup();
    expect(again.filter((id) => !ids.includes(id))).toHaveLength(again.length);
    expect(await runCount('start1')).toBe(4);
    expect(await startupRuns(admin, 'start1')).toHaveLength(2);
  });

  it('makes a failed run, with the reason, of a registration that can no longer run', async () => {
    await createNightly('start2');
    await asAlice.query('SELECT FROM procgate.grant_execute($1, $2)', ['start2', team.name]);
    await register(asBob, 'start2', 'x', `, procgate.arg('execute_at_startup_as', NULL, '${team.name}')`);
    const [registration] = await startupRuns(asBob, 'start2');
    await asAlice.query('SELECT FROM procgate.revoke_execute($1, $2)', ['start2', team.name]);
    const ids = await engineStartup();
    const run = await one(admin, 'SELECT * FROM procgate.runs WHERE run_id = ANY ($1) AND procedure = $2', [
      ids,
      'start2',
    ]);
    expect(run).toMatchObject({
      state: 'failed',
      submitted_by: team.name,
      finished_at: expect.any(Date),
      error: `startup run ${String(registration!.id)} could not start: permission denied for procedure "start2"`,
    });

    // A CREATE OR REPLACE whose parameters no longer fit the stored arguments.
    await createNightly('start3');
    await register(asAlice, 'start3', 'x');
    await asAlice.query(
      `SELECT FROM procgate.create_procedure(name => 'start3', or_replace => true, language => 'command',
         command => 'true', parameters => ARRAY[procgate.param('label', 'integer', false, false, NULL)])`,
    );
    const later = await engineStartup();
    expect(await one(admin, 'SELECT state, error FROM procgate.runs WHERE run_id = ANY ($1) AND procedure = $2', [
      later,
      'start3',
    ])).toEqual({
      state: 'failed',
      error: expect.stringMatching(/could not start: procedure "start3" has no parameter "n"$/),
    });
  });
});

describe('removing registrations', () => {
  it('drop_startup_run removes one: the submitter’s or an admin’s', async () => {
    await createNightly('drop1');
    await register(asBob, 'drop1', 'x');
    const [registration] = await startupRuns(asBob, 'drop1');
    const id = registration!.id as string;
    await expectSqlError(asAlice, 'SELECT * FROM procgate.drop_startup_run($1)', '42704', 'startup run 0 does not exist', [
      0,
    ]);
    await expectSqlError(
      asAlice,
      'SELECT * FROM procgate.drop_startup_run($1)',
      INSUFFICIENT_PRIVILEGE,
      `permission denied to drop startup run ${id}`,
      [id],
    );
    expect((await asBob.query('SELECT * FROM procgate.drop_startup_run($1)', [id])).rows).toEqual([
      { id, procedure: 'drop1' },
    ]);
    expect(await startupRuns(admin, 'drop1')).toEqual([]);
    await register(asBob, 'drop1', 'y');
    const [next] = await startupRuns(asBob, 'drop1');
    expect((await admin.query('SELECT * FROM procgate.drop_startup_run($1)', [next!.id])).rows).toHaveLength(1);
  });

  it('DROP PROCEDURE removes its registrations', async () => {
    await createNightly('drop2');
    await register(asAlice, 'drop2', 'x');
    await register(asBob, 'drop2', 'y');
    const { id } = await one(admin, "SELECT id FROM procgate_internal.procedures WHERE name = 'drop2'");
    const left = 'SELECT count(*)::int AS n FROM procgate_internal.startup_runs WHERE procedure_id = $1';
    expect(await one(admin, left, [id])).toEqual({ n: 2 });
    await asAlice.query("SELECT FROM procgate.drop_procedure('drop2')");
    expect(await one(admin, left, [id])).toEqual({ n: 0 });
    await engineStartup();
    expect(await runCount('drop2')).toBe(0);
  });
});

describe('direct access', () => {
  it('keeps the view read-only and the table and engine_startup closed', async () => {
    await expectSqlError(admin, 'DELETE FROM procgate.startup_runs', INSUFFICIENT_PRIVILEGE, 'procgate.startup_runs is read-only');
    await expectSqlError(asAlice, 'SELECT * FROM procgate_internal.startup_runs', INSUFFICIENT_PRIVILEGE);
    await expectSqlError(asAlice, "SELECT * FROM procgate_internal.engine_startup('x')", INSUFFICIENT_PRIVILEGE);
    const run = await one(asAlice, 'SELECT count(*)::int AS n FROM procgate.startup_runs');
    expect(run).toEqual({ n: expect.any(Number) });
  });
});
