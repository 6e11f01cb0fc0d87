import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect } from 'vitest';
import { migrate, syncProcedureTypes } from '../../src/catalog/index.js';
import { TYPES } from '../../src/builtins/index.js';
import { registerEngine } from '../support/engines.js';
import { adminConfig, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/**
 * A test database with the procgate schema, and a superuser session in
 * it. An engine that isolates users' code is registered (`test-uid`, see
 * registerEngine), as if one ran, so non-superuser developers may create
 * command and javascript procedures.
 */
export interface CatalogDatabase {
  readonly db: TestDatabase;
  /** Superuser session (the migrating role). */
  readonly admin: pg.Client;
  /** Another session, as `role` when given. */
  connect(role?: LoginRole): Promise<pg.Client>;
  close(): Promise<void>;
}

export async function createCatalogDatabase(prefix: string): Promise<CatalogDatabase> {
  const db = await createTestDatabase(prefix);
  const admin = new pg.Client(db.direct);
  await admin.connect();
  await migrate(admin);
  await syncProcedureTypes(admin, TYPES.values());
  await registerEngine(admin, 'uid');
  const clients: pg.Client[] = [admin];
  return {
    db,
    admin,
    connect: async (role) => {
      const config =
        role === undefined ? db.direct : { ...db.direct, user: role.name, password: role.password };
      const client = new pg.Client(config);
      await client.connect();
      clients.push(client);
      return client;
    },
    close: async () => {
      await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
      await db.drop();
    },
  };
}

/** A non-superuser LOGIN role; roles are cluster-wide, hence the random suffix. */
export interface LoginRole {
  readonly name: string;
  readonly password: string;
}

export async function createLoginRole(admin: pg.Client, prefix: string): Promise<LoginRole> {
  const role = {
    name: `${prefix}_${randomBytes(4).toString('hex')}`,
    password: randomBytes(12).toString('hex'),
  };
  await admin.query(`CREATE ROLE ${role.name} LOGIN PASSWORD '${role.password}'`);
  return role;
}

/** Drops roles once the databases holding their grants are gone. */
export async function dropRoles(roles: readonly LoginRole[]): Promise<void> {
  const client = new pg.Client(adminConfig());
  await client.connect();
  for (const role of roles) await client.query(`DROP ROLE IF EXISTS ${role.name}`);
  await client.end();
}

/** Runs `sql`, expecting PostgreSQL to fail with `code` and a message matching `message`. */
export async function expectSqlError(
  client: pg.Client,
  sql: string,
  code: string,
  message?: string | RegExp,
  values?: unknown[],
): Promise<pg.DatabaseError> {
  let caught: unknown;
  try {
    await client.query(sql, values);
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${code} from: ${sql}`).toBeInstanceOf(pg.DatabaseError);
  const error = caught as pg.DatabaseError;
  expect({ code: error.code, message: error.message }).toMatchObject({
    code,
    ...(message === undefined
      ? {}
      : { message: typeof message === 'string' ? message : expect.stringMatching(message) }),
  });
  return error;
}

/** The first row of `sql`, which must return one. */
export async function one<Row extends pg.QueryResultRow = Record<string, unknown>>(
  client: pg.Client,
  sql: string,
  values?: unknown[],
): Promise<Row> {
  const result = await client.query<Row>(sql, values);
  expect(result.rows, sql).toHaveLength(1);
  return result.rows[0]!;
}

/**
 * A declared procedure: docs TABLE, min_len integer DEFAULT 2, tags text[], since timestamptz DEFAULT,
 * in environment py311 (registered here, so `client` must be a superuser or procgate_admin member).
 */
export async function createWordCount(
  client: pg.Client,
  name: string,
  mode = 'distributed',
): Promise<Record<string, unknown>> {
  await client.query(
    `SELECT FROM procgate.create_environment('py311', '{"VIRTUAL_ENV": "/opt/py311"}', ARRAY['/opt/py311/bin'],
       or_replace => true)`,
  );
  return one(
    client,
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

/** A free-form javascript procedure with WITH defaults algorithm = 'glz', epochs = 10. */
export async function createTrain(client: pg.Client): Promise<void> {
  await client.query(
    `SELECT * FROM procgate.create_procedure(name => 'train', language => 'javascript',
       options => ARRAY[procgate.arg('algorithm', NULL, 'glz'), procgate.arg('epochs', NULL, 10)])`,
  );
}

/** The procgate.runs row of a run. */
export async function runOf(client: pg.Client, runId: string): Promise<Record<string, unknown>> {
  return one(client, 'SELECT * FROM procgate.runs WHERE run_id = $1', [runId]);
}
