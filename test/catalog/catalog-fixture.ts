import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect } from 'vitest';
import { migrate } from '../../src/catalog/migrate.js';
import { createTestDatabase, sharedPostgres, type TestDatabase } from '../support/test-database.js';

/** A test database with the procgate schema, and a superuser session in it. */
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
  const shared = sharedPostgres();
  const client = new pg.Client({
    host: shared.host,
    port: shared.port,
    user: shared.user,
    password: shared.password,
    database: 'postgres',
  });
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
