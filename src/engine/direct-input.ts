import type pg from 'pg';
import type { InputQuery } from '../catalog/index.js';
import { executeAsRole } from './as-caller.js';
import { plainScan, type PlainScan } from './plain-scan.js';
import type { DirectInput } from './planned-tables.js';
import { withTypedLiterals } from './query-literals.js';
import type { TableColumn } from './segment-task.js';
import type { DataRun } from './sql/lock-data-run.js';

/**
 * Which TABLE inputs segments read straight from their sources under the
 * run's snapshot, and which are staged (read into a table when the run is
 * planned). Staging stays where it is the only correct way:
 *
 * - `retries` > 0: a retry may run on another engine after the planning
 *   engine died, and a snapshot dies with its session, while a retried
 *   segment must read exactly the rows its first attempt read;
 * - PARTITION BY: a segment's share is a rank over the whole result;
 * - several segments over a query that is not one plain scan of one table
 *   or materialized view (see plain-scan.ts): its rows cannot be split by
 *   where they are stored;
 * - built-in types (TYPE '...'), which read their staging tables in SQL.
 */

/**
 * Whether a run's inputs may be read directly at all (its language and
 * options). Its segments all run on the planning engine, so a procedure
 * whose segments that engine may run only so many of at once
 * (max_concurrency_per_node) is staged too.
 */
export function mayReadDirectly(run: DataRun): boolean {
  const retries = run.options['retries']?.value ?? 0;
  return (
    (run.language === 'command' || run.language === 'javascript') &&
    run.execution_mode === 'distributed' &&
    retries === 0 &&
    (run.concurrency_cap ?? 0) === 0
  );
}

/**
 * How segments read an unpartitioned input directly, or undefined when
 * it must be staged. The caller describes the query by running it with
 * LIMIT 0 (PostgreSQL checks the caller's privileges on what it reads, so
 * a refusal fails the run here); its columns are the input's.
 */
export async function planDirectRead(
  client: pg.ClientBase,
  role: string,
  input: InputQuery,
  segments: number,
): Promise<Omit<DirectInput, 'name' | 'snapshot'> | undefined> {
  const query = await withTypedLiterals(client, role, input);
  let read: DirectInput['read'];
  if (segments === 1) {
    read = { kind: 'whole', query };
  } else {
    const scan = plainScan(query);
    const relation = scan === undefined ? undefined : await scannedRelation(client, role, scan);
    if (scan === undefined || relation === undefined) return undefined;
    const alias = scan.alias === '' ? '' : ` ${scan.alias}`;
    read = { kind: 'scan', select: `SELECT ${scan.list} FROM ${relation.name}${alias}`, where: scan.where ?? null, blocks: relation.blocks };
  }
  return { kind: 'direct', read, columns: await describeAsCaller(client, role, query) };
}

/**
 * The relation a plain scan reads, as the caller's search path finds it,
 * schema-qualified, with its size in blocks; undefined unless it is a
 * table without inheritance children or a materialized view, and unless
 * no function the query calls is an aggregate or window function of any
 * schema.
 */
async function scannedRelation(
  client: pg.ClientBase,
  role: string,
  scan: PlainScan,
): Promise<{ name: string; blocks: number } | undefined> {
  const quoted = scan.relation.map((part) => client.escapeIdentifier(part)).join('.');
  // to_regclass runs no user code: a plain SET ROLE is enough (as in run-planner's lookUp).
  await client.query(`SET LOCAL ROLE ${client.escapeIdentifier(role)}`);
  const found = await client.query<{ oid: number | null }>('SELECT pg_catalog.to_regclass($1)::oid AS oid', [quoted]);
  await client.query('RESET ROLE');
  const oid = found.rows[0]?.oid ?? null;
  if (oid === null) return undefined;
  const { rows } = await client.query<{ name: string; blocks: number; plain: boolean }>(
    `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name,
            (pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int)::int AS blocks,
            (c.relkind = 'm' OR (c.relkind = 'r' AND NOT c.relhassubclass))
              AND NOT EXISTS (SELECT FROM pg_catalog.pg_proc p WHERE p.proname = ANY ($2::text[]) AND p.prokind IN ('a', 'w'))
              AS plain
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`,
    [oid, scan.functions],
  );
  const relation = rows[0];
  return relation?.plain === true ? { name: relation.name, blocks: relation.blocks } : undefined;
}

/** The query's columns, from a table the caller makes of it with no rows (running it, so privileges are checked). */
async function describeAsCaller(client: pg.ClientBase, role: string, query: string): Promise<TableColumn[]> {
  const shape = `procgate_shape_${String(process.pid)}`;
  await executeAsRole(client, role, `CREATE TEMP TABLE ${client.escapeIdentifier(shape)} AS SELECT q.* FROM (${query}\n) AS q LIMIT 0`);
  const { rows } = await client.query<{ name: string; type: string; type_oid: number }>(
    `SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.atttypid::int AS type_oid
       FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [`pg_temp.${client.escapeIdentifier(shape)}`],
  );
  await client.query(`DROP TABLE pg_temp.${client.escapeIdentifier(shape)}`);
  return rows.map((row) => ({ name: row.name, type: row.type, typeOid: row.type_oid }));
}
