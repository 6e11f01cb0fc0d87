import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/catalog/migrate.js';
import { migrations } from '../../src/catalog/schema/index.js';
import { createTestDatabase } from '../support/test-database.js';

/**
 * A database installed by an earlier procgate and upgraded by this one must
 * end up with exactly the schema of a fresh install. released-schema/ holds
 * each version's SQL as procgate released it (functions and all, before
 * the definitions moved out of the versioned steps).
 */
const RELEASED_DIR = new URL('./released-schema/', import.meta.url);
const released = readdirSync(RELEASED_DIR)
  .filter((file) => file.endsWith('.sql'))
  .sort()
  .map((file) => {
    const match = /^(\d{4})-(.+)\.sql$/.exec(file);
    if (match === null) throw new Error(`released schema file ${file} is not named NNNN-name.sql`);
    return { version: Number(match[1]), name: match[2]!, sql: readFileSync(new URL(file, RELEASED_DIR), 'utf8') };
  });

const SCHEMAS = ['procgate', 'procgate_internal', 'procgate_staging', 'procgate_models'];

/** Everything of the procgate schemas a user or the engine can tell apart, as sorted text rows. */
const SNAPSHOT_QUERIES = {
  functions: `
    SELECT n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'
           || E'\\n' || pg_catalog.pg_get_functiondef(p.oid)
           || E'\\nacl: ' || coalesce(p.proacl::text, 'default')
           || E'\\ncomment: ' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '')
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = ANY ($1)`,
  relations: `
    SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text
           || E'\\nacl: ' || coalesce(c.relacl::text, 'default')
           || E'\\ncomment: ' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '')
           || CASE WHEN c.relkind = 'v' THEN E'\\n' || pg_catalog.pg_get_viewdef(c.oid) ELSE '' END
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY ($1) AND c.relname <> 'schema_definitions'`,
  columns: `
    SELECT n.nspname || '.' || c.relname || '.' || a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
           || coalesce(' DEFAULT ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
           || ' #' || a.attnum
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = ANY ($1) AND a.attnum > 0 AND NOT a.attisdropped`,
  constraints: `
    SELECT n.nspname || '.' || c.relname || ' ' || k.conname || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
      FROM pg_catalog.pg_constraint k
      JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY ($1)`,
  indexes: `SELECT schemaname || ' ' || indexdef FROM pg_catalog.pg_indexes WHERE schemaname = ANY ($1)`,
  triggers: `
    SELECT pg_catalog.pg_get_triggerdef(t.oid)
      FROM pg_catalog.pg_trigger t
      JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY ($1) AND NOT t.tgisinternal`,
  types: `
    SELECT n.nspname || '.' || t.typname || ' ' || t.typtype::text || ' '
           || coalesce((SELECT pg_catalog.string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                          FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0), '')
      FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = ANY ($1) AND t.typtype IN ('c', 'd', 'e')
       AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')`,
  schemas: `
    SELECT n.nspname || E'\\nacl: ' || coalesce(n.nspacl::text, 'default')
           || E'\\ncomment: ' || coalesce(pg_catalog.obj_description(n.oid, 'pg_namespace'), '')
      FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY ($1)`,
} as const;

type Snapshot = Record<keyof typeof SNAPSHOT_QUERIES, string[]>;

async function snapshot(client: pg.Client): Promise<Snapshot> {
  const result: Partial<Snapshot> = {};
  for (const [part, query] of Object.entries(SNAPSHOT_QUERIES) as [keyof Snapshot, string][]) {
    const { rows } = await client.query<{ row: string }>(`SELECT q.row FROM (${query}) AS q (row)`, [SCHEMAS]);
    result[part] = rows.map((r) => r.row).sort();
  }
  return result as Snapshot;
}

const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const drop of drops) await drop();
});

/** A database of its own with a connection to it; `install` puts a released schema in place first. */
async function installed(install: (client: pg.Client) => Promise<void> = async () => {}): Promise<Snapshot> {
  const db = await createTestDatabase('catalog_upgrade');
  drops.push(() => db.drop());
  const client = new pg.Client(db.direct);
  await client.connect();
  try {
    await install(client);
    await migrate(client);
    return await snapshot(client);
  } finally {
    await client.end();
  }
}

/** What procgate's migrate() did when these versions were released: each step in a transaction, recorded. */
async function installReleased(client: pg.Client, upTo: number): Promise<void> {
  await client.query(`
    CREATE SCHEMA IF NOT EXISTS procgate_internal;
    CREATE TABLE procgate_internal.schema_migrations (
      version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const step of released.filter((r) => r.version <= upTo)) {
    await client.query('BEGIN');
    await client.query(step.sql);
    await client.query('INSERT INTO procgate_internal.schema_migrations (version, name) VALUES ($1, $2)', [
      step.version,
      step.name,
    ]);
    await client.query('COMMIT');
  }
}

describe('schema upgrade', () => {
  it('names every released version as the versioned steps do', () => {
    const steps = migrations.slice(0, released.length).map((m) => [m.version, m.name]);
    expect(released.map((r) => [r.version, r.name])).toEqual(steps);
  });

  it('upgrades version 1 as released to exactly the schema of a fresh install', async () => {
    const fresh = await installed();
    const upgraded = await installed((client) => installReleased(client, 1));
    expect(fresh.functions.length).toBeGreaterThan(90);
    expect(upgraded).toEqual(fresh);
  });

  it('upgrades a database that took every released version step by step to exactly a fresh install', async () => {
    const fresh = await installed();
    const newest = Math.max(...released.map((r) => r.version));
    const upgraded = await installed((client) => installReleased(client, newest));
    expect(upgraded).toEqual(fresh);
  });
});
