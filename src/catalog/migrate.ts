import type pg from 'pg';
import type { Logger } from '../log/logger.js';
import { SchemaTooNewError } from './errors.js';
import { type Definitions, definitions as currentDefinitions, type Migration, migrations as knownMigrations } from './schema/index.js';

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
 * Brings the procgate schema of the connected database up to date, in one
 * transaction: each missing versioned step (src/catalog/schema/migrations),
 * recorded in `procgate_internal.schema_migrations`, then the current
 * definitions of functions, views, triggers and grants
 * (src/catalog/schema/definitions) when a step ran or their text changed.
 * Safe to call from several processes at once (they wait on an advisory
 * lock) and again and again.
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
  definitions: Definitions = currentDefinitions,
): Promise<MigrateResult> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS procgate_internal;
      CREATE TABLE IF NOT EXISTS procgate_internal.schema_migrations (
        version int PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE IF NOT EXISTS procgate_internal.schema_definitions (
        digest text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const done = await appliedVersions(client);
    const known = Math.max(0, ...migrations.map((m) => m.version));
    const newest = Math.max(0, ...done);
    if (newest > known) throw new SchemaTooNewError(newest, known);

    const pending = [...migrations].sort((a, b) => a.version - b.version).filter((m) => !done.has(m.version));
    const stale = pending.length > 0 || (await appliedDigest(client)) !== definitions.digest;
    if (!stale) return { applied: [], version: newest };

    await client.query('BEGIN');
    try {
      for (const migration of pending) {
        await client.query(migration.sql);
        await client.query('INSERT INTO procgate_internal.schema_migrations (version, name) VALUES ($1, $2)', [
          migration.version,
          migration.name,
        ]);
      }
      await client.query(definitions.sql);
      await client.query('DELETE FROM procgate_internal.schema_definitions');
      await client.query('INSERT INTO procgate_internal.schema_definitions (digest) VALUES ($1)', [
        definitions.digest,
      ]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
    for (const migration of pending) {
      logger?.info({ version: migration.version, migration: migration.name }, 'applied procgate schema migration');
    }
    logger?.info({ digest: definitions.digest.slice(0, 12) }, 'applied procgate schema definitions');
    return { applied: pending.map((m) => m.version), version: Math.max(newest, ...pending.map((m) => m.version)) };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
}

async function appliedVersions(client: pg.Client | pg.PoolClient): Promise<Set<number>> {
  const result = await client.query<{ version: number }>(
    'SELECT version FROM procgate_internal.schema_migrations',
  );
  return new Set(result.rows.map((row) => row.version));
}

async function appliedDigest(client: pg.Client | pg.PoolClient): Promise<string | null> {
  const result = await client.query<{ digest: string }>('SELECT digest FROM procgate_internal.schema_definitions');
  return result.rows[0]?.digest ?? null;
}
