import type pg from 'pg';
import type { Logger } from '../log/logger.js';
import { TYPES } from '../engine/types/index.js';
import { SchemaTooNewError } from './errors.js';
import { migrations as knownMigrations, type Migration } from './migrations/index.js';

/**
 * Key of the session-level advisory lock serialising migrations of one
 * database (advisory locks are per database). An arbitrary constant:
 * 'procgate' in ASCII, read as a 64-bit number.
 */
export const MIGRATION_LOCK_KEY = '8102661152319829093';

export interface MigrateResult {
  /** Versions applied by this call, oldest first; empty when the schema was current. */
  readonly applied: number[];
  /** The schema's version afterwards. */
  readonly version: number;
}

/**
 * Brings the procgate schema of the connected database up to date: each
 * missing migration runs in its own transaction and is recorded in
 * `procgate_internal.schema_migrations`. Safe to call from several
 * processes at once (they wait on an advisory lock) and again and again.
 *
 * The client must not be inside a transaction. Throws SchemaTooNewError
 * when the database has a version this code does not know.
 *
 * @example
 * const { applied, version } = await migrate(client, logger);
 */
export async function migrate(
  client: pg.Client | pg.PoolClient,
  logger?: Logger,
  migrations: readonly Migration[] = knownMigrations,
): Promise<MigrateResult> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS procgate_internal;
      CREATE TABLE IF NOT EXISTS procgate_internal.schema_migrations (
        version int PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const done = await appliedVersions(client);
    const known = Math.max(0, ...migrations.map((m) => m.version));
    const newest = Math.max(0, ...done);
    if (newest > known) throw new SchemaTooNewError(newest, known);

    const applied: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      await applyMigration(client, migration);
      logger?.info({ version: migration.version, name: migration.name }, 'applied procgate schema migration');
      applied.push(migration.version);
    }
    await syncProcedureTypes(client);
    return { applied, version: Math.max(newest, ...applied) };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
}

/**
 * Writes the built-in types' parameters (src/engine/types) into
 * procgate_internal.procedure_types, where CREATE and EXECUTE check them.
 * Types only come and change with the code, so every migrate() does it.
 */
async function syncProcedureTypes(client: pg.Client | pg.PoolClient): Promise<void> {
  const { rows: present } = await client.query<{ table: string | null }>(
    "SELECT to_regclass('procgate_internal.procedure_types')::text AS table",
  );
  if (present[0]?.table == null) return;
  const rows = [...TYPES.values()].map((type) => ({
    name: type.name,
    summary: type.summary,
    parameters: type.parameters.map((parameter) => ({
      name: parameter.name,
      kind: parameter.kind,
      required: parameter.required,
      description: parameter.description,
      ...(parameter.default === undefined ? {} : { default: parameter.default }),
    })),
  }));
  await client.query(
    `INSERT INTO procgate_internal.procedure_types (name, summary, parameters)
     SELECT t.name, t.summary, t.parameters FROM jsonb_to_recordset($1::jsonb) AS t (name text, summary text, parameters jsonb)
     ON CONFLICT (name) DO UPDATE SET summary = EXCLUDED.summary, parameters = EXCLUDED.parameters`,
    [JSON.stringify(rows)],
  );
}

async function appliedVersions(client: pg.Client | pg.PoolClient): Promise<Set<number>> {
  const result = await client.query<{ version: number }>(
    'SELECT version FROM procgate_internal.schema_migrations',
  );
  return new Set(result.rows.map((row) => row.version));
}

async function applyMigration(client: pg.Client | pg.PoolClient, migration: Migration): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(migration.sql);
    await client.query('INSERT INTO procgate_internal.schema_migrations (version, name) VALUES ($1, $2)', [
      migration.version,
      migration.name,
    ]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}
