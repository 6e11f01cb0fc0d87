import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/catalog/catalog-types.js';
import { SchemaTooNewError } from '../../src/catalog/errors.js';
import { migrate } from '../../src/catalog/migrate.js';
import { syncProcedureTypes } from '../../src/catalog/procedure-types.js';
import { migrations } from '../../src/catalog/schema/index.js';
import { TYPES } from '../../src/builtins/index.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase('catalog_migrate');
  cleanups.push(() => db.drop());
  return db;
}

async function connect(db: TestDatabase): Promise<pg.Client> {
  const client = new pg.Client(db.direct);
  await client.connect();
  cleanups.push(() => client.end());
  return client;
}

const latest = Math.max(...migrations.map((m) => m.version));

describe('migrate', () => {
  it('applies every migration to a fresh database, then does nothing', async () => {
    const client = await connect(await freshDatabase());
    expect(await migrate(client)).toEqual({ applied: migrations.map((m) => m.version), version: latest });
    expect(await migrate(client)).toEqual({ applied: [], version: latest });
    const recorded = await client.query(
      'SELECT version, name, applied_at FROM procgate_internal.schema_migrations ORDER BY version',
    );
    expect(recorded.rows.map((r) => [r.version, r.name])).toEqual(migrations.map((m) => [m.version, m.name]));
    expect(recorded.rows[0]?.applied_at).toBeInstanceOf(Date);
  });

  it('lets two processes migrate one fresh database at once', async () => {
    const db = await freshDatabase();
    const [first, second] = await Promise.all([connect(db), connect(db)]);
    const results = await Promise.all([migrate(first), migrate(second)]);
    expect(results.map((r) => r.version)).toEqual([latest, latest]);
    expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual(migrations.map((m) => m.version));
    const count = await first.query('SELECT count(*)::int AS n FROM procgate_internal.schema_migrations');
    expect(count.rows[0]?.n).toBe(migrations.length);
  });

  it('refuses a schema newer than this code knows', async () => {
    const client = await connect(await freshDatabase());
    await migrate(client);
    await client.query(
      "INSERT INTO procgate_internal.schema_migrations (version, name) VALUES ($1, 'from the future')",
      [latest + 1],
    );
    const error = await migrate(client).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaTooNewError);
    expect(error).toMatchObject({ databaseVersion: latest + 1, knownVersion: latest });
    expect((error as Error).message).toMatch(/newer than version \d+ that this procgate knows/);
    // The advisory lock was released: another migrate gets the same answer instead of hanging.
    await expect(migrate(client)).rejects.toBeInstanceOf(SchemaTooNewError);
  });

  it('rolls back a failing migration and records nothing of it', async () => {
    const client = await connect(await freshDatabase());
    await migrate(client);
    const broken = [
      ...migrations,
      {
        version: latest + 1,
        name: 'broken',
        sql: 'CREATE TABLE procgate_internal.half (id int); SELECT 1/0',
      },
    ];
    await expect(migrate(client, undefined, broken)).rejects.toMatchObject({ code: '22012' });
    const half = await client.query("SELECT to_regclass('procgate_internal.half') AS t");
    expect(half.rows[0]?.t).toBeNull();
    expect(await migrate(client)).toEqual({ applied: [], version: latest });
  });

  it('creates the procgate roles without LOGIN', async () => {
    const client = await connect(await freshDatabase());
    await migrate(client);
    const roles = await client.query(
      "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('procgate_developer', 'procgate_admin') ORDER BY 1",
    );
    expect(roles.rows).toEqual([
      { rolname: 'procgate_admin', rolcanlogin: false },
      { rolname: 'procgate_developer', rolcanlogin: false },
    ]);
  });

  it('gives kysely a typed view of the schema', async () => {
    const db = await freshDatabase();
    const client = await connect(db);
    await migrate(client);
    await syncProcedureTypes(client, TYPES.values());
    await client.query(
      "SELECT * FROM procgate.create_procedure('typed_proc', language => 'type', type_name => 'sql')",
    );
    await client.query(
      `SELECT * FROM procgate.execute('typed_proc', args => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])],
         options => ARRAY[procgate.arg('run_tag', NULL, 'k')])`,
    );
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool(db.direct) }) });
    cleanups.push(() => kysely.destroy());
    const run = await kysely
      .selectFrom('procgate.runs')
      .select(['run_id', 'procedure', 'state', 'run_tag', 'options', 'created_at', 'progress'])
      .where('run_tag', '=', 'k')
      .executeTakeFirstOrThrow();
    expect(run).toMatchObject({ procedure: 'typed_proc', state: 'queued', run_tag: 'k', progress: '0' });
    expect(run.created_at).toBeInstanceOf(Date);
    expect(run.options['max_output_lines']).toEqual({ value: 100, type: 'integer' });
    const stored = await kysely
      .selectFrom('procgate_internal.procedures')
      .select(['name', 'owner', 'execute_roles', 'options'])
      .executeTakeFirstOrThrow();
    expect(stored).toEqual({ name: 'typed_proc', owner: 'procgate', execute_roles: [], options: {} });
  });
});
